// Package deliverystatus applies the provider's news about sent messages:
// forward only, each stage recorded once, so callbacks that arrive late,
// twice or out of order change nothing they should not. The Webhooks
// function reads the provider's callbacks into Callbacks.
package deliverystatus

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/template"
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
	// Attempt is the claim generation that made the send (named in the
	// callback URL beside MessageID; 0 when not named): news of an earlier
	// attempt than the message's current one is evidence only.
	Attempt int
	// Update is the news; Update.At is when it reached us.
	Update message.ProviderUpdate
}

// earlier reports whether c is about an earlier attempt than m's current
// one: an unknown outcome given up on (resent), whose send was made after
// all.
func (c Callback) earlier(m message.Message) bool {
	return c.Attempt != 0 && c.Attempt < m.Attempts
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
	if err != nil || c.earlier(m) {
		return m, err
	}
	if m.ProviderSID != "" && m.ProviderSID != c.ProviderSID && !slices.Contains(m.PriorSIDs, c.ProviderSID) {
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

// Retrier has the task of a message given a new attempt made
// (campaignrun.Runner.RetaskSoon).
type Retrier interface {
	RetaskSoon(ctx context.Context, campaignID string, ids []string) error
}

// A send the provider failed for its rate or portfolio limit
// (message.FailureRateLimited, Twilio's 63018) is tried again, as a new
// claim generation, after RateLimitBackoff, doubled for each attempt
// before it, at most MaxRateLimitedRetries times; then it is FAILED with
// the code. The waits add up to about half an hour (1+2+4+8+16 minutes).
const (
	RateLimitBackoff      = time.Minute
	MaxRateLimitedRetries = 5
)

// rateLimitWait is how long the retry after n earlier ones waits.
func rateLimitWait(n int) time.Duration { return RateLimitBackoff << n }

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
	// Retries, if set, has a rate-limited send tried again (see
	// RateLimitBackoff); without it, such a send is FAILED at once.
	Retries Retrier
	// MarketingOptOutCodes are the provider's error codes that, failing
	// a marketing template, say the person stopped this business's
	// marketing messages in WhatsApp (MARKETING_OPT_OUT_CODES).
	MarketingOptOutCodes []string
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
	if slices.Contains(m.PriorSIDs, c.ProviderSID) {
		if a.Retries != nil && c.Update.Class == message.FailureRateLimited && m.Status == message.Deferred && m.PriorSIDs[len(m.PriorSIDs)-1] == c.ProviderSID {
			// The callback that made the attempt now waiting, delivered
			// again (perhaps because asking for its task failed): ask again.
			if err := a.Retries.RetaskSoon(ctx, m.CampaignID, []string{m.ID}); err != nil {
				return fmt.Errorf("deliverystatus.Apply: retry: %w", err)
			}
			return nil
		}
		// An earlier attempt's news: never moves the attempt since.
		logging.FromContext(ctx).Info("status of an earlier attempt ignored", "message_id", m.ID, "message_sid", c.ProviderSID, "status", c.Update.Status)
		return nil
	}
	if c.earlier(m) {
		return a.duplicate(ctx, m, c)
	}
	now := a.now()
	failed := false                    // by this callback: a redelivered one checks nothing
	var before, after *message.Message // the attempt given up and the new one, when retried
	apply := func(cp *campaign.Campaign, m *message.Message) error {
		// A retried transaction decides afresh: an attempt that lost to a
		// concurrent write must not leave its answer behind.
		failed, before, after = false, nil, nil
		if slices.Contains(m.PriorSIDs, c.ProviderSID) || c.earlier(*m) {
			return store.Unchanged // moved to a later attempt meanwhile: the next delivery sees it
		}
		was := *m
		changed := false
		if m.ProviderSID == "" {
			// The status outran the sender's own record of the send.
			m.ProviderSID, changed = c.ProviderSID, true
		}
		if cp != nil && a.retry(*cp, m, c, now) {
			before, after = &was, m
			return nil
		}
		if !m.Apply(c.Update) && !changed {
			return store.Unchanged
		}
		failed = was.Status != message.Failed && m.Status == message.Failed
		return nil
	}
	if a.Retries != nil && c.Update.Status == message.Failed && c.Update.Class == message.FailureRateLimited {
		// Whether it may be tried again depends on its campaign: read in
		// the same transaction (only for such a failure, a rare one).
		_, err = a.Store.UpdateMessageInCampaign(ctx, m.ID, func(cp campaign.Campaign, m *message.Message) error { return apply(&cp, m) })
	} else {
		_, err = a.Store.UpdateMessage(ctx, m.ID, func(m *message.Message) error { return apply(nil, m) })
	}
	if err != nil {
		return fmt.Errorf("deliverystatus.Apply: %w", err)
	}
	optedOut, err := a.marketingOptOut(ctx, c, m)
	if err != nil {
		return fmt.Errorf("deliverystatus.Apply: %w", err)
	}
	if optedOut {
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
	if after != nil {
		return a.retried(ctx, *before, *after)
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

// duplicate records the send an earlier attempt of m made (c's sid) as
// evidence, never moving the current attempt: a send whose outcome was
// unknown and given up on (an operator's resend, resend_after) went after
// all, so the person may have m twice. Logged at ERROR unless it failed.
func (a *Applier) duplicate(ctx context.Context, m message.Message, c Callback) error {
	log := logging.FromContext(ctx).With("message_id", m.ID, "campaign_id", m.CampaignID, "message_sid", c.ProviderSID,
		"attempt", c.Attempt, "current_attempt", m.Attempts, "status", c.Update.Status)
	recorded := false
	_, err := a.Store.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		recorded = false
		if m.KnowsSID(c.ProviderSID) || slices.Contains(m.DuplicateSIDs, c.ProviderSID) {
			return store.Unchanged
		}
		m.DuplicateSIDs, recorded = append(m.DuplicateSIDs, c.ProviderSID), true
		return nil
	})
	if err != nil {
		return fmt.Errorf("deliverystatus.Apply: %w", err)
	}
	switch {
	case !recorded:
		log.Info("status of an earlier attempt ignored")
	case c.Update.Status == message.Failed:
		log.Warn("an earlier attempt of unknown outcome was sent after all, and failed: recorded as evidence")
	default:
		log.Error("sent twice: an earlier attempt of unknown outcome was sent after all; recorded in duplicate_sids")
	}
	return nil
}

func (a *Applier) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// retry makes m, failed by c for the provider's rate limit, a new attempt
// after a backoff, when it may have one: a Retries to make its task, its
// campaign still running or paused (a completed one has released its
// queue), the send not delivered, and attempts left. The attempt's sid
// joins PriorSIDs, whose late news is ignored; the message waits DEFERRED
// until the backoff ends, with a task of that time's generation (as a
// quiet-hours deferral has), and its next claim is a new generation.
func (a *Applier) retry(c campaign.Campaign, m *message.Message, cb Callback, now time.Time) bool {
	u := cb.Update
	switch {
	case a.Retries == nil, u.Status != message.Failed, u.Class != message.FailureRateLimited,
		c.Status != campaign.Running && c.Status != campaign.Paused,
		m.Status == message.Failed, m.DeliveredAt != nil, m.ProviderSID != cb.ProviderSID,
		m.RateLimitedRetries >= MaxRateLimitedRetries,
		strings.HasPrefix(m.Phone, erasure.MarkerPrefix): // its person was erased
		return false
	}
	at := now.Add(rateLimitWait(m.RateLimitedRetries)).Truncate(time.Second)
	m.PriorSIDs = append(m.PriorSIDs, m.ProviderSID)
	m.RateLimitedRetries++
	m.Status, m.ProviderSID, m.ScheduledAt, m.TaskGeneration = message.Deferred, "", &at, at.Unix()
	m.ClaimedAt, m.SentAt, m.ErrorCode, m.ErrorText, m.UpdatedAt = nil, nil, "", "", now
	return true
}

// retried follows a retry's write: the given-up attempt's place in the
// person's send ledger is given back (WhatsApp refused it for our limit,
// so it reached no one), and the new attempt's task asked for. A failure
// of the first only over-counts the cap; of the second, the callback is
// delivered again (the message waits with the same generation, so asking
// again is harmless) and the stranded-message sweep makes it too.
func (a *Applier) retried(ctx context.Context, before, after message.Message) error {
	log := logging.FromContext(ctx).With("message_id", after.ID, "campaign_id", after.CampaignID)
	if before.ClaimedAt != nil {
		if err := a.Store.ForgetSend(ctx, before.Phone, before.ID, *before.ClaimedAt); err != nil {
			log.Warn("could not give back the rate-limited send's place in the person's ledger", "error", phone.MaskIn(err.Error()))
		}
	}
	if err := a.Retries.RetaskSoon(ctx, after.CampaignID, []string{after.ID}); err != nil {
		return fmt.Errorf("deliverystatus.Apply: retry: %w", err)
	}
	log.Warn("rate-limited by the provider: a new attempt after a backoff", "attempt", after.RateLimitedRetries, "at", after.ScheduledAt)
	return nil
}

// marketingOptOut reports whether c says the person of m stopped our
// marketing messages: a failure with one of MarketingOptOutCodes of a
// marketing template (a content SID, its campaign's template not
// utility; no category counts as marketing). The same code on anything
// else records nothing.
func (a *Applier) marketingOptOut(ctx context.Context, c Callback, m message.Message) (bool, error) {
	if c.Update.Status != message.Failed || m.Phone == "" || m.ContentSID == "" ||
		!slices.Contains(a.MarketingOptOutCodes, c.Update.ErrorCode) {
		return false, nil
	}
	camp, err := a.Store.GetCampaign(ctx, m.CampaignID)
	if errs.Is(err, errs.NotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return camp.Template == nil || camp.Template.Category != template.Utility, nil
}
