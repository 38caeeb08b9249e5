package pubsubevents_test

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/eventstest"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
)

// newClient returns a client on the emulator, in a project of t's own.
func newClient(t testing.TB) *pubsub.Client {
	t.Helper()
	emulatortest.PubSub(t)
	client, err := pubsub.NewClient(context.Background(), emulatortest.ProjectID(t))
	if err != nil {
		t.Fatalf("pubsub.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// createTopic makes topic and, if sub is not empty, a pull subscription.
func createTopic(ctx context.Context, client *pubsub.Client, topic, sub string) error {
	name := "projects/" + client.Project() + "/topics/" + topic
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name}); err != nil {
		return fmt.Errorf("CreateTopic(%s): %w", topic, err)
	}
	if sub == "" {
		return nil
	}
	s := &pubsubpb.Subscription{Name: "projects/" + client.Project() + "/subscriptions/" + sub, Topic: name}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, s); err != nil {
		return fmt.Errorf("CreateSubscription(%s): %w", sub, err)
	}
	return nil
}

func mustCreateTopic(t testing.TB, client *pubsub.Client, topic, sub string) {
	t.Helper()
	if err := createTopic(context.Background(), client, topic, sub); err != nil {
		t.Fatal(err)
	}
}

// harness receives through Receive, so the conformance suite also covers
// the pull loop.
type harness struct {
	t      *testing.T
	client *pubsub.Client
	pub    *pubsubevents.Publisher
	ctx    context.Context // ends the pull loops
	wg     sync.WaitGroup

	mu  sync.Mutex
	got map[string]map[string]events.Message // topic, message id
}

func newHarness(t *testing.T) eventstest.Harness {
	client := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, client: client, pub: pubsubevents.New(client), ctx: ctx, got: make(map[string]map[string]events.Message)}
	t.Cleanup(func() {
		cancel()
		h.wg.Wait()
		h.pub.Close()
	})
	return h
}

func (h *harness) Publisher() events.Publisher { return h.pub }

func (h *harness) CreateTopic(ctx context.Context, topic string) error {
	if err := createTopic(ctx, h.client, topic, topic+"-sub"); err != nil {
		return err
	}
	h.mu.Lock()
	h.got[topic] = make(map[string]events.Message)
	h.mu.Unlock()
	h.wg.Go(func() {
		err := pubsubevents.Receive(h.ctx, h.client, topic+"-sub", func(_ context.Context, m events.Message) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.got[topic][m.ID] = m
			return nil
		})
		if err != nil {
			h.t.Errorf("Receive(%s): %v", topic, err)
		}
	})
	return nil
}

func (h *harness) Received(ctx context.Context, topic string, n int) ([]events.Message, error) {
	for {
		h.mu.Lock()
		var ms []events.Message
		for _, m := range h.got[topic] {
			ms = append(ms, m)
		}
		h.mu.Unlock()
		if len(ms) >= n {
			return ms, nil
		}
		select {
		case <-ctx.Done():
			return ms, fmt.Errorf("got %d of %d messages: %w", len(ms), n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	eventstest.Run(t, newHarness)
}

func TestReceiveAcksAndNacks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		first     error // what handle returns the first time; nil after
		wantCalls int32
	}{
		{name: "success_is_acked", first: nil, wantCalls: 1},
		{name: "transient_is_redelivered", first: errs.E(errs.Transient, "down"), wantCalls: 2},
		{name: "unclassified_is_redelivered", first: fmt.Errorf("what"), wantCalls: 2},
		{name: "permanent_is_acked", first: errs.E(errs.Permanent, "never"), wantCalls: 1},
		{name: "invalid_is_acked", first: errs.E(errs.Invalid, "bad"), wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := newClient(t)
			mustCreateTopic(t, client, "topic-ack", "sub-ack")
			pub := pubsubevents.New(client)
			defer pub.Close()
			if err := pub.Publish(t.Context(), "topic-ack", events.Launch{CampaignID: "c1"}); err != nil {
				t.Fatalf("Publish: %v", err)
			}

			var calls atomic.Int32
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				done <- pubsubevents.Receive(ctx, client, "sub-ack", func(context.Context, events.Message) error {
					if calls.Add(1) == 1 {
						return tt.first
					}
					return nil
				})
			}()
			// A nack is redelivered at once on the emulator; an ack never is
			// before the 10 s ack deadline, so 2 s tells them apart.
			deadline := time.Now().Add(10 * time.Second)
			for calls.Load() < tt.wantCalls && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(2 * time.Second)
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if got, want := calls.Load(), tt.wantCalls; got != want {
				t.Errorf("handler called %d times, want %d", got, want)
			}
		})
	}
}

func TestReceiveMissingSubscription(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := pubsubevents.Receive(ctx, client, "no-such-sub", func(context.Context, events.Message) error { return nil })
	if got, want := errs.KindOf(err), errs.NotExist; got != want {
		t.Errorf("Receive: kind %v (%v), want %v", got, err, want)
	}
}

