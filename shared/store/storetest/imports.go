package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
)

func mustCreateJob(t *testing.T, s store.Store, id string, batches int) userimport.Job {
	t.Helper()
	j := userimport.Job{
		ID: id, State: userimport.Queued, Filename: "contacts.csv", Format: "csv",
		Rows: 12, Accepted: 10, Rejected: 2, Duplicates: 1, Batches: batches,
		Errors: []errs.Detail{
			{Row: 3, Field: "phone_number", Message: "is not a valid number"},
			{Row: 7, Field: "consent_state", Message: "must be OPT_IN, STOP or OPT_OUT"},
		},
		CreatedAt: at(0).In(lanka),
	}
	if err := s.CreateImportJob(t.Context(), j); err != nil {
		t.Fatalf("CreateImportJob: %v", err)
	}
	j.CreatedAt, j.UpdatedAt = kept(at(0)), kept(at(0))
	return j
}

func testImportJob(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := mustCreateJob(t, s, "job-1", 2)
	got, err := s.GetImportJob(ctx, "job-1")
	if err != nil {
		t.Fatalf("GetImportJob: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("GetImportJob (-want, +got):\n%s", d)
	}
	peek, err := s.PeekImportJob(ctx, "job-1")
	if err != nil {
		t.Fatalf("PeekImportJob: %v", err)
	}
	if d := diff(want, peek); d != "" {
		t.Errorf("PeekImportJob (-want, +got):\n%s", d)
	}
	if _, err := s.PeekImportJob(ctx, "job-2"); !errs.Is(err, errs.NotExist) {
		t.Errorf("PeekImportJob(job-2): %v, want kind NotExist", err)
	}
	checkUTC(t, "GetImportJob", got.CreatedAt, got.UpdatedAt)

	if err := s.CreateImportJob(ctx, userimport.Job{ID: "job-1", Format: "json"}); !errs.Is(err, errs.Exist) {
		t.Errorf("second CreateImportJob: %v, want kind Exist", err)
	}
	for _, id := range []string{"job-2", ""} {
		if _, err := s.GetImportJob(ctx, id); !errs.Is(err, errs.NotExist) {
			t.Errorf("GetImportJob(%q): %v, want kind NotExist", id, err)
		}
	}
	if err := s.CreateImportJob(ctx, userimport.Job{Format: "csv"}); !errs.Is(err, errs.Invalid) {
		t.Errorf("CreateImportJob without id: %v, want kind Invalid", err)
	}

	// Reading the file ends with one update: its state, counts and errors.
	upd := want
	upd.State, upd.Rows, upd.Accepted, upd.Rejected, upd.Batches = userimport.Failed, 20, 19, 1, 4
	upd.Errors = []errs.Detail{{Message: "malformed JSON at byte 10"}}
	upd.CreatedAt, upd.UpdatedAt = at(5), at(5)
	if err := s.UpdateImportJob(ctx, upd, userimport.Receiving); !errs.Is(err, errs.Conflict) {
		t.Errorf("UpdateImportJob from a state the job is not in: %v, want kind Conflict", err)
	}
	if err := s.UpdateImportJob(ctx, upd, userimport.Queued); err != nil {
		t.Fatalf("UpdateImportJob: %v", err)
	}
	got, err = s.GetImportJob(ctx, "job-1")
	if err != nil {
		t.Fatalf("GetImportJob after update: %v", err)
	}
	upd.CreatedAt = want.CreatedAt // the creation time is kept
	upd.UpdatedAt = kept(at(5))
	if d := diff(upd, got); d != "" {
		t.Errorf("GetImportJob after UpdateImportJob (-want, +got):\n%s", d)
	}
	if err := s.UpdateImportJob(ctx, userimport.Job{ID: "job-9", Format: "csv"}, userimport.Queued); !errs.Is(err, errs.NotExist) {
		t.Errorf("UpdateImportJob of a missing job: %v, want kind NotExist", err)
	}
}

func testApplyImportBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	job := mustCreateJob(t, s, "job-1", 2)
	before := map[int]user.User{
		1: mustCreateUser(t, s, user.User{Phone: phone(1), Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo", "age": 30.0}, CreatedAt: at(0)}),
		2: mustCreateUser(t, s, user.User{Phone: phone(2), Consent: consent.Stop, Attributes: map[string]any{"city": "Kandy"}, CreatedAt: at(0)}),
		3: mustCreateUser(t, s, user.User{Phone: phone(3), Consent: consent.OptOut, CreatedAt: at(0)}),
		4: mustCreateUser(t, s, user.User{Phone: phone(4), Consent: consent.OptIn, CreatedAt: at(0)}),
	}
	rows := []userimport.Row{
		// Attributes merge key by key; no consent given keeps it.
		{Line: 2, Phone: phone(1), Attributes: map[string]any{"age": 31.0, "plan": "gold"}},
		// An import never lifts STOP: nothing changes.
		{Line: 3, Phone: phone(2), Consent: consent.OptIn, Attributes: map[string]any{"city": "Kandy"}},
		// Nor OPT_OUT, though the attributes still merge.
		{Line: 4, Phone: phone(3), Consent: consent.OptIn, Attributes: map[string]any{"city": "Galle"}},
		// It may lower consent.
		{Line: 5, Phone: phone(4), Consent: consent.OptOut},
		// New people: OPT_IN unless the file says otherwise.
		{Line: 6, Phone: phone(5), Attributes: map[string]any{"city": "Jaffna"}},
		{Line: 7, Phone: phone(6), Consent: consent.Stop},
		// The same person twice in a batch: the second row sees the first.
		{Line: 8, Phone: phone(1), Attributes: map[string]any{"plan": "gold"}},
	}
	applied := at(10).In(lanka)
	got, err := s.ApplyImportBatch(ctx, job.ID, 0, rows, applied)
	if err != nil {
		t.Fatalf("ApplyImportBatch: %v", err)
	}
	wantRes := userimport.BatchResult{Batch: 0, Created: 2, Updated: 3, Unchanged: 2, ConsentKept: 2} // the STOP and the OPT_OUT
	if d := diff(wantRes, got); d != "" {
		t.Errorf("ApplyImportBatch (-want, +got):\n%s", d)
	}

	when := kept(at(10))
	withUser := func(u user.User, state consent.State, attrs map[string]any) user.User {
		u.Consent, u.Attributes, u.UpdatedAt = state, attrs, when
		return u
	}
	wantUsers := map[string]user.User{
		phone(1): withUser(before[1], consent.OptIn, map[string]any{"city": "Colombo", "age": 31.0, "plan": "gold"}),
		phone(2): before[2],
		phone(3): withUser(before[3], consent.OptOut, map[string]any{"city": "Galle"}),
		phone(4): withUser(before[4], consent.OptOut, map[string]any{}),
		phone(5): {Phone: phone(5), Consent: consent.OptIn, Attributes: map[string]any{"city": "Jaffna"}, CreatedAt: when, UpdatedAt: when},
		phone(6): {Phone: phone(6), Consent: consent.Stop, Attributes: map[string]any{}, CreatedAt: when, UpdatedAt: when},
	}
	users, err := s.GetUsers(ctx, []string{phone(1), phone(2), phone(3), phone(4), phone(5), phone(6)})
	if err != nil {
		t.Fatalf("GetUsers: %v", err)
	}
	if d := diff(wantUsers, users); d != "" {
		t.Errorf("users after the batch (-want, +got):\n%s", d)
	}

	imported := func(p string, from, to consent.State) consent.Change {
		return consent.Change{Phone: p, From: from, To: to, Source: consent.SourceImport, Ref: job.ID, At: when}
	}
	created := func(p string, to consent.State) consent.Change {
		return consent.Change{Phone: p, To: to, Source: consent.SourceAPI, At: kept(at(0))}
	}
	wantHist := map[string][]consent.Change{
		phone(1): {created(phone(1), consent.OptIn)},
		phone(2): {created(phone(2), consent.Stop)},
		phone(3): {created(phone(3), consent.OptOut)},
		phone(4): {created(phone(4), consent.OptIn), imported(phone(4), consent.OptIn, consent.OptOut)},
		phone(5): {imported(phone(5), "", consent.OptIn)},
		phone(6): {imported(phone(6), "", consent.Stop)},
	}
	for p, want := range wantHist {
		got, err := s.ConsentHistory(ctx, p)
		if err != nil {
			t.Fatalf("ConsentHistory: %v", err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("ConsentHistory(%s) (-want, +got):\n%s", p, d)
		}
	}

	// One of two batches applied: the job is processing, counted so far.
	wantJob := job
	wantJob.State, wantJob.Applied, wantJob.Created, wantJob.Updated, wantJob.Unchanged, wantJob.ConsentKept = userimport.Processing, 1, 2, 3, 2, 2
	gotJob, err := s.GetImportJob(ctx, job.ID)
	if err != nil {
		t.Fatalf("GetImportJob: %v", err)
	}
	if d := diff(wantJob, gotJob); d != "" {
		t.Errorf("GetImportJob after batch 0 (-want, +got):\n%s", d)
	}

	if _, err := s.ApplyImportBatch(ctx, job.ID, 1, []userimport.Row{{Line: 9, Phone: phone(7)}}, at(11)); err != nil {
		t.Fatalf("ApplyImportBatch(1): %v", err)
	}
	wantJob.State, wantJob.Applied, wantJob.Created = userimport.Completed, 2, 3
	gotJob, err = s.GetImportJob(ctx, job.ID)
	if err != nil {
		t.Fatalf("GetImportJob: %v", err)
	}
	if d := diff(wantJob, gotJob); d != "" {
		t.Errorf("GetImportJob after every batch (-want, +got):\n%s", d)
	}
}

func testApplyImportBatchIdempotent(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateJob(t, s, "job-1", 1)
	mustCreateUser(t, s, user.User{Phone: phone(1), Consent: consent.OptIn, CreatedAt: at(0)})
	rows := []userimport.Row{
		{Line: 2, Phone: phone(1), Consent: consent.OptOut},
		{Line: 3, Phone: phone(2), Attributes: map[string]any{"city": "Colombo"}},
	}
	first, err := s.ApplyImportBatch(ctx, "job-1", 0, rows, at(1))
	if err != nil {
		t.Fatalf("ApplyImportBatch: %v", err)
	}
	usersBefore, err := s.GetUsers(ctx, []string{phone(1), phone(2), phone(3)})
	if err != nil {
		t.Fatalf("GetUsers: %v", err)
	}

	// A redelivery, even one whose rows differ, changes nothing.
	other := []userimport.Row{
		{Line: 2, Phone: phone(1), Consent: consent.Stop, Attributes: map[string]any{"x": 1.0}},
		{Line: 3, Phone: phone(3)},
	}
	again, err := s.ApplyImportBatch(ctx, "job-1", 0, other, at(2))
	if err != nil {
		t.Fatalf("ApplyImportBatch again: %v", err)
	}
	if d := diff(first, again); d != "" {
		t.Errorf("second ApplyImportBatch result (-want, +got):\n%s", d)
	}
	usersAfter, err := s.GetUsers(ctx, []string{phone(1), phone(2), phone(3)})
	if err != nil {
		t.Fatalf("GetUsers: %v", err)
	}
	if d := diff(usersBefore, usersAfter); d != "" {
		t.Errorf("users after a redelivered batch (-want, +got):\n%s", d)
	}
	for p, n := range map[string]int{phone(1): 2, phone(2): 1} {
		hist, err := s.ConsentHistory(ctx, p)
		if err != nil {
			t.Fatalf("ConsentHistory: %v", err)
		}
		if len(hist) != n {
			t.Errorf("ConsentHistory(%s) has %d entries, want %d", p, len(hist), n)
		}
	}
	job, err := s.GetImportJob(ctx, "job-1")
	if err != nil {
		t.Fatalf("GetImportJob: %v", err)
	}
	if job.Applied != 1 || job.Created != 1 || job.Updated != 1 {
		t.Errorf("job counts applied=%d created=%d updated=%d, want 1, 1, 1", job.Applied, job.Created, job.Updated)
	}
}

func testApplyImportBatchConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateJob(t, s, "job-1", 1)
	rows := []userimport.Row{{Line: 2, Phone: phone(1)}, {Line: 3, Phone: phone(2), Consent: consent.Stop}}
	const n = 4
	results := make([]userimport.BatchResult, n)
	failures := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], failures[i] = s.ApplyImportBatch(ctx, "job-1", 0, rows, at(1)) })
	}
	wg.Wait()
	want := userimport.BatchResult{Batch: 0, Created: 2}
	for i := range n {
		if failures[i] != nil {
			t.Errorf("ApplyImportBatch %d: %v", i, failures[i])
			continue
		}
		if d := diff(want, results[i]); d != "" {
			t.Errorf("ApplyImportBatch %d (-want, +got):\n%s", i, d)
		}
	}
	hist, err := s.ConsentHistory(ctx, phone(1))
	if err != nil {
		t.Fatalf("ConsentHistory: %v", err)
	}
	if len(hist) != 1 {
		t.Errorf("ConsentHistory has %d entries, want 1", len(hist))
	}
}

