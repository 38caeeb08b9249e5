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
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/logging"
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
	// Erasure: a callback handed on unstored whose sender was erased
	// since brings nothing of theirs back.
	setup.Erasure
}

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	var cfg Config
	st, h, err := setup.LoadStoreAndHasher(ctx, &cfg, l)
	if err != nil {
		return nil, err
	}
	return New(st, h), nil
}

// New returns the handler over st; h keys erased people's records. An
// event the Webhooks function handed on unstored (its store refused it,
// or ran past its budget) is stored first, for the audit trail, with its
// STOP applied in the same transaction (inbound.Record); when its sender
// was erased since, it is stored without its form and its STOP kept in
// their erased record, so nothing of theirs comes back. A record the
// store refuses as Invalid is stored trimmed (twilioform.Trimmed), and
// one refused even so is applied unstored: a permanent error would ack
// the event, and its STOP would be lost.
func New(st store.Store, h erasure.Hasher) edge.Handler {
	in := &inbound.Handler{Store: st}
	return edge.Decoded(func(ctx context.Context, e webhook.Event) error {
		if e.Erased {
			return nil // stored without its sender, erased since: nothing to apply
		}
		m := twilioform.Inbound(e)
		if e.Unstored {
			e.Unstored, e.Published = false, true // delivered already: no sweep republishes it
			stored, err := record(ctx, st, &h, e, m)
			switch {
			case errs.Is(err, errs.Invalid):
				logging.FromContext(ctx).Error("HandleInbound: the store refused the callback even trimmed; applied unstored",
					"message_sid", e.MessageSID, "error", err)
			case err != nil:
				return fmt.Errorf("HandleInbound: record: %w", err)
			case stored.Erased:
				return nil // its STOP is kept in the erased record; nothing else of theirs is
			default:
				m.StopApplied = stored.StopApplied
			}
		}
		return in.Handle(ctx, m)
	})
}

// record stores e (inbound.Record), trimmed when the store refuses it
// whole as Invalid.
func record(ctx context.Context, st store.Store, h *erasure.Hasher, e webhook.Event, m inbound.Message) (webhook.Event, error) {
	stored, _, err := twilioform.StoreTrimmed(&e, func(e webhook.Event) (webhook.Event, bool, error) {
		if e.Trimmed {
			m = twilioform.Inbound(e)
		}
		return inbound.Record(ctx, st, h, e, m)
	}, func(err error) {
		logging.FromContext(ctx).Error("HandleInbound: the store refused the callback; storing it trimmed", "message_sid", e.MessageSID, "error", err)
	})
	return stored, err
}
