// Package eventstest is the contract every events.Publisher (Run) and
// events.DeadLetters (RunDeadLetters) must keep, run against both
// pubsubevents (on the emulator) and memevents, so that the fakes cannot
// drift from Pub/Sub.
package eventstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
)

// Harness is one implementation under test.
type Harness interface {
	// Publisher is the implementation under test.
	Publisher() events.Publisher
	// CreateTopic makes topic exist and starts collecting what is
	// published to it from now on.
	CreateTopic(ctx context.Context, topic string) error
	// Received waits until at least n distinct messages (by ID) published
	// to topic have arrived and returns each of those once, in any order:
	// Pub/Sub may deliver a message twice.
	Received(ctx context.Context, topic string, n int) ([]events.Message, error)
}

// timeout bounds each wait for delivery; the emulator delivers in well
// under a second.
const timeout = 30 * time.Second

// Run runs the contract. newHarness is called once per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("round_trips_json", func(t *testing.T) {
		t.Parallel()
		testRoundTrip(t, newHarness(t))
	})
	t.Run("topics_are_kept_apart", func(t *testing.T) {
		t.Parallel()
		testTopicsApart(t, newHarness(t))
	})
	t.Run("concurrent_publishes_all_arrive", func(t *testing.T) {
		t.Parallel()
		testConcurrent(t, newHarness(t))
	})
	t.Run("missing_topic_is_transient", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		err := h.Publisher().Publish(t.Context(), TopicName("missing"), events.Launch{CampaignID: "c1"})
		if got, want := errs.KindOf(err), errs.Transient; got != want {
			t.Errorf("Publish to a missing topic: kind %v (%v), want %v", got, err, want)
		}
	})
	t.Run("unencodable_is_invalid", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		topic := createTopic(t, h, "unenc")
		err := h.Publisher().Publish(t.Context(), topic, map[string]any{"f": func() {}})
		if got, want := errs.KindOf(err), errs.Invalid; got != want {
			t.Errorf("Publish(func): kind %v (%v), want %v", got, err, want)
		}
	})
}

// TopicName returns a fresh, valid topic id starting with prefix.
func TopicName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func createTopic(t *testing.T, h Harness, prefix string) string {
	t.Helper()
	topic := TopicName(prefix)
	if err := h.CreateTopic(t.Context(), topic); err != nil {
		t.Fatalf("CreateTopic(%s): %v", topic, err)
	}
	return topic
}

func received(t *testing.T, h Harness, topic string, n int) []events.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	ms, err := h.Received(ctx, topic, n)
	if err != nil {
		t.Fatalf("Received(%s, %d): %v", topic, n, err)
	}
	return ms
}

func testRoundTrip(t *testing.T, h Harness) {
	tests := []struct {
		name  string
		value any
		into  func() any // a new value of the published type
	}{
		{
			name:  "launch",
			value: events.Launch{CampaignID: "camp-1", After: "+15550000001"},
			into:  func() any { return &events.Launch{} },
		},
		{
			name:  "recipients",
			value: events.Recipients{CampaignID: "camp-1", MessageIDs: []string{"m1", "m2"}},
			into:  func() any { return &events.Recipients{} },
		},
		{
			name:  "unicode_and_markup",
			value: map[string]string{"text": "héllo <b>&</b> 👋 \u2028"},
			into:  func() any { return &map[string]string{} },
		},
		{
			name:  "empty_struct",
			value: struct{}{},
			into:  func() any { return &struct{}{} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			topic := createTopic(t, h, "rt")
			if err := h.Publisher().Publish(t.Context(), topic, tt.value); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			ms := received(t, h, topic, 1)
			if len(ms) != 1 {
				t.Fatalf("got %d messages, want 1", len(ms))
			}
			if ms[0].ID == "" {
				t.Error("message has no id")
			}
			want, _ := json.Marshal(tt.value)
			if diff := cmp.Diff(string(want), string(ms[0].Data)); diff != "" {
				t.Errorf("data (-want, +got):\n%s", diff)
			}
			got := tt.into()
			if err := events.Decode(ms[0], got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			wantV := tt.into()
			_ = json.Unmarshal(want, wantV)
			if diff := cmp.Diff(wantV, got); diff != "" {
				t.Errorf("decoded (-want, +got):\n%s", diff)
			}
		})
	}
}

func testTopicsApart(t *testing.T, h Harness) {
	a, b := createTopic(t, h, "apart-a"), createTopic(t, h, "apart-b")
	pub := h.Publisher()
	if err := pub.Publish(t.Context(), a, events.Launch{CampaignID: "a"}); err != nil {
		t.Fatalf("Publish(a): %v", err)
	}
	if err := pub.Publish(t.Context(), b, events.Launch{CampaignID: "b"}); err != nil {
		t.Fatalf("Publish(b): %v", err)
	}
	for topic, want := range map[string]string{a: "a", b: "b"} {
		var got []string
		for _, m := range received(t, h, topic, 1) {
			var l events.Launch
			if err := events.Decode(m, &l); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got = append(got, l.CampaignID)
		}
		if diff := cmp.Diff([]string{want}, got); diff != "" {
			t.Errorf("topic %s (-want, +got):\n%s", topic, diff)
		}
	}
}

func testConcurrent(t *testing.T, h Harness) {
	const n = 50
	topic := createTopic(t, h, "conc")
	pub := h.Publisher()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v := events.Recipients{CampaignID: "c", MessageIDs: []string{strconv.Itoa(i)}}
			if err := pub.Publish(t.Context(), topic, v); err != nil {
				t.Errorf("Publish(%d): %v", i, err)
			}
		})
	}
	wg.Wait()

	ms := received(t, h, topic, n)
	var got, want []string
	ids := make(map[string]bool)
	for i := range n {
		want = append(want, strconv.Itoa(i))
	}
	for _, m := range ms {
		var r events.Recipients
		if err := events.Decode(m, &r); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		got = append(got, r.MessageIDs...)
		if ids[m.ID] {
			t.Errorf("message id %s delivered twice", m.ID)
		}
		ids[m.ID] = true
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("payloads (-want, +got):\n%s", diff)
	}
}
