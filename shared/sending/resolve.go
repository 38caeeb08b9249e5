package sending

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/store"
)

// Resolution is an operator's decision on a message held with an unknown
// outcome (UNKNOWN_OUTCOME=hold): the provider did send it (Outcome
// message.OutcomeSent, with its sid when known), or it did not and is to
// be sent again (message.OutcomeResend).
type Resolution struct {
	MessageID string
	// Attempts is the held claim's attempt the operator decided on, as
	// listed: the precondition that keeps a decision from reaching a
	// later attempt, and that tells a retried request from a new one.
	Attempts    int
	Outcome     message.Outcome
	ProviderSID string // with OutcomeSent only; optional
	By          string // who decided, for the audit
	Note        string // why, for the audit; optional
}

var (
	errNotAwaiting = errors.New("message not awaiting resolution")
	errStopped     = errors.New("campaign no longer sends")
)

// Resolve applies r to its message, which must be RECONCILE, held for an
// operator by the Sender (HeldAt), on the attempt r names, and records the
// decision on it (who, when, the attempt, a note). Sent records it SENT;
// resend releases the claim (and its place in the person's send ledger)
// and leaves the message QUEUED with a task generation of its own, and a
// note of the released claim's time, since when the Sender asks the
// provider once more before it sends: retask reports that the caller must
// have that task made (campaignrun.Runner.RetaskSoon).
//
// The same decision on the same attempt again is answered as the first
// was (retask again while the message still waits for its task: making it
// twice is harmless); otherwise a message not held on that attempt is
// Conflict, as is a sid another message records or one of an earlier
// attempt's, and a resend in a campaign that failed. A resend in a
// cancelled campaign skips the message (cancelled), as the cancel did the
// others.
func Resolve(ctx context.Context, st store.Store, r Resolution, now time.Time) (m message.Message, retask bool, err error) {
	switch r.Outcome {
	case message.OutcomeSent:
	case message.OutcomeResend:
		if r.ProviderSID != "" {
			return message.Message{}, false, errs.E(errs.Invalid, "sending.Resolve: a message_sid goes only with outcome %q", message.OutcomeSent)
		}
	default:
		return message.Message{}, false, errs.E(errs.Invalid, "sending.Resolve: outcome %q: want %q or %q", r.Outcome, message.OutcomeSent, message.OutcomeResend)
	}
	if r.Attempts < 1 {
		return message.Message{}, false, errs.E(errs.Invalid, "sending.Resolve: attempts: the held attempt, as listed, is required")
	}
	if r.ProviderSID != "" {
		other, err := st.MessageByProviderSID(ctx, r.ProviderSID)
		switch {
		case err == nil && other.ID != r.MessageID:
			return message.Message{}, false, errs.E(errs.Conflict, "sending.Resolve: message_sid %s is recorded on another message", r.ProviderSID)
		case err != nil && !errs.Is(err, errs.NotExist):
			return message.Message{}, false, fmt.Errorf("sending.Resolve: %w", err)
		}
	}
	now = now.UTC()
	var held message.Message // the claim released, when resent
	var found message.Status
	var why string
	m, err = st.UpdateMessageInCampaign(ctx, r.MessageID, func(c campaign.Campaign, m *message.Message) error {
		held, found, why = message.Message{}, m.Status, ""
		if repeats(*m, r) {
			return store.Unchanged
		}
		switch {
		case m.Status != message.Reconcile:
			why = fmt.Sprintf("is %s, not awaiting resolution (only %s messages held for an operator are)", m.Status, message.Reconcile)
		case m.HeldAt == nil:
			why = "is still being reconciled, not yet held for an operator"
		case m.Attempts != r.Attempts:
			why = fmt.Sprintf("holds attempt %d, not %d", m.Attempts, r.Attempts)
		case slices.Contains(m.PriorSIDs, r.ProviderSID):
			why = fmt.Sprintf("refused %s at the provider's rate limit: that send is not this attempt", r.ProviderSID)
		}
		if why != "" {
			return errNotAwaiting
		}
		if r.Outcome == message.OutcomeResend && c.Status != campaign.Running && c.Status != campaign.Paused && c.Status != campaign.Cancelled {
			why = fmt.Sprintf("belongs to a campaign that is %s: nothing would send it", c.Status)
			return errStopped
		}
		held = *m
		m.Resolutions = append(m.Resolutions, message.Resolution{Outcome: r.Outcome, ProviderSID: r.ProviderSID, By: r.By, At: now, Attempts: r.Attempts, Note: r.Note})
		if r.Outcome == message.OutcomeResend && c.Status == campaign.Cancelled {
			// Not sent, and its campaign was cancelled: skipped as the
			// cancel skipped the others, so it leaves the operator's list.
			m.Status, m.SkipReason, m.HeldAt, m.UpdatedAt = message.Skipped, message.SkipCancelled, nil, now
			return nil
		}
		if r.Outcome == message.OutcomeSent {
			if r.ProviderSID != "" {
				m.ProviderSID = r.ProviderSID
			}
			m.Apply(message.ProviderUpdate{Status: message.Sent, At: now})
			m.UpdatedAt = now
			return nil
		}
		// A new claim generation: the next claim counts its attempt
		// afresh, and its task has a name of its own; it asks the
		// provider once more since the released claim before it sends.
		m.ResentFrom = m.ClaimedAt
		m.Status, m.ClaimedAt, m.ScheduledAt, m.HeldAt, m.UpdatedAt = message.Queued, nil, nil, nil, now
		m.TaskGeneration = now.UnixMilli()
		return nil
	})
	switch {
	case errs.Is(err, errs.NotExist):
		return message.Message{}, false, err
	case errors.Is(err, errNotAwaiting), errors.Is(err, errStopped):
		return message.Message{}, false, errs.E(errs.Conflict, "sending.Resolve: message %s %s", r.MessageID, why)
	case err != nil:
		return message.Message{}, false, fmt.Errorf("sending.Resolve: %w", err)
	}
	log := logging.FromContext(ctx).With("message_id", m.ID, "campaign_id", m.CampaignID, "outcome", r.Outcome, "attempts", r.Attempts, "by", r.By)
	if held.ID == "" {
		log.Info("operator's resolution repeated: answered as the first", "status", found)
	} else {
		log.Warn("operator resolved a message of unknown outcome", "provider_sid", r.ProviderSID, "note", r.Note)
	}
	if r.Outcome != message.OutcomeResend {
		return m, false, nil
	}
	if held.ClaimedAt != nil {
		// The operator says the provider never had it: the cap must not
		// count it. A failure only over-counts (see Sender.forget).
		if err := st.ForgetSend(ctx, held.Phone, held.ID, *held.ClaimedAt); err != nil {
			log.Warn("could not remove the unsent claim from the person's ledger", "error", phone.MaskIn(err.Error()))
		}
	}
	return m, m.Status == message.Queued && m.TaskGeneration != 0, nil
}

// repeats reports whether r is a decision m recorded on the same attempt.
func repeats(m message.Message, r Resolution) bool {
	for _, last := range slices.Backward(m.Resolutions) {
		if last.Attempts == r.Attempts {
			return last.Outcome == r.Outcome && (r.ProviderSID == "" || last.ProviderSID == r.ProviderSID)
		}
	}
	return false
}
