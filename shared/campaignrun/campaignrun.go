// Package campaignrun runs a campaign: trigger, segment evaluation page by
// page, compliance for each recipient, one paced send task per message,
// and completion once every send has concluded. Each step is idempotent,
// because the events and tasks that drive it arrive at least once.
package campaignrun

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/store"
)

// Runner drives campaigns through their ports.
type Runner struct {
	Store  store.Store
	Events events.Publisher
	Queue  sendqueue.Queue // not needed by Trigger
	Now    func() time.Time

	// PageSize is how many users one Launch event scans; BatchSize how
	// many messages one Recipients event carries; Parallelism how many of
	// a batch's messages are checked and queued at once.
	PageSize, BatchSize, Parallelism int
}

func (r *Runner) parallelism() int {
	if r.Parallelism > 0 {
		return r.Parallelism
	}
	return 16
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) pageSize() int {
	if r.PageSize > 0 {
		return r.PageSize
	}
	return 500
}

func (r *Runner) batchSize() int {
	if r.BatchSize > 0 {
		return r.BatchSize
	}
	return 100
}

// Trigger starts a campaign and asks for its launch. Triggering a running
// campaign whose recipients are not all written asks again (launch is
// idempotent), so a trigger whose publish failed can simply be repeated.
func (r *Runner) Trigger(ctx context.Context, id string) (campaign.Campaign, error) {
	c, err := r.Store.GetCampaign(ctx, id)
	if err != nil {
		return campaign.Campaign{}, err
	}
	if _, err := r.Store.GetTemplate(ctx, c.TemplateID); err != nil {
		return c, notUsable(err, "template", c.TemplateID)
	}
	if _, err := r.Store.GetSegment(ctx, c.SegmentID); err != nil {
		return c, notUsable(err, "segment", c.SegmentID)
	}
	now := r.now()
	c, err = r.Store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
		if c.Status == campaign.Running && !c.FanoutDone {
			return store.Unchanged
		}
		return c.Trigger(now)
	})
	if err != nil {
		return c, err
	}
	if err := r.Events.Publish(ctx, events.TopicCampaignLaunch, events.Launch{CampaignID: id}); err != nil {
		return c, fmt.Errorf("campaignrun.Trigger: %w", err)
	}
	logging.FromContext(ctx).Info("campaign triggered", "campaign_id", id)
	return c, nil
}

func notUsable(err error, what, id string) error {
	if errs.Is(err, errs.NotExist) {
		return errs.E(errs.Conflict, "the campaign's %s %q does not exist", what, id)
	}
	return err
}

// Launch evaluates one page of users against the campaign's segment,
// writes a PENDING message for each match, passes them on in batches, and
// asks for the next page; the last page marks the fan-out done.
func (r *Runner) Launch(ctx context.Context, ev events.Launch) error {
	log := logging.FromContext(ctx).With("campaign_id", ev.CampaignID)
	c, err := r.Store.GetCampaign(ctx, ev.CampaignID)
	if err != nil {
		return permanentIfMissing(err)
	}
	if c.Status != campaign.Running || c.FanoutDone {
		// A late or repeated page: the recipients are all written.
		log.Info("launch ignored", "status", c.Status, "fanout_complete", c.FanoutDone)
		return nil
	}
	if ev.After == "" {
		if err := r.Queue.EnsureQueue(ctx, c.ID, c.Rate); err != nil {
			return fmt.Errorf("campaignrun.Launch: %w", err)
		}
	}
	seg, err := r.Store.GetSegment(ctx, c.SegmentID)
	if err != nil {
		return permanentIfMissing(err)
	}
	users, err := r.Store.ScanUsers(ctx, ev.After, r.pageSize())
	if err != nil {
		return fmt.Errorf("campaignrun.Launch: %w", err)
	}
	now := r.now()
	var ms []message.Message
	for _, u := range users {
		if !seg.Definition.Match(u.Phone, string(u.Consent), u.Attributes) {
			continue
		}
		ms = append(ms, message.Message{
			ID: message.ID(c.ID, u.Phone), CampaignID: c.ID, Phone: u.Phone,
			Status: message.Pending, CreatedAt: now, UpdatedAt: now,
		})
	}
	if len(ms) > 0 {
		if _, err := r.Store.CreateMessages(ctx, ms); err != nil {
			return fmt.Errorf("campaignrun.Launch: %w", err)
		}
	}
	for start := 0; start < len(ms); start += r.batchSize() {
		end := min(start+r.batchSize(), len(ms))
		ids := make([]string, 0, end-start)
		for _, m := range ms[start:end] {
			ids = append(ids, m.ID)
		}
		if err := r.Events.Publish(ctx, events.TopicRecipients, events.Recipients{CampaignID: c.ID, MessageIDs: ids}); err != nil {
			return fmt.Errorf("campaignrun.Launch: %w", err)
		}
	}
	log.Info("segment page evaluated", "scanned", len(users), "matched", len(ms))
	if len(users) == r.pageSize() {
		next := events.Launch{CampaignID: c.ID, After: users[len(users)-1].Phone}
		if err := r.Events.Publish(ctx, events.TopicCampaignLaunch, next); err != nil {
			return fmt.Errorf("campaignrun.Launch: %w", err)
		}
		return nil
	}
	counts, err := r.Store.CountMessages(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("campaignrun.Launch: %w", err)
	}
	if _, err := r.Store.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
		if c.FanoutDone {
			return store.Unchanged
		}
		c.FanoutDone = true
		c.Recipients = counts.Recipients
		c.UpdatedAt = now
		return nil
	}); err != nil {
		return fmt.Errorf("campaignrun.Launch: %w", err)
	}
	log.Info("segment evaluated", "recipients", counts.Recipients)
	return r.CheckCompletion(ctx, c.ID)
}

