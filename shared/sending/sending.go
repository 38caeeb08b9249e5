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
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/channelpolicy"
	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sms"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/template"
)

// Completer is told when a message concludes, to complete its campaign
// when it was the last (campaignrun.Runner.CheckCompletion).
type Completer interface {
	CheckCompletion(ctx context.Context, campaignID string) error
}

// FailureWatch is told when the provider refuses a send, to pause the
// campaign when too many of its last sends failed
// (campaignrun.Runner.CheckFailures).
type FailureWatch interface {
	CheckFailures(ctx context.Context, campaignID string) error
}

// Pauser pauses a campaign (campaignrun.Runner.Pause): the provider
// refused our account or sender, which would fail every message alike.
type Pauser interface {
	Pause(ctx context.Context, id, by, why string) (campaign.Campaign, error)
}

// Sender sends queued messages.
type Sender struct {
	Store    store.Store
	Provider sms.Provider
	Campaign Completer
	// Failures, if set, watches the campaign's failure rate.
	Failures FailureWatch
	// Pauser, if set, pauses the campaign when the provider says we are
	// misconfigured (sms.Misconfigured); without it such a send is retried.
	Pauser Pauser
	// Queue takes the new task of a message deferred at send time.
	Queue sendqueue.Queue
	// StatusCallback is the status webhook's public URL.
	StatusCallback string
	// ReconcileAfter is how old a claim must be before the provider's
	// silence about it proves the send never happened: well above the
	// provider's call timeout (the Sender's config requires several), as
	// the claim's time is taken when its transaction commits, before the
	// call starts, and the provider's list can lag behind a send.
	ReconcileAfter time.Duration
	// UnknownOutcome is what happens to a claim the provider does not
	// list once ReconcileAfter has passed: sent again (ResendAfter, the
	// zero value) or held in RECONCILE for an operator (Hold).
	UnknownOutcome UnknownOutcome
	// FrequencyCap is the most business-initiated messages one person
	// gets in any compliance.FrequencyWindow, across campaigns; 0: no cap.
	// The claim enforces it, exactly however many sends race.
	FrequencyCap int
	Now          func() time.Time
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
	OutcomeDeferred   Outcome = "deferred"   // held for the end of quiet hours
	OutcomeHeld       Outcome = "held"       // its campaign is paused: a resume sends it
	OutcomeCancelled  Outcome = "cancelled"  // its campaign was cancelled: skipped
	// OutcomeAwaitingOperator: the outcome is unknown and the policy is
	// Hold: the message stays RECONCILE until an operator resolves it.
	OutcomeAwaitingOperator Outcome = "awaiting_operator"
)

// UnknownOutcome is the policy for a send whose outcome is unknown (the
// provider's answer was lost) and which the provider does not list.
type UnknownOutcome string

const (
	// ResendAfter sends again once evidence of the send can no longer
	// arrive: the claim is older than ReconcileAfter.
	ResendAfter UnknownOutcome = "resend_after"
	// Hold never sends again by itself: the message stays RECONCILE,
	// listed for an operator (Resolve), and its campaign does not complete.
	Hold UnknownOutcome = "hold"
)

// ParseUnknownOutcome reads a policy's name; "" is ResendAfter.
func ParseUnknownOutcome(v string) (UnknownOutcome, error) {
	switch u := UnknownOutcome(v); u {
	case "", ResendAfter:
		return ResendAfter, nil
	case Hold:
		return u, nil
	}
	return "", errs.E(errs.Invalid, "unknown outcome policy %q: want %s or %s", v, ResendAfter, Hold)
}

var (
	errNotClaimable = errors.New("message not claimable")
	errResumed      = errors.New("campaign running again")
	errHeld         = errors.New("outcome unknown: held for an operator")
)

