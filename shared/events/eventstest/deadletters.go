package eventstest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
)

// DeadLetterHarness is one events.DeadLetters under test, serving the
// topics of events.Topics.
type DeadLetterHarness interface {
	// DeadLetters is the implementation under test.
	DeadLetters() events.DeadLetters
	// DeadLetter puts m in topic's dead letters as Pub/Sub does once
	// attempts deliveries of a message published at published have failed,
	// and returns its id there.
	DeadLetter(ctx context.Context, topic string, m events.Message, attempts int, published time.Time) (string, error)
	// Received waits until at least n distinct messages published to topic
	// (the source topic, where Replay publishes) have arrived, as
	// Harness.Received.
	Received(ctx context.Context, topic string, n int) ([]events.Message, error)
}

// RunDeadLetters runs the dead-letter contract. newHarness is called once
// per subtest.
func RunDeadLetters(t *testing.T, newHarness func(t *testing.T) DeadLetterHarness) {
	t.Run("list_leaves_them_in_place", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		want := seed(t, h)
		for i := range 2 {
			got := list(t, h, "", 50)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("List #%d (-want, +got):\n%s", i+1, diff)
			}
		}
	})
	t.Run("list_filters_and_limits", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		all := seed(t, h)
		if diff := cmp.Diff(all[2:], list(t, h, events.TopicInbound, 50)); diff != "" {
			t.Errorf("List(%s) (-want, +got):\n%s", events.TopicInbound, diff)
		}
		if diff := cmp.Diff(all[:2], list(t, h, "", 2)); diff != "" {
			t.Errorf("List(limit 2) (-want, +got):\n%s", diff)
		}
		if got := list(t, h, events.TopicStatus, 50); len(got) != 0 {
			t.Errorf("List(%s) = %v, want none", events.TopicStatus, got)
		}
		_, err := h.DeadLetters().List(t.Context(), "no-such-topic", 50)
		if got, want := errs.KindOf(err), errs.Invalid; got != want {
			t.Errorf("List(no-such-topic): kind %v (%v), want %v", got, err, want)
		}
	})
	t.Run("replay_publishes_then_removes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		all := seed(t, h)
		dl := h.DeadLetters()
		if err := dl.Replay(t.Context(), all[0].Topic, all[0].ID); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		ms, err := h.Received(ctx, all[0].Topic, 1)
		if err != nil {
			t.Fatalf("Received(%s): %v", all[0].Topic, err)
		}
		if len(ms) != 1 {
			t.Fatalf("replay published %d messages, want 1", len(ms))
		}
		// The copy is new: only its payload and attributes are the original's.
		got := events.Message{Data: ms[0].Data, Attributes: ms[0].Attributes}
		want := events.Message{Data: all[0].Data, Attributes: all[0].Attributes}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("replayed (-want, +got):\n%s", diff)
		}
		if diff := cmp.Diff(all[1:], list(t, h, "", 50)); diff != "" {
			t.Errorf("List after Replay (-want, +got):\n%s", diff)
		}
		err = dl.Replay(t.Context(), all[0].Topic, all[0].ID)
		if got, want := errs.KindOf(err), errs.NotExist; got != want {
			t.Errorf("second Replay: kind %v (%v), want %v", got, err, want)
		}
	})
	t.Run("discard_removes_it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		all := seed(t, h)
		dl := h.DeadLetters()
		if err := dl.Discard(t.Context(), all[1].Topic, all[1].ID); err != nil {
			t.Fatalf("Discard: %v", err)
		}
		want := []events.DeadLetter{all[0], all[2]}
		if diff := cmp.Diff(want, list(t, h, "", 50)); diff != "" {
			t.Errorf("List after Discard (-want, +got):\n%s", diff)
		}
		for _, tc := range []struct{ topic, id string }{
			{all[1].Topic, all[1].ID}, // gone
			{events.TopicStatus, all[0].ID},
			{"no-such-topic", all[0].ID},
		} {
			err := dl.Discard(t.Context(), tc.topic, tc.id)
			if got, want := errs.KindOf(err), errs.NotExist; got != want {
				t.Errorf("Discard(%s, %s): kind %v (%v), want %v", tc.topic, tc.id, got, err, want)
			}
		}
	})
	t.Run("bury_keeps_it_with_its_reason_and_replays_it_as_it_was", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		dl := h.DeadLetters()
		published := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Millisecond)
		m := events.Message{ID: "m-42", Data: []byte(`{"campaign_id":"c9"}`), Attributes: map[string]string{"k": "v"}}
		if err := dl.Bury(t.Context(), events.TopicCampaignLaunch, m, published, "retried past EVENT_MAX_AGE"); err != nil {
			t.Fatalf("Bury: %v", err)
		}
		got := list(t, h, events.TopicCampaignLaunch, 50)
		if len(got) != 1 {
			t.Fatalf("List after Bury = %v, want one", got)
		}
		want := events.DeadLetter{Topic: events.TopicCampaignLaunch, ID: got[0].ID, Data: m.Data, Attributes: m.Attributes,
			PublishTime: published, Reason: "retried past EVENT_MAX_AGE", OriginalID: "m-42"}
		if diff := cmp.Diff(want, got[0]); diff != "" {
			t.Errorf("buried (-want, +got):\n%s", diff)
		}
		if err := dl.Replay(t.Context(), events.TopicCampaignLaunch, got[0].ID); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		ms, err := h.Received(ctx, events.TopicCampaignLaunch, 1)
		if err != nil {
			t.Fatalf("Received: %v", err)
		}
		if diff := cmp.Diff(events.Message{Data: m.Data, Attributes: m.Attributes}, events.Message{Data: ms[0].Data, Attributes: ms[0].Attributes}); diff != "" {
			t.Errorf("replayed (-want, +got):\n%s", diff)
		}
	})
	t.Run("replay_unknown_is_not_exist", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		all := seed(t, h)
		for _, tc := range []struct{ topic, id string }{
			{events.TopicRecipients, "no-such-id"},
			{events.TopicStatus, all[0].ID}, // an id of another topic
			{"no-such-topic", all[0].ID},
		} {
			err := h.DeadLetters().Replay(t.Context(), tc.topic, tc.id)
			if got, want := errs.KindOf(err), errs.NotExist; got != want {
				t.Errorf("Replay(%s, %s): kind %v (%v), want %v", tc.topic, tc.id, got, err, want)
			}
		}
		if diff := cmp.Diff(all, list(t, h, "", 50)); diff != "" {
			t.Errorf("List after failed Replays (-want, +got):\n%s", diff)
		}
	})
}

