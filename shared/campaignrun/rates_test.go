package campaignrun_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/sendqueue"
)

// TestSenderCeilingShared follows the queues' rates under a ceiling of
// 10 a second as campaigns asking 8 and 6 start, pause, resume and end.
func TestSenderCeilingShared(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.runner.SenderMPS = 10
	ctx := context.Background()
	withRate := func(rate int) campaign.Campaign {
		c := f.campaign(t, "", "")
		c, err := f.store.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
			c.Rate = rate
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := withRate(8), withRate(6)
	qa, qb := sendqueue.QueueID(a.ID, 0), sendqueue.QueueID(b.ID, 0)
	must := func(_ campaign.Campaign, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name string
		do   func()
		want map[string]int // queue: rate (0: no queue)
	}{
		{"a_starts_alone_at_its_rate", func() { must(f.runner.Trigger(ctx, a.ID, "api-key")) }, map[string]int{qa: 8, qb: 0}},
		// 14 asked of 10: 1 each, then 8 split 7:5 (4.67, 3.33).
		{"b_starts_and_a_makes_room", func() { must(f.runner.Trigger(ctx, b.ID, "api-key")) }, map[string]int{qa: 6, qb: 4}},
		{"b_paused_a_takes_its_rate_back", func() { must(f.runner.Pause(ctx, b.ID, "api-key", "")) }, map[string]int{qa: 8, qb: 4}},
		{"b_resumed_shares_again", func() { must(f.runner.Resume(ctx, b.ID, "api-key", "")) }, map[string]int{qa: 6, qb: 4}},
		{"a_ends_and_b_runs_at_its_rate", func() { must(f.runner.Cancel(ctx, a.ID, "api-key", "")) }, map[string]int{qa: 0, qb: 6}},
	}
	for _, s := range steps {
		s.do()
		if fails := f.events.Failures(); len(fails) > 0 {
			t.Fatalf("%s: handlers failed: %v", s.name, fails)
		}
		got := map[string]int{qa: f.queue.Rate(qa), qb: f.queue.Rate(qb)}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: rates (-want, +got):\n%s", s.name, diff)
		}
	}
}

// Without a ceiling every queue runs at its campaign's rate.
func TestNoSenderCeiling(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var queues []string
	for range 2 {
		c := f.campaign(t, "", "")
		if _, err := f.runner.Trigger(ctx, c.ID, "api-key"); err != nil {
			t.Fatal(err)
		}
		queues = append(queues, sendqueue.QueueID(c.ID, 0))
	}
	for _, q := range queues {
		if got := f.queue.Rate(q); got != 3 {
			t.Errorf("%s: rate %d, want the campaign's 3", q, got)
		}
	}
}
