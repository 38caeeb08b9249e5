package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
)

// testDryRuns: a campaign's latest dry run round-trips whole, with where
// its read goes on; it advances only from the count it had read, so of
// two deliveries reading the same part one wins; an older run never
// overwrites a newer; a finished run advances no more; a campaign without
// one is NotExist.
func testDryRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetDryRun(ctx, "c1"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("GetDryRun of none = %v, want NotExist", err)
	}
	first := dryrun.New("c1", "run-1", t0, t0)
	if err := s.StartDryRun(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := dryrun.New("c1", "run-2", at(1), at(60))
	if err := s.StartDryRun(ctx, second); err != nil {
		t.Fatal(err)
	}
	older := first
	older.Add("+94771234567", compliance.Decision{Action: compliance.Skip, Reason: message.SkipNoConsent})
	older.Read, older.Next = 1, "+94771234567"
	if err := s.AdvanceDryRun(ctx, older, 0); !errs.Is(err, errs.Conflict) {
		t.Errorf("AdvanceDryRun of a replaced run = %v, want Conflict", err)
	}

	part := second
	part.Add("+94771234567", compliance.Decision{Action: compliance.Send, Channel: "template"})
	part.Read, part.Next, part.NewConversations = 500, "+94771234567", 1
	if err := s.AdvanceDryRun(ctx, part, 0); err != nil {
		t.Fatalf("AdvanceDryRun: %v", err)
	}
	// Another delivery that read the same part: it lost.
	if err := s.AdvanceDryRun(ctx, part, 0); !errs.Is(err, errs.Conflict) {
		t.Errorf("AdvanceDryRun from a count already passed = %v, want Conflict", err)
	}
	got, err := s.GetDryRun(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(part, got); diff != "" {
		t.Errorf("GetDryRun of a run part read (-want +got):\n%s", diff)
	}

	done := part
	done.Add("+94771234568", compliance.Decision{Action: compliance.Skip, Reason: message.SkipChannelPolicy})
	done.Read = 501
	done.Warnings = append(done.Warnings, "over the limit")
	done.Finish(at(3))
	if err := s.AdvanceDryRun(ctx, done, 500); err != nil {
		t.Fatalf("AdvanceDryRun to done: %v", err)
	}
	if got, err := s.GetDryRun(ctx, "c1"); err != nil || !cmp.Equal(done, got) {
		t.Errorf("GetDryRun of a finished run = %+v, %v; want %+v", got, err, done)
	}
	if err := s.AdvanceDryRun(ctx, done, 501); !errs.Is(err, errs.Conflict) {
		t.Errorf("AdvanceDryRun of a finished run = %v, want Conflict", err)
	}
	if err := s.AdvanceDryRun(ctx, dryrun.New("c2", "run-1", t0, t0), 0); !errs.Is(err, errs.Conflict) {
		t.Errorf("AdvanceDryRun of a run never started = %v, want Conflict", err)
	}
}