// claimable reports whether a message in st waits for a send: queued,
// deferred past quiet hours, or held by a pause (a resume gives it a new
// task, which may arrive before the resume marks it queued).
func claimable(st message.Status) bool {
	return st == message.Queued || st == message.Deferred || st == message.Held
}

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
	// The caller's logger names the campaign and message already.
	log := logging.FromContext(ctx)
	listed := false // the provider's list was read in this delivery
	switch {
	case m.Status.Concluded():
		// Still check completion: the delivery that concluded it may have
		// failed just after, and this retry is the last word on it.
		return OutcomeDuplicate, s.concluded(ctx, m.CampaignID)
	case m.Status == message.Sending || m.Status == message.Reconcile:
		found, err := s.reconcile(ctx, m)
		if errors.Is(err, errHeld) {
			// Done with the task: nothing sends it until an operator says.
			log.Warn("outcome unknown and not listed by the provider: held for an operator (UNKNOWN_OUTCOME=hold)")
			return OutcomeAwaitingOperator, nil
		}
		if err != nil {
			return "", err
		}
		if found {
			log.Info("claim reconciled: the earlier attempt had sent it")
			return OutcomeReconciled, s.concluded(ctx, m.CampaignID)
		}
		// The provider never got it: the claim was released; go on.
		listed = true
	case m.Status == message.Pending:
		return "", errs.E(errs.Transient, "message %s is not queued yet", m.ID)
	}
	c, err := s.Store.GetCampaign(ctx, m.CampaignID)
	if err != nil {
		return "", fmt.Errorf("sending.Send: %w", err)
	}
	if c.Status == campaign.Paused || c.Status == campaign.Cancelled {
		return s.stop(ctx, m)
	}
	now := s.now()
	switch {
	case m.ScheduledAt != nil && m.ScheduledAt.After(now.Add(EarlyGrace)):
		// An older task for a message since deferred (quiet hours, or a
		// backoff after the provider's rate limit): the newer task sends
		// it. Make sure it exists (a deferral whose enqueue failed is
		// repaired here; an existing one is not made twice).
		if err := s.enqueueDeferred(ctx, queueOf(c), m, *m.ScheduledAt); err != nil {
			return "", err
		}
		return OutcomeDeferred, nil
	case m.ScheduledAt != nil && m.ScheduledAt.After(now):
		// Its own task a moment early by this instance's clock, or an
		// older one just before it: never before its time (a backoff is
		// kept to the second), and never deferred again to the same time
		// (the same task name, which Cloud Tasks would dedupe away): a
		// redelivery in a moment sends it.
		return "", errs.E(errs.Transient, "message %s is due at %s", m.ID, m.ScheduledAt.Format(time.RFC3339))
	}

	// A first look at the person, to skip without a claim and to judge
	// the window and quiet hours; the claim looks again.
	u, err := s.Store.GetUser(ctx, m.Phone)
	if err != nil && !errs.Is(err, errs.NotExist) {
		return "", fmt.Errorf("sending.Send: %w", err)
	}
	suppressed, serr := s.Store.Suppressed(ctx, []string{m.Phone})
	if serr != nil {
		return "", fmt.Errorf("sending.Send: %w", serr)
	}
	if reason, ok := withdrawn(store.Claim{Campaign: c, User: u, HasUser: err == nil, Suppressed: suppressed[m.Phone]}, m); ok {
		return s.skipUnclaimed(ctx, m, reason, "skipped: consent withdrawn before send")
	}

	// The channel policy again: free text goes only while the person's
	// window is open, and a deferral or a slow campaign can outlast it.
	if m.ContentSID == "" && !channelpolicy.Open(u.LastInboundAt, now) {
		return s.skipUnclaimed(ctx, m, message.SkipChannelPolicy, "skipped: the person's WhatsApp window closed before the send")
	}

	// Quiet hours again: a slow campaign can run into a recipient's night.
	window, err := c.QuietHours()
	if err != nil {
		return "", errs.Wrap(errs.Permanent, err, "sending.Send")
	}
	_, loc := compliance.Zone(u)
	if quiet, until := window.Quiet(now, loc); quiet {
		if err := s.deferUntil(ctx, queueOf(c), m, until); err != nil {
			return "", err
		}
		log.Info("deferred: quiet hours began before the send", "until", until)
		return OutcomeDeferred, nil
	}

	// The claim decides on what its own transaction reads. The campaign:
	// once a pause or a cancel has committed (and so been answered), no
	// claim succeeds, and the message is held or cancelled instead. The
	// person: a STOP or a suppression committed after the look above is
	// honoured. With a cap, the person's send ledger too, so racing
	// claims cannot pass the cap. The claim's time is taken by the store
	// in the attempt that commits (reconcile judges a claim's age by it,
	// and the provider is called only after that commit).
	limit := store.FrequencyCap{Limit: s.FrequencyCap, Window: compliance.FrequencyWindow}
	m, err = s.Store.ClaimMessage(ctx, m.ID, s.now, limit, func(cl store.Claim, m *message.Message) error {
		if !claimable(m.Status) {
			return errNotClaimable
		}
		if cl.Campaign.Status != campaign.Running {
			return stopIn(cl.Campaign, m, cl.At)
		}
		if reason, ok := withdrawn(cl, *m); ok {
			m.Status, m.SkipReason, m.UpdatedAt = message.Skipped, reason, cl.At
			return nil
		}
		if compliance.OverCap(s.FrequencyCap, cl.RecentSends) {
			m.Status, m.SkipReason, m.UpdatedAt = message.Skipped, message.SkipFrequencyCap, cl.At
			return nil
		}
		m.Status, m.ClaimedAt, m.UpdatedAt, m.HeldAt = message.Sending, &cl.At, cl.At, nil
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
	if m.Status != message.Sending {
		return s.stopped(ctx, m)
	}

	if m.ResentFrom != nil && !listed {
		// An operator said the last attempt was not sent: ask the
		// provider once more, since that attempt's claim and with no end,
		// before sending again (reconcile asked already when it ran: a
		// delivery makes at most two calls, a list and a send).
		if found, err := s.listedSince(ctx, m, *m.ResentFrom); err != nil || found {
			if err != nil {
				return "", err
			}
			log.Warn("an operator's resend found the earlier attempt's send at the provider: recorded, not sent again")
			return OutcomeReconciled, s.concluded(ctx, m.CampaignID)
		}
	}
	res, err := s.Provider.Send(ctx, sms.Request{
		To: m.Phone, Body: m.Body, ContentSID: m.ContentSID, ContentVariables: m.ContentVariables,
		StatusCallback: s.callback(m.ID, m.Attempts),
	})
	if err != nil {
		return s.failed(ctx, m, err)
	}
	at := s.now()
	if err := s.finishUnless(ctx, m.ID, res.SID, func(m *message.Message) {
		m.ProviderSID = res.SID
		m.Apply(message.ProviderUpdate{Status: message.Sent, At: at})
	}); err != nil {
		return "", err
	}
	log.Info("sent", "provider_sid", res.SID)
	return OutcomeSent, s.concluded(ctx, m.CampaignID)
}

// skipUnclaimed concludes m as skipped for reason, only while no delivery
// has claimed it: one claimed meanwhile may be on its way to the provider.
func (s *Sender) skipUnclaimed(ctx context.Context, seen message.Message, reason message.SkipReason, logMsg string) (Outcome, error) {
	_, err := s.Store.UpdateMessage(ctx, seen.ID, func(m *message.Message) error {
		if !claimable(m.Status) {
			return errNotClaimable
		}
		m.Status, m.SkipReason, m.UpdatedAt = message.Skipped, reason, s.now()
		return nil
	})
	if errors.Is(err, errNotClaimable) {
		return "", errs.E(errs.Transient, "message %s changed while skipping", seen.ID)
	}
	if err != nil {
		return "", fmt.Errorf("sending.Send: skip: %w", err)
	}
	logging.FromContext(ctx).Info(logMsg, "skip_reason", reason)
	return OutcomeSkipped, s.concluded(ctx, seen.CampaignID)
}

// stop holds or cancels a message whose campaign was found paused or
// cancelled, deciding on the campaign as it is in the same transaction; a
// campaign running again by then is a retry (the next delivery checks the
// message as usual).
func (s *Sender) stop(ctx context.Context, seen message.Message) (Outcome, error) {
	now := s.now()
	m, err := s.Store.UpdateMessageInCampaign(ctx, seen.ID, func(c campaign.Campaign, m *message.Message) error {
		if !claimable(m.Status) {
			return errNotClaimable
		}
		if c.Status == campaign.Running {
			return errResumed
		}
		return stopIn(c, m, now)
	})
	switch {
	case errors.Is(err, errNotClaimable):
		return "", errs.E(errs.Transient, "message %s changed while its campaign stopped", seen.ID)
	case errors.Is(err, errResumed):
		return "", errs.E(errs.Transient, "campaign of message %s resumed meanwhile", seen.ID)
	case err != nil:
		return "", fmt.Errorf("sending.stop: %w", err)
	}
	return s.stopped(ctx, m)
}

// stopIn moves m as its campaign c, no longer running, asks: held for a
// resume (keeping its due time), skipped for a cancel. A campaign that
// ended otherwise (failed) leaves it, and the task is dropped.
func stopIn(c campaign.Campaign, m *message.Message, now time.Time) error {
	switch c.Status {
	case campaign.Paused:
		if m.Status == message.Held {
			return store.Unchanged
		}
		m.Status, m.UpdatedAt = message.Held, now
	case campaign.Cancelled:
		m.Status, m.SkipReason, m.UpdatedAt = message.Skipped, message.SkipCancelled, now
	default:
		return errs.E(errs.Permanent, "campaign %s is %s: message %s not sent", c.ID, c.Status, m.ID)
	}
	return nil
}

// withdrawn reports why a person may not be sent to, if they may not: on
// the do-not-message list, or without consent (no user, STOP, OPT_OUT).
func withdrawn(p store.Claim, m message.Message) (message.SkipReason, bool) {
	switch {
	case p.Suppressed:
		return message.SkipSuppressed, true
	case !p.HasUser || p.User.Consent != consent.OptIn:
		return message.SkipConsentAtSend, true
	case p.User.MarketingOptOut != nil && marketingTemplate(p.Campaign, m):
		// Stopped marketing messages in WhatsApp since the fan-out.
		return message.SkipMarketingOptOut, true
	}
	return "", false
}

// marketingTemplate reports whether m goes as a marketing template: an
// approved template (a content SID; free text in the person's window is
// not one) of c's snapshot that is not utility (no category counts as
// marketing, as the content rules read it). Only those are kept from a
// person who stopped marketing messages.
func marketingTemplate(c campaign.Campaign, m message.Message) bool {
	if m.ContentSID == "" {
		return false
	}
	return c.Template == nil || c.Template.Category != template.Utility
}

// stopped reports what stop or the claim left a message as.
func (s *Sender) stopped(ctx context.Context, m message.Message) (Outcome, error) {
	log := logging.FromContext(ctx)
	switch {
	case m.Status == message.Held:
		log.Info("held: the campaign is paused")
		return OutcomeHeld, nil
	case m.SkipReason == message.SkipFrequencyCap:
		log.Info("skipped: the person reached the frequency cap", "cap", s.FrequencyCap)
		return OutcomeSkipped, s.concluded(ctx, m.CampaignID)
	case m.SkipReason == message.SkipSuppressed, m.SkipReason == message.SkipConsentAtSend,
		m.SkipReason == message.SkipMarketingOptOut:
		log.Info("skipped: consent withdrawn before the claim", "skip_reason", m.SkipReason)
		return OutcomeSkipped, s.concluded(ctx, m.CampaignID)
	}
	log.Info("skipped: the campaign was cancelled")
	return OutcomeCancelled, s.concluded(ctx, m.CampaignID)
}

// EarlyGrace is how far ahead of a deferred message's time its task is
// taken for a moment early (its instance's clock, Cloud Tasks' dispatch)
// and retried shortly, rather than for an older task whose newer one must
// exist. Either way nothing is sent before the message's time.
const EarlyGrace = time.Minute

// deferUntil holds a message for the end of quiet hours with a new task
// of its own, named for the time, so a redelivery makes it only once.
func (s *Sender) deferUntil(ctx context.Context, queueID string, m message.Message, until time.Time) error {
	if s.Queue == nil {
		return errs.E(errs.Transient, "sending: no queue to defer message %s", m.ID)
	}
	now := s.now()
	if _, err := s.Store.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		if !claimable(m.Status) {
			return errNotClaimable
		}
		m.Status, m.ScheduledAt, m.UpdatedAt = message.Deferred, &until, now
		if m.DeferredBy == "" {
			m.DeferredBy = message.DeferQuietHours
		}
		return nil
	}); err != nil {
		if errors.Is(err, errNotClaimable) {
			return errs.E(errs.Transient, "message %s changed while deferring", m.ID)
		}
		return fmt.Errorf("sending.deferUntil: %w", err)
	}
	return s.enqueueDeferred(ctx, queueID, m, until)
}

