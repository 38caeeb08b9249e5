package campaignrun_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
)

// TestSenderCeilingShared follows the queues' rates under a ceiling of
// 10 a second as campaigns asking 8 and 6 start, pause, resume and end.
func TestSenderCeilingShared(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.runner.SenderMPS = 10
	ctx := context.Background()
	a, b := f.withRate(t, 8), f.withRate(t, 6)
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

// withRate is a draft campaign asking rate.
func (f *fixture) withRate(t *testing.T, rate int) campaign.Campaign {
	t.Helper()
	c := f.campaign(t, "", "")
	c, err := f.store.UpdateCampaign(context.Background(), c.ID, func(c *campaign.Campaign) error {
		c.Rate = rate
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
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

// rateQueue is a memqueue that counts the SetRate calls each queue gets
// and fails those of one queue, as Cloud Tasks may.
type rateQueue struct {
	*memqueue.Queue
	mu    sync.Mutex
	fails string // the queue whose SetRate fails; "": none
	calls map[string]int
}

func newRateQueue(q *memqueue.Queue) *rateQueue {
	return &rateQueue{Queue: q, calls: map[string]int{}}
}

func (q *rateQueue) SetRate(ctx context.Context, queueID string, rate int) error {
	q.mu.Lock()
	q.calls[queueID]++
	fail := queueID == q.fails
	q.mu.Unlock()
	if fail {
		return errs.E(errs.Transient, "UpdateQueue %s: unavailable", queueID)
	}
	return q.Queue.SetRate(ctx, queueID, rate)
}

func (q *rateQueue) failOn(queueID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fails = queueID
}

func (q *rateQueue) setRateCalls(queueID string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls[queueID]
}

// A move of the campaign with id, as the API makes it.
type move func(ctx context.Context, r *campaignrun.Runner, id string) error

func trigger(ctx context.Context, r *campaignrun.Runner, id string) error {
	_, err := r.Trigger(ctx, id, "api-key")
	return err
}

func pause(ctx context.Context, r *campaignrun.Runner, id string) error {
	_, err := r.Pause(ctx, id, "api-key", "")
	return err
}

func resume(ctx context.Context, r *campaignrun.Runner, id string) error {
	_, err := r.Resume(ctx, id, "api-key", "")
	return err
}

func cancel(ctx context.Context, r *campaignrun.Runner, id string) error {
	_, err := r.Cancel(ctx, id, "api-key", "")
	return err
}

// Sharing the sender's ceiling is best-effort: another campaign's queue
// whose rate cannot be set stops no launch, pause, resume or cancel of
// b, and the campaign check's ShareCeilingAgain puts the rate right once
// the queue takes it. Ceiling 10; a asks 8, b 6 (together: 6 and 4).
func TestSenderCeiling_a_failing_queue_blocks_no_move(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before []move // of b, a running
		move   move   // of b, a's SetRate failing
		want   campaign.Status
		// wantRates: the rates of a's and b's queues after the move;
		// wantHealed: after the campaign check (0: no queue).
		wantRates, wantHealed []int
	}{
		{name: "launch", move: trigger, want: campaign.Running, wantRates: []int{8, 4}, wantHealed: []int{6, 4}},
		{name: "pause", before: []move{trigger}, move: pause, want: campaign.Paused, wantRates: []int{6, 4}, wantHealed: []int{8, 4}},
		{name: "resume", before: []move{trigger, pause}, move: resume, want: campaign.Running, wantRates: []int{8, 4}, wantHealed: []int{6, 4}},
		{name: "cancel", before: []move{trigger}, move: cancel, want: campaign.Cancelled, wantRates: []int{6, 0}, wantHealed: []int{8, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			q := newRateQueue(f.queue)
			f.runner.SenderMPS, f.runner.Queue = 10, q
			a, b := f.withRate(t, 8).ID, f.withRate(t, 6).ID
			qa, qb := sendqueue.QueueID(a, 0), sendqueue.QueueID(b, 0)
			if err := trigger(ctx, f.runner, a); err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.before {
				if err := m(ctx, f.runner, b); err != nil {
					t.Fatal(err)
				}
			}
			q.failOn(qa)
			asked := q.setRateCalls(qa)

			if err := tc.move(ctx, f.runner, b); err != nil {
				t.Fatalf("move: %v", err)
			}

			if fails := f.events.Failures(); len(fails) > 0 {
				t.Fatalf("handlers failed: %v", fails)
			}
			cb, err := f.store.GetCampaign(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			got := []any{cb.Status, cb.Unsettled, cb.Status.Concluded() && cb.QueueReleasedAt == nil, f.queue.Paused(qb), []int{f.queue.Rate(qa), f.queue.Rate(qb)}}
			want := []any{tc.want, false, false, tc.want == campaign.Paused, tc.wantRates}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("b's status, unsettled, queue unreleased, paused; rates of a and b (-want, +got):\n%s", diff)
			}
			if q.setRateCalls(qa) == asked {
				t.Error("a's queue was not asked to take its new share")
			}

			q.failOn("")
			if err := f.runner.ShareCeilingAgain(ctx); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantHealed, []int{f.queue.Rate(qa), f.queue.Rate(qb)}); diff != "" {
				t.Errorf("rates of a and b after the campaign check (-want, +got):\n%s", diff)
			}
		})
	}
}

// A resume settled in three pages gives the other running campaign's
// queue its share once, not once a page.
func TestSenderCeiling_shared_once_per_move(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 7)
	q := newRateQueue(f.queue)
	f.runner.SettlePage, f.runner.PageSize, f.runner.SenderMPS, f.runner.Queue = 3, 10, 10, q
	other, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "x", SegmentID: "y", Rate: 8,
		Status: campaign.Running, StartedAt: &now, QueueCreatedAt: &now})
	if err != nil {
		t.Fatal(err)
	}
	qo := sendqueue.QueueID(other.ID, 0)
	if err := f.queue.EnsureQueue(ctx, qo, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner.Trigger(ctx, f.c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	f.deliver(t, events.TopicCampaignLaunch) // the start
	f.deliver(t, events.TopicCampaignLaunch) // every recipient, 7 batches waiting
	if _, err := f.runner.Pause(ctx, f.c.ID, "api-key", ""); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	before, requests := q.setRateCalls(qo), len(f.events.Published(events.TopicRecipients))

	if _, err := f.runner.Resume(ctx, f.c.ID, "api-key", ""); err != nil {
		t.Fatal(err)
	}
	f.drain(t)

	got := []int{len(f.events.Published(events.TopicRecipients)) - requests, q.setRateCalls(qo) - before}
	if diff := cmp.Diff([]int{3, 1}, got); diff != "" {
		t.Errorf("settle requests, SetRate calls on the other queue (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"QUEUED": 7}, f.statuses(t)); diff != "" {
		t.Errorf("messages after the resume (-want, +got):\n%s", diff)
	}
}
