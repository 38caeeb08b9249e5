package campaignrun

import (
	"context"
	"fmt"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
)

// AutoPause pauses a campaign whose last sends fail too often (a broken
// template, a sender Twilio stopped accepting): Window is how many of its
// last sends are looked at (0: never pause), FailureRate the share of
// them that may fail; more than that pauses it.
type AutoPause struct {
	Window      int
	FailureRate float64
}

// Validate checks the settings.
func (a AutoPause) Validate() error {
	if a.Window < 0 {
		return fmt.Errorf("the auto-pause window %d is negative: want 0 (off) or more", a.Window)
	}
	if a.Window > 0 && (a.FailureRate <= 0 || a.FailureRate >= 1) {
		return fmt.Errorf("the auto-pause failure rate %g is not between 0 and 1", a.FailureRate)
	}
	return nil
}

// CheckFailures pauses the running campaign when more than FailureRate of
// its last Window sends failed, with the count as the reason. It is exact
// without a counter document: the window is read from the messages
// themselves (store.RecentSends), after every failure, so two failures at
// once both see it and the second finds the campaign paused already. A
// campaign with fewer sends than the window is not judged yet.
func (r *Runner) CheckFailures(ctx context.Context, campaignID string) error {
	a := r.AutoPause
	if a.Window <= 0 {
		return nil
	}
	sends, failed, err := r.Store.RecentSends(ctx, campaignID, a.Window)
	if err != nil {
		return fmt.Errorf("campaignrun.CheckFailures: %w", err)
	}
	if sends < a.Window || float64(failed) <= a.FailureRate*float64(sends) {
		return nil
	}
	why := fmt.Sprintf("auto-pause: %d of the last %d sends failed (more than %g%%)", failed, sends, a.FailureRate*100)
	_, err = r.Pause(ctx, campaignID, campaign.BySystem, why)
	if errs.Is(err, errs.Conflict) {
		return nil // paused, cancelled or over already
	}
	if err != nil {
		return fmt.Errorf("campaignrun.CheckFailures: %w", err)
	}
	logging.FromContext(ctx).Warn("campaign paused itself", "campaign_id", campaignID, "failed", failed, "sends", sends)
	return nil
}
