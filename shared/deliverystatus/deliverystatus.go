// Package deliverystatus applies the provider's status callbacks to
// messages: forward only, each stage recorded once, so callbacks that
// arrive late, twice or out of order change nothing they should not.
package deliverystatus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// find returns the message a status is about: by the id in its callback
// URL when it has one, else by provider sid. A message found by id that
// already has another sid is not the one this status is about.
func (a *Applier) find(ctx context.Context, ev webhook.Event) (message.Message, error) {
	if ev.MessageID == "" {
		return a.Store.MessageByProviderSID(ctx, ev.MessageSID)
	}
	m, err := a.Store.GetMessage(ctx, ev.MessageID)
	if err != nil {
		return m, err
	}
	if m.ProviderSID != "" && m.ProviderSID != ev.MessageSID {
		return m, errs.E(errs.Permanent, "message %s was sent as %s, not %s", m.ID, m.ProviderSID, ev.MessageSID)
	}
	return m, nil
}

// Update reads a Twilio MessageStatus word; ok is false for statuses that
// say nothing we record (accepted, queued, sending, scheduled, ...).
func Update(status, errorCode string, at time.Time) (message.ProviderUpdate, bool) {
	u := message.ProviderUpdate{At: at, ErrorCode: errorCode}
	switch strings.ToLower(status) {
	case "sent":
		u.Status = message.Sent
	case "delivered":
		u.Status = message.Delivered
	case "read":
		u.Status = message.Read
	case "failed", "undelivered", "canceled":
		u.Status = message.Failed
		if u.ErrorCode == "" {
			u.ErrorCode = strings.ToLower(status)
		}
	default:
		return u, false
	}
	return u, true
}

// Applier applies status events to the store.
type Applier struct {
	Store store.Store
	// GiveUpAfter bounds how long an event for an unknown MessageSid is
	// retried: the sender may not have recorded the sid yet, but a sid
	// that never appears is not ours.
	GiveUpAfter time.Duration
	Now         func() time.Time
}

// Apply applies one stored status callback.
func (a *Applier) Apply(ctx context.Context, ev webhook.Event) error {
	u, ok := Update(ev.Params["MessageStatus"], ev.Params["ErrorCode"], ev.ReceivedAt)
	if !ok {
		return nil
	}
	m, err := a.find(ctx, ev)
	if errs.Is(err, errs.NotExist) {
		now := time.Now()
		if a.Now != nil {
			now = a.Now()
		}
		if now.Sub(ev.ReceivedAt) > a.GiveUpAfter {
			logging.FromContext(ctx).Warn("status for an unknown message dropped", "message_sid", ev.MessageSID)
			return nil
		}
		return errs.E(errs.Transient, "no message with provider sid %s yet", ev.MessageSID)
	}
	if err != nil {
		return fmt.Errorf("deliverystatus.Apply: %w", err)
	}
	_, err = a.Store.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		changed := false
		if m.ProviderSID == "" {
			// The status outran the sender's own record of the send.
			m.ProviderSID, changed = ev.MessageSID, true
		}
		if !m.Apply(u) && !changed {
			return store.Unchanged
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deliverystatus.Apply: %w", err)
	}
	return nil
}
