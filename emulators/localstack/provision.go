package localstack

import (
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

	"github.com/eventstreamengine/ese/shared/events"
)

// Push subscription settings, as the deployed subscriptions have them.
const (
	ackDeadlineSeconds = 60
	minBackoff         = time.Second
	maxBackoff         = 60 * time.Second
)

// SubscriptionID names topic's push subscription.
func SubscriptionID(topic string) string { return events.PushSubscription(topic) }

// PushEndpoint is where topic's push subscription delivers: the path holds
// projects/<project>/topics/<topic>, which makes functions-framework-go turn
// the push body into a CloudEvent whose source is the topic.
func PushEndpoint(origin, project, topic string) string {
	return strings.TrimRight(origin, "/") + "/events/" + topic + "/projects/" + project + "/topics/" + topic
}

// Provision creates every topic in events.Topics in project, each with a
// push subscription to origin, on the emulator in PUBSUB_EMULATOR_HOST. It
// is idempotent: existing topics are kept and existing subscriptions are
// pointed at origin.
func Provision(ctx context.Context, project, origin string) error {
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
		topicName := "projects/" + project + "/topics/" + topic
		_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topicName})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("localstack.Provision: pubsub.CreateTopic %s: %w", topic, err)
		}
		push := &pubsubpb.PushConfig{PushEndpoint: PushEndpoint(origin, project, topic)}
		subName := "projects/" + project + "/subscriptions/" + SubscriptionID(topic)
		_, err = c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name:               subName,
			Topic:              topicName,
			PushConfig:         push,
			AckDeadlineSeconds: ackDeadlineSeconds,
			RetryPolicy: &pubsubpb.RetryPolicy{
				MinimumBackoff: durationpb.New(minBackoff),
				MaximumBackoff: durationpb.New(maxBackoff),
			},
		})
		switch {
		case status.Code(err) == codes.AlreadyExists:
			// An emulator reused across runs may still push to an old origin.
			err = c.SubscriptionAdminClient.ModifyPushConfig(ctx, &pubsubpb.ModifyPushConfigRequest{Subscription: subName, PushConfig: push})
			if err != nil {
				return fmt.Errorf("localstack.Provision: pubsub.ModifyPushConfig %s: %w", subName, err)
			}
		case err != nil:
			return fmt.Errorf("localstack.Provision: pubsub.CreateSubscription %s: %w", subName, err)
		}
	}
	return nil
}
