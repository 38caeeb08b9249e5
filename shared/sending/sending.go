// Package sending makes exactly one provider send per message however
// often its task is delivered: consent is checked again at the last
// moment, the message is claimed before the provider is called, and a
// claim found without an outcome is reconciled against the provider's own
// record, never resent blindly.
package sending

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sms"
	"github.com/eventstreamengine/ese/shared/store"
)

// Completer is told when a message concludes, to complete its campaign
// when it was the last (campaignrun.Runner.CheckCompletion).
type Completer interface {
	CheckCompletion(ctx context.Context, campaignID string) error
}

// Sender sends queued messages.
type Sender struct {
	Store    store.Store
	Provider sms.Provider
	Campaign Completer
	// StatusCallback is the status webhook's public URL.
	StatusCallback string
	// ReconcileAfter is how old a claim must be before the provider's
	// silence about it proves the send never happened (longer than any
	// provider call can take).
	ReconcileAfter time.Duration
	Now            func() time.Time
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Outcome says what a Send did, for the caller's log and answer.
type Outcome string

const (
	OutcomeSent       Outcome = "sent"
	OutcomeFailed     Outcome = "failed"
	OutcomeSkipped    Outcome = "skipped"
	OutcomeDuplicate  Outcome = "duplicate"  // already concluded: nothing done
	OutcomeReconciled Outcome = "reconciled" // an earlier attempt's send was found
)

var errNotClaimable = errors.New("message not claimable")

// Send handles one delivery of a message's task. A nil error means the
// task is done (whatever the outcome); an error means "deliver again".
func (s *Sender) Send(ctx context.Context, p sendqueue.Payload) (Outcome, error) {
	m, err := s.Store.GetMessage(ctx, p.MessageID)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return "", errs.Wrap(errs.Permanent, err, "sending.Send")
		}
		return "", fmt.Errorf("sending.Send: %w", err)
	}
	log := logging.FromContext(ctx).With("campaign_id", m.CampaignID, "message_id", m.ID)
	switch {
	case m.Status.Concluded():
		return OutcomeDuplicate, nil
	case m.Status == message.Sending || m.Status == message.Reconcile:
		found, err := s.reconcile(ctx, m)
		if err != nil || found {
			if found {
				log.Info("claim reconciled: the earlier attempt had sent it")
				return OutcomeReconciled, s.concluded(ctx, m.CampaignID)
			}
			return "", err
		}
		// The provider never got it: the claim was released; go on.
	case m.Status == message.Pending:
		return "", errs.E(errs.Transient, "message %s is not queued yet", m.ID)
	}

	u, err := s.Store.GetUser(ctx, m.Phone)
	if err != nil && !errs.Is(err, errs.NotExist) {
		return "", fmt.Errorf("sending.Send: %w", err)
	}
	if err != nil || u.Consent != consent.OptIn {
		if err := s.finish(ctx, m.ID, func(m *message.Message) {
			m.Status, m.SkipReason = message.Skipped, message.SkipConsentAtSend
		}); err != nil {
			return "", err
		}
		log.Info("skipped: consent withdrawn before send")
		return OutcomeSkipped, s.concluded(ctx, m.CampaignID)
	}

	now := s.now()
	m, err = s.Store.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		if m.Status != message.Queued && m.Status != message.Deferred {
			return errNotClaimable
		}
		m.Status, m.ClaimedAt, m.UpdatedAt = message.Sending, &now, now
		m.Attempts++
		return nil
	})
	if errors.Is(err, errNotClaimable) {
		// Another delivery got here first; it owns the outcome.
		return "", errs.E(errs.Transient, "message %s claimed by another attempt", p.MessageID)
	}
	if err != nil {
		return "", fmt.Errorf("sending.Send: claim: %w", err)
	}

	res, err := s.Provider.Send(ctx, sms.Request{To: m.Phone, Body: m.Body, StatusCallback: s.StatusCallback})
	if err != nil {
		return s.failed(ctx, m, err)
	}
	at := s.now()
	if err := s.finish(ctx, m.ID, func(m *message.Message) {
		m.ProviderSID = res.SID
		m.Apply(message.ProviderUpdate{Status: message.Sent, At: at})
	}); err != nil {
		return "", err
	}
	log.Info("sent", "provider_sid", res.SID)
	return OutcomeSent, s.concluded(ctx, m.CampaignID)
}