// seed dead-letters three messages, two on TopicRecipients (one not JSON)
// and one on TopicInbound, and returns them oldest first.
func seed(t *testing.T, h DeadLetterHarness) []events.DeadLetter {
	t.Helper()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	want := []events.DeadLetter{
		{Topic: events.TopicRecipients, Data: []byte(`{"campaign_id":"c1","message_ids":["m1"]}`),
			Attributes: map[string]string{"k": "v"}, PublishTime: t0, DeliveryAttempts: 10},
		{Topic: events.TopicRecipients, Data: []byte{0xff, 0x00, 'x'}, PublishTime: t0.Add(time.Second), DeliveryAttempts: 5},
		{Topic: events.TopicInbound, Data: []byte(`{"id":"w1"}`), PublishTime: t0.Add(2 * time.Second), DeliveryAttempts: 7},
	}
	for i, d := range want {
		id, err := h.DeadLetter(t.Context(), d.Topic, events.Message{Data: d.Data, Attributes: d.Attributes}, d.DeliveryAttempts, d.PublishTime)
		if err != nil {
			t.Fatalf("DeadLetter(%s): %v", d.Topic, err)
		}
		want[i].ID = id
	}
	return want
}

func list(t *testing.T, h DeadLetterHarness, topic string, limit int) []events.DeadLetter {
	t.Helper()
	got, err := h.DeadLetters().List(t.Context(), topic, limit)
	if err != nil {
		t.Fatalf("List(%q, %d): %v", topic, limit, err)
	}
	return got
}
