package campaignrun

import (
	"context"
	"fmt"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue"
)

// RetaskSoon asks for the tasks of the campaign's messages that were
// given a task generation of their own (an operator's resend, a new
// attempt after the provider's rate limit): through recipient-batch when
// the runner publishes (the API, HandleStatus and Webhooks have no Cloud
// Tasks client), else here and now.
func (r *Runner) RetaskSoon(ctx context.Context, campaignID string, ids []string) error {
	ev := events.Recipients{CampaignID: campaignID, MessageIDs: ids, Retask: true}
	if r.Events != nil {
		if err := r.Events.Publish(ctx, events.TopicRecipients, ev); err != nil {
			return fmt.Errorf("campaignrun.RetaskSoon: %w", err)
		}
		return nil
	}
	return r.retask(ctx, ev)
}

// retask makes the task of each message still waiting (QUEUED or
// DEFERRED) on a task generation of its own, named after it, so a
// redelivery makes none twice; due at its ScheduledAt when later. A
// paused campaign's task is made too: the Sender holds its message, and
// the resume gives it a task again. A cancelled campaign's messages are
// concluded as the cancel concludes the others.
func (r *Runner) retask(ctx context.Context, ev events.Recipients) error {
	c, err := r.Store.GetCampaign(ctx, ev.CampaignID)
	if err != nil {
		return permanentIfMissing(err)
	}
	switch c.Status {
	case campaign.Running, campaign.Paused:
	case campaign.Cancelled:
		if _, err := r.cancelMessages(ctx, ev.MessageIDs); err != nil {
			return err
		}
		return r.CheckCompletion(ctx, c.ID)
	default:
		return nil
	}
	ms, err := r.Store.GetMessages(ctx, ev.MessageIDs)
	if err != nil {
		return permanentIfMissing(err)
	}
	now := r.now()
	n, concluded := 0, false
	for _, m := range ms {
		concluded = concluded || m.Status.Concluded()
		if (m.Status != message.Queued && m.Status != message.Deferred) || m.TaskGeneration == 0 {
			continue // claimed, concluded or held since: nothing to make
		}
		t := sendqueue.Task{Queue: sendqueue.QueueID(c.ID, c.QueueGeneration), CampaignID: c.ID, MessageID: m.ID, Generation: m.TaskGeneration}
		if m.ScheduledAt != nil && m.ScheduledAt.After(now) {
			t.At = *m.ScheduledAt
		}
		if _, err := r.Queue.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("campaignrun.retask: %w", err)
		}
		n++
	}
	logging.FromContext(ctx).Info("messages given a task of a new generation", "campaign_id", c.ID, "count", n)
	if concluded {
		// An operator's "sent" asks here too: it may have concluded the
		// campaign's last open message, and no Sender will check.
		return r.CheckCompletion(ctx, c.ID)
	}
	return nil
}
