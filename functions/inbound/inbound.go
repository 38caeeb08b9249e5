// Package inbound is the HandleInbound function (topic inbound-message):
// a person's STOP and START change their consent.
package inbound

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/store"
)

func init() {
	functions.CloudEvent("HandleInbound", Handle)
}

// Config is what HandleInbound reads from its environment.
type Config struct {
	setup.Project
}

var handler = &edge.Lazy[edge.Handler]{Build: func(ctx context.Context) (edge.Handler, error) {
	return Build(ctx, nil)
}}

// Handle serves the HandleInbound function.
var Handle = edge.Event("HandleInbound", handler)

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	var cfg Config
	if err := setup.Load(ctx, &cfg, l); err != nil {
		return nil, err
	}
	st, err := setup.Store(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	return New(st), nil
}

// New returns the handler over st.
func New(st store.Store) edge.Handler {
	h := &inbound.Handler{Store: st}
	return func(ctx context.Context, m events.Message) error {
		var ev events.Webhook
		if err := events.Decode(m, &ev); err != nil {
			return err
		}
		return h.Handle(ctx, ev)
	}
}
