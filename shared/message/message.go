// Package message is one campaign message to one person, and the order in
// which its status may move.
package message

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// Status is where a message is in its life.
type Status string

const (
	Pending   Status = "PENDING"   // a recipient; compliance not yet checked
	Deferred  Status = "DEFERRED"  // held for the end of quiet hours
	Held      Status = "HELD"      // its campaign is paused: sent after a resume, by a new task
	Queued    Status = "QUEUED"    // a send task exists
	Sending   Status = "SENDING"   // claimed by the sender; provider call under way
	Reconcile Status = "RECONCILE" // claimed, outcome unknown: check the provider before any resend
	Sent      Status = "SENT"      // the provider accepted it
	Delivered Status = "DELIVERED"
	Read      Status = "READ"
	Failed    Status = "FAILED"
	Skipped   Status = "SKIPPED" // compliance said no; see SkipReason
)

// SkipReason says why compliance did not send a message.
type SkipReason string

const (
	SkipNoConsent     SkipReason = "no_consent"
	SkipSuppressed    SkipReason = "suppressed" // on the global do-not-message list
	SkipMissingVars   SkipReason = "unresolved_placeholders"
	SkipInvalidPhone  SkipReason = "invalid_phone"
	SkipUnknownUser   SkipReason = "unknown_user"
	SkipConsentAtSend SkipReason = "consent_revoked_before_send"
	SkipCancelled     SkipReason = "cancelled" // its campaign was cancelled before it was sent
	// The content step's other reasons (shared/content).
	SkipContentEmpty   SkipReason = "content_empty"
	SkipContentTooLong SkipReason = "content_too_long"
	SkipContentBlocked SkipReason = "content_blocked"
	SkipOptOutMissing  SkipReason = "opt_out_missing"
	// SkipChannelPolicy: free text for a person outside their 24-hour
	// WhatsApp window, from a template with no approved content SID.
	SkipChannelPolicy SkipReason = "channel_policy"
	// SkipFrequencyCap: the person already had FREQUENCY_CAP_PER_24H
	// business-initiated messages in the last 24 hours, across campaigns.
	SkipFrequencyCap SkipReason = "frequency_cap"
	// SkipMarketingOptOut: a marketing template for a person who stopped
	// this business's marketing messages in WhatsApp (user.MarketingOptOut).
	SkipMarketingOptOut SkipReason = "marketing_opt_out"
	// SkipErased: the person was erased before the message was sent
	// (shared/erasure).
	SkipErased SkipReason = "erased"
)

// SkipReasons lists every SkipReason above: a store counts each of them
// with its own aggregation, and one missing here sends the campaign
// summary to a capped tally (store/gcpfirestore CountMessages).
// TestSkipReasons fails when a constant is added without it.
var SkipReasons = []SkipReason{
	SkipNoConsent, SkipSuppressed, SkipMissingVars, SkipInvalidPhone,
	SkipUnknownUser, SkipConsentAtSend, SkipCancelled,
	SkipContentEmpty, SkipContentTooLong, SkipContentBlocked, SkipOptOutMissing,
	SkipChannelPolicy, SkipFrequencyCap, SkipMarketingOptOut, SkipErased,
}

// DeferReason says which step first deferred a message (DeferredBy).
type DeferReason string

// DeferQuietHours: the recipient's quiet hours.
const DeferQuietHours DeferReason = "quiet_hours"

// DeferReasons lists every DeferReason: a store counts each with its own
// aggregation.
var DeferReasons = []DeferReason{DeferQuietHours}

// rank orders statuses so that they only move forward.
var rank = map[Status]int{
	Pending: 0, Deferred: 1, Held: 1, Queued: 2, Sending: 3, Reconcile: 4,
	Sent: 5, Delivered: 6, Read: 7,
}

// Unsent lists the statuses of a message no send has started for: what
// a cancel concludes as skipped.
var Unsent = []Status{Pending, Deferred, Held, Queued}

