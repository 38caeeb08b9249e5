package sending

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	MessageID   string
	Outcome     message.Outcome
	ProviderSID string // with OutcomeSent only; optional
	By          string // who decided, for the audit
}

var errNotAwaiting = errors.New("message not awaiting resolution")

// Resolve applies r to its message, which must be RECONCILE, and records
// the decision on it (who, when). Sent records it SENT; resend releases
// the claim (and its place in the person's send ledger) and leaves the
// message QUEUED with a task generation of its own: retask reports that
// the caller must have that task made (campaignrun.Runner.RetaskSoon).
//
// The same decision again is answered as the first was (retask again
// while the message still waits for its task: making it twice is
// harmless); a message not awaiting resolution otherwise is Conflict, as
// is a sid another message records.
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
	m, err = st.UpdateMessage(ctx, r.MessageID, func(m *message.Message) error {
		found = m.Status
		if m.Status != message.Reconcile {
			if repeats(*m, r) {
				return store.Unchanged
			}
			return errNotAwaiting
		}
		held = *m
		m.Resolutions = append(m.Resolutions, message.Resolution{Outcome: r.Outcome, ProviderSID: r.ProviderSID, By: r.By, At: now})
		if r.Outcome == message.OutcomeSent {
			if r.ProviderSID != "" {
				m.ProviderSID = r.ProviderSID
			}
			m.Apply(message.ProviderUpdate{Status: message.Sent, At: now})
			m.UpdatedAt = now
			return nil
		}
		// A new claim generation: the next claim counts its attempt
		// afresh, and its task has a name of its own.
		m.Status, m.ClaimedAt, m.ScheduledAt, m.UpdatedAt = message.Queued, nil, nil, now
		m.TaskGeneration = now.UnixMilli()
		return nil
	})
	switch {
	case errs.Is(err, errs.NotExist):
		return message.Message{}, false, err
	case errors.Is(err, errNotAwaiting):
		return message.Message{}, false, errs.E(errs.Conflict, "sending.Resolve: message %s is %s, not awaiting resolution (only %s messages are)", r.MessageID, found, message.Reconcile)
	case err != nil:
		return message.Message{}, false, fmt.Errorf("sending.Resolve: %w", err)
	}
	if r.Outcome != message.OutcomeResend {
		return m, false, nil
	}
	if held.ClaimedAt != nil {
		// The operator says the provider never had it: the cap must not
		// count it. A failure only over-counts (see Sender.forget).
		if err := st.ForgetSend(ctx, held.Phone, held.ID, *held.ClaimedAt); err != nil {
			logging.FromContext(ctx).Warn("could not remove the unsent claim from the person's ledger", "error", phone.MaskIn(err.Error()))
		}
	}
	return m, m.Status == message.Queued && m.TaskGeneration != 0, nil
}

// repeats reports whether r is the decision m last recorded.
func repeats(m message.Message, r Resolution) bool {
	if len(m.Resolutions) == 0 {
		return false
	}
	last := m.Resolutions[len(m.Resolutions)-1]
	return last.Outcome == r.Outcome && (r.ProviderSID == "" || last.ProviderSID == r.ProviderSID)
}
