// Package deliverystatus applies the provider's news about sent messages:
// forward only, each stage recorded once, so callbacks that arrive late,
// twice or out of order change nothing they should not. The Webhooks
// function reads the provider's callbacks into Callbacks.
package deliverystatus

import (
	"context"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
)

// Callback is what the provider told us about one message.
type Callback struct {
	// ProviderSID is the provider's id of the message (Twilio's MessageSid).
	ProviderSID string
	// MessageID is ours, when the callback URL we gave named it, so a
	// status needs no lookup by sid (and may arrive before the sender has
	// recorded the sid).
	MessageID string
	// Update is the news; Update.At is when it reached us.
	Update message.ProviderUpdate
}

// records reports whether u says something a message records.
func records(u message.ProviderUpdate) bool {
	switch u.Status {
	case message.Sent, message.Delivered, message.Read, message.Failed:
		return true
	}
	return false
}

// Records reports whether c is worth handing on: a status such as queued
// says nothing a message records, and is kept for the audit trail only.
func (c Callback) Records() bool { return records(c.Update) }

// find returns the message a status is about: by our id when the callback
// has one, else by provider sid. A message found by id that already has
// another sid is not the one this status is about.
func (a *Applier) find(ctx context.Context, c Callback) (message.Message, error) {
	if c.MessageID == "" {
		return a.Store.MessageByProviderSID(ctx, c.ProviderSID)
	}
	m, err := a.Store.GetMessage(ctx, c.MessageID)
	if err != nil {
		return m, err
	}
	if m.ProviderSID != "" && m.ProviderSID != c.ProviderSID {
		return m, errs.E(errs.Permanent, "message %s was sent as %s, not %s", m.ID, m.ProviderSID, c.ProviderSID)
	}
	return m, nil
}

// FailureWatch is told when a callback fails a message, to pause its
// campaign when too many of its last sends failed
// (campaignrun.Runner.CheckFailures). On WhatsApp most failures arrive
// this way, after Twilio accepted the send (63016 outside the window).
type FailureWatch interface {
	CheckFailures(ctx context.Context, campaignID string) error
}

// Applier applies status callbacks to the store.
type Applier struct {
	Store store.Store
	// GiveUpAfter bounds how long a callback for an unknown provider sid
	// is retried: the sender may not have recorded the sid yet, but a sid
	// that never appears is not ours.
	GiveUpAfter time.Duration
	Now         func() time.Time
	// Failures, if set, watches the campaign's failure rate.
	Failures FailureWatch
}

// Apply applies one status callback; one that records nothing is acked.
func (a *Applier) Apply(ctx context.Context, c Callback) error {
	if !c.Records() {
		return nil
	}
	m, err := a.find(ctx, c)
	if errs.Is(err, errs.NotExist) {
		now := time.Now()
		if a.Now != nil {
			now = a.Now()
		}
		if now.Sub(c.Update.At) > a.GiveUpAfter {
			logging.FromContext(ctx).Warn("status for an unknown message dropped", "message_sid", c.ProviderSID)
			return nil
		}
		return errs.E(errs.Transient, "no message with provider sid %s yet", c.ProviderSID)
	}
	if err != nil {
		return fmt.Errorf("deliverystatus.Apply: %w", err)
	}
	failed := false // by this callback: a redelivered one checks nothing
	_, err = a.Store.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		// A retried transaction decides afresh: an attempt that lost to a
		// concurrent write must not leave its answer behind.
		failed = false
		was := m.Status
		changed := false
		if m.ProviderSID == "" {
			// The status outran the sender's own record of the send.
			m.ProviderSID, changed = c.ProviderSID, true
		}
		if !m.Apply(c.Update) && !changed {
			return store.Unchanged
		}
		failed = was != message.Failed && m.Status == message.Failed
		return nil
	})
	if err != nil {
		return fmt.Errorf("deliverystatus.Apply: %w", err)
	}
	if c.Update.Status == message.Failed && c.Update.Class == message.FailureMarketingOptOut && m.Phone != "" {
		// WhatsApp says the person stopped our marketing messages: keep
		// them from marketing templates. Recorded on every delivery (the
		// first report stands), so a retry after a failure records it.
		o := user.MarketingOptOut{At: c.Update.At, Source: user.SourceProviderFailure, Ref: c.ProviderSID}
		recorded, err := a.Store.SetMarketingOptOut(ctx, m.Phone, o)
		if err != nil {
			return fmt.Errorf("deliverystatus.Apply: %w", err)
		}
		if recorded {
			logging.FromContext(ctx).Info("person stopped marketing messages", "phone", phone.Mask(m.Phone), "message_id", m.ID)
		}
	}
	if failed && a.Failures != nil && m.CampaignID != "" {
		// The status is applied: a retry would not check again, so a
		// check that fails is logged, and the next failure checks anew.
		if err := a.Failures.CheckFailures(ctx, m.CampaignID); err != nil {
			logging.FromContext(ctx).Warn("could not check the campaign's failure rate", "campaign_id", m.CampaignID, "error", err)
		}
	}
	return nil
}
