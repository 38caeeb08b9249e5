// Package campaignrun runs a campaign: trigger, segment evaluation page by
// page, compliance for each recipient, one paced send task per message,
// and completion once every send has concluded. Each step is idempotent,
// because the events and tasks that drive it arrive at least once.
//
// Each campaign has a send queue of its own, made before any recipient is
// written and deleted once the campaign has concluded (a region holds about
// 1,000). A campaign whose queue cannot be made fails with the reason;
// having written no message, it leaves none behind. A concluded campaign
// ignores its late events, which only see that its queue is released.
package campaignrun

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/content"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/template"
)

// maxQueueGeneration bounds the names tried for one campaign's queue: a
// name is blocked only by a queue of that name deleted in the last days.
const maxQueueGeneration = 3

// Runner drives campaigns through their ports.
type Runner struct {
	Store  store.Store
	Events events.Publisher
	Queue  sendqueue.Queue // not needed by Trigger
	Now    func() time.Time

	// QueueCreateTimeout is how long a RUNNING campaign may go without its
	// send queue before it fails (default 10 minutes).
	QueueCreateTimeout time.Duration

	// AutoPause pauses a campaign whose sends fail too often (the zero
	// value never does).
	AutoPause AutoPause

	// FrequencyCap skips, before they get a task, the recipients who
	// already had this many messages in compliance.FrequencyWindow (0: no
	// cap). The Sender's claim enforces it exactly; this saves the tasks.
	FrequencyCap int

	// Content are the operator's content rules (CONTENT_BLOCKED_PATTERNS,
	// CONTENT_OPT_OUT_TEXT).
	Content content.Rules
	// WhatsAppTier is how many people the sender may start conversations
	// with in 24 hours (0: unlimited); a dry run warns before passing it.
	WhatsAppTier int
	// SenderMPS is the sender's ceiling in messages a second, shared by
	// the campaigns running at once (0: none; see rates.go).
	SenderMPS int

	// PageSize is how many users one Launch event scans; BatchSize how
	// many messages one Recipients event carries; Parallelism how many of
	// a batch's messages are checked and queued at once; Slices how many
	// slices of the id space a launch reads a segment of more than two
	// pages in, side by side.
	PageSize, BatchSize, Parallelism, Slices int
	// SettlePage is how many messages one settle request moves (default
	// 500); DryRunChunk how many people one event of a background dry run
	// reads (default 10,000).
	SettlePage, DryRunChunk int
}

func (r *Runner) slices() int {
	if r.Slices > 0 {
		return r.Slices
	}
	return 8
}

func (r *Runner) settlePage() int {
	if r.SettlePage > 0 {
		return r.SettlePage
	}
	return 500
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

func (r *Runner) queueCreateTimeout() time.Duration {
	if r.QueueCreateTimeout > 0 {
		return r.QueueCreateTimeout
	}
	return 10 * time.Minute
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

// Trigger starts a campaign by who and asks for its launch, snapshotting
// the template and segment it uses onto it. Triggering a running campaign
// whose recipients are not all written asks again (launch is idempotent),
// so a trigger whose publish failed can simply be repeated.
func (r *Runner) Trigger(ctx context.Context, id, by string) (campaign.Campaign, error) {
	c, _, err := r.launch(ctx, id, by, "triggered", false)
	return c, err
}

// errEdited says the campaign's template or segment changed while the
// launch read them: it reads them again.
var errEdited = errors.New("campaign edited during its launch")

// launch moves a DRAFT or SCHEDULED campaign to RUNNING with its
// snapshots and publishes its first page. onlyDue launches only a
// scheduled campaign whose time has come (the sweep), and reports
// launched false for any other.
func (r *Runner) launch(ctx context.Context, id, by, why string, onlyDue bool) (c campaign.Campaign, launched bool, err error) {
	for range 3 {
		c, err = r.Store.GetCampaign(ctx, id)
		if err != nil {
			return campaign.Campaign{}, false, err
		}
		if onlyDue && !c.Due(r.now()) {
			return c, false, nil
		}
		tmpl, err := r.Store.GetTemplate(ctx, c.TemplateID)
		if err != nil {
			return c, false, notUsable(err, "template", c.TemplateID)
		}
		seg, err := r.Store.GetSegment(ctx, c.SegmentID)
		if err != nil {
			return c, false, notUsable(err, "segment", c.SegmentID)
		}
		now := r.now()
		c, err = r.Store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
			switch {
			case c.Status == campaign.Running && !c.FanoutDone && !onlyDue:
				return store.Unchanged
			case onlyDue && !c.Due(now):
				return store.Unchanged
			case c.TemplateID != tmpl.ID || c.SegmentID != seg.ID:
				return errEdited
			}
			if err := c.Trigger(now, by, why); err != nil {
				return err
			}
			c.Template, c.Segment = &tmpl, &seg
			return nil
		})
		if errors.Is(err, errEdited) {
			continue
		}
		if err != nil {
			return c, false, err
		}
		if onlyDue && c.Status != campaign.Running {
			return c, false, nil
		}
		if err := r.Events.Publish(ctx, events.TopicCampaignLaunch, events.Launch{CampaignID: id}); err != nil {
			return c, false, fmt.Errorf("campaignrun.launch: %w", err)
		}
		logging.FromContext(ctx).Info("campaign launched", "campaign_id", id, "by", by, "reason", why)
		return c, true, nil
	}
	return c, false, errs.E(errs.Conflict, "campaign %s kept changing during its launch; try again", id)
}

