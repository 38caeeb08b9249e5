package importusers_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/importusers"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/userimport"
)

const phone = "+94771234567"

// newJob stores an import job of one batch in state s.
func newJob(t *testing.T, st *memstore.Store, s userimport.State) {
	t.Helper()
	j := userimport.Job{ID: "job1", State: s, Format: "csv", Rows: 1, Accepted: 1, Batches: 1}
	if err := st.CreateImportJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
}

func batchMessage(t *testing.T) events.Message {
	t.Helper()
	data, err := json.Marshal(events.ImportBatch{JobID: "job1", Batch: 0, Rows: []userimport.Row{
		{Line: 2, Phone: phone, Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return events.Message{ID: "1", Data: data}
}

// result is what a test checks after a batch: the person and the job.
type result struct {
	Consent    consent.State
	Attributes map[string]any
	History    int
	JobState   userimport.State
	Created    int
}

func resultOf(t *testing.T, st *memstore.Store) result {
	t.Helper()
	ctx := context.Background()
	var r result
	if u, err := st.GetUser(ctx, phone); err == nil {
		h, err := st.ConsentHistory(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		r.Consent, r.Attributes, r.History = u.Consent, u.Attributes, len(h)
	}
	if j, err := st.GetImportJob(ctx, "job1"); err == nil {
		r.JobState, r.Created = j.State, j.Created
	}
	return r
}

func TestImportUsers_applies_a_batch_once(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	newJob(t, st, userimport.Queued)
	h := importusers.New(st, erasure.Hasher{})
	for i := range 2 { // the second is Pub/Sub's redelivery
		if err := h(context.Background(), batchMessage(t)); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	want := result{Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo"}, History: 1, JobState: userimport.Completed, Created: 1}
	if diff := cmp.Diff(want, resultOf(t, st)); diff != "" {
		t.Errorf("after two deliveries (-want, +got):\n%s", diff)
	}
}

func TestImportUsers_decisions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		job       userimport.State // "" for no job
		data      string           // "" for the batch
		wantErr   bool
		wantRetry bool
		want      result
	}{
		// Batches go out only after their file was read whole: one that
		// comes sooner is not ours, and is not retried.
		{name: "batch_before_its_file_was_read_is_refused", job: userimport.Receiving, wantErr: true,
			want: result{JobState: userimport.Receiving}},
		// The file turned out malformed: the batch is dropped unapplied.
		{name: "failed_import_drops_the_batch", job: userimport.Failed, want: result{JobState: userimport.Failed}},
		{name: "unknown_job_is_not_retried", wantErr: true},
		{name: "malformed_payload_is_not_retried", job: userimport.Queued, data: `{"job_id":`, wantErr: true,
			want: result{JobState: userimport.Queued}},
		{name: "wrong_type_is_not_retried", job: userimport.Queued, data: `{"job_id":"job1","batch":"zero"}`, wantErr: true,
			want: result{JobState: userimport.Queued}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			if tc.job != "" {
				newJob(t, st, tc.job)
			}
			m := batchMessage(t)
			if tc.data != "" {
				m.Data = []byte(tc.data)
			}
			err := importusers.New(st, erasure.Hasher{})(context.Background(), m)
			if (err != nil) != tc.wantErr || errs.Retry(err) != tc.wantRetry {
				t.Fatalf("handler = %v (retry %v); want error %v, retry %v", err, errs.Retry(err), tc.wantErr, tc.wantRetry)
			}
			if diff := cmp.Diff(tc.want, resultOf(t, st)); diff != "" {
				t.Errorf("(-want, +got):\n%s", diff)
			}
			if n, _ := st.CountUsers(context.Background(), store.UserFilter{}); n != 0 {
				t.Errorf("%d users created", n)
			}
		})
	}
}

// A batch the store will never take (a request Firestore refuses) is
// recorded as refused and acked: the job finishes, counting its rows,
// and errors.csv says which rows and why, with numbers masked.
func TestImportUsers_refused_batch_finishes_the_job(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := refusing{memstore.New()}
	if err := st.CreateImportJob(ctx, userimport.Job{ID: "job1", State: userimport.Queued, Batches: 1}); err != nil {
		t.Fatal(err)
	}
	m := batchMessage(t)
	for range 2 { // a redelivery changes nothing
		if err := importusers.New(st, erasure.Hasher{})(ctx, m); err != nil {
			t.Fatalf("handler = %v, want the refused batch acked", err)
		}
	}
	job, err := st.GetImportJob(ctx, "job1")
	if err != nil {
		t.Fatal(err)
	}
	if job.State != userimport.Completed || job.Refused != 1 || job.Created != 0 {
		t.Errorf("job %s, refused %d, created %d; want COMPLETED, 1, 0", job.State, job.Refused, job.Created)
	}
	var got []errs.Detail
	_ = st.ImportErrors(ctx, "job1", func(d errs.Detail) error { got = append(got, d); return nil })
	want := []errs.Detail{{Row: 2, Message: "rows 2 to 2 (1 valid rows) were not applied: importusers test: document users/+94*****4567 is too large"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

type refusing struct{ *memstore.Store }

func (refusing) ApplyImportBatch(context.Context, string, int, []userimport.Row, time.Time) (userimport.BatchResult, error) {
	return userimport.BatchResult{}, errs.E(errs.Invalid, "importusers test: document users/+94771234567 is too large")
}
