// Package inbound acts on a person's own messages: every one records when
// they last wrote to us (their 24-hour window for free text runs from it),
// their opt-out word sets STOP, their START lifts it, and both go into
// their consent history with the message's id. The Webhooks function reads
// the provider's callbacks into Messages.
package inbound

import (
	"context"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/store"
)

// Message is a person's message to us.
type Message struct {
	// ProviderSID is the provider's id of the message (Twilio's
	// MessageSid): the reference of any consent change it makes.
	ProviderSID string
	// From is the sender's number as received (E.164, with or without the
	// whatsapp: channel).
	From       string
	Body       string
	ReceivedAt time.Time
}

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

// Handler applies inbound messages.
type Handler struct {
	Store store.Store
}

// Handle applies one inbound message. A STOP or START is decided in one
// store transaction against the person's state and their latest keyword,
// so that redeliveries and keywords processed out of order (Pub/Sub keeps
// none) leave their last word standing. A STOP from a number we do not
// know is kept too, as a STOP user, so that no later import can opt them
// in. Then, whatever the message says, it is recorded as the person's
// latest (the latest of any order stands); a number without a user has
// nothing to record it on.
func (h *Handler) Handle(ctx context.Context, m Message) error {
	intent := consent.Classify(m.Body)
	keyword := intent == consent.IntentOptOut || intent == consent.IntentOptIn
	from, err := phone.Normalize(m.From)
	if err != nil {
		if keyword {
			return errs.Wrap(errs.Permanent, err, "inbound.Handle: From")
		}
		logging.FromContext(ctx).Warn("inbound message from an unreadable number not recorded", "message_sid", m.ProviderSID)
		return nil
	}
	if keyword {
		u, changed, err := h.Store.ApplyKeyword(ctx, consent.Keyword{Phone: from, Intent: intent, Ref: m.ProviderSID, At: m.ReceivedAt})
		if err != nil {
			return fmt.Errorf("inbound.Handle: %w", err)
		}
		if changed {
			logging.FromContext(ctx).Info("consent changed by keyword", "phone", phone.Mask(from),
				"message_sid", m.ProviderSID, "to", u.Consent)
		}
	}
	if err := h.Store.RecordInbound(ctx, from, m.ReceivedAt); err != nil {
		return fmt.Errorf("inbound.Handle: %w", err)
	}
	return nil
}
