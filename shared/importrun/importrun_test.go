package importrun_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/importrun"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/uploads/memuploads"
	"github.com/eventstreamengine/ese/shared/userimport"
)

var t0 = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

type rig struct {
	st     *memstore.Store
	bucket *memuploads.Bucket
	pub    *memevents.Publisher
	run    *importrun.Runner
	now    time.Time
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{st: memstore.New(), bucket: memuploads.New(), pub: memevents.New(), now: t0}
	r.run = &importrun.Runner{Store: r.st, Bucket: r.bucket, BucketName: "b", Events: r.pub, Now: func() time.Time { return r.now }}
	// A stand-in for ReadImport: a resume runs the job at once.
	r.pub.Subscribe(events.TopicImportUpload, func(ctx context.Context, m events.Message) error {
		var o events.ObjectFinalized
		if err := events.Decode(m, &o); err != nil {
			return err
		}
		_, err := r.run.Run(ctx, o.Name[strings.Index(o.Name, "/")+1:])
		return err
	})
	return r
}

// job creates a RECEIVING job for file, stored under uploads/<id>.
func (r *rig) job(t *testing.T, id, filename, file string, opts ...func(*userimport.Job)) {
	t.Helper()
	j := userimport.Job{ID: id, State: userimport.Receiving, Filename: filename, Object: "uploads/" + id, CreatedAt: r.now, UpdatedAt: r.now}
	for _, o := range opts {
		o(&j)
	}
	if err := r.st.CreateImportJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if file != "" {
		r.bucket.Put(j.Object, []byte(file))
	}
}

// batches returns the phones of each published batch, by batch number.
func (r *rig) batches(t *testing.T) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	for _, m := range r.pub.Published(events.TopicUserImport) {
		var b events.ImportBatch
		if err := events.Decode(m, &b); err != nil {
			t.Fatal(err)
		}
		var phones []string
		for _, row := range b.Rows {
			phones = append(phones, row.Phone)
		}
		out[b.Batch] = phones
	}
	return out
}

// summary is the part of a job a test compares.
type summary struct {
	State                                       userimport.State
	Format                                      string
	Rows, Accepted, Rejected, Duplicates, Batch int
	Errors                                      []errs.Detail
}

func summarize(j userimport.Job) summary {
	return summary{j.State, j.Format, j.Rows, j.Accepted, j.Rejected, j.Duplicates, j.Batches, j.Errors}
}

const noPlus = "missing leading + (give the number in international E.164 form, e.g. +14155552671; no default region is assumed)"

