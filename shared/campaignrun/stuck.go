package campaignrun

import (
	"context"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
)

// Stuck is a running campaign that stopped moving.
type Stuck struct {
	CampaignID   string    `json:"campaign_id"`
	Reason       string    `json:"reason"`
	LastProgress time.Time `json:"last_progress"`
}

// DefaultStuckAfter is STUCK_AFTER when unset: a campaign moves at one
// message a second at least, so half an hour of silence is no pace.
const DefaultStuckAfter = 30 * time.Minute

// How much a look for stuck campaigns reads: running campaigns, and the
// unconcluded messages of each it samples for one that is due.
const (
	stuckCampaignsLimit = 200
	stuckSampleLimit    = 100
)

// FindStuck lists the running campaigns none of whose messages changed
// for after although work is due: the fan-out is unfinished, or a message
// waits that is not deferred to later (a message deferred past quiet hours
// is due once its time has come). A campaign keeps moving at any rate Cloud
// Tasks allows (one a second at least), so after is a bound on silence,
// not on speed. Each is logged at ERROR as "campaign stuck", which an
// alert counts.
func (r *Runner) FindStuck(ctx context.Context, after time.Duration) ([]Stuck, error) {
	now := r.now()
	running, err := r.Store.CampaignsIn(ctx, campaign.Running, stuckCampaignsLimit)
	if err != nil {
		return nil, fmt.Errorf("campaignrun.FindStuck: %w", err)
	}
	var out []Stuck
	for _, c := range running {
		s, stuck, err := r.stuck(ctx, c, now, after)
		if err != nil {
			return nil, err
		}
		if stuck {
			logging.FromContext(ctx).Error("campaign stuck", "campaign_id", c.ID, "reason", s.Reason,
				"last_progress", s.LastProgress, "silent_for", now.Sub(s.LastProgress).Round(time.Second).String())
			out = append(out, s)
		}
	}
	return out, nil
}

func (r *Runner) stuck(ctx context.Context, c campaign.Campaign, now time.Time, after time.Duration) (Stuck, bool, error) {
	last := c.UpdatedAt
	if c.StartedAt != nil && c.StartedAt.After(last) {
		last = *c.StartedAt
	}
	newest, err := r.Store.ListMessages(ctx, store.MessageFilter{CampaignID: c.ID, Limit: 1})
	if err != nil {
		return Stuck{}, false, fmt.Errorf("campaignrun.FindStuck: %w", err)
	}
	if len(newest) > 0 && newest[0].UpdatedAt.After(last) {
		last = newest[0].UpdatedAt
	}
	s := Stuck{CampaignID: c.ID, LastProgress: last}
	if now.Sub(last) < after {
		return s, false, nil
	}
	if !c.FanoutDone {
		s.Reason = "its recipients are not all written"
		return s, true, nil
	}
	open, err := r.Store.ListUnconcluded(ctx, c.ID, stuckSampleLimit)
	if err != nil {
		return Stuck{}, false, fmt.Errorf("campaignrun.FindStuck: %w", err)
	}
	for _, m := range open {
		if m.Status == message.Reconcile {
			// Held for an operator (UNKNOWN_OUTCOME=hold), or reconciling.
			s.Reason = fmt.Sprintf("message %s has an unknown outcome (RECONCILE) and awaits an operator's resolution", m.ID)
			return s, true, nil
		}
		if m.Status != message.Deferred || m.ScheduledAt == nil || now.Sub(*m.ScheduledAt) >= after {
			s.Reason = fmt.Sprintf("message %s is %s and due", m.ID, m.Status)
			return s, true, nil
		}
	}
	if len(open) == 0 {
		// Every message concluded, yet the campaign did not complete.
		s.Reason = "every message concluded but the campaign did not complete"
		return s, true, nil
	}
	return s, false, nil
}