func testApplyImportBatchErrors(t *testing.T, s store.Store) {
	mustCreateJob(t, s, "job-1", 1)
	tooMany := make([]userimport.Row, store.MaxImportBatch+1)
	for i := range tooMany {
		tooMany[i] = userimport.Row{Line: i + 2, Phone: phone(1 + i)}
	}
	tests := []struct {
		name  string
		job   string
		batch int
		rows  []userimport.Row
		want  errs.Kind
	}{
		{"unknown_job", "job-2", 0, []userimport.Row{{Line: 2, Phone: phone(1)}}, errs.NotExist},
		{"negative_batch", "job-1", -1, []userimport.Row{{Line: 2, Phone: phone(1)}}, errs.Invalid},
		{"bad_phone", "job-1", 0, []userimport.Row{{Line: 2, Phone: "a/b"}}, errs.Invalid},
		{"bad_consent", "job-1", 0, []userimport.Row{{Line: 2, Phone: phone(1), Consent: "MAYBE"}}, errs.Invalid},
		{"too_many_rows", "job-1", 0, tooMany, errs.Invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.ApplyImportBatch(t.Context(), tc.job, tc.batch, tc.rows, at(1))
			if !errs.Is(err, tc.want) {
				t.Errorf("ApplyImportBatch: %v, want kind %v", err, tc.want)
			}
		})
	}
	// Nothing was applied by the refused batches.
	if _, err := s.GetUser(t.Context(), phone(1)); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetUser after refused batches: %v, want kind NotExist", err)
	}
}