// failed records a provider error. A rejection concludes the message; a
// transient error leaves the claim in place (the provider may have taken
// it) unless the provider certainly did not, and asks for a retry.
func (s *Sender) failed(ctx context.Context, m message.Message, err error) (Outcome, error) {
	log := logging.FromContext(ctx).With("campaign_id", m.CampaignID, "message_id", m.ID)
	var pe *sms.ProviderError
	hasPE := errors.As(err, &pe)
	if errs.Is(err, errs.Permanent) {
		code, text := "", err.Error()
		if hasPE {
			code, text = pe.Code, pe.Message
		}
		at := s.now()
		if ferr := s.finish(ctx, m.ID, func(m *message.Message) {
			m.Status, m.ErrorCode, m.ErrorText, m.FailedAt = message.Failed, code, text, &at
		}); ferr != nil {
			return "", ferr
		}
		log.Warn("provider rejected the message", "error_code", code)
		return OutcomeFailed, s.concluded(ctx, m.CampaignID)
	}
	if hasPE && pe.Status == 429 {
		// Throttled: certainly not accepted, so the claim can go.
		if rerr := s.release(ctx, m.ID); rerr != nil {
			return "", rerr
		}
	}
	log.Warn("provider call failed; will retry", "error", err)
	return "", errs.Wrap(errs.Transient, err, "sending.Send")
}

// reconcile settles a claim left without an outcome. It reports found when
// the provider holds the message (recording it as sent). When the provider
// has nothing and the claim is old enough that no call can still land, the
// claim is released so the caller may send.
func (s *Sender) reconcile(ctx context.Context, m message.Message) (bool, error) {
	if m.Status == message.Sending {
		if _, err := s.Store.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
			if m.Status != message.Sending {
				return store.Unchanged
			}
			m.Status, m.UpdatedAt = message.Reconcile, s.now()
			return nil
		}); err != nil {
			return false, fmt.Errorf("sending.reconcile: %w", err)
		}
	}
	claimed := m.UpdatedAt
	if m.ClaimedAt != nil {
		claimed = *m.ClaimedAt
	}
	sent, err := s.Provider.SentTo(ctx, m.Phone, claimed.Add(-time.Minute))
	if err != nil {
		return false, fmt.Errorf("sending.reconcile: %w", err)
	}
	for _, x := range sent {
		if x.Body != m.Body {
			continue
		}
		at := x.DateCreated
		if at.IsZero() {
			at = s.now()
		}
		err := s.finish(ctx, m.ID, func(m *message.Message) {
			m.ProviderSID = x.SID
			m.Apply(message.ProviderUpdate{Status: message.Sent, At: at})
		})
		return err == nil, err
	}
	if s.now().Sub(claimed) < s.ReconcileAfter {
		return false, errs.E(errs.Transient, "message %s: claim of %s not yet provably unsent", m.ID, claimed.Format(time.RFC3339))
	}
	return false, s.release(ctx, m.ID)
}

// release returns a claimed message to QUEUED.
func (s *Sender) release(ctx context.Context, id string) error {
	_, err := s.Store.UpdateMessage(ctx, id, func(m *message.Message) error {
		if m.Status != message.Sending && m.Status != message.Reconcile {
			return store.Unchanged
		}
		m.Status, m.ClaimedAt, m.UpdatedAt = message.Queued, nil, s.now()
		return nil
	})
	if err != nil {
		return fmt.Errorf("sending.release: %w", err)
	}
	return nil
}

// finish records an outcome on a message that has not concluded.
func (s *Sender) finish(ctx context.Context, id string, set func(*message.Message)) error {
	now := s.now()
	_, err := s.Store.UpdateMessage(ctx, id, func(m *message.Message) error {
		if m.Status.Concluded() {
			return store.Unchanged
		}
		set(m)
		m.UpdatedAt = now
		return nil
	})
	if err != nil {
		return fmt.Errorf("sending.finish: %w", err)
	}
	return nil
}

func (s *Sender) concluded(ctx context.Context, campaignID string) error {
	if s.Campaign == nil {
		return nil
	}
	return s.Campaign.CheckCompletion(ctx, campaignID)
}
