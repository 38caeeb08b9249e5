package campaignrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/store"
)

// Pausing, resuming and cancelling. A move is one transaction on the
// campaign, answered once committed; what it asks of the campaign's
// messages and queue (held messages queued again, unsent ones concluded,
// the queue paused, resumed or released) is settled after, page by page,
// through settle requests on the recipient-batch topic (see Settle), so
// that no request waits on a large campaign. The move itself is what
// stops sends: every send is claimed in a transaction that reads the
// campaign (store.UpdateMessageInCampaign), so no send starts once a
// pause or cancel has committed.

// Pause pauses a running campaign, by who and why.
func (r *Runner) Pause(ctx context.Context, id, by, why string) (campaign.Campaign, error) {
	return r.move(ctx, id, campaign.Paused, by, why, nil)
}

// Resume runs a paused campaign again: its held messages get new tasks
// (a new task generation, as Cloud Tasks keeps a task's name for a while
// after it ran) and its fan-out continues from the page it held.
func (r *Runner) Resume(ctx context.Context, id, by, why string) (campaign.Campaign, error) {
	return r.move(ctx, id, campaign.Running, by, why, func(c *campaign.Campaign) error {
		if c.Status != campaign.Paused && !c.Status.Concluded() { // the table says why a concluded one cannot
			return errs.E(errs.Conflict, "campaign %s is %s: only a PAUSED campaign can be resumed", c.ID, c.Status)
		}
		c.Resumes++
		return nil
	})
}

// Cancel stops a campaign for good: its unsent messages are concluded as
// skipped (cancelled) and its queue is released.
func (r *Runner) Cancel(ctx context.Context, id, by, why string) (campaign.Campaign, error) {
	return r.move(ctx, id, campaign.Cancelled, by, why, nil)
}

// move makes one move and asks for it to be settled. A move the table
// refuses is a Conflict. check, if given, refuses before the move.
func (r *Runner) move(ctx context.Context, id string, to campaign.Status, by, why string, check func(*campaign.Campaign) error) (campaign.Campaign, error) {
	now := r.now()
	c, err := r.Store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
		if check != nil {
			if err := check(c); err != nil {
				return err
			}
		}
		if err := c.Move(to, by, why, now); err != nil {
			return err
		}
		c.Unsettled = true
		return nil
	})
	if err != nil {
		return c, err
	}
	log := logging.FromContext(ctx).With("campaign_id", id)
	log.Info("campaign "+strings.ToLower(string(to)), "by", by, "reason", why)
	if err := r.settleSoon(ctx, id); err != nil {
		// The move stands; the campaign check settles it later.
		log.Error("settle not requested; the campaign check will ask again", "error", err)
	}
	return c, nil
}

// Settle moves a page of the campaign's messages, and its queue, as its
// status asks, and asks for the next page while there may be more:
//   - PAUSED: the queue is paused (a message whose task still arrives is
//     held by the Sender).
//   - RUNNING: the queue is resumed, the held fan-out page published
//     again, and the held messages given tasks of the campaign's new
//     generation.
//   - CANCELLED: the queue is released and the unsent messages concluded
//     as skipped (cancelled).
//
// Once a page finds nothing left, the campaign is marked settled. Every
// step is idempotent: a settle request may arrive twice or late, and acts
// on the campaign as it is then.
func (r *Runner) Settle(ctx context.Context, id string) error { return r.settle(ctx, id, true) }

// settle settles one page; the first page of a move also gives the
// running queues their shares of the sender's ceiling, once per move
// rather than once per page.
func (r *Runner) settle(ctx context.Context, id string, first bool) error {
	c, err := r.Store.GetCampaign(ctx, id)
	if err != nil {
		return permanentIfMissing(err)
	}
	log := logging.FromContext(ctx).With("campaign_id", id)
	more := false
	switch c.Status {
	case campaign.Paused:
		if err := r.pauseQueue(ctx, c); err != nil {
			return err
		}
		if first {
			r.shareCeiling(ctx) // its share goes to the others
		}
	case campaign.Running:
		if err := r.resumeQueue(ctx, c); err != nil {
			return err
		}
		if first {
			r.shareCeiling(ctx) // its share back
		}
		if err := r.releaseHeldPages(ctx, c); err != nil {
			return err
		}
		n, err := r.requeueHeld(ctx, c)
		if err != nil {
			return err
		}
		log.Info("held messages queued again", "count", n, "generation", c.Resumes)
		more = n == r.settlePage()
	case campaign.Cancelled:
		if err := r.CheckCompletion(ctx, id); err != nil { // releases the queue first: no more dispatches
			return err
		}
		ms, err := r.Store.MessagesIn(ctx, id, message.Unsent, r.settlePage())
		if err != nil {
			return fmt.Errorf("campaignrun.Settle: %w", err)
		}
		n, err := r.cancelMessages(ctx, ids(ms))
		if err != nil {
			return err
		}
		log.Info("unsent messages cancelled", "count", n)
		more = len(ms) == r.settlePage()
	}
	if more {
		return r.settleNext(ctx, id)
	}
	if _, err := r.Store.UpdateCampaign(ctx, id, func(cur *campaign.Campaign) error {
		if !cur.Unsettled || cur.Status != c.Status || cur.Resumes != c.Resumes {
			return store.Unchanged // moved since: its own settle clears it
		}
		cur.Unsettled = false
		return nil
	}); err != nil {
		return fmt.Errorf("campaignrun.Settle: %w", err)
	}
	if c.Status == campaign.Running {
		return r.CheckCompletion(ctx, id)
	}
	return nil
}

