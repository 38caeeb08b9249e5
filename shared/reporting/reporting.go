// Package reporting turns a campaign's message counts into the summary the
// seed's users know, under the seed's names.
package reporting

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
)

// ErrorCount is one provider error code and how many messages failed with it.
type ErrorCount struct {
	Code  string `json:"error_code"`
	Count int    `json:"count"`
	// Meaning says what the code means, from the edge's table of the
	// provider's codes; "" for one it does not know.
	Meaning string `json:"meaning"`
}

// Summary is a campaign's cumulative numbers. A message counts in every
// stage it reached: one that was read counts as sent, delivered and read.
type Summary struct {
	CampaignID        string         `json:"campaign_id"`
	Topic             string         `json:"topic"`
	Status            string         `json:"status"`
	TotalRecipients   int            `json:"total_recipients"`
	MessagesQueued    int            `json:"messages_queued"`
	MessagesSent      int            `json:"messages_sent"`
	MessagesDelivered int            `json:"messages_delivered"`
	MessagesRead      int            `json:"messages_read"`
	MessagesFailed    int            `json:"messages_failed"`
	MessagesSkipped   int            `json:"messages_skipped"`
	MessagesDeferred  int            `json:"messages_deferred"`
	MessagesHeld      int            `json:"messages_held"` // waiting for the paused campaign's resume
	SkippedByReason   map[string]int `json:"skipped_by_reason"`
	// BlockedByStep counts the skipped messages by the compliance step that
	// refused them (every step named, 0 included), as a dry run predicts.
	BlockedByStep map[string]int `json:"blocked_by_step"`
	// DeferredByStep counts the messages ever deferred, by the step that
	// first deferred them (every deferring step named, 0 included), sent
	// since or not: only quiet hours defers, to the window's end.
	// MessagesDeferred is those waiting now.
	DeferredByStep      map[string]int `json:"deferred_by_step"`
	DeliveryRatePercent float64        `json:"delivery_rate_percent"`
	ReadRatePercent     float64        `json:"read_rate_percent"`
	TopErrorCodes       []ErrorCount   `json:"top_error_codes"`
	// DeclinedByMeta counts the failed messages WhatsApp declined as a
	// marketing message too many for the person (message.FailureDeclined).
	DeclinedByMeta int `json:"declined_by_meta"`
	// RateLimited counts those failed for the sender's rate or portfolio
	// limit (message.FailureRateLimited), which want a new attempt.
	RateLimited        int        `json:"rate_limited"`
	RateLimitPerSecond int        `json:"rate_limit_per_second"`
	StartedAt          *time.Time `json:"started_at,omitempty"`
	CompletedAt        *time.Time `json:"completed_at,omitempty"`
	// EndedAt is when it reached a final status, completed, cancelled or
	// failed (campaign.End).
	EndedAt *time.Time `json:"ended_at,omitempty"`
	// ThroughputPerMinute is messages sent per minute of the campaign's
	// run so far (or its whole run, once completed).
	ThroughputPerMinute float64 `json:"throughput_per_minute"`
	// DurationSeconds is the run from StartedAt to EndedAt, or to now
	// while it has not concluded; 0 before the launch.
	DurationSeconds float64 `json:"duration_seconds"`
	// OptOutsDuringCampaign counts the people who opted out (their
	// consent moved from OPT_IN to STOP or OPT_OUT) while the campaign
	// ran, from StartedAt to EndedAt or now: everyone's opt-outs, not
	// only its recipients' (a count over all consent history is one
	// aggregation; narrowing it to recipients would read them). 0 before
	// the launch.
	OptOutsDuringCampaign int `json:"opt_outs_during_campaign"`
}

// Summarize builds c's summary from its counts, as of now. classOf maps a
// provider's error code to its failure class (the edge knows the codes).
func Summarize(c campaign.Campaign, n store.Counts, now time.Time, classOf func(code string) message.FailureClass) Summary {
	s := Summary{
		CampaignID: c.ID, Topic: c.Topic, Status: string(c.Status),
		TotalRecipients: n.Recipients, MessagesQueued: n.Queued, MessagesSent: n.Sent,
		MessagesDelivered: n.Delivered, MessagesRead: n.Read, MessagesFailed: n.Failed,
		MessagesDeferred: n.Deferred, MessagesHeld: n.Held, SkippedByReason: map[string]int{},
		BlockedByStep: compliance.BlockedBy(n.Skipped), DeferredByStep: compliance.DeferredBy(n.DeferredBy),
		TopErrorCodes: []ErrorCount{}, RateLimitPerSecond: c.Rate,
		StartedAt: c.StartedAt, CompletedAt: c.CompletedAt, EndedAt: c.End(),
	}
	for reason, k := range n.Skipped {
		s.SkippedByReason[string(reason)] = k
		s.MessagesSkipped += k
	}
	s.DeliveryRatePercent = percent(n.Delivered, n.Sent)
	s.ReadRatePercent = percent(n.Read, n.Delivered)
	for code, k := range n.ErrorCodes {
		s.TopErrorCodes = append(s.TopErrorCodes, ErrorCount{Code: code, Count: k})
		switch classOf(code) {
		case message.FailureDeclined:
			s.DeclinedByMeta += k
		case message.FailureRateLimited:
			s.RateLimited += k
		}
	}
	sort.Slice(s.TopErrorCodes, func(i, j int) bool {
		a, b := s.TopErrorCodes[i], s.TopErrorCodes[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Code < b.Code
	})
	if len(s.TopErrorCodes) > 10 {
		s.TopErrorCodes = s.TopErrorCodes[:10]
	}
	if c.StartedAt != nil {
		end := now
		if e := c.End(); e != nil {
			end = *e
		}
		if mins := end.Sub(*c.StartedAt).Minutes(); mins > 0 {
			s.ThroughputPerMinute = round1(float64(n.Sent) / mins)
		}
		s.DurationSeconds = max(0, round1(end.Sub(*c.StartedAt).Seconds()))
	}
	return s
}

// Codes is what the edge knows of a provider's error codes.
type Codes struct {
	Class   func(code string) message.FailureClass
	Meaning func(code string) string
}

// SummaryReader is what a campaign's summary is read from.
type SummaryReader interface {
	CountMessages(ctx context.Context, campaignID string) (store.Counts, error)
	CountOptOuts(ctx context.Context, from, to time.Time) (int, error)
}

// CampaignSummary reads c's summary as of now: its message counts (the
// store's aggregation queries), the opt-outs while it ran (one more) and
// the meaning of its top error codes.
func CampaignSummary(ctx context.Context, r SummaryReader, c campaign.Campaign, now time.Time, codes Codes) (Summary, error) {
	n, err := r.CountMessages(ctx, c.ID)
	if err != nil {
		return Summary{}, fmt.Errorf("reporting.CampaignSummary: %w", err)
	}
	s := Summarize(c, n, now, codes.Class)
	for i, e := range s.TopErrorCodes {
		s.TopErrorCodes[i].Meaning = codes.Meaning(e.Code)
	}
	if c.StartedAt != nil {
		end := now
		if e := c.End(); e != nil {
			end = *e
		}
		if s.OptOutsDuringCampaign, err = r.CountOptOuts(ctx, *c.StartedAt, end); err != nil {
			return Summary{}, fmt.Errorf("reporting.CampaignSummary: %w", err)
		}
	}
	return s, nil
}

func percent(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return round1(100 * float64(part) / float64(whole))
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