// enqueueDeferred makes the task of a message deferred to until, named
// for the time so that making it again is harmless.
func (s *Sender) enqueueDeferred(ctx context.Context, queueID string, m message.Message, until time.Time) error {
	if s.Queue == nil {
		return errs.E(errs.Transient, "sending: no queue to defer message %s", m.ID)
	}
	t := sendqueue.Task{Queue: queueID, CampaignID: m.CampaignID, MessageID: m.ID, At: until, Generation: until.Unix()}
	if _, err := s.Queue.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("sending.enqueueDeferred: %w", err)
	}
	return nil
}

// failed records a provider error. A rejection concludes the message
// (an unsubscribed person is set to STOP first); a misconfiguration
// pauses the campaign and holds the message; a transient error leaves the
// claim in place (the provider may have taken it) unless the provider
// certainly did not, and asks for a retry.
func (s *Sender) failed(ctx context.Context, m message.Message, err error) (Outcome, error) {
	log := logging.FromContext(ctx)
	var pe *sms.ProviderError
	hasPE := errors.As(err, &pe)
	if hasPE && pe.Class == sms.Misconfigured && s.Pauser != nil {
		return s.misconfigured(ctx, m, pe)
	}
	if errs.Is(err, errs.Permanent) {
		code, text := "", err.Error()
		if hasPE {
			code, text = pe.Code, pe.Message
		}
		if hasPE && pe.Class == sms.Unsubscribed {
			// Before the message concludes: a retry of a failed STOP must
			// find the message still claimed, not done.
			if err := s.unsubscribed(ctx, m); err != nil {
				return "", err
			}
		}
		at := s.now()
		if ferr := s.finish(ctx, m.ID, func(m *message.Message) {
			m.Status, m.ErrorCode, m.ErrorText, m.FailedAt = message.Failed, code, text, &at
		}); ferr != nil {
			return "", ferr
		}
		log.Warn("provider rejected the message", "error_code", code)
		// Refused at the API, nothing reached the person: the cap must not
		// count it. (A failure a status callback reports later keeps its
		// entry: WhatsApp counted that message.)
		s.forget(ctx, m)
		if s.Failures != nil {
			if err := s.Failures.CheckFailures(ctx, m.CampaignID); err != nil {
				log.Warn("could not check the campaign's failure rate", "error", err)
			}
		}
		return OutcomeFailed, s.concluded(ctx, m.CampaignID)
	}
	if hasPE && pe.NotCreated {
		// Throttled, or the sender's queue full: certainly not accepted,
		// so the claim (and its place in the person's ledger) can go.
		if rerr := s.release(ctx, m); rerr != nil {
			return "", rerr
		}
	}
	log.Warn("provider call failed; will retry", "error", err)
	return "", errs.Wrap(errs.Transient, err, "sending.Send")
}

