package localstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/eventstreamengine/ese/shared/events"
)

// Push subscription settings, as the deployed subscriptions have them
// (deployed backoff is 10 s to 600 s; locally it is shorter so that a
// retried event is seen within a test's patience).
const (
	ackDeadlineSeconds = 60
	minBackoff         = time.Second
	maxBackoff         = 60 * time.Second
	// deadLetterRetention is how long a dead letter waits to be replayed.
	deadLetterRetention = 7 * 24 * time.Hour
)

// pushPolicy is how a push subscription retries and gives up; tests
// shorten it. maxAttempts zero means events.DeliveryAttempts.
type pushPolicy struct {
	maxAttempts            int32
	minBackoff, maxBackoff time.Duration
}

var defaultPolicy = pushPolicy{minBackoff: minBackoff, maxBackoff: maxBackoff}

// SubscriptionID names topic's push subscription.
func SubscriptionID(topic string) string { return events.PushSubscription(topic) }

// PushEndpoint is where topic's push subscription delivers: the path holds
// projects/<project>/topics/<topic>, which makes functions-framework-go turn
// the push body into a CloudEvent whose source is the topic.
func PushEndpoint(origin, project, topic string) string {
	return strings.TrimRight(origin, "/") + "/events/" + topic + "/projects/" + project + "/topics/" + topic
}

// Provision creates every topic in events.Topics in project, each with a
// push subscription to origin that retries with backoff and, after
// events.DeliveryAttempts, moves the message to the topic's dead-letter topic,
// whose pull subscription keeps it for listing and replay. It works on the
// emulator in PUBSUB_EMULATOR_HOST and is idempotent: existing topics and
// subscriptions are kept, and existing push subscriptions are given
// today's origin and policies.
func Provision(ctx context.Context, project, origin string) error {
	return provision(ctx, project, origin, defaultPolicy)
}

func provision(ctx context.Context, project, origin string, policy pushPolicy) error {
	if os.Getenv(EnvPubSub) == "" {
		// Never lay out a local topology in a real project by accident.
		return errors.New("localstack.Provision: " + EnvPubSub + " is not set")
	}
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		return fmt.Errorf("localstack.Provision: pubsub.NewClient: %w", err)
	}
	defer c.Close()
	for _, topic := range events.Topics {
		if err := provisionTopic(ctx, c, project, origin, topic, policy); err != nil {
			return fmt.Errorf("localstack.Provision: %w", err)
		}
	}
	return nil
}

// provisionTopic lays out one topic: the topic, its dead-letter topic and
// pull subscription, then its push subscription.
func provisionTopic(ctx context.Context, c *pubsub.Client, project, origin, topic string, policy pushPolicy) error {
	topicName := "projects/" + project + "/topics/" + topic
	deadName := "projects/" + project + "/topics/" + events.DeadLetterTopic(topic)
	for _, name := range []string{topicName, deadName} {
		_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("pubsub.CreateTopic %s: %w", name, err)
		}
	}
	deadSub := "projects/" + project + "/subscriptions/" + events.DeadLetterSubscription(topic)
	_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:                     deadSub,
		Topic:                    deadName,
		AckDeadlineSeconds:       ackDeadlineSeconds,
		MessageRetentionDuration: durationpb.New(deadLetterRetention),
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("pubsub.CreateSubscription %s: %w", deadSub, err)
	}

	sub := &pubsubpb.Subscription{
		Name:               "projects/" + project + "/subscriptions/" + SubscriptionID(topic),
		Topic:              topicName,
		PushConfig:         &pubsubpb.PushConfig{PushEndpoint: PushEndpoint(origin, project, topic)},
		AckDeadlineSeconds: ackDeadlineSeconds,
		RetryPolicy: &pubsubpb.RetryPolicy{
			MinimumBackoff: durationpb.New(policy.minBackoff),
			MaximumBackoff: durationpb.New(policy.maxBackoff),
		},
		DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{DeadLetterTopic: deadName, MaxDeliveryAttempts: cmp.Or(policy.maxAttempts, events.DeliveryAttempts(topic))},
	}
	_, err = c.SubscriptionAdminClient.CreateSubscription(ctx, sub)
	switch {
	case status.Code(err) == codes.AlreadyExists:
		// An emulator reused across runs may still push to an old origin,
		// or predate the dead-letter policy.
		_, err = c.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
			Subscription: sub,
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"push_config", "ack_deadline_seconds", "retry_policy", "dead_letter_policy"}},
		})
		if err != nil {
			return fmt.Errorf("pubsub.UpdateSubscription %s: %w", sub.Name, err)
		}
	case err != nil:
		return fmt.Errorf("pubsub.CreateSubscription %s: %w", sub.Name, err)
	}
	return nil
}
