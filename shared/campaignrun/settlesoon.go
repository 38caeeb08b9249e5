package campaignrun

import (
	"context"

	"github.com/eventstreamengine/ese/shared/events"
)

// settleSoon asks for a campaign to be settled: through its topic when
// the runner publishes (the API; HandleStatus and Webhooks pausing a
// failing campaign), else here and now (the Sender's auto-pause, which has
// the queue at hand). Its own file, as the functions that only pause may
// publish here and nowhere else (infra's TestPublishersInCode).
func (r *Runner) settleSoon(ctx context.Context, id string) error {
	if r.Events != nil {
		return r.Events.Publish(ctx, events.TopicRecipients, events.Recipients{CampaignID: id, Settle: true})
	}
	return r.Settle(ctx, id)
}

// settleNext asks for the next page of a settle, as settleSoon does.
func (r *Runner) settleNext(ctx context.Context, id string) error {
	if r.Events != nil {
		return r.Events.Publish(ctx, events.TopicRecipients, events.Recipients{CampaignID: id, Settle: true, SettleNext: true})
	}
	return r.settle(ctx, id, false)
}