// unsubscribed records the STOP the provider holds for m's person, with
// the message as its reference. A person we do not know has nothing to set.
func (s *Sender) unsubscribed(ctx context.Context, m message.Message) error {
	_, changed, err := s.Store.SetConsent(ctx, consent.Change{Phone: m.Phone, To: consent.Stop,
		Source: consent.SourceProvider, Ref: m.ID, At: s.now()})
	switch {
	case errs.Is(err, errs.NotExist):
		return nil
	case err != nil:
		// A store's error may quote the user's path, users/{phone}.
		return errs.E(errs.Transient, "sending: set STOP after the provider's unsubscribed: %s", phone.MaskIn(err.Error()))
	}
	if changed {
		logging.FromContext(ctx).Info("person set to STOP: the provider says they unsubscribed")
	}
	return nil
}

// misconfigured pauses m's campaign with the provider's reason, since
// every message would be refused alike, and holds m for the resume. The
// provider made no message, so the claim is released first.
func (s *Sender) misconfigured(ctx context.Context, m message.Message, pe *sms.ProviderError) (Outcome, error) {
	if err := s.release(ctx, m); err != nil {
		return "", err
	}
	why := fmt.Sprintf("provider refused our account or sender: error %s: %s", pe.Code, pe.Message)
	if _, err := s.Pauser.Pause(ctx, m.CampaignID, campaign.BySystem, why); err != nil && !errs.Is(err, errs.Conflict) {
		return "", fmt.Errorf("sending.misconfigured: %w", err)
	}
	logging.FromContext(ctx).Error("campaign paused: the provider refused our account or sender", "error_code", pe.Code)
	// The claim was released, so the message waits again: hold it.
	return s.stop(ctx, m)
}

