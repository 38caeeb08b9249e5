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

// testDryRuns: a campaign's latest dry run round-trips whole; finishing
// an older run after a newer one started is Conflict and leaves the newer;
// a campaign without one is NotExist.
func testDryRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetDryRun(ctx, "c1"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("GetDryRun of none = %v, want NotExist", err)
	}
	first := dryrun.New("c1", "run-1", t0)
	if err := s.StartDryRun(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := dryrun.New("c1", "run-2", at(1))
	if err := s.StartDryRun(ctx, second); err != nil {
		t.Fatal(err)
	}
	done := first
	done.Add("+94771234567", compliance.Decision{Action: compliance.Skip, Reason: message.SkipNoConsent})
	done.Finish(at(2))
	if err := s.FinishDryRun(ctx, done); !errs.Is(err, errs.Conflict) {
		t.Errorf("FinishDryRun of a replaced run = %v, want Conflict", err)
	}
	second.Add("+94771234567", compliance.Decision{Action: compliance.Send, Channel: "template"})
	second.Add("+94771234568", compliance.Decision{Action: compliance.Skip, Reason: message.SkipChannelPolicy})
	second.Warnings = append(second.Warnings, "over the limit")
	second.Finish(at(3))
	if err := s.FinishDryRun(ctx, second); err != nil {
		t.Fatalf("FinishDryRun: %v", err)
	}
	got, err := s.GetDryRun(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(second, got); diff != "" {
		t.Errorf("GetDryRun (-want +got):\n%s", diff)
	}
	if err := s.FinishDryRun(ctx, dryrun.New("c2", "run-1", t0)); !errs.Is(err, errs.Conflict) {
		t.Errorf("FinishDryRun of a run never started = %v, want Conflict", err)
	}
}
