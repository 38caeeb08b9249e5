// Package queuetest is the contract every sendqueue.Queue must keep, run
// against both cloudtasks (on the emulator) and memqueue, so that the fake
// cannot drift from Cloud Tasks.
package queuetest

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sendqueue"
)

// Harness is one implementation under test, with ways to look inside.
type Harness interface {
	// Queue is the implementation under test.
	Queue() sendqueue.Queue
	// Rate reports the dispatch rate of the queue.
	Rate(t *testing.T, queueID string) int
	// Pending returns the queue's tasks not yet dispatched, in any order,
	// each with Queue, CampaignID, MessageID and At as made.
	Pending(t *testing.T, queueID string) []sendqueue.Task
	// Paused reports whether the queue is paused; known is false for an
	// implementation configured not to pause (cloudtasks on the emulator).
	Paused(t *testing.T, queueID string) (paused, known bool)
	// SetsRates is false for an implementation configured not to change
	// a queue's rate (cloudtasks on the emulator, which lacks UpdateQueue).
	SetsRates() bool
}

// Run runs the contract. newHarness is called once per subtest; the
// queue ids it uses are its own only within that harness.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("ready", func(t *testing.T) {
		t.Parallel()
		if err := newHarness(t).Queue().Ready(t.Context()); err != nil {
			t.Errorf("Ready = %v, want nil", err)
		}
	})
	t.Run("ensure_queue_is_idempotent", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for range 2 {
			if err := h.Queue().EnsureQueue(t.Context(), "campaign-camp-1", 5); err != nil {
				t.Fatalf("EnsureQueue: %v", err)
			}
		}
		if got, want := h.Rate(t, "campaign-camp-1"), 5; got != want {
			t.Errorf("rate = %d, want %d", got, want)
		}
	})
	t.Run("ensure_queue_validates_rate", func(t *testing.T) {
		t.Parallel()
		testRates(t, newHarness(t))
	})
	t.Run("ensure_queue_validates_queue_id", func(t *testing.T) {
		t.Parallel()
		testQueueIDs(t, newHarness(t))
	})
	t.Run("enqueue_dedupes_by_message", func(t *testing.T) {
		t.Parallel()
		testDedupe(t, newHarness(t))
	})
	t.Run("enqueue_validates_ids", func(t *testing.T) {
		t.Parallel()
		testTaskIDs(t, newHarness(t))
	})
	t.Run("enqueue_to_unknown_queue_is_transient", func(t *testing.T) {
		t.Parallel()
		// Queues are ensured before their tasks: one missing is a fault
		// to retry past, never a send to drop.
		h := newHarness(t)
		_, err := h.Queue().Enqueue(t.Context(), sendqueue.Task{Queue: "campaign-never-ensured", CampaignID: "never-ensured", MessageID: "m1", At: later()})
		if got, want := errs.KindOf(err), errs.Transient; got != want {
			t.Errorf("Enqueue: kind %v (%v), want %v", got, err, want)
		}
	})
	t.Run("delete_queue_blocks_its_name", func(t *testing.T) {
		t.Parallel()
		testDelete(t, newHarness(t))
	})
	t.Run("pause_and_resume_keep_tasks", func(t *testing.T) {
		t.Parallel()
		testPause(t, newHarness(t))
	})
	t.Run("set_rate", func(t *testing.T) {
		t.Parallel()
		testSetRate(t, newHarness(t))
	})
}