func ids(ms []message.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// releaseHeldPages publishes again the fan-out pages a pause held, then
// forgets each (only if it is still the same: a page held again since
// stays).
func (r *Runner) releaseHeldPages(ctx context.Context, c campaign.Campaign) error {
	if len(c.HeldPages) == 0 {
		return nil
	}
	for slice, after := range c.HeldPages {
		ev := events.Launch{CampaignID: c.ID}
		switch {
		case slice == campaign.FanoutStart:
		case slice >= 0 && slice < len(c.FanoutSlices):
			ev.After, ev.Slice = after, &events.LaunchSlice{Index: slice, IDs: c.FanoutSlices[slice]}
		default: // a fan-out read before slices: one reading, by After
			ev.After = after
		}
		if err := r.Events.Publish(ctx, events.TopicCampaignLaunch, ev); err != nil {
			return fmt.Errorf("campaignrun.releaseHeldPages: %w", err)
		}
	}
	released := c.HeldPages
	_, err := r.Store.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
		changed := false
		for slice, after := range released {
			if cur, ok := c.HeldPages[slice]; ok && cur == after {
				delete(c.HeldPages, slice)
				changed = true
			}
		}
		if !changed {
			return store.Unchanged
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("campaignrun.releaseHeldPages: %w", err)
	}
	logging.FromContext(ctx).Info("fan-out continues", "campaign_id", c.ID, "pages", len(released))
	return nil
}

// holdPage records a fan-out page that reached a paused campaign, for the
// resume to publish again: per slice, the furthest page (should a
// redelivered older one arrive too); the fan-out's start when the pause
// came before it. A campaign resumed meanwhile takes the page at once.
func (r *Runner) holdPage(ctx context.Context, ev events.Launch) error {
	slice := campaign.FanoutStart
	switch {
	case ev.Slice != nil:
		slice = ev.Slice.Index
	case ev.After != "":
		slice = 0 // published before slices: the one reading
	}
	resumed := false
	_, err := r.Store.UpdateCampaign(ctx, ev.CampaignID, func(c *campaign.Campaign) error {
		resumed = false
		if c.Status != campaign.Paused {
			resumed = true
			return store.Unchanged
		}
		if cur, ok := c.HeldPages[slice]; ok && cur >= ev.After {
			return store.Unchanged
		}
		if c.HeldPages == nil {
			c.HeldPages = map[int]string{}
		}
		c.HeldPages[slice] = ev.After
		return nil
	})
	if err != nil {
		return fmt.Errorf("campaignrun.holdPage: %w", err)
	}
	if resumed {
		return r.Launch(ctx, ev)
	}
	logging.FromContext(ctx).Info("fan-out held by the pause", "campaign_id", ev.CampaignID, "slice", slice, "after", ev.After)
	return nil
}

// requeueHeld gives up to SettlePage held messages a task of the
// campaign's current generation and moves them back to QUEUED (or
// DEFERRED, when held past quiet hours still to come). The task is made
// first: a message that loses its update is still HELD and found again.
func (r *Runner) requeueHeld(ctx context.Context, c campaign.Campaign) (int, error) {
	ms, err := r.Store.MessagesIn(ctx, c.ID, []message.Status{message.Held}, r.settlePage())
	if err != nil {
		return 0, fmt.Errorf("campaignrun.requeueHeld: %w", err)
	}
	queueID := sendqueue.QueueID(c.ID, c.QueueGeneration)
	now := r.now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.parallelism())
	for _, m := range ms {
		g.Go(func() error {
			task := sendqueue.Task{Queue: queueID, CampaignID: c.ID, MessageID: m.ID, Generation: int64(c.Resumes)}
			if m.ScheduledAt != nil && m.ScheduledAt.After(now) {
				task.At = *m.ScheduledAt
			}
			if _, err := r.Queue.Enqueue(gctx, task); err != nil {
				return fmt.Errorf("campaignrun.requeueHeld: %w", err)
			}
			_, err := r.Store.UpdateMessage(gctx, m.ID, func(m *message.Message) error {
				if m.Status != message.Held {
					return store.Unchanged // claimed by its new task already
				}
				m.Status, m.QueuedAt, m.UpdatedAt = message.Queued, &now, now
				if !task.At.IsZero() {
					m.Status = message.Deferred
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("campaignrun.requeueHeld: %w", err)
			}
			return nil
		})
	}
	return len(ms), g.Wait()
}

// cancelMessages concludes the unsent among the messages as skipped
// (cancelled), and says how many it concluded. A message claimed for a
// send is left to the Sender, which records its outcome.
func (r *Runner) cancelMessages(ctx context.Context, messageIDs []string) (int, error) {
	now := r.now()
	var n atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.parallelism())
	for _, id := range messageIDs {
		g.Go(func() error {
			_, err := r.Store.UpdateMessage(gctx, id, func(m *message.Message) error {
				if !slices.Contains(message.Unsent, m.Status) {
					return store.Unchanged
				}
				m.Status, m.SkipReason, m.UpdatedAt = message.Skipped, message.SkipCancelled, now
				n.Add(1)
				return nil
			})
			if err != nil && !errs.Is(err, errs.NotExist) {
				return fmt.Errorf("campaignrun.cancelMessages: %w", err)
			}
			return nil
		})
	}
	err := g.Wait()
	return int(n.Load()), err
}

// pauseQueue pauses the campaign's queue, so that its tasks wait instead
// of reaching the Sender only to be held. Then, should a resume have
// slipped in between, the queue is resumed again: whatever the order of
// the two, the queue ends as the campaign is.
func (r *Runner) pauseQueue(ctx context.Context, c campaign.Campaign) error {
	if r.Queue == nil || c.QueueCreatedAt == nil || c.QueueReleasedAt != nil {
		return nil
	}
	queueID := sendqueue.QueueID(c.ID, c.QueueGeneration)
	if err := r.Queue.PauseQueue(ctx, queueID); err != nil {
		return fmt.Errorf("campaignrun.pauseQueue: %w", err)
	}
	now, err := r.Store.GetCampaign(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("campaignrun.pauseQueue: %w", err)
	}
	if now.Status == campaign.Running {
		return r.resumeQueue(ctx, now)
	}
	return nil
}

// resumeQueue lets the queue dispatch again (a no-op on one that is not
// paused).
func (r *Runner) resumeQueue(ctx context.Context, c campaign.Campaign) error {
	if c.QueueCreatedAt == nil || c.QueueReleasedAt != nil {
		return nil
	}
	if err := r.Queue.ResumeQueue(ctx, sendqueue.QueueID(c.ID, c.QueueGeneration)); err != nil {
		return fmt.Errorf("campaignrun.resumeQueue: %w", err)
	}
	return nil
}

// LaunchDue launches the scheduled campaigns whose time has come, and
// returns their ids. A campaign that cannot launch (its template or
// segment is gone) fails with the reason rather than being tried every
// minute.
func (r *Runner) LaunchDue(ctx context.Context) ([]string, error) {
	due, err := r.Store.DueCampaigns(ctx, r.now(), stuckCampaignsLimit)
	if err != nil {
		return nil, fmt.Errorf("campaignrun.LaunchDue: %w", err)
	}
	launched := []string{}
	var failures []error
	for _, c := range due {
		_, ok, err := r.launch(ctx, c.ID, campaign.BySystem, "its schedule_time came", true)
		switch {
		case errors.Is(err, errUnusable):
			if ferr := r.fail(ctx, c.ID, "could not launch at its schedule_time: "+err.Error()); ferr != nil {
				failures = append(failures, ferr)
			}
		case err != nil:
			failures = append(failures, err)
		case ok:
			launched = append(launched, c.ID)
		}
	}
	return launched, errors.Join(failures...)
}

// ResettleAfter is how long a campaign may stay unsettled before the
// campaign check asks again: a settle request lost on its way, or a
// publish that failed after the move.
const ResettleAfter = 5 * time.Minute

// Resettle asks again for the settling of campaigns unsettled for longer
// than ResettleAfter since their last move, and returns their ids.
func (r *Runner) Resettle(ctx context.Context) ([]string, error) {
	cs, err := r.Store.UnsettledCampaigns(ctx, stuckCampaignsLimit)
	if err != nil {
		return nil, fmt.Errorf("campaignrun.Resettle: %w", err)
	}
	out := []string{}
	for _, c := range cs {
		if r.now().Sub(c.UpdatedAt) < ResettleAfter {
			continue
		}
		if err := r.settleSoon(ctx, c.ID); err != nil {
			return out, fmt.Errorf("campaignrun.Resettle: %w", err)
		}
		logging.FromContext(ctx).Warn("campaign settled again", "campaign_id", c.ID, "status", c.Status)
		out = append(out, c.ID)
	}
	return out, nil
}