// reconcile settles a claim left without an outcome. It reports found when
// the provider holds the message (recording it as sent). When the provider
// has nothing and the claim is old enough that no call can still land, the
// claim is released so the caller may send. Every step acts only on the
// claim it looked at: a newer claim belongs to another delivery.
func (s *Sender) reconcile(ctx context.Context, seen message.Message) (bool, error) {
	cur, err := s.Store.UpdateMessage(ctx, seen.ID, func(m *message.Message) error {
		if (m.Status != message.Sending && m.Status != message.Reconcile) || !sameClaim(m, seen) {
			return errNotClaimable
		}
		if m.Status == message.Reconcile {
			return store.Unchanged
		}
		m.Status, m.UpdatedAt = message.Reconcile, s.now()
		return nil
	})
	if errors.Is(err, errNotClaimable) {
		return false, errs.E(errs.Transient, "message %s changed while reconciling", seen.ID)
	}
	if err != nil {
		return false, fmt.Errorf("sending.reconcile: %w", err)
	}
	claimed := cur.UpdatedAt
	if cur.ClaimedAt != nil {
		claimed = *cur.ClaimedAt
	}
	since := claimed
	if cur.ResentFrom != nil && cur.ResentFrom.Before(since) {
		// After an operator's resend, the held attempt's send counts too,
		// whenever it was made (as the claim's own check before sending).
		since = *cur.ResentFrom
	}
	sent, err := s.Provider.SentTo(ctx, cur.Phone, since.Add(-ClockSkew))
	if err != nil {
		return false, fmt.Errorf("sending.reconcile: %w", err)
	}
	found := candidates(sent, cur, claimed, s.ReconcileAfter)
	if cur.ResentFrom != nil {
		found = append(found, candidates(sent, cur, *cur.ResentFrom, 0)...)
	}
	if took, err := s.takeListed(ctx, cur, found); took || err != nil {
		return took, err
	}
	if s.now().Sub(claimed) < s.ReconcileAfter {
		return false, errs.E(errs.Transient, "message %s: claim of %s not yet provably unsent", cur.ID, claimed.Format(time.RFC3339))
	}
	if s.UnknownOutcome == Hold {
		return false, s.hold(ctx, cur)
	}
	return false, s.release(ctx, cur)
}