// testApplyImportBatchFull applies the largest batches there are: every
// row creating a user, then every row changing one's consent (a user and
// a history entry per row).
func testApplyImportBatchFull(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateJob(t, s, "job-1", 2)
	rows := make([]userimport.Row, store.MaxImportBatch)
	for i := range rows {
		rows[i] = userimport.Row{Line: i + 2, Phone: phone(i), Attributes: map[string]any{"n": float64(i)}}
	}
	got, err := s.ApplyImportBatch(ctx, "job-1", 0, rows, at(1))
	if err != nil {
		t.Fatalf("ApplyImportBatch(creates): %v", err)
	}
	if want := (userimport.BatchResult{Batch: 0, Created: len(rows)}); got != want {
		t.Errorf("ApplyImportBatch(creates) = %+v, want %+v", got, want)
	}
	for i := range rows {
		rows[i].Consent = consent.OptOut
	}
	got, err = s.ApplyImportBatch(ctx, "job-1", 1, rows, at(2))
	if err != nil {
		t.Fatalf("ApplyImportBatch(updates): %v", err)
	}
	if want := (userimport.BatchResult{Batch: 1, Updated: len(rows)}); got != want {
		t.Errorf("ApplyImportBatch(updates) = %+v, want %+v", got, want)
	}
	if n, err := s.CountUsers(ctx, store.UserFilter{Consent: consent.OptOut}); err != nil || n != len(rows) {
		t.Errorf("CountUsers(OPT_OUT) = %d, %v; want %d", n, err, len(rows))
	}
	hist, err := s.ConsentHistory(ctx, phone(len(rows)-1))
	if err != nil {
		t.Fatalf("ConsentHistory: %v", err)
	}
	if len(hist) != 2 {
		t.Errorf("ConsentHistory has %d entries, want 2", len(hist))
	}
}

