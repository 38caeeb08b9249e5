package memqueue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/queuetest"
)

type harness struct{ q *memqueue.Queue }

func (h harness) Queue() sendqueue.Queue                { return h.q }
func (h harness) Rate(_ *testing.T, queueID string) int { return h.q.Rate(queueID) }
func (h harness) Paused(_ *testing.T, queueID string) (bool, bool) {
	return h.q.Paused(queueID), true
}
func (h harness) SetsRates() bool { return true }
func (h harness) Pending(_ *testing.T, queueID string) []sendqueue.Task {
	return h.q.Pending(queueID)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(*testing.T) queuetest.Harness { return harness{memqueue.New()} })
}

func TestEnsureQueueUpdatesRate(t *testing.T) {
	t.Parallel()
	q := memqueue.New()
	for _, rate := range []int{2, 7} {
		if err := q.EnsureQueue(t.Context(), "campaign-c1", rate); err != nil {
			t.Fatalf("EnsureQueue(%d): %v", rate, err)
		}
		if got := q.Rate("campaign-c1"); got != rate {
			t.Errorf("Rate = %d, want %d", got, rate)
		}
	}
	if got := q.Rate("campaign-other"); got != 0 {
		t.Errorf("Rate(other) = %d, want 0", got)
	}
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q := memqueue.New()
	if err := q.EnsureQueue(ctx, "campaign-c1", 1); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	m1 := sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "m1"}
	m2 := sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "m2"}
	m3 := sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "m3"}
	for _, task := range []sendqueue.Task{m1, m2} {
		if _, err := q.Enqueue(ctx, task); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}

	// m2 fails and stays pending; m3, enqueued by a send, waits for the next round.
	boom := errors.New("provider down")
	var sent []string
	err := q.Dispatch(ctx, "campaign-c1", func(ctx context.Context, task sendqueue.Task) error {
		sent = append(sent, task.MessageID)
		if task.MessageID == "m2" {
			return boom
		}
		_, err := q.Enqueue(ctx, m3)
		return err
	})
	if !errors.Is(err, boom) {
		t.Errorf("Dispatch = %v, want %v", err, boom)
	}
	if diff := cmp.Diff([]string{"m1", "m2"}, sent); diff != "" {
		t.Errorf("sent (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff([]sendqueue.Task{m2, m3}, q.Pending("campaign-c1")); diff != "" {
		t.Errorf("Pending (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff([]sendqueue.Task{m1, m2, m3}, q.Tasks("campaign-c1")); diff != "" {
		t.Errorf("Tasks (-want, +got):\n%s", diff)
	}

	// A dispatched task's name stays taken.
	if created, err := q.Enqueue(ctx, m1); created || err != nil {
		t.Errorf("Enqueue(m1) again = %v, %v; want false, nil", created, err)
	}
	if err := q.Dispatch(ctx, "campaign-c1", func(context.Context, sendqueue.Task) error { return nil }); err != nil {
		t.Errorf("Dispatch: %v", err)
	}
	if got := q.Pending("campaign-c1"); len(got) != 0 {
		t.Errorf("Pending = %v, want none", got)
	}
}

func TestSetDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q := memqueue.New()
	down := errs.E(errs.Transient, "cloud tasks unavailable")
	q.SetDown(down)
	if err := q.Ready(ctx); !errors.Is(err, down) {
		t.Errorf("Ready = %v, want %v", err, down)
	}
	if err := q.EnsureQueue(ctx, "campaign-c1", 1); !errors.Is(err, down) {
		t.Errorf("EnsureQueue = %v, want %v", err, down)
	}
	q.SetDown(nil)
	if err := q.EnsureQueue(ctx, "campaign-c1", 1); err != nil {
		t.Errorf("EnsureQueue after recovery: %v", err)
	}
	q.SetDown(down)
	if _, err := q.Enqueue(ctx, sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "m1"}); !errors.Is(err, down) {
		t.Errorf("Enqueue = %v, want %v", err, down)
	}
}

func TestFailNextAndDeletions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q := memqueue.New()
	if err := q.EnsureQueue(ctx, "campaign-c1", 1); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	boom := errs.E(errs.Transient, "delete refused")
	q.FailNext(memqueue.MethodDeleteQueue, 1, boom)
	var got []error
	for range 3 {
		got = append(got, q.DeleteQueue(ctx, "campaign-c1"))
	}
	if !errors.Is(got[0], boom) || got[1] != nil || got[2] != nil {
		t.Errorf("DeleteQueue x3 = %v, want %v then nil, nil", got, boom)
	}
	if n := q.Deletions("campaign-c1"); n != 1 || q.Exists("campaign-c1") {
		t.Errorf("Deletions = %d, Exists = %v; want 1, false", n, q.Exists("campaign-c1"))
	}
	q.FailNext(memqueue.MethodEnsureQueue, -1, boom)
	for range 2 {
		if err := q.EnsureQueue(ctx, "campaign-c2", 1); !errors.Is(err, boom) {
			t.Errorf("EnsureQueue = %v, want %v", err, boom)
		}
	}
	q.FailNext(memqueue.MethodEnsureQueue, 0, nil)
	if err := q.EnsureQueue(ctx, "campaign-c2", 1); err != nil {
		t.Errorf("EnsureQueue after FailNext(0) = %v", err)
	}
}