// hold marks the claim seen as held for an operator (HeldAt), only while
// the message still holds that claim in RECONCILE: only a held claim may
// be resolved, never one a delivery is still reconciling. It returns
// errHeld once the claim is held.
func (s *Sender) hold(ctx context.Context, seen message.Message) error {
	_, err := s.Store.UpdateMessage(ctx, seen.ID, func(m *message.Message) error {
		if m.Status != message.Reconcile || !sameClaim(m, seen) {
			return errNotClaimable
		}
		if m.HeldAt != nil {
			return store.Unchanged
		}
		now := s.now()
		m.HeldAt, m.UpdatedAt = &now, now
		return nil
	})
	if errors.Is(err, errNotClaimable) {
		return errs.E(errs.Transient, "message %s changed while holding it for an operator", seen.ID)
	}
	if err != nil {
		return fmt.Errorf("sending.hold: %w", err)
	}
	return errHeld
}

// recordListed records x, the provider's listed send found for the claim
// seen, in one transaction that still finds that claim unresolved: a
// callback (a 63018 retry, a failure) or another delivery that moved the
// message meanwhile owns it, and the task is retried to look again. A
// send the provider lists as failed is recorded FAILED with its code,
// never SENT.
func (s *Sender) recordListed(ctx context.Context, seen message.Message, x sms.Sent) error {
	at := x.DateCreated
	if at.IsZero() {
		at = s.now()
	}
	failed := x.Status == "failed" || x.Status == "undelivered"
	_, err := s.Store.UpdateMessage(ctx, seen.ID, func(m *message.Message) error {
		switch {
		case m.Status != message.Sending && m.Status != message.Reconcile, !sameClaim(m, seen),
			slices.Contains(m.PriorSIDs, x.SID), m.ProviderSID != "" && m.ProviderSID != x.SID:
			return errNotClaimable
		}
		m.ProviderSID = x.SID
		if failed {
			m.Apply(message.ProviderUpdate{Status: message.Failed, ErrorCode: x.ErrorCode, At: at})
		} else {
			m.Apply(message.ProviderUpdate{Status: message.Sent, At: at})
		}
		m.UpdatedAt = s.now()
		return nil
	})
	if errors.Is(err, errNotClaimable) {
		return errs.E(errs.Transient, "message %s changed while recording the provider's listed send", seen.ID)
	}
	if err != nil {
		return fmt.Errorf("sending.reconcile: %w", err)
	}
	if failed {
		logging.FromContext(ctx).Warn("claim reconciled: the earlier attempt's send failed at the provider", "provider_sid", x.SID, "error_code", x.ErrorCode)
	}
	return nil
}