// testImportJobFields: what the upload knew (its object, options,
// deadline) and when batches were handed on survive every way a job is
// read back, in UTC to the microsecond; zero times stay zero.
func testImportJobFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		job  userimport.Job
	}{
		{"every_field", userimport.Job{
			State: userimport.Publishing, Filename: "contacts.csv", Format: "csv",
			Object: "uploads/2025/03/01/job.csv", DefaultRegion: "LK", Encoding: "windows-1252",
			UploadBy: at(15).In(lanka), PublishedAt: at(3).In(lanka),
			Rows: 400, Accepted: 398, Rejected: 2, Batches: 2,
		}},
		{"zero_times", userimport.Job{State: userimport.Receiving, Format: "jsonl", Object: "uploads/x.jsonl"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := tc.job
			j.ID = fmt.Sprintf("job-fields-%d", i)
			j.CreatedAt = at(1)
			if err := s.CreateImportJob(ctx, j); err != nil {
				t.Fatalf("CreateImportJob: %v", err)
			}
			want := j
			want.CreatedAt, want.UpdatedAt = kept(at(1)), kept(at(1))
			want.UploadBy, want.PublishedAt = kept(j.UploadBy), kept(j.PublishedAt)
			reads := map[string]func() (userimport.Job, error){
				"GetImportJob":  func() (userimport.Job, error) { return s.GetImportJob(ctx, j.ID) },
				"PeekImportJob": func() (userimport.Job, error) { return s.PeekImportJob(ctx, j.ID) },
				"ListImportJobs": func() (userimport.Job, error) {
					js, err := s.ListImportJobs(ctx, []userimport.State{j.State}, at(2), 10)
					for _, got := range js {
						if got.ID == j.ID {
							return got, err
						}
					}
					return userimport.Job{}, err
				},
			}
			for name, read := range reads {
				got, err := read()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if d := diff(want, got); d != "" {
					t.Errorf("%s (-want, +got):\n%s", name, d)
				}
				checkUTC(t, name, got.UploadBy, got.PublishedAt)
			}

			// Handing the batches on again moves PublishedAt; an update
			// replaces every field it carries.
			upd := want
			upd.PublishedAt, upd.Encoding, upd.UpdatedAt = at(7), "", at(7)
			if err := s.UpdateImportJob(ctx, upd, j.State); err != nil {
				t.Fatalf("UpdateImportJob: %v", err)
			}
			upd.PublishedAt, upd.UpdatedAt = kept(at(7)), kept(at(7))
			got, err := s.PeekImportJob(ctx, j.ID)
			if err != nil {
				t.Fatalf("PeekImportJob after update: %v", err)
			}
			if d := diff(upd, got); d != "" {
				t.Errorf("PeekImportJob after update (-want, +got):\n%s", d)
			}
		})
	}
}

