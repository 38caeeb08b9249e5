// Package inbound is the HandleInbound function (topic inbound-message):
// a person's STOP and START change their consent.
package inbound

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/store"
)

func init() {
	functions.CloudEvent("HandleInbound", Handle)
}

// Handle serves the HandleInbound function.
var Handle = edge.EventFunc("HandleInbound", Build)

// Config is what HandleInbound reads from its environment.
type Config struct {
	setup.Project
	setup.Events // read by edge.EventFunc
}

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	st, err := setup.LoadStore(ctx, &Config{}, l)
	if err != nil {
		return nil, err
	}
	return New(st), nil
}

// New returns the handler over st.
func New(st store.Store) edge.Handler {
	return edge.Decoded((&inbound.Handler{Store: st}).Handle)
}