func TestReceiveOptions(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	mustCreateTopic(t, client, "topic-opts", "sub-opts")
	pub := pubsubevents.New(client)
	defer pub.Close()
	const n = 20
	for i := range n {
		if err := pub.Publish(t.Context(), "topic-opts", i); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}

	var inFlight, peak, handled atomic.Int32
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	err := pubsubevents.Receive(ctx, client, "sub-opts", func(context.Context, events.Message) error {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for old := peak.Load(); cur > old && !peak.CompareAndSwap(old, cur); old = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		if handled.Add(1) == n {
			cancel()
		}
		return nil
	}, pubsubevents.WithNumGoroutines(2), pubsubevents.WithMaxOutstandingMessages(3))
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if got := peak.Load(); got > 3 {
		t.Errorf("%d messages handled at once, want at most 3", got)
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	mustCreateTopic(t, client, "topic-ready", "sub-ready")
	full := "projects/" + client.Project() + "/topics/topic-ready"
	tests := []struct {
		name   string
		topics []string
		subs   []string
		want   errs.Kind // Other: no error
	}{
		{name: "all_exist", topics: []string{"topic-ready", full}, subs: []string{"sub-ready"}, want: errs.Other},
		{name: "nothing_asked", want: errs.Other},
		{name: "missing_topic", topics: []string{"topic-ready", "topic-gone"}, subs: []string{"sub-ready"}, want: errs.NotExist},
		{name: "missing_subscription", topics: []string{"topic-ready"}, subs: []string{"sub-gone"}, want: errs.NotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := pubsubevents.Ready(t.Context(), client, tt.topics, tt.subs)
			if tt.want == errs.Other {
				if err != nil {
					t.Errorf("Ready = %v, want nil", err)
				}
				return
			}
			if got := errs.KindOf(err); got != tt.want {
				t.Errorf("Ready: kind %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

func TestPublishAfterClose(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	mustCreateTopic(t, client, "topic-closed", "")
	pub := pubsubevents.New(client)
	if err := pub.Publish(t.Context(), "topic-closed", 1); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	pub.Close()
	err := pub.Publish(t.Context(), "topic-closed", 2)
	if got, want := errs.KindOf(err), errs.Transient; got != want {
		t.Errorf("Publish after Close: kind %v (%v), want %v", got, err, want)
	}
}

// BenchmarkPublish measures concurrent publishes that each wait for the
// server, as handlers do.
func BenchmarkPublish(b *testing.B) {
	client := newClient(b)
	mustCreateTopic(b, client, "topic-bench", "")
	pub := pubsubevents.New(client)
	defer pub.Close()
	payload := events.Recipients{CampaignID: "c1", MessageIDs: make([]string, 100)}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := pub.Publish(context.Background(), "topic-bench", payload); err != nil {
				b.Error(err)
			}
		}
	})
}

// BenchmarkReceive measures the pull loop draining a backlog.
func BenchmarkReceive(b *testing.B) {
	for _, streams := range []int{1, 4} {
		b.Run(fmt.Sprintf("streams_%d", streams), func(b *testing.B) {
			client := newClient(b)
			mustCreateTopic(b, client, "topic-bench", "sub-bench")
			pub := pubsubevents.New(client)
			defer pub.Close()
			var wg sync.WaitGroup
			for i := range b.N {
				wg.Go(func() {
					if err := pub.Publish(context.Background(), "topic-bench", i); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			b.ResetTimer()
			var n atomic.Int64
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := pubsubevents.Receive(ctx, client, "sub-bench", func(context.Context, events.Message) error {
				if n.Add(1) == int64(b.N) {
					cancel()
				}
				return nil
			}, pubsubevents.WithNumGoroutines(streams))
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

// deadLetterHarness lays out, in a project of its own, each topic of
// events.Topics with its dead-letter topic and subscription, and watches
// the topics through a pull subscription of its own. It dead-letters a
// message by publishing it to the dead-letter topic with the attributes
// Pub/Sub adds (seen on the emulator, see emulators/localstack).
type deadLetterHarness struct {
	*harness
	dl *pubsubevents.DeadLetters
}

func newDeadLetterHarness(t *testing.T) eventstest.DeadLetterHarness {
	h := newHarness(t).(*harness)
	ctx := t.Context()
	for _, topic := range events.Topics {
		if err := h.CreateTopic(ctx, topic); err != nil {
			t.Fatal(err)
		}
		if err := createTopic(ctx, h.client, events.DeadLetterTopic(topic), events.DeadLetterSubscription(topic)); err != nil {
			t.Fatal(err)
		}
	}
	return &deadLetterHarness{harness: h, dl: pubsubevents.NewDeadLetters(h.client, events.Topics)}
}

func (h *deadLetterHarness) DeadLetters() events.DeadLetters { return h.dl }

func (h *deadLetterHarness) DeadLetter(ctx context.Context, topic string, m events.Message, attempts int, published time.Time) (string, error) {
	attrs := map[string]string{
		"CloudPubSubDeadLetterSourceDeliveryCount":       strconv.Itoa(attempts),
		"CloudPubSubDeadLetterSourceSubscription":        events.PushSubscription(topic),
		"CloudPubSubDeadLetterSourceSubscriptionProject": h.client.Project(),
		"CloudPubSubDeadLetterSourceTopicPublishTime":    published.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
	}
	maps.Copy(attrs, m.Attributes)
	pub := h.client.Publisher(events.DeadLetterTopic(topic))
	defer pub.Stop()
	return pub.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: attrs}).Get(ctx)
}

func TestDeadLettersConformance(t *testing.T) {
	t.Parallel()
	eventstest.RunDeadLetters(t, newDeadLetterHarness)
}
