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
	"github.com/eventstreamengine/ese/shared/user"
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

// keywordState is the state a keyword asks for.
func keywordState(in consent.Intent) consent.State {
	if in == consent.IntentOptIn {
		return consent.OptIn
	}
	return consent.Stop
}

// Handler applies inbound events.
type Handler struct {
	Store store.Store
}

// Handle applies one stored inbound message. A STOP from a number we do
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
	log := logging.FromContext(ctx).With("phone", phone.Mask(from), "message_sid", ev.MessageSID)
	u, err := h.Store.GetUser(ctx, from)
	if errs.Is(err, errs.NotExist) {
		if intent != consent.IntentOptOut {
			return nil
		}
		nu := user.User{Phone: from, Consent: consent.Stop, Attributes: map[string]any{}, CreatedAt: ev.ReceivedAt, UpdatedAt: ev.ReceivedAt}
		err := h.Store.CreateUser(ctx, nu, consent.SourceInbound, ev.MessageSID)
		if err == nil || errs.Is(err, errs.Exist) {
			if err == nil {
				log.Info("opt-out from an unknown number recorded")
				return nil
			}
			u, err = h.Store.GetUser(ctx, from)
		}
		if err != nil {
			return fmt.Errorf("inbound.Handle: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("inbound.Handle: %w", err)
	}
	to, change := consent.AfterIntent(u.Consent, intent)
	if !change && to != keywordState(intent) {
		return nil // START from someone an admin opted out: not theirs to lift
	}
	// Pub/Sub keeps no order: a START redelivered after a later STOP must
	// not undo it. A keyword of the person's newer than this one, or this
	// message's own entry, means there is nothing left to do. (Admin and
	// import changes do not supersede: the person's word stands.) A
	// repeated keyword that changes nothing is still recorded, so that it
	// outranks an older one processed after it.
	hist, err := h.Store.ConsentHistory(ctx, from)
	if err != nil {
		return fmt.Errorf("inbound.Handle: %w", err)
	}
	for _, c := range hist {
		if c.Ref == ev.MessageSID || (c.Source == consent.SourceInbound && !c.At.Before(ev.ReceivedAt)) {
			return nil
		}
	}
	_, changed, err := h.Store.SetConsent(ctx, consent.Change{
		Phone: from, From: u.Consent, To: to, Source: consent.SourceInbound, Ref: ev.MessageSID, At: ev.ReceivedAt,
	})
	if err != nil {
		return fmt.Errorf("inbound.Handle: %w", err)
	}
	if changed {
		log.Info("consent changed by keyword", "to", to)
	}
	return nil
}