// testSetRate: a queue's rate changes where the implementation can change
// it, and stays as created where it cannot; a queue not there needs none;
// a bad rate or id is refused.
func testSetRate(t *testing.T, h Harness) {
	ctx, q := t.Context(), h.Queue()
	const queueID = "campaign-shared"
	if err := q.EnsureQueue(ctx, queueID, 5); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	for range 2 { // setting twice is setting
		if err := q.SetRate(ctx, queueID, 3); err != nil {
			t.Fatalf("SetRate: %v", err)
		}
	}
	want := 3
	if !h.SetsRates() {
		want = 5
	}
	if got := h.Rate(t, queueID); got != want {
		t.Errorf("rate = %d, want %d", got, want)
	}
	if err := q.SetRate(ctx, "campaign-never-made", 3); err != nil {
		t.Errorf("SetRate of a queue not there: %v, want nil", err)
	}
	for _, tc := range []struct {
		queue string
		rate  int
	}{{queueID, 0}, {queueID, 501}, {"not-a-campaign", 3}} {
		if err := q.SetRate(ctx, tc.queue, tc.rate); !errs.Is(err, errs.Invalid) {
			t.Errorf("SetRate(%q, %d) = %v, want an invalid error", tc.queue, tc.rate, err)
		}
	}
}

func testPause(t *testing.T, h Harness) {
	ctx := t.Context()
	q := h.Queue()
	const queueID = "campaign-paused"
	if err := q.EnsureQueue(ctx, queueID, 5); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	first := sendqueue.Task{Queue: queueID, CampaignID: "paused", MessageID: "m1", At: later()}
	if _, err := q.Enqueue(ctx, first); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	for range 2 { // pausing twice is pausing
		if err := q.PauseQueue(ctx, queueID); err != nil {
			t.Fatalf("PauseQueue: %v", err)
		}
	}
	if paused, known := h.Paused(t, queueID); known && !paused {
		t.Errorf("queue not paused after PauseQueue")
	}
	// A paused queue still takes tasks, and keeps them.
	second := sendqueue.Task{Queue: queueID, CampaignID: "paused", MessageID: "m2", At: later()}
	if _, err := q.Enqueue(ctx, second); err != nil {
		t.Fatalf("Enqueue while paused: %v", err)
	}
	if got := len(h.Pending(t, queueID)); got != 2 {
		t.Errorf("%d tasks pending in the paused queue, want 2", got)
	}
	for range 2 {
		if err := q.ResumeQueue(ctx, queueID); err != nil {
			t.Fatalf("ResumeQueue: %v", err)
		}
	}
	if paused, _ := h.Paused(t, queueID); paused {
		t.Errorf("queue still paused after ResumeQueue")
	}
	if got := len(h.Pending(t, queueID)); got != 2 {
		t.Errorf("%d tasks pending after the resume, want 2", got)
	}
	// A queue that is not there needs neither; a bad id is refused.
	for _, op := range []func(string) error{
		func(id string) error { return q.PauseQueue(ctx, id) },
		func(id string) error { return q.ResumeQueue(ctx, id) },
	} {
		if err := op("campaign-never-made"); err != nil {
			t.Errorf("pause or resume of a queue not there: %v, want nil", err)
		}
		if err := q.DeleteQueue(ctx, queueID); err != nil {
			t.Fatal(err)
		}
		if err := op(queueID); err != nil {
			t.Errorf("pause or resume of a deleted queue: %v, want nil", err)
		}
		if err := op("not-a-campaign"); !errs.Is(err, errs.Invalid) {
			t.Errorf("pause or resume of %q: %v, want Invalid", "not-a-campaign", err)
		}
	}
}

// later is a schedule far enough ahead that no task runs during a test,
// whole seconds so that every implementation keeps it exactly.
func later() time.Time { return time.Now().Add(time.Hour).Truncate(time.Second) }

