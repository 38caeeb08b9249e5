package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
)

// What a look for stuck campaigns reads: the running campaigns, then the
// messages of each that have not concluded.
func testCampaignsInAndUnconcluded(t *testing.T, s store.Store) {
	ctx := t.Context()
	var running []string
	for i, st := range []campaign.Status{campaign.Running, campaign.Draft, campaign.Running, campaign.Completed} {
		c := newCampaign(i)
		c.Status = st
		got := mustCreateCampaign(t, s, c)
		if st == campaign.Running {
			running = append(running, got.ID)
		}
	}
	ids := func(cs []campaign.Campaign) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		slices.Sort(out)
		return out
	}
	got, err := s.CampaignsIn(ctx, campaign.Running, 10)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(running)
	if diff := cmp.Diff(running, ids(got)); diff != "" {
		t.Errorf("CampaignsIn(RUNNING) (-want, +got):\n%s", diff)
	}
	if got, err := s.CampaignsIn(ctx, campaign.Running, 1); err != nil || len(got) != 1 {
		t.Errorf("CampaignsIn(RUNNING, limit 1) = %d campaigns, %v; want 1", len(got), err)
	}
	if _, err := s.CampaignsIn(ctx, campaign.Running, 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("CampaignsIn(limit 0) = %v, want Invalid", err)
	}

	var want []string
	var ms []message.Message
	for i, st := range []message.Status{message.Pending, message.Sent, message.Deferred, message.Skipped, message.Sending} {
		m := newMessage("c1", i)
		m.Status = st
		ms = append(ms, m)
		if !st.Concluded() {
			want = append(want, m.ID)
		}
	}
	mustCreateMessages(t, s, append(ms, newMessage("c2", 9))...)
	open, err := s.ListUnconcluded(ctx, "c1", 10)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, m := range open {
		gotIDs = append(gotIDs, m.ID)
	}
	slices.Sort(want)
	slices.Sort(gotIDs)
	if diff := cmp.Diff(want, gotIDs); diff != "" {
		t.Errorf("ListUnconcluded(c1) (-want, +got):\n%s", diff)
	}
	if got, err := s.ListUnconcluded(ctx, "c1", 2); err != nil || len(got) != 2 {
		t.Errorf("ListUnconcluded(limit 2) = %d messages, %v; want 2", len(got), err)
	}
}
