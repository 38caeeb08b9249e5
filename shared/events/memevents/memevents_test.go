package memevents_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/eventstest"
	"github.com/eventstreamengine/ese/shared/events/memevents"
)

// harness receives through Subscribe, so the conformance suite covers
// synchronous delivery as well as recording.
type harness struct {
	p   *memevents.Publisher
	mu  sync.Mutex
	got map[string][]events.Message
}

func (h *harness) Publisher() events.Publisher { return h.p }

func (h *harness) CreateTopic(_ context.Context, topic string) error {
	h.p.CreateTopic(topic)
	h.p.Subscribe(topic, func(_ context.Context, m events.Message) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.got[topic] = append(h.got[topic], m)
		return nil
	})
	return nil
}

func (h *harness) Received(ctx context.Context, topic string, n int) ([]events.Message, error) {
	for {
		h.mu.Lock()
		ms := append([]events.Message(nil), h.got[topic]...)
		h.mu.Unlock()
		if len(ms) >= n {
			return ms, nil
		}
		select {
		case <-ctx.Done():
			return ms, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	eventstest.Run(t, func(*testing.T) eventstest.Harness {
		return &harness{p: memevents.New(), got: make(map[string][]events.Message)}
	})
}

func TestPublished(t *testing.T) {
	t.Parallel()
	p := memevents.New()
	ctx := t.Context()
	for _, id := range []string{"c1", "c2"} {
		if err := p.Publish(ctx, events.TopicCampaignLaunch, events.Launch{CampaignID: id}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	got := p.Published(events.TopicCampaignLaunch)
	want := []events.Message{
		{ID: "1", Data: []byte(`{"campaign_id":"c1"}`)},
		{ID: "2", Data: []byte(`{"campaign_id":"c2"}`)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Published (-want, +got):\n%s", diff)
	}
	got[0].Data[0] = 'X' // must not change what was recorded
	if diff := cmp.Diff(want, p.Published(events.TopicCampaignLaunch)); diff != "" {
		t.Errorf("Published after caller's change (-want, +got):\n%s", diff)
	}
	if got := p.Published(events.TopicStatus); len(got) != 0 {
		t.Errorf("Published(%s) = %v, want none", events.TopicStatus, got)
	}
}

func TestDeclaredTopics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		create  string
		topic   string
		wantErr bool // of kind Transient, as a missing Pub/Sub topic
	}{
		{name: "project_topic", topic: events.TopicRecipients},
		{name: "created_topic", create: "extra", topic: "extra"},
		{name: "unknown_topic", topic: "recipient-batches", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := memevents.New()
			if tt.create != "" {
				p.CreateTopic(tt.create)
			}
			err := p.Publish(t.Context(), tt.topic, 1)
			if tt.wantErr != (err != nil) || (err != nil && !errs.Is(err, errs.Transient)) {
				t.Errorf("Publish(%s) = %v (kind %v), want error: %v (transient)", tt.topic, err, errs.KindOf(err), tt.wantErr)
			}
		})
	}
}

// A chain of steps runs in-process: each handler publishes the next step.
func TestSubscribeRunsChain(t *testing.T) {
	t.Parallel()
	p := memevents.New()
	p.Subscribe(events.TopicCampaignLaunch, func(ctx context.Context, m events.Message) error {
		var l events.Launch
		if err := events.Decode(m, &l); err != nil {
			return err
		}
		return p.Publish(ctx, events.TopicRecipients, events.Recipients{CampaignID: l.CampaignID, MessageIDs: []string{"m1"}})
	})
	var got []events.Recipients
	p.Subscribe(events.TopicRecipients, func(_ context.Context, m events.Message) error {
		var r events.Recipients
		if err := events.Decode(m, &r); err != nil {
			return err
		}
		got = append(got, r)
		return nil
	})

	ctx, cancel := context.WithCancel(t.Context())
	if err := p.Publish(ctx, events.TopicCampaignLaunch, events.Launch{CampaignID: "c1"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	cancel()

	want := []events.Recipients{{CampaignID: "c1", MessageIDs: []string{"m1"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want, +got):\n%s", diff)
	}
	if f := p.Failures(); len(f) != 0 {
		t.Errorf("Failures() = %v, want none", f)
	}
}

func TestHandlerFailuresAreRecordedNotReturned(t *testing.T) {
	t.Parallel()
	p := memevents.New()
	boom := errs.E(errs.Transient, "boom")
	p.Subscribe(events.TopicInbound, func(context.Context, events.Message) error { return boom })

	if err := p.Publish(t.Context(), events.TopicInbound, events.Webhook{ID: "w1"}); err != nil {
		t.Fatalf("Publish = %v, want nil: the publisher never sees a subscriber's failure", err)
	}
	f := p.Failures()
	if len(f) != 1 || !errors.Is(f[0], boom) {
		t.Errorf("Failures() = %v, want [%v]", f, boom)
	}
}

// deadLetterHarness replays to a Publisher whose topics it watches through
// Subscribe.
type deadLetterHarness struct {
	*harness
	dl *memevents.DeadLetters
}

func (h *deadLetterHarness) DeadLetters() events.DeadLetters { return h.dl }

func (h *deadLetterHarness) DeadLetter(_ context.Context, topic string, m events.Message, attempts int, published time.Time) (string, error) {
	return h.dl.Add(topic, m, attempts, published), nil
}

func TestDeadLettersConformance(t *testing.T) {
	t.Parallel()
	eventstest.RunDeadLetters(t, func(t *testing.T) eventstest.DeadLetterHarness {
		h := &harness{p: memevents.New(), got: make(map[string][]events.Message)}
		for _, topic := range events.Topics {
			if err := h.CreateTopic(t.Context(), topic); err != nil {
				t.Fatal(err)
			}
		}
		return &deadLetterHarness{harness: h, dl: memevents.NewDeadLetters(h.p)}
	})
}