// listedSince looks for m's send in the provider's list since from (less
// ClockSkew), with no end, for the claim m holds; found, it records it.
// When the list cannot be read the claim is released (nothing was sent
// for it) and the task retried.
func (s *Sender) listedSince(ctx context.Context, m message.Message, from time.Time) (bool, error) {
	sent, err := s.Provider.SentTo(ctx, m.Phone, from.Add(-ClockSkew))
	if err != nil {
		if rerr := s.release(ctx, m); rerr != nil {
			return false, rerr
		}
		return false, errs.Wrap(errs.Transient, err, "sending.Send: list before a resend")
	}
	return s.takeListed(ctx, m, candidates(sent, m, from, 0))
}

// takeListed records the first of found, the provider's sends that may be
// seen's, that no other message records (the same text to the same person
// may be another campaign's): checked first by a lookup, then by the
// recording transaction itself, which refuses a sid another message took
// meanwhile (Conflict). It reports whether one was recorded.
func (s *Sender) takeListed(ctx context.Context, seen message.Message, found []sms.Sent) (bool, error) {
	for _, x := range found {
		if other, err := s.Store.MessageByProviderSID(ctx, x.SID); err == nil && other.ID != seen.ID {
			continue
		} else if err != nil && !errs.Is(err, errs.NotExist) {
			return false, fmt.Errorf("sending.reconcile: %w", err)
		}
		err := s.recordListed(ctx, seen, x)
		if errs.Is(err, errs.Conflict) {
			continue
		}
		return err == nil, err
	}
	return false, nil
}

// ClockSkew is how far the provider's clock and ours may disagree when
// the time it lists a send as created at is set against a claim's: both
// are kept by NTP within milliseconds, and the provider's times are whole
// seconds. More only widens what reconciliation may take for a send.
const ClockSkew = 5 * time.Second

// candidates returns the provider's sends that may be m, the likeliest
// first. The provider lists only what our sender sent to m's number (see
// sms.Provider.SentTo); of those, a send counts only if it was created in
// the window our call could have made it in: from the claim to within
// after it (ReconcileAfter: the claim's age past which the call cannot
// land any more; 0, no end), give or take ClockSkew; and never one of m's earlier attempts
// (PriorSIDs, a retry after the provider's rate limit).
//
// Free text must be the same text. A template's text is the provider's
// rendering of the approved content, which our copy of it need not match
// to the character (whitespace, punctuation), and the provider lists no
// content SID: so for a ContentSID message a send with another text may
// be it too, if it was made in the same window and says every value of
// its content variables (never for a template without variables, which
// any send of ours would match); those with our exact text (or none kept)
// come first, then the others, oldest first. The caller takes the first
// that no other message of ours records.
//
// The trade-off: a send to this person in the window, saying the same
// values, that no message of ours records can be taken for this one when
// it is not (another of our messages to them whose answer was lost too,
// or a send made outside the platform from the same sender). Then this
// message is recorded sent and never goes, rather than the same template
// twice. A reply to a keyword says none of the person's values.
func candidates(sent []sms.Sent, m message.Message, claimed time.Time, within time.Duration) []sms.Sent {
	var exact, loose []sms.Sent
	from := claimed.Truncate(time.Second)
	until := claimed.Add(within + ClockSkew)
	for _, x := range sent {
		switch {
		case slices.Contains(m.PriorSIDs, x.SID):
			continue // an earlier attempt's, refused at the provider's limit
		case x.DateCreated.IsZero() || x.DateCreated.Before(from.Add(-ClockSkew)) || (within > 0 && x.DateCreated.After(until)):
			continue
		}
		switch {
		case m.ContentSID == "" && x.Body == m.Body, m.ContentSID != "" && (x.Body == m.Body || x.Body == ""):
			exact = append(exact, x)
		case m.ContentSID != "" && len(m.ContentVariables) > 0 && saysAll(x.Body, m.ContentVariables):
			// A template with no values has nothing to tell its send by:
			// only our exact text or none is taken for it.
			loose = append(loose, x)
		}
	}
	slices.SortStableFunc(loose, func(a, b sms.Sent) int { return a.DateCreated.Compare(b.DateCreated) })
	return append(exact, loose...)
}

// saysAll reports whether text holds every value of vars.
func saysAll(text string, vars map[string]string) bool {
	for _, v := range vars {
		if !strings.Contains(text, v) {
			return false
		}
	}
	return true
}