// Recipients runs compliance for a batch of messages: each is skipped with
// its reason, or rendered and given a send task (scheduled for the end of
// quiet hours when it falls in them).
func (r *Runner) Recipients(ctx context.Context, ev events.Recipients) error {
	log := logging.FromContext(ctx).With("campaign_id", ev.CampaignID)
	c, err := r.Store.GetCampaign(ctx, ev.CampaignID)
	if err != nil {
		return permanentIfMissing(err)
	}
	if c.Status != campaign.Running {
		log.Info("recipients ignored: campaign not running", "status", c.Status)
		return nil
	}
	tmpl, err := r.Store.GetTemplate(ctx, c.TemplateID)
	if err != nil {
		return permanentIfMissing(err)
	}
	window, err := c.QuietHours()
	if err != nil {
		return errs.Wrap(errs.Permanent, err, "campaignrun.Recipients")
	}
	ms, err := r.Store.GetMessages(ctx, ev.MessageIDs)
	if err != nil {
		return permanentIfMissing(err)
	}
	phones := make([]string, len(ms))
	for i, m := range ms {
		phones[i] = m.Phone
	}
	users, err := r.Store.GetUsers(ctx, phones)
	if err != nil {
		return fmt.Errorf("campaignrun.Recipients: %w", err)
	}
	// Each message is its own small transaction and task: run them side
	// by side, or a batch waits on one round trip after another.
	var queued, skipped, deferred atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.parallelism())
	for _, m := range ms {
		switch m.Status {
		case message.Pending, message.Queued, message.Deferred:
		default:
			continue // already claimed or concluded: nothing to do
		}
		u, ok := users[m.Phone]
		d := compliance.Check(compliance.Input{User: u, Exists: ok, Quiet: window, Content: tmpl.Content, Now: r.now()})
		g.Go(func() error {
			switch d.Action {
			case compliance.Skip:
				skipped.Add(1)
				return r.skip(gctx, m.ID, d.Reason)
			case compliance.Defer:
				deferred.Add(1)
			default:
				queued.Add(1)
			}
			return r.queue(gctx, m.ID, d)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("recipients checked", "queued", queued.Load(), "deferred", deferred.Load(), "skipped", skipped.Load())
	return r.CheckCompletion(ctx, c.ID)
}

func (r *Runner) skip(ctx context.Context, id string, reason message.SkipReason) error {
	now := r.now()
	_, err := r.Store.UpdateMessage(ctx, id, func(m *message.Message) error {
		if m.Status != message.Pending {
			return store.Unchanged
		}
		m.Status, m.SkipReason, m.UpdatedAt = message.Skipped, reason, now
		return nil
	})
	if err != nil {
		return fmt.Errorf("campaignrun.skip: %w", err)
	}
	return nil
}

// queue records the rendered body and due time, then makes the task. The
// task is named after the message, so a redelivered batch that finds the
// message QUEUED makes the task again harmlessly, and one that failed
// between the two steps is repaired.
func (r *Runner) queue(ctx context.Context, id string, d compliance.Decision) error {
	now := r.now()
	var at time.Time
	if d.Action == compliance.Defer {
		at = d.Until
	}
	m, err := r.Store.UpdateMessage(ctx, id, func(m *message.Message) error {
		if m.Status != message.Pending {
			return store.Unchanged
		}
		m.Body = d.Body
		m.Status = message.Queued
		if !at.IsZero() {
			m.Status = message.Deferred
			m.ScheduledAt = &at
		}
		m.QueuedAt, m.UpdatedAt = &now, now
		return nil
	})
	if err != nil {
		return fmt.Errorf("campaignrun.queue: %w", err)
	}
	if m.Status != message.Queued && m.Status != message.Deferred {
		return nil
	}
	task := sendqueue.Task{CampaignID: m.CampaignID, MessageID: m.ID}
	if m.ScheduledAt != nil {
		task.At = *m.ScheduledAt
	}
	if _, err := r.Queue.Enqueue(ctx, task); err != nil {
		return fmt.Errorf("campaignrun.queue: %w", err)
	}
	return nil
}

// CheckCompletion completes the campaign once its fan-out is done and no
// message is left unconcluded. Every step that concludes messages calls
// it after its own writes, so the last one to finish sees the final state.
func (r *Runner) CheckCompletion(ctx context.Context, id string) error {
	c, err := r.Store.GetCampaign(ctx, id)
	if err != nil {
		return fmt.Errorf("campaignrun.CheckCompletion: %w", err)
	}
	if c.Status != campaign.Running || !c.FanoutDone {
		return nil
	}
	open, err := r.Store.HasUnconcluded(ctx, id)
	if err != nil || open {
		return err
	}
	now := r.now()
	done := false
	_, err = r.Store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
		if !c.Complete(now) {
			return store.Unchanged
		}
		done = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("campaignrun.CheckCompletion: %w", err)
	}
	if done {
		logging.FromContext(ctx).Info("campaign completed", "campaign_id", id)
	}
	return nil
}

// permanentIfMissing acks work about something deleted: redelivery will
// not bring it back.
func permanentIfMissing(err error) error {
	if errs.Is(err, errs.NotExist) {
		return errs.Wrap(errs.Permanent, err, "campaignrun")
	}
	return err
}