func TestRun(t *testing.T) {
	tests := []struct {
		name, filename, file string
		rows                 int // BatchRows
		want                 summary
		wantBatches          map[int][]string
	}{
		{
			name: "csv with a bad row and a repeated number", filename: "c.csv",
			file: "phone,name\n+14155550100,Ann\nnope,Bob\n+14155550101,Cy\n+14155550100,Ann B\n",
			want: summary{State: userimport.Queued, Format: "csv", Rows: 4, Accepted: 3, Rejected: 1, Duplicates: 1, Batch: 1,
				Errors: []errs.Detail{{Row: 3, Field: "phone", Message: noPlus}}},
			// The repeated number goes out once, merged, where its last row was.
			wantBatches: map[int][]string{0: {"+14155550101", "+14155550100"}},
		},
		{
			name: "batches by rows", filename: "c.jsonl", rows: 2,
			file:        `{"phone":"+14155550100"}` + "\n" + `{"phone":"+14155550101"}` + "\n" + `{"phone":"+14155550102"}` + "\n",
			want:        summary{State: userimport.Queued, Format: "jsonl", Rows: 3, Accepted: 3, Batch: 2, Errors: []errs.Detail{}},
			wantBatches: map[int][]string{0: {"+14155550100", "+14155550101"}, 1: {"+14155550102"}},
		},
		{
			name:        "format sniffed without a file name",
			file:        `[{"phone_number":"+14155550100"}]`,
			want:        summary{State: userimport.Queued, Format: "json", Rows: 1, Accepted: 1, Batch: 1, Errors: []errs.Detail{}},
			wantBatches: map[int][]string{0: {"+14155550100"}},
		},
		{
			name: "every row bad: nothing to hand on", filename: "c.csv",
			file: "phone\nx\n",
			want: summary{State: userimport.Queued, Format: "csv", Rows: 1, Rejected: 1,
				Errors: []errs.Detail{{Row: 2, Field: "phone", Message: noPlus}}},
			wantBatches: map[int][]string{},
		},
		{
			name: "a header alone fails the job", filename: "c.csv", file: "phone,name\n",
			want:        summary{State: userimport.Failed, Format: "csv", Errors: []errs.Detail{{Message: "the file has a header but no contacts"}}},
			wantBatches: map[int][]string{},
		},
		{
			name: "a truncated JSON array fails the job, after good rows", filename: "c.json",
			file:        `[{"phone":"+14155550100"},{"phone":"+1415`,
			wantBatches: map[int][]string{},
		},
		{
			name: "no phone column", filename: "c.csv", file: "name\nAnn\n",
			wantBatches: map[int][]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.run.BatchRows = tt.rows
			r.job(t, "j1", tt.filename, tt.file)
			got, err := r.run.Run(context.Background(), "j1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantBatches, r.batches(t)); diff != "" {
				t.Errorf("batches (-want +got):\n%s", diff)
			}
			if tt.want.State == "" {
				// Refused files: the job fails, saying why.
				if got.State != userimport.Failed || len(got.Errors) == 0 {
					t.Fatalf("job = %+v, want FAILED with a reason", got)
				}
				return
			}
			stored, err := r.st.PeekImportJob(context.Background(), "j1")
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range []userimport.Job{got, stored} {
				if diff := cmp.Diff(tt.want, summarize(j), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("job (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// apply subscribes a stand-in for ImportUsers: every batch handed on is
// applied at once.
func (r *rig) apply() {
	r.pub.Subscribe(events.TopicUserImport, func(ctx context.Context, m events.Message) error {
		var b events.ImportBatch
		if err := events.Decode(m, &b); err != nil {
			return err
		}
		_, err := r.st.ApplyImportBatch(ctx, b.JobID, b.Batch, b.Rows, r.now)
		return err
	})
}

func TestRun_applied_whole(t *testing.T) {
	r := newRig(t)
	r.apply()
	var b strings.Builder
	b.WriteString("phone,n\n")
	for i := range 450 {
		fmt.Fprintf(&b, "+1415555%04d,%d\n", i%400, i)
	}
	r.job(t, "j1", "c.csv", b.String())
	if _, err := r.run.Run(context.Background(), "j1"); err != nil {
		t.Fatal(err)
	}
	got, err := r.st.GetImportJob(context.Background(), "j1")
	if err != nil {
		t.Fatal(err)
	}
	want := userimport.Job{State: userimport.Completed, Rows: 450, Accepted: 450, Duplicates: 50, Batches: 2, Applied: 2, Created: 400}
	opt := cmpopts.IgnoreFields(userimport.Job{}, "ID", "Filename", "Format", "Object", "Errors", "PublishedAt", "CreatedAt", "UpdatedAt")
	if diff := cmp.Diff(want, got, opt); diff != "" {
		t.Errorf("job (-want +got):\n%s", diff)
	}
	u, err := r.st.GetUser(context.Background(), "+14155550007")
	if err != nil {
		t.Fatal(err)
	}
	if n := u.Attributes["n"]; n != int64(407) {
		t.Errorf("merged n = %v (%T), want the later row's 407", n, n)
	}
}

func TestRun_keeps_every_row_error(t *testing.T) {
	r := newRig(t)
	var b strings.Builder
	b.WriteString("phone\n")
	for range 2500 {
		b.WriteString("bad\n")
	}
	r.job(t, "j1", "c.csv", b.String())
	job, err := r.run.Run(context.Background(), "j1")
	if err != nil {
		t.Fatal(err)
	}
	if len(job.Errors) != userimport.MaxJobErrors || job.Rejected != 2500 {
		t.Errorf("job shows %d errors of %d rejected, want %d of 2500", len(job.Errors), job.Rejected, userimport.MaxJobErrors)
	}
	var rows []int
	err = r.st.ImportErrors(context.Background(), "j1", func(d errs.Detail) error {
		rows = append(rows, d.Row)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, 2500)
	for i := range want {
		want[i] = i + 2
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("stored error rows (-want +got):\n%s", diff)
	}
	// Running again (a redelivered notification) changes nothing.
	if _, err := r.run.Run(context.Background(), "j1"); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = r.st.ImportErrors(context.Background(), "j1", func(errs.Detail) error { n++; return nil })
	if n != 2500 {
		t.Errorf("after a second run, %d stored errors, want 2500", n)
	}
}

func TestRun_file_not_yet_stored(t *testing.T) {
	r := newRig(t)
	r.job(t, "j1", "c.csv", "")
	_, err := r.run.Run(context.Background(), "j1")
	if !errs.Is(err, errs.NotExist) {
		t.Fatalf("Run = %v, want NotExist", err)
	}
	j, _ := r.st.PeekImportJob(context.Background(), "j1")
	if j.State != userimport.Receiving {
		t.Errorf("state %s, want it still RECEIVING", j.State)
	}
}

// failing publishes until it has taken n batches, then refuses.
type failing struct {
	events.Publisher
	left int
}

func (f *failing) Publish(ctx context.Context, topic string, v any) error {
	if f.left <= 0 {
		return errs.E(errs.Transient, "broker unavailable")
	}
	f.left--
	return f.Publisher.Publish(ctx, topic, v)
}

func TestRun_resumes_and_hands_on_only_unapplied(t *testing.T) {
	r := newRig(t)
	r.apply()
	r.run.BatchRows = 1
	r.run.Publishing = 1
	r.job(t, "j1", "c.csv", "phone\n+14155550100\n+14155550101\n+14155550102\n+14155550103\n")

	// The broker fails after two batches: the job stays PUBLISHING.
	r.run.Events = &failing{Publisher: r.pub, left: 2}
	if _, err := r.run.Run(context.Background(), "j1"); err == nil {
		t.Fatal("Run succeeded with a failing broker")
	}
	j, _ := r.st.PeekImportJob(context.Background(), "j1")
	if j.State != userimport.Publishing || j.Rows != 4 {
		t.Fatalf("after a failed hand-on: %s with %d rows, want PUBLISHING with 4", j.State, j.Rows)
	}

	// Run again: only the two batches not applied go out.
	r.run.Events = r.pub
	if _, err := r.run.Run(context.Background(), "j1"); err != nil {
		t.Fatal(err)
	}
	if got := len(r.pub.Published(events.TopicUserImport)); got != 4 {
		t.Errorf("%d batches published in all, want 4 (2 + the 2 not applied)", got)
	}
	got, _ := r.st.GetImportJob(context.Background(), "j1")
	if got.State != userimport.Completed || got.Created != 4 || got.Batches != 4 {
		t.Errorf("job %s, %d created of %d batches; want COMPLETED, 4 of 4", got.State, got.Created, got.Batches)
	}
	// A QUEUED job run again hands on nothing applied.
	if _, err := r.run.Run(context.Background(), "j1"); err != nil {
		t.Fatal(err)
	}
	if got := len(r.pub.Published(events.TopicUserImport)); got != 4 {
		t.Errorf("%d batches published after a run of a fully applied job, want still 4", got)
	}
}

func TestRun_a_failed_or_completed_job_is_left_alone(t *testing.T) {
	r := newRig(t)
	r.job(t, "j1", "c.csv", "phone\n")
	if _, err := r.run.Run(context.Background(), "j1"); err != nil {
		t.Fatal(err)
	}
	// The client puts a good file over the refused one.
	r.bucket.Put("uploads/j1", []byte("phone\n+14155550100\n"))
	j, err := r.run.Run(context.Background(), "j1")
	if err != nil {
		t.Fatal(err)
	}
	if j.State != userimport.Failed || len(r.pub.Published(events.TopicUserImport)) != 0 {
		t.Errorf("a failed job ran again: %s, %d batches", j.State, len(r.pub.Published(events.TopicUserImport)))
	}
}

func TestRun_unknown_job(t *testing.T) {
	r := newRig(t)
	if _, err := r.run.Run(context.Background(), "nope"); !errs.Is(err, errs.NotExist) {
		t.Errorf("Run = %v, want NotExist", err)
	}
}

func TestRun_broken_bucket_is_retried_not_failed(t *testing.T) {
	r := newRig(t)
	r.job(t, "j1", "c.csv", "phone\n+14155550100\n")
	r.run.Bucket = brokenBucket{r.bucket}
	_, err := r.run.Run(context.Background(), "j1")
	if err == nil || errs.KindOf(err) == errs.Invalid || errs.KindOf(err) == errs.Permanent {
		t.Fatalf("Run = %v, want a retryable error", err)
	}
	j, _ := r.st.PeekImportJob(context.Background(), "j1")
	if j.State != userimport.Receiving {
		t.Errorf("state %s, want RECEIVING: a read failure is not the file's fault", j.State)
	}
}

type brokenBucket struct{ *memuploads.Bucket }

// Open yields the file's first bytes, then fails as a dropped connection.
func (b brokenBucket) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	f, err := b.Bucket.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(io.MultiReader(io.LimitReader(f, 8), iotest.ErrReader(errors.New("connection reset")))), nil
}

// A resumed run keeps the first pass's stored errors: the rows only the
// second pass refuses (a number too large merged) go after them, never
// over them (a review found them written over chunk 0).
func TestRun_resumed_keeps_every_error(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var b strings.Builder
	for range 1501 {
		b.WriteString(`{"phone":"bad"}` + "\n")
	}
	for i := range 16 {
		fmt.Fprintf(&b, `{"phone":"+14155550100","k%d":"%s"}`+"\n", i, strings.Repeat("x", 60_000))
	}
	b.WriteString(`{"phone":"+14155550101"}` + "\n")
	r.job(t, "j1", "c.jsonl", b.String())
	r.run.Events = &failing{Publisher: r.pub}
	if _, err := r.run.Run(context.Background(), "j1"); err == nil {
		t.Fatal("Run succeeded with a failing broker")
	}
	r.run.Events = r.pub
	job, err := r.run.Run(context.Background(), "j1")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = r.st.ImportErrors(context.Background(), "j1", func(errs.Detail) error { n++; return nil })
	if n != job.Rejected || job.Rejected != 1502 {
		t.Errorf("%d errors kept, job rejected %d; want 1502 of each", n, job.Rejected)
	}
}
