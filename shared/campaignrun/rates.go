package campaignrun

import (
	"context"
	"fmt"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/senderceiling"
	"github.com/eventstreamengine/ese/shared/sendqueue"
)

// The sender's ceiling (SenderMPS) is shared by the campaigns running at
// once: each queue dispatches at its campaign's share (senderceiling.Shares),
// given when the queue is made and given again to every running queue
// once per move: when a campaign launches, pauses, resumes or concludes.
// Each sharing reads the running campaigns afresh; two at once may write
// in either order, and the next sharing puts right what the later one
// missed. Sharing is best-effort: a queue whose rate could not be set
// must not stop another campaign's move, so failures are logged, and the
// campaign check (ShareCeilingAgain, every few minutes) shares again.
//
// On the Cloud Tasks emulator, which lacks UpdateQueue, SetRate does
// nothing: locally a campaign's share is the one it was given when its
// queue was made.

// maxRunning bounds the campaigns one sharing reads: a region holds about
// 1,000 queues.
const maxRunning = 1000

// running returns the rate each running campaign asks for, by id, and
// the running campaigns.
func (r *Runner) running(ctx context.Context) (map[string]int, []campaign.Campaign, error) {
	cs, err := r.Store.CampaignsIn(ctx, campaign.Running, maxRunning)
	if err != nil {
		return nil, nil, fmt.Errorf("campaignrun: running campaigns: %w", err)
	}
	rates := make(map[string]int, len(cs))
	for _, c := range cs {
		rates[c.ID] = c.Rate
	}
	return rates, cs, nil
}

// shareOf is the rate c's queue is made with: its share beside the
// campaigns running now (c among them, launched), or its own rate
// without a ceiling.
func (r *Runner) shareOf(ctx context.Context, c campaign.Campaign) (int, error) {
	if r.SenderMPS <= 0 {
		return c.Rate, nil
	}
	rates, _, err := r.running(ctx)
	if err != nil {
		return 0, err
	}
	rates[c.ID] = c.Rate
	return senderceiling.Shares(r.SenderMPS, rates)[c.ID], nil
}

// shareCeiling gives every running campaign's queue its share of the
// ceiling. A queue not made yet gets its share when it is (shareOf).
// Failures are logged and passed over (see above).
func (r *Runner) shareCeiling(ctx context.Context) {
	if r.SenderMPS <= 0 || r.Queue == nil {
		return
	}
	log := logging.FromContext(ctx)
	rates, cs, err := r.running(ctx)
	if err != nil {
		log.Warn("sender's ceiling not shared: the running campaigns could not be read; the campaign check shares it again", "error", err)
		return
	}
	shares := senderceiling.Shares(r.SenderMPS, rates)
	if len(cs) > r.SenderMPS {
		log.Warn("more campaigns running than the sender's ceiling allows a second: each sends at 1/s",
			"running", len(cs), "sender_mps", r.SenderMPS)
	}
	for _, c := range cs {
		if c.QueueCreatedAt == nil || c.QueueReleasedAt != nil {
			continue
		}
		if err := r.Queue.SetRate(ctx, sendqueue.QueueID(c.ID, c.QueueGeneration), shares[c.ID]); err != nil {
			log.Warn("sender's ceiling: a queue's share not set; the campaign check sets it again",
				"share_campaign_id", c.ID, "share", shares[c.ID], "error", err)
		}
	}
}

// ShareCeilingAgain gives the running campaigns' queues their shares
// again, putting right a sharing that failed: through the recipient-batch
// topic when the runner publishes (the API's campaign check, which has no
// queue client deployed; ProcessRecipients shares under its own
// TWILIO_SENDER_MPS), else here and now.
func (r *Runner) ShareCeilingAgain(ctx context.Context) error {
	if r.Events != nil {
		if err := r.Events.Publish(ctx, events.TopicRecipients, events.Recipients{ShareCeiling: true}); err != nil {
			return fmt.Errorf("campaignrun.ShareCeilingAgain: %w", err)
		}
		return nil
	}
	r.shareCeiling(ctx)
	return nil
}
