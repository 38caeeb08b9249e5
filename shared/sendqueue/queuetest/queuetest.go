// Package queuetest is the contract every sendqueue.Queue must keep, run
// against both cloudtasks (on the emulator) and memqueue, so that the fake
// cannot drift from Cloud Tasks.
package queuetest

import (
	"cmp"
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
	// Rate reports the dispatch rate of campaignID's queue.
	Rate(t *testing.T, campaignID string) int
	// Pending returns campaignID's tasks not yet dispatched, in any order,
	// each with At as scheduled.
	Pending(t *testing.T, campaignID string) []sendqueue.Task
}

// Run runs the contract. newHarness is called once per subtest; the
// campaign ids it uses are its own only within that harness.
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
			if err := h.Queue().EnsureQueue(t.Context(), "camp-1", 5); err != nil {
				t.Fatalf("EnsureQueue: %v", err)
			}
		}
		if got, want := h.Rate(t, "camp-1"), 5; got != want {
			t.Errorf("rate = %d, want %d", got, want)
		}
	})
	t.Run("ensure_queue_validates_rate", func(t *testing.T) {
		t.Parallel()
		testRates(t, newHarness(t))
	})
	t.Run("ensure_queue_validates_campaign_id", func(t *testing.T) {
		t.Parallel()
		testCampaignIDs(t, newHarness(t))
	})
	t.Run("enqueue_dedupes_by_message", func(t *testing.T) {
		t.Parallel()
		testDedupe(t, newHarness(t))
	})
	t.Run("enqueue_validates_ids", func(t *testing.T) {
		t.Parallel()
		testTaskIDs(t, newHarness(t))
	})
	t.Run("enqueue_to_unknown_queue_is_not_exist", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		_, err := h.Queue().Enqueue(t.Context(), sendqueue.Task{CampaignID: "never-ensured", MessageID: "m1", At: later()})
		if got, want := errs.KindOf(err), errs.NotExist; got != want {
			t.Errorf("Enqueue: kind %v (%v), want %v", got, err, want)
		}
	})
}

// later is a schedule far enough ahead that no task runs during a test,
// whole seconds so that every implementation keeps it exactly.
func later() time.Time { return time.Now().Add(time.Hour).Truncate(time.Second) }

func testRates(t *testing.T, h Harness) {
	tests := []struct {
		name     string
		campaign string
		rate     int
		wantErr  bool // of kind Invalid
	}{
		{name: "zero", campaign: "rate-zero", rate: 0, wantErr: true},
		{name: "negative", campaign: "rate-neg", rate: -1, wantErr: true},
		{name: "above_500", campaign: "rate-501", rate: 501, wantErr: true},
		{name: "one", campaign: "rate-1", rate: 1},
		{name: "max", campaign: "rate-500", rate: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := h.Queue().EnsureQueue(t.Context(), tt.campaign, tt.rate)
			if tt.wantErr {
				if !errs.Is(err, errs.Invalid) {
					t.Errorf("EnsureQueue(%d) = %v, want an invalid error", tt.rate, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("EnsureQueue(%d): %v", tt.rate, err)
			}
			if got := h.Rate(t, tt.campaign); got != tt.rate {
				t.Errorf("rate = %d, want %d", got, tt.rate)
			}
		})
	}
}

func testCampaignIDs(t *testing.T, h Harness) {
	// A queue id is "campaign-" and the campaign id: 100 characters at most.
	longest := "c" + strings.Repeat("x", 90)
	tests := []struct {
		name     string
		campaign string
		wantErr  bool // of kind Invalid
	}{
		{name: "empty", campaign: "", wantErr: true},
		{name: "slash", campaign: "a/b", wantErr: true},
		{name: "space", campaign: "a b", wantErr: true},
		{name: "underscore", campaign: "a_b", wantErr: true},
		{name: "non_ascii", campaign: "café", wantErr: true},
		{name: "too_long", campaign: longest + "x", wantErr: true},
		{name: "longest", campaign: longest},
		{name: "letters_digits_dashes", campaign: "Camp-2024-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := h.Queue().EnsureQueue(t.Context(), tt.campaign, 1)
			if tt.wantErr != (err != nil) || (err != nil && !errs.Is(err, errs.Invalid)) {
				t.Errorf("EnsureQueue(%q) = %v, want an invalid error: %v", tt.campaign, err, tt.wantErr)
			}
		})
	}
}

func testDedupe(t *testing.T, h Harness) {
	q := h.Queue()
	ctx := t.Context()
	for _, c := range []string{"dedupe-a", "dedupe-b"} {
		if err := q.EnsureQueue(ctx, c, 10); err != nil {
			t.Fatalf("EnsureQueue(%s): %v", c, err)
		}
	}
	at := later()
	steps := []struct {
		task sendqueue.Task
		want bool
	}{
		{sendqueue.Task{CampaignID: "dedupe-a", MessageID: "m1", At: at}, true},
		{sendqueue.Task{CampaignID: "dedupe-a", MessageID: "m1", At: at}, false},
		{sendqueue.Task{CampaignID: "dedupe-a", MessageID: "m1", At: at.Add(time.Minute)}, false}, // the name decides
		{sendqueue.Task{CampaignID: "dedupe-a", MessageID: "m2", At: at}, true},
		{sendqueue.Task{CampaignID: "dedupe-b", MessageID: "m1", At: at}, true}, // another queue
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
	for campaign, want := range map[string][]sendqueue.Task{
		"dedupe-a": {{CampaignID: "dedupe-a", MessageID: "m1", At: at}, {CampaignID: "dedupe-a", MessageID: "m2", At: at}},
		"dedupe-b": {{CampaignID: "dedupe-b", MessageID: "m1", At: at}},
	} {
		got := h.Pending(t, campaign)
		slices.SortFunc(got, byMessage)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("pending in %s (-want, +got):\n%s", campaign, diff)
		}
	}
}

func testTaskIDs(t *testing.T, h Harness) {
	if err := h.Queue().EnsureQueue(t.Context(), "ids", 1); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	tests := []struct {
		name string
		task sendqueue.Task
	}{
		{name: "empty_message", task: sendqueue.Task{CampaignID: "ids", MessageID: ""}},
		{name: "slash_in_message", task: sendqueue.Task{CampaignID: "ids", MessageID: "a/b"}},
		{name: "space_in_message", task: sendqueue.Task{CampaignID: "ids", MessageID: "a b"}},
		{name: "message_too_long", task: sendqueue.Task{CampaignID: "ids", MessageID: strings.Repeat("m", 496)}},
		{name: "empty_campaign", task: sendqueue.Task{CampaignID: "", MessageID: "m1"}},
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
		task := sendqueue.Task{CampaignID: "ids", MessageID: strings.Repeat("m", 495), At: later()}
		if created, err := h.Queue().Enqueue(t.Context(), task); !created || err != nil {
			t.Errorf("Enqueue = %v, %v; want true, nil", created, err)
		}
	})
}
