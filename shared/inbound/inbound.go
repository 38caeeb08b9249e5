// Package inbound acts on a person's own messages: their opt-out word sets
// STOP, their START lifts it, and both go into their consent history with
// the MessageSid that carried them.
package inbound

import (
	"context"
	"fmt"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// Classification names an inbound message for people reading a monitor.
func Classification(body string) string {
	switch consent.Classify(body) {
	case consent.IntentOptOut:
		return "STOP Command"
	case consent.IntentOptIn:
		return "START Command"
	case consent.IntentHelp:
		return "HELP Request"
	}
	return "Text Reply"
}

// Handler applies inbound events.
type Handler struct {
	Store store.Store
}

// Handle applies one stored inbound message: the person's STOP or START,
// decided in one store transaction against their state and their latest
// keyword, so that redeliveries and keywords processed out of order (Pub/Sub
// keeps none) leave their last word standing. A STOP from a number we do
// not know is kept too, as a STOP user, so that no later import can opt
// them in.
func (h *Handler) Handle(ctx context.Context, ev webhook.Event) error {
	intent := consent.Classify(ev.Params["Body"])
	if intent != consent.IntentOptOut && intent != consent.IntentOptIn {
		return nil
	}
	from, err := phone.Normalize(ev.Params["From"])
	if err != nil {
		return errs.Wrap(errs.Permanent, err, "inbound.Handle: From")
	}
	u, changed, err := h.Store.ApplyKeyword(ctx, consent.Keyword{Phone: from, Intent: intent, Ref: ev.MessageSID, At: ev.ReceivedAt})
	if err != nil {
		return fmt.Errorf("inbound.Handle: %w", err)
	}
	if changed {
		logging.FromContext(ctx).Info("consent changed by keyword", "phone", phone.Mask(from),
			"message_sid", ev.MessageSID, "to", u.Consent)
	}
	return nil
}