func testRates(t *testing.T, h Harness) {
	tests := []struct {
		name    string
		queue   string
		rate    int
		wantErr bool // of kind Invalid
	}{
		{name: "zero", queue: "campaign-rate-zero", rate: 0, wantErr: true},
		{name: "negative", queue: "campaign-rate-neg", rate: -1, wantErr: true},
		{name: "above_500", queue: "campaign-rate-501", rate: 501, wantErr: true},
		{name: "one", queue: "campaign-rate-1", rate: 1},
		{name: "max", queue: "campaign-rate-500", rate: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := h.Queue().EnsureQueue(t.Context(), tt.queue, tt.rate)
			if tt.wantErr {
				if !errs.Is(err, errs.Invalid) {
					t.Errorf("EnsureQueue(%d) = %v, want an invalid error", tt.rate, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("EnsureQueue(%d): %v", tt.rate, err)
			}
			if got := h.Rate(t, tt.queue); got != tt.rate {
				t.Errorf("rate = %d, want %d", got, tt.rate)
			}
		})
	}
}

func testQueueIDs(t *testing.T, h Harness) {
	// A queue id is up to 100 letters, digits and dashes, and ours start
	// with "campaign-": the permission to manage queues is on that prefix.
	longest := "campaign-" + strings.Repeat("x", 91)
	tests := []struct {
		name    string
		queue   string
		wantErr bool // of kind Invalid
	}{
		{name: "empty", queue: "", wantErr: true},
		{name: "prefix_only", queue: "campaign-", wantErr: true},
		{name: "other_prefix", queue: "mail-1", wantErr: true},
		{name: "slash", queue: "campaign-a/b", wantErr: true},
		{name: "space", queue: "campaign-a b", wantErr: true},
		{name: "underscore", queue: "campaign-a_b", wantErr: true},
		{name: "non_ascii", queue: "campaign-café", wantErr: true},
		{name: "too_long", queue: longest + "x", wantErr: true},
		{name: "longest", queue: longest},
		{name: "first_generation", queue: sendqueue.QueueID("Camp-2024-01", 0)},
		{name: "later_generation", queue: sendqueue.QueueID("Camp-2024-01", 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := h.Queue().EnsureQueue(t.Context(), tt.queue, 1)
			if tt.wantErr != (err != nil) || (err != nil && !errs.Is(err, errs.Invalid)) {
				t.Errorf("EnsureQueue(%q) = %v, want an invalid error: %v", tt.queue, err, tt.wantErr)
			}
		})
	}
}

// testDelete: a deleted queue is gone with its tasks, deleting it again
// (or one never made) is fine, and its name cannot be created again: the
// next generation's can.
func testDelete(t *testing.T, h Harness) {
	q, ctx := h.Queue(), t.Context()
	first, next := sendqueue.QueueID("gone", 0), sendqueue.QueueID("gone", 1)
	if err := q.EnsureQueue(ctx, first, 3); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	if _, err := q.Enqueue(ctx, sendqueue.Task{Queue: first, CampaignID: "gone", MessageID: "m1", At: later()}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	for i, id := range []string{first, first, sendqueue.QueueID("never-made", 0)} {
		if err := q.DeleteQueue(ctx, id); err != nil {
			t.Errorf("DeleteQueue %d (%s) = %v, want nil", i, id, err)
		}
	}
	if err := q.DeleteQueue(ctx, "not-ours"); !errs.Is(err, errs.Invalid) {
		t.Errorf("DeleteQueue(not-ours) = %v, want an invalid error", err)
	}
	if _, err := q.Enqueue(ctx, sendqueue.Task{Queue: first, CampaignID: "gone", MessageID: "m2", At: later()}); !errs.Is(err, errs.Transient) {
		t.Errorf("Enqueue to a deleted queue = %v (kind %v), want a transient error", err, errs.KindOf(err))
	}
	if err := q.EnsureQueue(ctx, first, 3); !errors.Is(err, sendqueue.ErrNameUnavailable) {
		t.Errorf("EnsureQueue of a deleted name = %v, want ErrNameUnavailable", err)
	}
	if err := q.EnsureQueue(ctx, next, 3); err != nil {
		t.Fatalf("EnsureQueue(%s): %v", next, err)
	}
	task := sendqueue.Task{Queue: next, CampaignID: "gone", MessageID: "m1", At: later()}
	if created, err := q.Enqueue(ctx, task); !created || err != nil {
		t.Errorf("Enqueue to the next generation = %v, %v; want true, nil", created, err)
	}
	if diff := gocmp.Diff([]sendqueue.Task{task}, h.Pending(t, next)); diff != "" {
		t.Errorf("pending in %s (-want, +got):\n%s", next, diff)
	}
}

func testDedupe(t *testing.T, h Harness) {
	q := h.Queue()
	ctx := t.Context()
	for _, c := range []string{"campaign-dedupe-a", "campaign-dedupe-b"} {
		if err := q.EnsureQueue(ctx, c, 10); err != nil {
			t.Fatalf("EnsureQueue(%s): %v", c, err)
		}
	}
	at := later()
	steps := []struct {
		task sendqueue.Task
		want bool
	}{
		{sendqueue.Task{Queue: "campaign-dedupe-a", CampaignID: "dedupe-a", MessageID: "m1", At: at}, true},
		{sendqueue.Task{Queue: "campaign-dedupe-a", CampaignID: "dedupe-a", MessageID: "m1", At: at}, false},
		{sendqueue.Task{Queue: "campaign-dedupe-a", CampaignID: "dedupe-a", MessageID: "m1", At: at.Add(time.Minute)}, false}, // the name decides
		{sendqueue.Task{Queue: "campaign-dedupe-a", CampaignID: "dedupe-a", MessageID: "m2", At: at}, true},
		{sendqueue.Task{Queue: "campaign-dedupe-b", CampaignID: "dedupe-b", MessageID: "m1", At: at}, true}, // another queue
	}
	for i, s := range steps {
		got, err := q.Enqueue(ctx, s.task)
		if err != nil {
			t.Fatalf("step %d: Enqueue(%+v): %v", i, s.task, err)
		}
		if got != s.want {
			t.Errorf("step %d: Enqueue(%+v) created %v, want %v", i, s.task, got, s.want)
		}
	}

	byMessage := func(a, b sendqueue.Task) int { return cmp.Compare(a.MessageID, b.MessageID) }
	for queue, want := range map[string][]sendqueue.Task{
		"campaign-dedupe-a": {
			{Queue: "campaign-dedupe-a", CampaignID: "dedupe-a", MessageID: "m1", At: at},
			{Queue: "campaign-dedupe-a", CampaignID: "dedupe-a", MessageID: "m2", At: at},
		},
		"campaign-dedupe-b": {{Queue: "campaign-dedupe-b", CampaignID: "dedupe-b", MessageID: "m1", At: at}},
	} {
		got := h.Pending(t, queue)
		slices.SortFunc(got, byMessage)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("pending in %s (-want, +got):\n%s", queue, diff)
		}
	}
}

func testTaskIDs(t *testing.T, h Harness) {
	if err := h.Queue().EnsureQueue(t.Context(), "campaign-ids", 1); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	tests := []struct {
		name string
		task sendqueue.Task
	}{
		{name: "empty_message", task: sendqueue.Task{Queue: "campaign-ids", CampaignID: "ids", MessageID: ""}},
		{name: "slash_in_message", task: sendqueue.Task{Queue: "campaign-ids", CampaignID: "ids", MessageID: "a/b"}},
		{name: "space_in_message", task: sendqueue.Task{Queue: "campaign-ids", CampaignID: "ids", MessageID: "a b"}},
		{name: "message_too_long", task: sendqueue.Task{Queue: "campaign-ids", CampaignID: "ids", MessageID: strings.Repeat("m", 496)}},
		{name: "empty_queue", task: sendqueue.Task{Queue: "", CampaignID: "ids", MessageID: "m1"}},
		{name: "not_our_queue", task: sendqueue.Task{Queue: "ids", CampaignID: "ids", MessageID: "m1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.task.At = later()
			created, err := h.Queue().Enqueue(t.Context(), tt.task)
			if created || !errs.Is(err, errs.Invalid) {
				t.Errorf("Enqueue = %v, %v; want false and an invalid error", created, err)
			}
		})
	}
	t.Run("longest_message", func(t *testing.T) {
		t.Parallel()
		// A task id is the message id and "-send": 500 characters at most.
		task := sendqueue.Task{Queue: "campaign-ids", CampaignID: "ids", MessageID: strings.Repeat("m", 495), At: later()}
		if created, err := h.Queue().Enqueue(t.Context(), task); !created || err != nil {
			t.Errorf("Enqueue = %v, %v; want true, nil", created, err)
		}
	})
}
