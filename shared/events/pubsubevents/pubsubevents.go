// Package pubsubevents carries events over Google Cloud Pub/Sub: a
// Publisher for events.Publisher, a pull loop (Receive) and the decoding of
// push deliveries (FromCloudEvent), so one handler serves both paths.
package pubsubevents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/grpckind"
)

var _ events.Publisher = (*Publisher)(nil)

// Publisher publishes JSON payloads. It keeps one pubsub.Publisher per
// topic, because each owns batching goroutines that are costly to remake.
// It is safe for concurrent use.
type Publisher struct {
	client *pubsub.Client

	delay time.Duration // 0: the client's default

	mu     sync.Mutex
	topics map[string]*pubsub.Publisher
	closed bool
}

// Option tunes a Publisher.
type Option func(*Publisher)

// WithDelay sets how long a publish waits for others to share its batch
// (the client's DelayThreshold, 10 ms by default). A caller that waits
// for each publish before it answers, as the Webhooks function does,
// wants it short: at 200 callbacks a second the default is 10 ms added
// to most answers.
func WithDelay(d time.Duration) Option { return func(p *Publisher) { p.delay = d } }

// New returns a Publisher on client. Call Close to flush and stop it.
func New(client *pubsub.Client, opts ...Option) *Publisher {
	p := &Publisher{client: client, topics: make(map[string]*pubsub.Publisher)}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Publish encodes v as JSON, publishes it to topic (an id in the client's
// project, or a full topic name) and waits for the server to accept it.
// An unencodable or oversized v is errs.Invalid; any other failure,
// including a missing topic, is errs.Transient so the caller's own event
// is retried rather than lost.
func (p *Publisher) Publish(ctx context.Context, topic string, v any) error {
	if topic == "" {
		return errs.E(errs.Invalid, "pubsubevents.Publish: empty topic")
	}
	data, err := events.Encode(v)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "pubsubevents.Publish "+topic)
	}
	pub, err := p.publisher(topic)
	if err != nil {
		return err
	}
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: data}).Get(ctx); err != nil {
		if errors.Is(err, pubsub.ErrOversizedMessage) {
			return errs.Wrap(errs.Invalid, err, "pubsubevents.Publish "+topic)
		}
		return errs.Wrap(errs.Transient, err, "pubsubevents.Publish "+topic)
	}
	return nil
}

func (p *Publisher) publisher(topic string) (*pubsub.Publisher, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		// Shutting down: the caller's event should be redelivered elsewhere.
		return nil, errs.E(errs.Transient, "pubsubevents.Publish %s: publisher closed", topic)
	}
	pub, ok := p.topics[topic]
	if !ok {
		pub = p.client.Publisher(topic)
		if p.delay > 0 {
			pub.PublishSettings.DelayThreshold = p.delay
		}
		p.topics[topic] = pub
	}
	return pub, nil
}

// Close sends what is still batched and stops every topic's publisher.
// Publish fails after Close.
func (p *Publisher) Close() {
	p.mu.Lock()
	p.closed = true
	topics := p.topics
	p.topics = nil
	p.mu.Unlock()

	var wg sync.WaitGroup
	for _, pub := range topics {
		wg.Go(pub.Stop)
	}
	wg.Wait()
}

// Ready reports the first of topics and subscriptions (ids in the client's
// project, or full names) that does not exist, as errs.NotExist, or the
// failure to ask, for a health check.
func Ready(ctx context.Context, client *pubsub.Client, topics, subscriptions []string) error {
	for _, t := range topics {
		name := fullName(client, "topics", t)
		if _, err := client.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: name}); err != nil {
			return errs.Wrap(grpckind.Of(err), err, fmt.Sprintf("pubsubevents.Ready: topic %s", name))
		}
	}
	for _, s := range subscriptions {
		name := fullName(client, "subscriptions", s)
		if _, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: name}); err != nil {
			return errs.Wrap(grpckind.Of(err), err, fmt.Sprintf("pubsubevents.Ready: subscription %s", name))
		}
	}
	return nil
}

// fullName turns an id into projects/P/<kind>/<id>; a full name is kept.
func fullName(client *pubsub.Client, kind, nameOrID string) string {
	if strings.HasPrefix(nameOrID, "projects/") {
		return nameOrID
	}
	return "projects/" + client.Project() + "/" + kind + "/" + nameOrID
}
