package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/health"
	"github.com/eventstreamengine/ese/shared/store"
)

// A problem met again replaces its record; listing keeps those seen
// since a time, most recent first.
func testProblems(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := func(kind, reporter string, n int) health.Problem {
		return health.Problem{Dependency: "cloud_tasks", Kind: kind, Hint: "grant a role", Reporter: reporter, At: at(n)}
	}
	for _, rec := range []health.Problem{
		p("permission_denied", "ProcessRecipients", 1),
		p("act_as", "Sender", 2),
		p("permission_denied", "LaunchCampaign", 5), // met again
		p("not_found", "Sender", 0),
	} {
		if err := s.RecordProblem(ctx, rec); err != nil {
			t.Fatalf("RecordProblem(%s): %v", rec.ID(), err)
		}
	}
	got, err := s.ListProblems(ctx, at(1))
	if err != nil {
		t.Fatal(err)
	}
	want := []health.Problem{p("permission_denied", "LaunchCampaign", 5), p("act_as", "Sender", 2)}
	for i := range want {
		want[i].At = kept(want[i].At)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListProblems (-want, +got):\n%s", diff)
	}
	if err := s.RecordProblem(ctx, health.Problem{Kind: "x", At: at(1)}); !errs.Is(err, errs.Invalid) {
		t.Errorf("RecordProblem without a dependency = %v, want Invalid", err)
	}
}
