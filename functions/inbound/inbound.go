// Package inbound is the HandleInbound function (topic inbound-message):
// it reads each stored Twilio callback into an inbound.Message, so a
// person's STOP and START change their consent and every message records
// when they last wrote.
package inbound

import (
	"context"
	"fmt"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/functions/internal/twilioform"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/webhook"
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

// New returns the handler over st. An event the Webhooks function handed
// on unstored (its store refused) is stored first, for the audit trail,
// with its STOP applied in the same transaction (inbound.Record).
func New(st store.Store) edge.Handler {
	h := &inbound.Handler{Store: st}
	return edge.Decoded(func(ctx context.Context, e webhook.Event) error {
		m := twilioform.Inbound(e)
		if e.Unstored {
			e.Unstored, e.Published = false, true // delivered already: no sweep republishes it
			stored, _, err := inbound.Record(ctx, st, e, m)
			if err != nil {
				return fmt.Errorf("HandleInbound: record: %w", err)
			}
			m.StopApplied = stored.StopApplied
		}
		return h.Handle(ctx, m)
	})
}
