package reporting

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/user"
)

// Kinds of history entry, in the order a tie at one instant lists them.
const (
	KindConsent    = "consent"    // a change of the person's consent
	KindMessage    = "message"    // a campaign message made for them
	KindCompliance = "compliance" // what compliance decided for a message
	// KindMarketingOptOut: the person stopped marketing messages in
	// WhatsApp (user.MarketingOptOut), with Source and Reference.
	KindMarketingOptOut = "marketing_opt_out"
)

// Compliance decisions, as a message's fields record them.
const (
	DecisionAllowed  = "allowed"  // given a send task (QueuedAt), on Channel
	DecisionSkipped  = "skipped"  // not sent, for SkipReason
	DecisionDeferred = "deferred" // waiting for the end of quiet hours
)

var kindRank = map[string]int{KindConsent: 0, KindMarketingOptOut: 0, KindMessage: 1, KindCompliance: 2}

// HistoryEntry is one thing that happened to a person: the fields of its
// kind are set, the others empty.
type HistoryEntry struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`

	// consent
	From      consent.State  `json:"from,omitempty"`
	To        consent.State  `json:"to,omitempty"`
	Source    consent.Source `json:"source,omitempty"`
	Reference string         `json:"reference,omitempty"`

	// message and compliance
	CampaignID string `json:"campaign_id,omitempty"`
	MessageID  string `json:"message_id,omitempty"`

	// message: where it is now
	Status      message.Status `json:"status,omitempty"`
	ErrorCode   string         `json:"error_code,omitempty"`
	SentAt      *time.Time     `json:"sent_at,omitempty"`
	DeliveredAt *time.Time     `json:"delivered_at,omitempty"`
	ReadAt      *time.Time     `json:"read_at,omitempty"`
	FailedAt    *time.Time     `json:"failed_at,omitempty"`

	// compliance
	Decision    string             `json:"decision,omitempty"`
	SkipReason  message.SkipReason `json:"skip_reason,omitempty"`
	Channel     string             `json:"channel,omitempty"`
	ScheduledAt *time.Time         `json:"scheduled_at,omitempty"`
}

// History is a person's consent changes, messages and compliance
// decisions, oldest first. Every consent change is listed (they are few,
// and the proof of an opt-out); messages only the newest MessageLimit.
type History struct {
	Phone   string         `json:"phone_number"`
	Entries []HistoryEntry `json:"history"`
	// Messages is how many messages the entries cover. MessagesCapped
	// says older ones were left out: the entries cover messages created
	// from MessagesSince on.
	Messages       int        `json:"messages"`
	MessagesCapped bool       `json:"messages_capped"`
	MessagesSince  *time.Time `json:"messages_since,omitempty"`
}

// HistoryReader is what a person's history is read from.
type HistoryReader interface {
	ConsentHistory(ctx context.Context, phone string) ([]consent.Change, error)
	MessagesTo(ctx context.Context, phone string, limit int) ([]message.Message, error)
}

// PersonHistory reads phone's (normalised) history with at most
// messageLimit of their newest messages: one read of their consent
// history and one of their messages.
func PersonHistory(ctx context.Context, r HistoryReader, phone string, messageLimit int) (History, error) {
	changes, err := r.ConsentHistory(ctx, phone)
	if err != nil {
		return History{}, fmt.Errorf("reporting.PersonHistory: %w", err)
	}
	// One more than asked tells whether older ones were left out.
	ms, err := r.MessagesTo(ctx, phone, messageLimit+1)
	if err != nil {
		return History{}, fmt.Errorf("reporting.PersonHistory: %w", err)
	}
	h := History{Phone: phone}
	if len(ms) > messageLimit {
		ms = ms[:messageLimit]
		h.MessagesCapped = true
		since := slices.MinFunc(ms, func(a, b message.Message) int { return a.CreatedAt.Compare(b.CreatedAt) }).CreatedAt
		h.MessagesSince = &since
	}
	h.Messages = len(ms)
	h.Entries = Timeline(changes, ms)
	return h, nil
}

// Timeline merges consent changes and messages into one list, oldest
// first: each message gives its own entry (at its creation) and one for
// each compliance decision its fields record. A tie at one instant lists
// consent first, then messages, then decisions, then by message id.
func Timeline(changes []consent.Change, ms []message.Message) []HistoryEntry {
	out := make([]HistoryEntry, 0, len(changes)+2*len(ms))
	for _, c := range changes {
		out = append(out, HistoryEntry{
			At: c.At, Kind: KindConsent, From: c.From, To: c.To, Source: c.Source, Reference: c.Ref,
		})
	}
	for _, m := range ms {
		out = append(out, HistoryEntry{
			At: m.CreatedAt, Kind: KindMessage, CampaignID: m.CampaignID, MessageID: m.ID,
			Status: m.Status, ErrorCode: m.ErrorCode,
			SentAt: m.SentAt, DeliveredAt: m.DeliveredAt, ReadAt: m.ReadAt, FailedAt: m.FailedAt,
		})
		out = append(out, decisions(m)...)
	}
	slices.SortStableFunc(out, func(a, b HistoryEntry) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(kindRank[a.Kind], kindRank[b.Kind]),
			cmp.Compare(a.MessageID, b.MessageID))
	})
	return out
}

// decisions are the compliance decisions m's fields record: allowed when
// it was given a task; skipped (at its last update: a skip concludes it)
// or deferred when that is where it is now. A message skipped at send
// (consent revoked, campaign cancelled) was allowed first, and shows both.
func decisions(m message.Message) []HistoryEntry {
	entry := func(at time.Time, d string) HistoryEntry {
		return HistoryEntry{At: at, Kind: KindCompliance, CampaignID: m.CampaignID, MessageID: m.ID, Decision: d}
	}
	var out []HistoryEntry
	if m.QueuedAt != nil {
		e := entry(*m.QueuedAt, DecisionAllowed)
		e.Channel = m.Channel
		out = append(out, e)
	}
	switch m.Status {
	case message.Skipped:
		e := entry(m.UpdatedAt, DecisionSkipped)
		e.SkipReason, e.Channel = m.SkipReason, m.Channel
		out = append(out, e)
	case message.Deferred:
		e := entry(m.UpdatedAt, DecisionDeferred)
		e.ScheduledAt = m.ScheduledAt
		out = append(out, e)
	}
	return out
}

// WithMarketingOptOut puts the person's marketing opt-out, when they have
// one, into entries (in time order, as Timeline sorts them).
func WithMarketingOptOut(entries []HistoryEntry, o *user.MarketingOptOut) []HistoryEntry {
	if o == nil {
		return entries
	}
	e := HistoryEntry{At: o.At, Kind: KindMarketingOptOut, Source: consent.Source(o.Source), Reference: o.Ref}
	i, _ := slices.BinarySearchFunc(entries, e, func(a, b HistoryEntry) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(kindRank[a.Kind], kindRank[b.Kind]))
	})
	return slices.Insert(entries, i, e)
}
