package gcpfirestore

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// ApplyImportBatch tries creating everyone first and reads them when
// someone exists; a failed try writes nothing, and the job remembers
// whether its last batch found people, to read first next time. The
// conformance suite checks the answers; this checks the path taken.
func TestApplyImportBatchPaths(t *testing.T) {
	t.Parallel()
	emulatortest.Firestore(t)
	ctx := context.Background()
	s, err := Open(ctx, emulatortest.ProjectID(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	const jobID = "job-1"
	if err := s.CreateImportJob(ctx, userimport.Job{ID: jobID, State: userimport.Queued, Format: "csv", Batches: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, user.User{Phone: "+94770000009", Consent: consent.OptIn}, consent.SourceAPI, ""); err != nil {
		t.Fatal(err)
	}
	row := func(line int, phone string) userimport.Row {
		return userimport.Row{Line: line, Phone: phone, Consent: consent.OptOut}
	}
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		name      string
		batch     int
		rows      []userimport.Row
		want      userimport.BatchResult
		wantFound bool // the job's hint after the batch
	}{
		{"new_people_created_at_once", 0, []userimport.Row{row(2, "+94770000001"), row(3, "+94770000002")},
			userimport.BatchResult{Batch: 0, Created: 2}, false},
		{"someone_exists_so_read", 1, []userimport.Row{row(4, "+94770000003"), row(5, "+94770000009")},
			userimport.BatchResult{Batch: 1, Created: 1, Updated: 1}, true},
		{"after_people_read_first_and_find_none", 2, []userimport.Row{row(6, "+94770000004")},
			userimport.BatchResult{Batch: 2, Created: 1}, false},
		{"redelivered_returns_first_result", 0, []userimport.Row{row(2, "+94770000005")},
			userimport.BatchResult{Batch: 0, Created: 2}, false},
	}
	for _, st := range steps {
		got, err := s.ApplyImportBatch(ctx, jobID, st.batch, st.rows, at)
		if err != nil {
			t.Fatalf("%s: ApplyImportBatch: %v", st.name, err)
		}
		if d := cmp.Diff(st.want, got); d != "" {
			t.Errorf("%s: ApplyImportBatch (-want, +got):\n%s", st.name, d)
		}
		if found := s.foundPeople.has(jobID); found != st.wantFound {
			t.Errorf("%s: found people = %v, want %v", st.name, found, st.wantFound)
		}
	}
	// The failed try wrote nothing: one history entry each, the one the
	// read path wrote.
	for _, p := range []string{"+94770000003", "+94770000001"} {
		hist, err := s.ConsentHistory(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 1 {
			t.Errorf("ConsentHistory(%s) has %d entries, want 1", p, len(hist))
		}
	}
	if _, err := s.GetUser(ctx, "+94770000005"); err == nil {
		t.Error("the redelivered batch's other row made a user")
	}
	if n, err := s.CountUsers(ctx, store.UserFilter{}); err != nil || n != 5 {
		t.Errorf("CountUsers = %d, %v; want 5", n, err)
	}
}

// The hints forget everything rather than grow past maxJobHints jobs.
func TestJobHintsBounded(t *testing.T) {
	t.Parallel()
	var h jobHints
	for i := range maxJobHints + 10 {
		h.set(string(rune('a'+i%26))+string(rune(i)), true)
	}
	if n := len(h.jobs); n > maxJobHints {
		t.Errorf("%d hints kept, want at most %d", n, maxJobHints)
	}
	h.set("x", true)
	h.set("x", false)
	if h.has("x") {
		t.Error("a job whose last batch found nobody is still hinted")
	}
}