// batchRows returns batch k of job n's rows and what applying them does:
// k+1 new people, one existing person updated and one whose STOP stays
// (the users for the last two are made here).
func batchRows(t *testing.T, s store.Store, n, k int) ([]userimport.Row, userimport.BatchResult) {
	t.Helper()
	base := 100000*(n+1) + 1000*k
	mustCreateUser(t, s, user.User{Phone: phone(base), Consent: consent.OptIn, CreatedAt: at(0)})
	mustCreateUser(t, s, user.User{Phone: phone(base + 1), Consent: consent.Stop, CreatedAt: at(0)})
	rows := []userimport.Row{
		{Line: 2, Phone: phone(base), Attributes: map[string]any{"batch": float64(k)}},
		{Line: 3, Phone: phone(base + 1), Consent: consent.OptIn},
	}
	for i := range k + 1 {
		rows = append(rows, userimport.Row{Line: 4 + i, Phone: phone(base + 10 + i)})
	}
	return rows, userimport.BatchResult{Batch: k, Created: k + 1, Updated: 1, Unchanged: 1, ConsentKept: 1}
}

// testImportJobTotals: GetImportJob's counts are the sums of the applied
// batches' results, each batch once however often it was applied, and
// its state follows: a job still PUBLISHING has no final batch count, so
// it never completes, while a QUEUED one completes when every batch is in.
func testImportJobTotals(t *testing.T, s store.Store) {
	tests := []struct {
		name      string
		state     userimport.State
		batches   int
		apply     []int // in order; a repeat is a redelivery
		wantState userimport.State
	}{
		{"queued_none_applied", userimport.Queued, 3, nil, userimport.Queued},
		{"queued_some_applied", userimport.Queued, 3, []int{0}, userimport.Processing},
		{"queued_reapplied_counts_once", userimport.Queued, 3, []int{0, 1, 1, 0}, userimport.Processing},
		{"queued_all_applied_completes", userimport.Queued, 3, []int{2, 0, 1, 1}, userimport.Completed},
		{"queued_no_batches_completes", userimport.Queued, 0, nil, userimport.Completed},
		{"publishing_none_applied", userimport.Publishing, 2, nil, userimport.Publishing},
		{"publishing_all_published_applied_never_completes", userimport.Publishing, 2, []int{0, 1}, userimport.Processing},
		{"processing_all_applied_completes", userimport.Processing, 2, []int{0, 1}, userimport.Completed},
		{"failed_stays_failed", userimport.Failed, 2, []int{0}, userimport.Failed},
		{"receiving_stays_receiving", userimport.Receiving, 0, nil, userimport.Receiving},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			job := userimport.Job{ID: fmt.Sprintf("job-totals-%d", n), State: tc.state, Format: "csv", Batches: tc.batches, CreatedAt: at(0)}
			// Counts come from the batches alone, never from the job.
			withCounts := job
			withCounts.Applied, withCounts.Created, withCounts.Updated, withCounts.Unchanged, withCounts.ConsentKept = 9, 9, 9, 9, 9
			if err := s.CreateImportJob(ctx, withCounts); err != nil {
				t.Fatalf("CreateImportJob: %v", err)
			}
			want := job
			want.State, want.CreatedAt, want.UpdatedAt = tc.wantState, kept(at(0)), kept(at(0))
			first := map[int]userimport.BatchResult{}
			for i, k := range tc.apply {
				var rows []userimport.Row
				wantRes, redelivered := first[k]
				if redelivered {
					// A redelivery, even with other rows, returns the first
					// result and changes nothing.
					rows = []userimport.Row{{Line: 2, Phone: phone(100000*(n+1) + 999)}}
				} else {
					rows, wantRes = batchRows(t, s, n, k)
				}
				got, err := s.ApplyImportBatch(ctx, job.ID, k, rows, at(1+i))
				if err != nil {
					t.Fatalf("ApplyImportBatch(%d): %v", k, err)
				}
				if d := diff(wantRes, got); d != "" {
					t.Errorf("ApplyImportBatch(%d) (-want, +got):\n%s", k, d)
				}
				if !redelivered {
					first[k] = got
					want.Applied++
					want.Created += got.Created
					want.Updated += got.Updated
					want.Unchanged += got.Unchanged
					want.ConsentKept += got.ConsentKept
				}
			}
			got, err := s.GetImportJob(ctx, job.ID)
			if err != nil {
				t.Fatalf("GetImportJob: %v", err)
			}
			if d := diff(want, got); d != "" {
				t.Errorf("GetImportJob (-want, +got):\n%s", d)
			}
			// Peek reads the job alone: as stored, nothing tallied.
			peek, err := s.PeekImportJob(ctx, job.ID)
			if err != nil {
				t.Fatalf("PeekImportJob: %v", err)
			}
			wantPeek := job
			wantPeek.CreatedAt, wantPeek.UpdatedAt = kept(at(0)), kept(at(0))
			if d := diff(wantPeek, peek); d != "" {
				t.Errorf("PeekImportJob (-want, +got):\n%s", d)
			}
		})
	}
}

