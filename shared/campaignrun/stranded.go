package campaignrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/store"
)

// StrandedAfter is the sweep's margin: how long a running campaign must
// have gone with no message written, and a message waited past its due
// time, before the message counts as stranded without a task. Three times
// a send queue's longest retry backoff (cloudtasks' 5 minutes): a task
// that is still alive runs again well within it, and a queue dispatches
// one task a second at least, each writing its message. It is half of
// DefaultStuckAfter, so a sweep puts a campaign right before the stuck
// alert fires.
const StrandedAfter = 15 * time.Minute

// How much one sweep does: each campaign's read, and the messages given a
// task in all; a sweep runs every few minutes and takes the rest then.
// A sweep reads a campaign's stale messages a page at a time, a page
// larger each time (at most strandedScan) while those a recent sweep gave
// a task, which keep their old UpdatedAt and come first, fill it.
const (
	strandedPage  = 200
	strandedLimit = 1000
	strandedScan  = 5000
)

// SweepStrandedSoon asks for a sweep of stranded messages: through the
// recipient-batch topic when the runner publishes (the API's campaign
// check, which has no queue client), else here and now.
func (r *Runner) SweepStrandedSoon(ctx context.Context) error {
	if r.Events != nil {
		if err := r.Events.Publish(ctx, events.TopicRecipients, events.Recipients{SweepStranded: true}); err != nil {
			return fmt.Errorf("campaignrun.SweepStrandedSoon: %w", err)
		}
		return nil
	}
	_, err := r.SweepStranded(ctx)
	return err
}