// errUnusable marks a launch refused because the campaign's template or
// segment is gone: a scheduled launch then fails the campaign.
var errUnusable = errors.New("campaign cannot launch")

func notUsable(err error, what, id string) error {
	if errs.Is(err, errs.NotExist) {
		return errs.Wrap(errs.Conflict, errUnusable, fmt.Sprintf("the campaign's %s %q does not exist", what, id))
	}
	return err
}

// Recipients runs compliance for a batch of messages: each is skipped with
// its reason, or rendered and given a send task (scheduled for the end of
// quiet hours when it falls in them); a paused campaign's are held, a
// cancelled one's concluded. A settle request goes to Settle, a request
// to share the sender's ceiling again to ShareCeilingAgain's sharing, a
// request for a sweep to SweepStranded.
func (r *Runner) Recipients(ctx context.Context, ev events.Recipients) error {
	switch {
	case ev.Settle:
		return r.settle(ctx, ev.CampaignID, !ev.SettleNext)
	case ev.ShareCeiling:
		r.shareCeiling(ctx)
		return nil
	case ev.SweepStranded:
		if _, err := r.SweepStranded(ctx); err != nil {
			// Acked: the next campaign check asks again, sooner than a
			// redelivery can be relied on.
			logging.FromContext(ctx).Error("stranded-message sweep failed", "error", err)
		}
		return nil
	case ev.Retask:
		return r.retask(ctx, ev)
	}
	log := logging.FromContext(ctx).With("campaign_id", ev.CampaignID)
	c, err := r.Store.GetCampaign(ctx, ev.CampaignID)
	if err != nil {
		return permanentIfMissing(err)
	}
	switch c.Status {
	case campaign.Running, campaign.Paused:
		// Paused: checked and rendered, then held for the resume.
	case campaign.Cancelled:
		n, err := r.cancelMessages(ctx, ev.MessageIDs)
		log.Info("recipients of a cancelled campaign concluded", "cancelled", n)
		if err != nil {
			return err
		}
		return r.CheckCompletion(ctx, c.ID)
	default:
		log.Info("recipients ignored: campaign not running", "status", c.Status)
		return r.CheckCompletion(ctx, c.ID)
	}
	queueID := sendqueue.QueueID(c.ID, c.QueueGeneration)
	tmpl, err := r.templateOf(ctx, c)
	if err != nil {
		return permanentIfMissing(err)
	}
	compiled := template.Compile(tmpl) // once for the batch, not per recipient
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
	suppressed, err := r.suppressed(ctx, phones)
	if err != nil {
		return err
	}
	recent, err := r.recentSends(ctx, phones)
	if err != nil {
		return err
	}
	// Each message is its own small transaction and task: run them side
	// by side, or a batch waits on one round trip after another.
	type job struct {
		id string
		d  compliance.Decision
	}
	jobs := make([]job, 0, len(ms))
	for _, m := range ms {
		switch m.Status {
		case message.Pending, message.Queued, message.Deferred:
		default:
			continue // already claimed or concluded: nothing to do
		}
		u, ok := users[m.Phone]
		d := compliance.Check(compliance.Input{User: u, Exists: ok, Suppressed: suppressed[m.Phone],
			FrequencyCap: r.FrequencyCap, RecentSends: recent[m.Phone], Quiet: window, Template: compiled, Content: r.Content, Now: r.now()})
		jobs = append(jobs, job{m.ID, d})
	}
	var queued, skipped, deferred, held atomic.Int64
	do := func(ctx context.Context, j job) error {
		if j.d.Action == compliance.Skip {
			skipped.Add(1)
			return r.skip(ctx, j.id, j.d.Reason)
		}
		st, err := r.queue(ctx, queueID, j.id, j.d)
		switch st {
		case message.Held:
			held.Add(1)
		case message.Deferred:
			deferred.Add(1)
		case message.Queued:
			queued.Add(1)
		}
		return err
	}
	// A few workers take the jobs in turn: a goroutine a message would
	// grow a fresh stack for each.
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range min(r.parallelism(), len(jobs)) {
		g.Go(func() error {
			for gctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return nil
				}
				if err := do(gctx, jobs[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("recipients checked", "queued", queued.Load(), "deferred", deferred.Load(), "skipped", skipped.Load(), "held", held.Load())
	return r.CheckCompletion(ctx, c.ID)
}

// recentSends reads the send ledgers of phones when a cap is set: how
// many messages each person had in the window, by phone.
func (r *Runner) recentSends(ctx context.Context, phones []string) (map[string]int, error) {
	if r.FrequencyCap <= 0 {
		return map[string]int{}, nil
	}
	return r.sendsSince(ctx, phones, r.now().Add(-compliance.FrequencyWindow))
}

// skip concludes a message compliance refused. A PENDING one for any
// reason; one already given a task (QUEUED or DEFERRED: a redelivered
// batch) only when the person withdrew consent since, so that it does not
// wait for its task or the stranded-message sweep: the Sender would skip
// it anyway. The transaction finds a claim made meanwhile (SENDING) and
// leaves it to the Sender, which checks consent again in its claim.
func (r *Runner) skip(ctx context.Context, id string, reason message.SkipReason) error {
	now := r.now()
	_, err := r.Store.UpdateMessage(ctx, id, func(m *message.Message) error {
		switch {
		case m.Status == message.Pending:
		case (m.Status == message.Queued || m.Status == message.Deferred) && compliance.StepOf(reason) == compliance.StepConsent:
		default:
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

// queue records the rendered body and due time, then makes the task,
// deciding on the campaign's status as it is at the write: a paused
// campaign's message is held (no task: the resume makes it), a cancelled
// campaign's is concluded. The task is named after the message, so a
// redelivered batch that finds the message QUEUED makes the task again
// harmlessly, and one that failed between the two steps is repaired. It
// returns the status the message was left in.
func (r *Runner) queue(ctx context.Context, queueID, id string, d compliance.Decision) (message.Status, error) {
	now := r.now()
	var at time.Time
	if d.Action == compliance.Defer {
		at = d.Until
	}
	m, err := r.Store.UpdateMessageInCampaign(ctx, id, func(c campaign.Campaign, m *message.Message) error {
		if m.Status != message.Pending {
			return store.Unchanged
		}
		switch c.Status {
		case campaign.Running:
			m.Status = message.Queued
			m.QueuedAt = &now
		case campaign.Paused:
			m.Status = message.Held
		case campaign.Cancelled:
			m.Status, m.SkipReason, m.UpdatedAt = message.Skipped, message.SkipCancelled, now
			return nil
		default:
			return store.Unchanged
		}
		m.Body, m.ContentSID, m.ContentVariables, m.Channel = d.Body, d.ContentSID, d.ContentVariables, string(d.Channel)
		m.UpdatedAt = now
		if !at.IsZero() {
			m.ScheduledAt = &at
			if m.DeferredBy == "" {
				m.DeferredBy = message.DeferQuietHours
			}
			if m.Status == message.Queued {
				m.Status = message.Deferred
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("campaignrun.queue: %w", err)
	}
	if m.Status != message.Queued && m.Status != message.Deferred {
		return m.Status, nil
	}
	task := sendqueue.Task{Queue: queueID, CampaignID: m.CampaignID, MessageID: m.ID}
	if m.ScheduledAt != nil {
		task.At = *m.ScheduledAt
	}
	if _, err := r.Queue.Enqueue(ctx, task); err != nil {
		return m.Status, fmt.Errorf("campaignrun.queue: %w", err)
	}
	return m.Status, nil
}

// templateOf is the campaign's template as its launch snapshotted it
// (read from the store for a campaign launched before snapshots).
func (r *Runner) templateOf(ctx context.Context, c campaign.Campaign) (template.Template, error) {
	if c.Template != nil {
		return *c.Template, nil
	}
	return r.Store.GetTemplate(ctx, c.TemplateID)
}

// segmentOf is templateOf for the segment.
func (r *Runner) segmentOf(ctx context.Context, c campaign.Campaign) (segment.Segment, error) {
	if c.Segment != nil {
		return *c.Segment, nil
	}
	return r.Store.GetSegment(ctx, c.SegmentID)
}

// ensureQueue makes the campaign's send queue and records it, and reports
// whether the campaign still runs. A blocked name moves the campaign to
// the next generation's, recorded before it is made so every step uses
// it. A permanent refusal, or failures for QueueCreateTimeout since the
// trigger, fail the campaign (reported as not running, so the launch
// stops and its event is acked); other failures are returned to retry.
func (r *Runner) ensureQueue(ctx context.Context, c campaign.Campaign) (campaign.Campaign, bool, error) {
	log := logging.FromContext(ctx).With("campaign_id", c.ID)
	for {
		gen := c.QueueGeneration
		queueID := sendqueue.QueueID(c.ID, gen)
		rate, err := r.shareOf(ctx, c)
		if err != nil {
			return c, false, fmt.Errorf("campaignrun.ensureQueue: %w", err)
		}
		err = r.Queue.EnsureQueue(ctx, queueID, rate)
		blocked := errors.Is(err, sendqueue.ErrNameUnavailable)
		now := r.now()
		switch {
		case err == nil:
			c, err = r.Store.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
				if c.QueueCreatedAt != nil || c.QueueGeneration != gen {
					return store.Unchanged
				}
				c.QueueCreatedAt, c.UpdatedAt = &now, now
				return nil
			})
			if err != nil {
				return c, false, fmt.Errorf("campaignrun.ensureQueue: %w", err)
			}
			log.Info("send queue created", "queue", queueID, "rate", rate)
			// The others running make room for it.
			r.shareCeiling(ctx)
			return c, c.Status == campaign.Running, nil
		case blocked && gen < maxQueueGeneration:
			log.Warn("send queue name unavailable; trying the next", "queue", queueID, "error", err)
			c, err = r.Store.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
				if c.QueueGeneration != gen || c.QueueCreatedAt != nil {
					return store.Unchanged
				}
				c.QueueGeneration, c.UpdatedAt = gen+1, now
				return nil
			})
			if err != nil {
				return c, false, fmt.Errorf("campaignrun.ensureQueue: %w", err)
			}
			if c.Status != campaign.Running || c.QueueCreatedAt != nil {
				return c, c.Status == campaign.Running, nil
			}
		case blocked || !errs.Retry(err):
			return c, false, r.fail(ctx, c.ID, fmt.Sprintf("its send queue %s could not be created: %v", queueID, err))
		case now.Sub(startedAt(c)) >= r.queueCreateTimeout():
			return c, false, r.fail(ctx, c.ID, fmt.Sprintf("no send queue %v after the trigger: %v", r.queueCreateTimeout(), err))
		default:
			return c, false, fmt.Errorf("campaignrun.ensureQueue: %w", err)
		}
	}
}

func startedAt(c campaign.Campaign) time.Time {
	if c.StartedAt != nil {
		return *c.StartedAt
	}
	return c.CreatedAt
}

// fail moves the campaign to FAILED with reason and releases its queue.
func (r *Runner) fail(ctx context.Context, id, reason string) error {
	now := r.now()
	failed := false
	if _, err := r.Store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
		if !c.Fail(now, reason) {
			return store.Unchanged
		}
		failed = true
		return nil
	}); err != nil {
		return fmt.Errorf("campaignrun.fail: %w", err)
	}
	if failed {
		logging.FromContext(ctx).Error("campaign failed", "campaign_id", id, "reason", reason)
	}
	return r.CheckCompletion(ctx, id)
}

// CheckCompletion completes the campaign once its fan-out is done and no
// message is left unconcluded, and releases the queue of a concluded
// campaign. Every step that concludes messages calls it after its own
// writes, so the last one to finish sees the final state; a release that
// failed is done by the next call (a retried event or task).
func (r *Runner) CheckCompletion(ctx context.Context, id string) error {
	c, err := r.Store.GetCampaign(ctx, id)
	if err != nil {
		return fmt.Errorf("campaignrun.CheckCompletion: %w", err)
	}
	if c.Status == campaign.Running && c.FanoutDone {
		open, err := r.Store.HasUnconcluded(ctx, id)
		if err != nil || open {
			return err
		}
		now := r.now()
		done := false
		c, err = r.Store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
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
	}
	if c.Status == campaign.Completed && c.QueueReleasedAt == nil {
		if err := r.failReopened(ctx, c.ID); err != nil {
			return err
		}
	}
	if c.Status.Concluded() && c.QueueReleasedAt == nil {
		return r.releaseQueue(ctx, c)
	}
	return nil
}

// failReopened fails the messages of a completed campaign that a 63018
// retry reopened (DEFERRED for a new attempt) after the completion check
// found none open and before it completed the campaign. A retry decides
// on the campaign read in its own transaction, so one committed after
// the completion fails the message itself, and one committed before it
// is seen here: no message waits in a completed campaign, whose queue is
// about to go. Before the queue's release, so a failure is retried.
func (r *Runner) failReopened(ctx context.Context, id string) error {
	for {
		ms, err := r.Store.MessagesIn(ctx, id, []message.Status{message.Deferred, message.Queued}, r.settlePage())
		if err != nil {
			return fmt.Errorf("campaignrun.failReopened: %w", err)
		}
		failed := 0
		for _, m := range ms {
			now := r.now()
			_, err := r.Store.UpdateMessageInCampaign(ctx, m.ID, func(c campaign.Campaign, m *message.Message) error {
				if c.Status != campaign.Completed || (m.Status != message.Deferred && m.Status != message.Queued) {
					return store.Unchanged
				}
				failed++
				m.Status, m.FailedAt, m.UpdatedAt = message.Failed, &now, now
				if m.RateLimitedRetries > 0 {
					m.ErrorCode = "63018"
				}
				m.ErrorText = "its campaign completed before the new attempt after the provider's rate limit"
				return nil
			})
			if err != nil {
				return fmt.Errorf("campaignrun.failReopened: %w", err)
			}
			logging.FromContext(ctx).Warn("a message reopened for a new attempt as its campaign completed: failed", "campaign_id", id, "message_id", m.ID)
		}
		if len(ms) < r.settlePage() || failed == 0 {
			return nil
		}
	}
}

// releaseQueue deletes every queue the concluded campaign may have (each
// generation's: a create that seemed to fail may have made one), then
// records the release. A queue not there counts as deleted.
func (r *Runner) releaseQueue(ctx context.Context, c campaign.Campaign) error {
	// A campaign never launched (cancelled, or failed at its schedule) has
	// no queue: none was ever asked for.
	for gen := 0; c.StartedAt != nil && gen <= c.QueueGeneration; gen++ {
		err := r.Queue.DeleteQueue(ctx, sendqueue.QueueID(c.ID, gen))
		if err != nil && !errs.Is(err, errs.Invalid) { // invalid: no such queue can exist
			return fmt.Errorf("campaignrun.releaseQueue: %w", err)
		}
	}
	// Its share goes to the others.
	r.shareCeiling(ctx)
	now := r.now()
	if _, err := r.Store.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
		if c.QueueReleasedAt != nil {
			return store.Unchanged
		}
		c.QueueReleasedAt = &now
		return nil
	}); err != nil {
		return fmt.Errorf("campaignrun.releaseQueue: %w", err)
	}
	logging.FromContext(ctx).Info("send queue released", "campaign_id", c.ID, "status", c.Status)
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