// testAppliedImportBatches: the numbers of the applied batches, in
// numeric order (10 after 2), each once.
func testAppliedImportBatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateJob(t, s, "job-1", 11)
	mustCreateJob(t, s, "job-2", 1)
	for _, k := range []int{10, 0, 2, 1, 2} {
		if _, err := s.ApplyImportBatch(ctx, "job-1", k, []userimport.Row{{Line: 2, Phone: phone(k)}}, at(1)); err != nil {
			t.Fatalf("ApplyImportBatch(%d): %v", k, err)
		}
	}
	tests := []struct {
		name string
		job  string
		want []int
	}{
		{"applied_in_numeric_order", "job-1", []int{0, 1, 2, 10}},
		{"none_applied", "job-2", []int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.AppliedImportBatches(ctx, tc.job)
			if err != nil {
				t.Fatalf("AppliedImportBatches: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("AppliedImportBatches (-want, +got):\n%s", d)
			}
		})
	}
}

// details returns n row errors starting at row first, each saying tag.
func details(first, n int, tag string) []errs.Detail {
	out := make([]errs.Detail, n)
	for i := range out {
		out[i] = errs.Detail{Row: first + i, Field: "phone_number", Message: tag}
	}
	return out
}

// collectErrors reads every row error of a job, stopping after stop of
// them (never when stop is 0) with errStop.
func collectErrors(s store.Store, t *testing.T, jobID string, stop int) ([]errs.Detail, error) {
	var got []errs.Detail
	err := s.ImportErrors(t.Context(), jobID, func(d errs.Detail) error {
		got = append(got, d)
		if len(got) == stop {
			return errStop
		}
		return nil
	})
	return got, err
}

var errStop = errors.New("stop here")

// testImportErrors: chunks come back in chunk order whatever order they
// were written in (10 after 2), a chunk written again replaces the old
// one, and fn's error ends the reading and is returned as it is.
func testImportErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateJob(t, s, "job-1", 1)
	mustCreateJob(t, s, "job-empty", 1)
	puts := []struct {
		chunk   int
		details []errs.Detail
	}{
		{2, details(2000, 2, "third")},
		{0, details(2, 3, "first")},
		{10, details(10000, 1, "last")},
		{1, details(1000, 4, "second, at first")},
		{1, details(1000, 2, "second")}, // reading the file again
	}
	for _, p := range puts {
		if err := s.PutImportErrors(ctx, "job-1", p.chunk, p.details); err != nil {
			t.Fatalf("PutImportErrors(%d): %v", p.chunk, err)
		}
	}
	all := slices.Concat(details(2, 3, "first"), details(1000, 2, "second"), details(2000, 2, "third"), details(10000, 1, "last"))

	tests := []struct {
		name    string
		job     string
		stop    int
		want    []errs.Detail
		wantErr error
	}{
		{"every_chunk_in_order", "job-1", 0, all, nil},
		{"stops_inside_a_chunk", "job-1", 4, all[:4], errStop},
		{"stops_at_a_chunk_end", "job-1", 5, all[:5], errStop},
		{"stops_at_the_last", "job-1", len(all), all, errStop},
		{"no_errors_stored", "job-empty", 0, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collectErrors(s, t, tc.job, tc.stop)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("ImportErrors: %v, want %v", err, tc.wantErr)
			}
			if d := diff(tc.want, got); d != "" {
				t.Errorf("ImportErrors (-want, +got):\n%s", d)
			}
		})
	}

	full := details(2, store.MaxImportErrorChunk, "bad")
	if err := s.PutImportErrors(ctx, "job-empty", 0, full); err != nil {
		t.Errorf("PutImportErrors of a full chunk: %v", err)
	} else if got, err := collectErrors(s, t, "job-empty", 0); err != nil || len(got) != len(full) {
		t.Errorf("ImportErrors after a full chunk: %d errors, %v; want %d", len(got), err, len(full))
	}
	refused := []struct {
		name    string
		job     string
		chunk   int
		details []errs.Detail
		want    errs.Kind
	}{
		{"negative_chunk", "job-1", -1, details(2, 1, "x"), errs.Invalid},
		{"chunk_too_large", "job-1", 3, details(2, store.MaxImportErrorChunk+1, "x"), errs.Invalid},
		{"unknown_job", "job-9", 0, details(2, 1, "x"), errs.NotExist},
		{"unnamable_job", "a/b", 0, details(2, 1, "x"), errs.NotExist},
	}
	for _, tc := range refused {
		t.Run("refused_"+tc.name, func(t *testing.T) {
			if err := s.PutImportErrors(ctx, tc.job, tc.chunk, tc.details); !errs.Is(err, tc.want) {
				t.Errorf("PutImportErrors: %v, want kind %v", err, tc.want)
			}
		})
	}
	// The refused writes changed nothing.
	if got, err := collectErrors(s, t, "job-1", 0); err != nil {
		t.Errorf("ImportErrors after refused writes: %v", err)
	} else if d := diff(all, got); d != "" {
		t.Errorf("ImportErrors after refused writes (-want, +got):\n%s", d)
	}
}