// SweepStranded gives a task again to the messages of running campaigns
// left without one: QUEUED or PENDING ones untouched for StrandedAfter,
// and DEFERRED ones due StrandedAfter ago, in campaigns none of whose
// messages moved for StrandedAfter (in a campaign still moving, a message
// is waiting its turn in the paced queue, not stranded). Ways to get there:
// an enqueue that failed for good after its message was marked QUEUED; a
// deferral deduplicated away; a task lost otherwise.
//
// A QUEUED or DEFERRED message is marked QUEUED again (its due time has
// passed) in a transaction that finds it as it was read, then given a task
// of a new generation, the sweep's time. The sweep is recorded in its own
// fields (RequeuedAt, Requeues), not in UpdatedAt: the message still
// counts as stuck (StuckMessages) until it moves, and a sweep within
// StrandedAfter of the last leaves it alone; one claimed meanwhile is
// left to its claim. If the old task runs after all, the Sender's claim
// sends it once. A PENDING message goes through compliance again
// (Recipients), whose task is the message's first. It returns how many
// messages it gave a task.
func (r *Runner) SweepStranded(ctx context.Context) (int, error) {
	now := r.now()
	running, err := r.Store.CampaignsIn(ctx, campaign.Running, stuckCampaignsLimit)
	if err != nil {
		return 0, fmt.Errorf("campaignrun.SweepStranded: %w", err)
	}
	total := 0
	for _, c := range running {
		if total >= strandedLimit {
			break
		}
		n, err := r.sweepCampaign(ctx, c, now, strandedLimit-total)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sweepable reports whether c's messages may be stranded at now: c runs
// with its queue made and no move to settle, and nothing of it moved for
// StrandedAfter.
func (r *Runner) sweepable(ctx context.Context, c campaign.Campaign, now time.Time) (bool, error) {
	if c.Status != campaign.Running || c.Unsettled || c.QueueCreatedAt == nil {
		return false, nil
	}
	last := c.UpdatedAt
	if c.StartedAt != nil && c.StartedAt.After(last) {
		last = *c.StartedAt
	}
	newest, err := r.Store.ListMessages(ctx, store.MessageFilter{CampaignID: c.ID, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("campaignrun: stranded messages: %w", err)
	}
	if len(newest) > 0 && newest[0].UpdatedAt.After(last) {
		last = newest[0].UpdatedAt
	}
	return now.Sub(last) > StrandedAfter, nil
}

func (r *Runner) sweepCampaign(ctx context.Context, c campaign.Campaign, now time.Time, limit int) (int, error) {
	if ok, err := r.sweepable(ctx, c, now); err != nil || !ok {
		return 0, err
	}
	ms, err := r.actionable(ctx, c.ID, now, min(strandedPage, limit))
	if err != nil {
		return 0, err
	}
	log := logging.FromContext(ctx).With("campaign_id", c.ID)
	n := 0
	var pending []string
	for _, m := range ms {
		if m.Status == message.Pending {
			pending = append(pending, m.ID)
			continue
		}
		made, err := r.requeue(ctx, c, m, now)
		if err != nil {
			return n, err
		}
		if made {
			n++
		}
	}
	if len(pending) > 0 {
		if err := r.Recipients(ctx, events.Recipients{CampaignID: c.ID, MessageIDs: pending}); err != nil {
			return n, fmt.Errorf("campaignrun.SweepStranded: %w", err)
		}
		n += len(pending)
	}
	if n > 0 {
		log.Warn("stranded messages given a task again", "count", n, "pending", len(pending))
	}
	return n, nil
}

// actionable returns up to want of the campaign's stale messages that no
// sweep gave a task within StrandedAfter (one not yet run). Those keep
// their old UpdatedAt, so they lead the stale list: the read grows past
// them, up to strandedScan, so they cannot starve the others.
func (r *Runner) actionable(ctx context.Context, campaignID string, now time.Time, want int) ([]message.Message, error) {
	for lim := want; ; lim = min(lim*4, strandedScan) {
		ms, err := r.Store.StaleMessages(ctx, campaignID, now.Add(-StrandedAfter), lim)
		if err != nil {
			return nil, fmt.Errorf("campaignrun.SweepStranded: %w", err)
		}
		var out []message.Message
		for _, m := range ms {
			if m.RequeuedAt != nil && now.Sub(*m.RequeuedAt) <= StrandedAfter {
				continue // given a task by a recent sweep: not yet run
			}
			if len(out) < want {
				out = append(out, m)
			}
		}
		if len(out) >= want || len(ms) < lim || lim >= strandedScan {
			return out, nil
		}
	}
}

// errMoved says a message changed since the sweep read it.
var errMoved = errors.New("message moved since the sweep read it")

// requeue marks seen QUEUED again, if it is still as the sweep read it,
// and gives it a task of the sweep's generation.
func (r *Runner) requeue(ctx context.Context, c campaign.Campaign, seen message.Message, now time.Time) (bool, error) {
	_, err := r.Store.UpdateMessageInCampaign(ctx, seen.ID, func(cur campaign.Campaign, m *message.Message) error {
		if cur.Status != campaign.Running || m.Status != seen.Status || !m.UpdatedAt.Equal(seen.UpdatedAt) || !sameTime(m.RequeuedAt, seen.RequeuedAt) {
			return errMoved
		}
		// UpdatedAt stays: nothing moved the message yet, and the dashboard
		// counts it as stuck until something does.
		m.Status, m.RequeuedAt = message.Queued, &now
		m.Requeues++
		return nil
	})
	if errors.Is(err, errMoved) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("campaignrun.requeue: %w", err)
	}
	// A sweep's generation is its time: no deferral of this message can
	// share it (a deferral's is the end of quiet hours it was deferred
	// to, before the message was due, or after this sweep), and two sweeps
	// of one message are StrandedAfter apart at least.
	t := sendqueue.Task{Queue: sendqueue.QueueID(c.ID, c.QueueGeneration), CampaignID: c.ID, MessageID: seen.ID, Generation: now.Unix()}
	if _, err := r.Queue.Enqueue(ctx, t); err != nil {
		// The message stays QUEUED: the sweep after StrandedAfter tries again.
		return false, fmt.Errorf("campaignrun.requeue: %w", err)
	}
	return true, nil
}

// sameTime reports whether a and b are both unset or the same time.
func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// StuckMessages counts the messages stranded without a task, by
// aggregation (a few queries for each running campaign): those a sweep
// would give a task now, and those a sweep gave one that has not run yet.
func (r *Runner) StuckMessages(ctx context.Context) (int, error) {
	now := r.now()
	total := 0
	err := r.eachSweepable(ctx, "StuckMessages", now, func(c campaign.Campaign) (bool, error) {
		n, err := r.Store.CountStale(ctx, c.ID, now.Add(-StrandedAfter))
		if err != nil {
			return false, fmt.Errorf("campaignrun.StuckMessages: %w", err)
		}
		total += n
		return false, nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// eachSweepable calls fn with each running campaign whose messages may be
// stranded at now (sweepable), until fn says it is done; op names the
// caller in errors.
func (r *Runner) eachSweepable(ctx context.Context, op string, now time.Time, fn func(campaign.Campaign) (done bool, err error)) error {
	running, err := r.Store.CampaignsIn(ctx, campaign.Running, stuckCampaignsLimit)
	if err != nil {
		return fmt.Errorf("campaignrun.%s: %w", op, err)
	}
	for _, c := range running {
		ok, err := r.sweepable(ctx, c, now)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if done, err := fn(c); err != nil || done {
			return err
		}
	}
	return nil
}

// StrandedMessage is one message StuckMessages counts: its campaign, and
// since when it has waited for a send (its last write, or for a DEFERRED
// one the time it was due).
type StrandedMessage struct {
	Campaign campaign.Campaign
	Message  message.Message
	Since    time.Time
}

// StrandedMessages lists up to limit of the messages StuckMessages
// counts, by the same reads (StaleMessages in place of CountStale), the
// longest waiting of each running campaign first.
func (r *Runner) StrandedMessages(ctx context.Context, limit int) ([]StrandedMessage, error) {
	now := r.now()
	var out []StrandedMessage
	if limit < 1 {
		return out, nil
	}
	err := r.eachSweepable(ctx, "StrandedMessages", now, func(c campaign.Campaign) (bool, error) {
		ms, err := r.Store.StaleMessages(ctx, c.ID, now.Add(-StrandedAfter), limit-len(out))
		if err != nil {
			return false, fmt.Errorf("campaignrun.StrandedMessages: %w", err)
		}
		for _, m := range ms {
			since := m.UpdatedAt
			if m.Status == message.Deferred && m.ScheduledAt != nil {
				since = *m.ScheduledAt
			}
			out = append(out, StrandedMessage{Campaign: c, Message: m, Since: since})
		}
		return len(out) >= limit, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
