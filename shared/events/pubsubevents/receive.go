package pubsubevents

import (
	"context"
	"log/slog"

	"cloud.google.com/go/pubsub/v2"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/grpckind"
)

// ReceiveOption tunes Receive.
type ReceiveOption func(*pubsub.ReceiveSettings)

// WithNumGoroutines sets how many streaming pulls feed the loop (default 1).
// One stream carries thousands of messages a second; add streams only when
// handlers are starved.
func WithNumGoroutines(n int) ReceiveOption {
	return func(s *pubsub.ReceiveSettings) { s.NumGoroutines = n }
}

// WithMaxOutstandingMessages bounds how many messages are handled at once
// (default 1000), which is what limits the load on downstream services.
func WithMaxOutstandingMessages(n int) ReceiveOption {
	return func(s *pubsub.ReceiveSettings) { s.MaxOutstandingMessages = n }
}

// Receive pulls subscriptionID (an id in the client's project, or a full
// name) and calls handle for each message, concurrently, until ctx is done.
// A message is acked when handle returns nil or an error that errs.Retry
// says not to retry (it is logged and dropped, as a push handler returning
// nil would drop it), and nacked for redelivery otherwise.
//
// Receive returns nil once ctx is done and outstanding handlers have
// returned, or the service's error (errs.NotExist for a missing
// subscription).
func Receive(ctx context.Context, client *pubsub.Client, subscriptionID string, handle func(context.Context, events.Message) error, opts ...ReceiveOption) error {
	sub := client.Subscriber(subscriptionID)
	for _, o := range opts {
		o(&sub.ReceiveSettings)
	}
	err := sub.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
		herr := handle(ctx, events.Message{ID: m.ID, Data: m.Data, Attributes: m.Attributes})
		switch {
		case herr == nil:
			m.Ack()
		case errs.Retry(herr):
			slog.WarnContext(ctx, "pubsubevents: handler failed; message will be redelivered",
				"subscription", sub.ID(), "message_id", m.ID, "kind", errs.KindOf(herr).String(), "error", herr)
			m.Nack()
		default:
			slog.ErrorContext(ctx, "pubsubevents: handler failed permanently; message dropped",
				"subscription", sub.ID(), "message_id", m.ID, "kind", errs.KindOf(herr).String(), "error", herr)
			m.Ack()
		}
	})
	if err != nil {
		return errs.Wrap(grpckind.Of(err), err, "pubsubevents.Receive "+sub.ID())
	}
	return nil
}