// testListImportJobs: jobs in one of the states asked for, last updated
// strictly before the time given, oldest first and by id for a tie, at
// most limit; the jobs as stored, without their batches tallied.
func testListImportJobs(t *testing.T, s store.Store) {
	ctx := t.Context()
	jobs := map[string]userimport.Job{}
	for _, j := range []userimport.Job{
		{ID: "a-queued-5", State: userimport.Queued, UpdatedAt: at(5)},
		{ID: "b-queued-1", State: userimport.Queued, UpdatedAt: at(1)},
		{ID: "c-receiving-2", State: userimport.Receiving, UpdatedAt: at(2), UploadBy: at(3)},
		{ID: "d-publishing-2", State: userimport.Publishing, UpdatedAt: at(2), PublishedAt: at(2)},
		{ID: "e-processing-3", State: userimport.Processing, UpdatedAt: at(3), Batches: 1},
		{ID: "f-completed-0", State: userimport.Completed, UpdatedAt: at(0)},
		{ID: "g-queued-9", State: userimport.Queued, UpdatedAt: at(9)},
	} {
		j.Format, j.CreatedAt = "csv", at(0)
		if err := s.CreateImportJob(ctx, j); err != nil {
			t.Fatalf("CreateImportJob(%s): %v", j.ID, err)
		}
		j.CreatedAt, j.UpdatedAt = kept(j.CreatedAt), kept(j.UpdatedAt)
		j.UploadBy, j.PublishedAt = kept(j.UploadBy), kept(j.PublishedAt)
		jobs[j.ID] = j
	}
	// A batch applied to the processing job is not tallied by the list.
	if _, err := s.ApplyImportBatch(ctx, "e-processing-3", 0, []userimport.Row{{Line: 2, Phone: phone(1)}}, at(4)); err != nil {
		t.Fatalf("ApplyImportBatch: %v", err)
	}
	tests := []struct {
		name   string
		states []userimport.State
		before time.Time
		limit  int
		want   []string
	}{
		{"one_state_oldest_first", []userimport.State{userimport.Queued}, at(10), 10, []string{"b-queued-1", "a-queued-5", "g-queued-9"}},
		{"before_is_strict", []userimport.State{userimport.Queued}, at(5), 10, []string{"b-queued-1"}},
		{"states_merge_in_time_then_id_order",
			[]userimport.State{userimport.Receiving, userimport.Publishing, userimport.Queued, userimport.Processing}, at(6), 10,
			[]string{"b-queued-1", "c-receiving-2", "d-publishing-2", "e-processing-3", "a-queued-5"}},
		{"limit", []userimport.State{userimport.Receiving, userimport.Publishing, userimport.Queued}, at(10), 2, []string{"b-queued-1", "c-receiving-2"}},
		{"repeated_states", []userimport.State{userimport.Completed, userimport.Completed}, at(10), 10, []string{"f-completed-0"}},
		{"nothing_before", []userimport.State{userimport.Completed}, at(0), 10, nil},
		{"no_states", nil, at(10), 10, nil},
		{"unknown_state", []userimport.State{"LOST"}, at(10), 10, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListImportJobs(ctx, tc.states, tc.before, tc.limit)
			if err != nil {
				t.Fatalf("ListImportJobs: %v", err)
			}
			var want []userimport.Job
			for _, id := range tc.want {
				want = append(want, jobs[id])
			}
			if d := diff(want, got); d != "" {
				t.Errorf("ListImportJobs (-want, +got):\n%s", d)
			}
		})
	}

	tooMany := make([]userimport.State, records.MaxIn+1)
	for i := range tooMany {
		tooMany[i] = userimport.State(fmt.Sprint("S", i))
	}
	for name, call := range map[string]func() error{
		"zero_limit": func() error {
			_, err := s.ListImportJobs(ctx, []userimport.State{userimport.Queued}, at(10), 0)
			return err
		},
		"too_many_states": func() error {
			_, err := s.ListImportJobs(ctx, tooMany, at(10), 10)
			return err
		},
	} {
		if err := call(); !errs.Is(err, errs.Invalid) {
			t.Errorf("ListImportJobs, %s: %v, want kind Invalid", name, err)
		}
	}
}

// testImportUnknownJob: every read or write of a job's parts names an
// unknown or unnamable job NotExist, never an empty answer.
func testImportUnknownJob(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateJob(t, s, "job-1", 1)
	calls := map[string]func(id string) error{
		"GetImportJob":  func(id string) error { _, err := s.GetImportJob(ctx, id); return err },
		"PeekImportJob": func(id string) error { _, err := s.PeekImportJob(ctx, id); return err },
		"ApplyImportBatch": func(id string) error {
			_, err := s.ApplyImportBatch(ctx, id, 0, []userimport.Row{{Line: 2, Phone: phone(1)}}, at(1))
			return err
		},
		"AppliedImportBatches": func(id string) error { _, err := s.AppliedImportBatches(ctx, id); return err },
		"PutImportErrors":      func(id string) error { return s.PutImportErrors(ctx, id, 0, details(2, 1, "x")) },
		"ImportErrors": func(id string) error {
			return s.ImportErrors(ctx, id, func(errs.Detail) error { return nil })
		},
	}
	for _, id := range []string{"job-9", "", "a/b", "__x__"} {
		for name, call := range calls {
			t.Run(fmt.Sprintf("%s_%q", name, id), func(t *testing.T) {
				if err := call(id); !errs.Is(err, errs.NotExist) {
					t.Errorf("%s(%q): %v, want kind NotExist", name, id, err)
				}
			})
		}
	}
	// Nothing was written under the unknown job.
	if _, err := s.GetUser(ctx, phone(1)); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetUser after a batch of an unknown job: %v, want kind NotExist", err)
	}
}