// Concluded reports whether the send is over: what follows (delivery,
// read) is the provider's news, not our work.
func (s Status) Concluded() bool {
	switch s {
	case Sent, Delivered, Read, Failed, Skipped:
		return true
	}
	return false
}

// Message is one send of one campaign to one person.
type Message struct {
	ID         string     `json:"id"`
	CampaignID string     `json:"campaign_id"`
	Phone      string     `json:"phone_number"`
	Status     Status     `json:"status"`
	SkipReason SkipReason `json:"skip_reason,omitempty"`
	// DeferredBy is the step that first deferred the message, kept
	// after it is sent: what the summary counts by step.
	DeferredBy  DeferReason `json:"deferred_by,omitempty"`
	Body        string      `json:"-"` // rendered content; never logged or listed
	ProviderSID string      `json:"provider_sid"`
	ErrorCode   string      `json:"error_code"`
	ErrorText   string      `json:"error_message,omitempty"`
	Attempts    int         `json:"attempts,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
	ScheduledAt *time.Time  `json:"scheduled_at,omitempty"` // when its task is due
	QueuedAt    *time.Time  `json:"queued_at,omitempty"`
	ClaimedAt   *time.Time  `json:"claimed_at,omitempty"`
	SentAt      *time.Time  `json:"sent_at,omitempty"`
	DeliveredAt *time.Time  `json:"delivered_at,omitempty"`
	ReadAt      *time.Time  `json:"read_at,omitempty"`
	FailedAt    *time.Time  `json:"failed_at,omitempty"`

	// ContentSID, when set, is Twilio's approved template the message is
	// sent as, filled with ContentVariables (personal: never listed); Body
	// is then our copy of what it says.
	ContentSID       string            `json:"content_sid,omitempty"`
	ContentVariables map[string]string `json:"-"`
	// Channel is how compliance decided it goes to WhatsApp: "template"
	// (its approved content SID) or "session" (free text inside the
	// person's 24-hour window).
	Channel string `json:"channel,omitempty"`

	// TaskGeneration, when set, is the generation of the task the message
	// waits on after an operator's resend (Resolve): a new task name, as
	// Cloud Tasks keeps the first one's for a while.
	TaskGeneration int64 `json:"task_generation,omitempty"`
	// RequeuedAt and Requeues record the stranded-message sweep giving
	// the message a task again; the sweep leaves UpdatedAt alone, so a
	// message it swept still reads as stuck until it moves.
	RequeuedAt *time.Time `json:"requeued_at,omitempty"`
	Requeues   int        `json:"requeues,omitempty"`
	// RateLimitedRetries counts the new attempts made after the provider
	// reported its rate or portfolio limit (FailureRateLimited);
	// PriorSIDs are the provider's sids of those earlier attempts, whose
	// late callbacks must not move the new one.
	RateLimitedRetries int      `json:"rate_limited_retries,omitempty"`
	PriorSIDs          []string `json:"prior_provider_sids,omitempty"`
	// Resolutions are the operator's decisions on a message whose outcome
	// was unknown and held for them (UNKNOWN_OUTCOME=hold), oldest first.
	Resolutions []Resolution `json:"resolutions,omitempty"`
	// HeldAt is when the Sender held the current claim for an operator
	// (UNKNOWN_OUTCOME=hold, past RECONCILE_AFTER); only then may an
	// operator resolve it. A new claim clears it.
	HeldAt *time.Time `json:"held_at,omitempty"`
	// ResentFrom is the claim time of the attempt an operator said was
	// not sent: the next claim asks the provider once more for a send
	// since then (with no end) before it sends again.
	ResentFrom *time.Time `json:"resent_from,omitempty"`
	// DuplicateSIDs are sends the provider made for this message beyond
	// the one it records: evidence that it went twice, kept for audit.
	DuplicateSIDs []string `json:"duplicate_sids,omitempty"`
}

// Outcome an operator gives a message held with an unknown outcome.
type Outcome string

const (
	// OutcomeSent: the provider did send it; recorded SENT.
	OutcomeSent Outcome = "sent"
	// OutcomeResend: it was not sent; a new claim and task send it.
	OutcomeResend Outcome = "resend"
)

// Resolution is one operator's decision on a held message, for audit.
type Resolution struct {
	Outcome     Outcome   `json:"outcome"`
	ProviderSID string    `json:"message_sid,omitempty"` // with OutcomeSent, when the operator knows it
	By          string    `json:"by"`
	At          time.Time `json:"at"`
	// Attempts is the held claim's attempt the decision is about: a
	// request for another attempt is refused, and a repeat answered.
	Attempts int    `json:"attempts"`
	Note     string `json:"note,omitempty"`
}

// KnowsSID reports whether sid is m's provider sid or one of an earlier
// attempt's.
func (m Message) KnowsSID(sid string) bool {
	return sid != "" && (sid == m.ProviderSID || slices.Contains(m.PriorSIDs, sid))
}

// ID is the deterministic id of campaign's message to phone, so that every
// redelivery of the same work names the same message. The phone is hashed:
// ids appear in URLs, task names and logs. The hash comes first so that a
// campaign's documents and task names spread over the key space instead of
// sharing a prefix (both Firestore and Cloud Tasks slow down on those).
func ID(campaignID, phone string) string {
	sum := sha256.Sum256([]byte(campaignID + "\x00" + phone))
	return hex.EncodeToString(sum[:10]) + "-" + campaignID
}

// FailureClass says what a failure reported after the send (a status
// callback's) asks of us; the edge maps the provider's codes to it.
type FailureClass string

const (
	// FailureUndeliverable: this message cannot reach the person (not on
	// WhatsApp, outside the window, a paused template); FAILED with its code.
	FailureUndeliverable FailureClass = "undeliverable"
	// FailureDeclined: WhatsApp declined a marketing message to this
	// person (Meta's per-person limit); FAILED, counted on its own, and
	// never retried at once, as an immediate retry is declined alike.
	FailureDeclined FailureClass = "declined"
	// FailureRateLimited: the sender's rate or portfolio limit; the
	// message wants a new attempt after a backoff. Today it is recorded
	// FAILED with its code and counted on its own; no new attempt is made.
	FailureRateLimited FailureClass = "rate_limited"
)

// ProviderUpdate is what a status callback reports.
type ProviderUpdate struct {
	Status    Status // Queued (ignored), Sent, Delivered, Read or Failed
	ErrorCode string
	Class     FailureClass // set for Failed only
	At        time.Time
}

// Apply moves m forward by u and reports whether anything changed. A late
// "sent" never overwrites "delivered"; a failure after delivery is ignored;
// each stage's time is recorded once.
func (m *Message) Apply(u ProviderUpdate) bool {
	at := u.At
	set := func(p **time.Time) bool {
		if *p != nil {
			return false
		}
		*p = &at
		return true
	}
	changed := false
	switch u.Status {
	case Sent:
		changed = set(&m.SentAt)
	case Delivered:
		changed = set(&m.SentAt)
		changed = set(&m.DeliveredAt) || changed
	case Read:
		changed = set(&m.SentAt)
		changed = set(&m.DeliveredAt) || changed
		changed = set(&m.ReadAt) || changed
	case Failed:
		if m.DeliveredAt != nil || m.Status == Failed {
			return false
		}
		m.Status = Failed
		m.ErrorCode = u.ErrorCode
		m.FailedAt = &at
		m.UpdatedAt = at
		return true
	default:
		return false
	}
	if m.Status != Failed && rank[u.Status] > rank[m.Status] {
		m.Status = u.Status
		changed = true
	}
	if changed {
		m.UpdatedAt = at
	}
	return changed
}
