// Package reporting turns a campaign's message counts into the summary the
// seed's users know, under the seed's names.
package reporting

import (
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
	BlockedByStep       map[string]int `json:"blocked_by_step"`
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
	// ThroughputPerMinute is messages sent per minute of the campaign's
	// run so far (or its whole run, once completed).
	ThroughputPerMinute float64 `json:"throughput_per_minute"`
}

// Summarize builds c's summary from its counts, as of now. classOf maps a
// provider's error code to its failure class (the edge knows the codes).
func Summarize(c campaign.Campaign, n store.Counts, now time.Time, classOf func(code string) message.FailureClass) Summary {
	s := Summary{
		CampaignID: c.ID, Topic: c.Topic, Status: string(c.Status),
		TotalRecipients: n.Recipients, MessagesQueued: n.Queued, MessagesSent: n.Sent,
		MessagesDelivered: n.Delivered, MessagesRead: n.Read, MessagesFailed: n.Failed,
		MessagesDeferred: n.Deferred, MessagesHeld: n.Held, SkippedByReason: map[string]int{},
		BlockedByStep: compliance.BlockedBy(n.Skipped),
		TopErrorCodes: []ErrorCount{}, RateLimitPerSecond: c.Rate,
		StartedAt: c.StartedAt, CompletedAt: c.CompletedAt,
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
		if c.CompletedAt != nil {
			end = *c.CompletedAt
		}
		if mins := end.Sub(*c.StartedAt).Minutes(); mins > 0 {
			s.ThroughputPerMinute = round1(float64(n.Sent) / mins)
		}
	}
	return s
}

func percent(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return round1(100 * float64(part) / float64(whole))
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