// testApplyImportBatchesSharingPeople: batches applied at once that name
// the same new person create them once; the others see them.
func testApplyImportBatchesSharingPeople(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 4
	mustCreateJob(t, s, "job-1", n)
	results := make([]userimport.BatchResult, n)
	failures := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		// Everyone in phone(0); each batch also its own new person.
		rows := []userimport.Row{{Line: 2, Phone: phone(0)}, {Line: 3, Phone: phone(1 + k)}}
		wg.Go(func() { results[k], failures[k] = s.ApplyImportBatch(ctx, "job-1", k, rows, at(1)) })
	}
	wg.Wait()
	var got userimport.Totals
	for k := range n {
		if failures[k] != nil {
			t.Fatalf("ApplyImportBatch(%d): %v", k, failures[k])
		}
		got.Add(results[k])
	}
	want := userimport.Totals{Batches: n, Created: n + 1, Unchanged: n - 1}
	if d := diff(want, got); d != "" {
		t.Errorf("results summed (-want, +got):\n%s", d)
	}
	for p := range n + 1 {
		hist, err := s.ConsentHistory(ctx, phone(p))
		if err != nil {
			t.Fatalf("ConsentHistory: %v", err)
		}
		if len(hist) != 1 {
			t.Errorf("ConsentHistory(%s) has %d entries, want 1", phone(p), len(hist))
		}
	}
}

// testRefuseImportBatch: a batch refused whole counts as done with its
// rows refused, its reason follows the row errors, a second refusal or a
// later apply of the same batch changes nothing, and a row whose
// attributes merged with the person's pass what a contact holds is
// refused alone, keeping a consent it lowers.
func testRefuseImportBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateJob(t, s, "refused-job", 3)
	if err := s.PutImportErrors(ctx, "refused-job", 0, []errs.Detail{{Row: 3, Field: "phone", Message: "bad"}}); err != nil {
		t.Fatal(err)
	}
	rows := []userimport.Row{{Line: 10, Phone: "+94770000010"}, {Line: 12, Phone: "+94770000012"}}
	for range 2 {
		if err := s.RefuseImportBatch(ctx, "refused-job", 1, rows, "too large", at(1)); err != nil {
			t.Fatalf("RefuseImportBatch: %v", err)
		}
	}
	if _, err := s.ApplyImportBatch(ctx, "refused-job", 1, rows, at(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "+94770000010"); !errs.Is(err, errs.NotExist) {
		t.Errorf("a refused batch's row was applied later: %v", err)
	}
	big := strings.Repeat("x", 500<<10)
	first := []userimport.Row{{Line: 2, Phone: "+94770000020", Attributes: map[string]any{"a": big}}}
	if _, err := s.ApplyImportBatch(ctx, "refused-job", 0, first, at(2)); err != nil {
		t.Fatal(err)
	}
	second := []userimport.Row{{Line: 5, Phone: "+94770000020", Consent: consent.OptOut, Attributes: map[string]any{"b": big}}}
	res, err := s.ApplyImportBatch(ctx, "refused-job", 2, second, at(3))
	if err != nil {
		t.Fatalf("a row too large merged failed its batch: %v", err)
	}
	if res.Refused != 1 || res.Updated != 0 {
		t.Errorf("result %+v, want the row refused", res)
	}
	u, err := s.GetUser(ctx, "+94770000020")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Attributes["b"]; ok || u.Consent != consent.OptOut {
		t.Errorf("user attributes %d, consent %s; want b refused and OPT_OUT kept", len(u.Attributes), u.Consent)
	}
	job, err := s.GetImportJob(ctx, "refused-job")
	if err != nil {
		t.Fatal(err)
	}
	if job.State != userimport.Completed || job.Refused != 3 || job.Applied != 3 || job.Created != 1 {
		t.Errorf("job %s applied %d refused %d created %d; want COMPLETED 3 3 1", job.State, job.Applied, job.Refused, job.Created)
	}
	got, err := collectErrors(s, t, "refused-job", -1)
	if err != nil {
		t.Fatal(err)
	}
	want := []errs.Detail{{Row: 3, Field: "phone", Message: "bad"},
		{Row: 10, Message: "rows 10 to 12 (2 valid rows) were not applied: too large"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