// sameClaim reports whether m still holds the claim seen held.
func sameClaim(m *message.Message, seen message.Message) bool {
	switch {
	case m.ClaimedAt == nil || seen.ClaimedAt == nil:
		return m.ClaimedAt == nil && seen.ClaimedAt == nil && m.Attempts == seen.Attempts
	}
	return m.ClaimedAt.Equal(*seen.ClaimedAt) && m.Attempts == seen.Attempts
}

// release returns the claim seen held to QUEUED, unless it has changed.
func (s *Sender) release(ctx context.Context, seen message.Message) error {
	_, err := s.Store.UpdateMessage(ctx, seen.ID, func(m *message.Message) error {
		if (m.Status != message.Sending && m.Status != message.Reconcile) || !sameClaim(m, seen) {
			return errNotClaimable
		}
		m.Status, m.ClaimedAt, m.HeldAt, m.UpdatedAt = message.Queued, nil, nil, s.now()
		return nil
	})
	if errors.Is(err, errNotClaimable) {
		return errs.E(errs.Transient, "message %s changed while releasing its claim", seen.ID)
	}
	if err != nil {
		return fmt.Errorf("sending.release: %w", err)
	}
	// The provider certainly does not have it: the next claim counts
	// afresh.
	s.forget(ctx, seen)
	return nil
}

// forget removes m's claim from its person's send ledger. A failure only
// leaves the cap counting a send that never happened (stricter, never
// looser), so it is logged, not retried.
func (s *Sender) forget(ctx context.Context, m message.Message) {
	if m.ClaimedAt == nil {
		return
	}
	if err := s.Store.ForgetSend(ctx, m.Phone, m.ID, *m.ClaimedAt); err != nil {
		// A store's error may quote the ledger's path, send_ledger/{phone}.
		logging.FromContext(ctx).Warn("could not remove the refused send from the person's ledger", "error", phone.MaskIn(err.Error()))
	}
}

// finish records an outcome on a message that has not concluded.
func (s *Sender) finish(ctx context.Context, id string, set func(*message.Message)) error {
	return s.finishUnless(ctx, id, "", set)
}

// finishUnless is finish for the send the provider made as sid (any
// sid when ""), unless the provider's rate limit already refused it (its
// status callback outran this answer) and a new attempt is under way:
// that attempt is not this send's to record. A message concluded as
// another send keeps sid as a duplicate (evidence it went twice).
func (s *Sender) finishUnless(ctx context.Context, id, sid string, set func(*message.Message)) error {
	now := s.now()
	dup := false
	m, err := s.Store.UpdateMessage(ctx, id, func(m *message.Message) error {
		dup = false
		switch {
		case slices.Contains(m.PriorSIDs, sid):
			return store.Unchanged
		case m.Status.Concluded() && sid != "" && m.ProviderSID == "":
			m.ProviderSID, m.UpdatedAt = sid, now // an operator's "sent" without the sid
			return nil
		case m.Status.Concluded() && sid != "" && m.ProviderSID != sid && !slices.Contains(m.DuplicateSIDs, sid):
			m.DuplicateSIDs, m.UpdatedAt, dup = append(m.DuplicateSIDs, sid), now, true
			return nil
		case m.Status.Concluded():
			return store.Unchanged
		}
		set(m)
		m.UpdatedAt = now
		return nil
	})
	if err != nil {
		return fmt.Errorf("sending.finish: %w", err)
	}
	if dup {
		logging.FromContext(ctx).Error("sent twice: the message was concluded as another send; recorded in duplicate_sids",
			"provider_sid", sid, "recorded_sid", m.ProviderSID)
	}
	return nil
}

// callback is the status callback URL for attempt of message id: naming
// the message lets its statuses find it without the sid, even before the
// sid is recorded; naming the attempt (the claim generation) keeps an
// earlier attempt's news from moving a later one.
func (s *Sender) callback(id string, attempt int) string {
	if s.StatusCallback == "" {
		return ""
	}
	// The query goes before a fragment (Twilio's connection overrides).
	base, fragment, hasFragment := strings.Cut(s.StatusCallback, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	out := base + sep + "message_id=" + url.QueryEscape(id) + "&attempt=" + strconv.Itoa(attempt)
	if hasFragment {
		out += "#" + fragment
	}
	return out
}

// queueOf is the id of the campaign's send queue.
func queueOf(c campaign.Campaign) string { return sendqueue.QueueID(c.ID, c.QueueGeneration) }

func (s *Sender) concluded(ctx context.Context, campaignID string) error {
	if s.Campaign == nil {
		return nil
	}
	return s.Campaign.CheckCompletion(ctx, campaignID)
}
