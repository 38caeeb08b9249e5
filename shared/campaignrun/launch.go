package campaignrun

import (
	"context"
	"fmt"
	"slices"

	"github.com/eventstreamengine/ese/shared/audience"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
)

// Launch reads the campaign's segment. The first event makes the send
// queue, cuts the ids the segment may select into slices of about equal
// numbers of people (audience.Slices; one slice for a segment of two
// pages or fewer), records them on the campaign and asks for the first
// page of each, so the slices are read side by side. Each later event
// reads one page of its slice: a PENDING message for each person the
// segment selects, passed on in batches, then the next page, or, after
// the last, the slice marked read. The last slice read marks the fan-out
// done.
func (r *Runner) Launch(ctx context.Context, ev events.Launch) error {
	if ev.DryRun != "" {
		return r.backgroundDryRun(ctx, ev)
	}
	log := logging.FromContext(ctx).With("campaign_id", ev.CampaignID)
	c, err := r.Store.GetCampaign(ctx, ev.CampaignID)
	if err != nil {
		return permanentIfMissing(err)
	}
	switch {
	case c.Status == campaign.Paused && !c.FanoutDone:
		return r.holdPage(ctx, ev)
	case c.Status == campaign.Cancelled:
		// A page may have written messages after the cancel: settling
		// concludes them.
		return r.Settle(ctx, c.ID)
	case c.Status != campaign.Running || c.FanoutDone:
		// A late or repeated page: the recipients are all written.
		log.Info("launch ignored", "status", c.Status, "fanout_complete", c.FanoutDone)
		return r.CheckCompletion(ctx, c.ID)
	}
	if ev.Slice == nil && ev.After == "" {
		return r.startFanout(ctx, c)
	}
	slice := ev.Slice
	if slice == nil {
		// Published before slices: After is the last phone read. Reading
		// from it again rewrites its message, which changes nothing.
		slice, ev.After = &events.LaunchSlice{IDs: segment.Range{From: ev.After}}, ""
	}
	if slices.Contains(c.SlicesDone, slice.Index) {
		log.Info("launch ignored: slice read", "slice", slice.Index)
		return nil
	}
	seg, err := r.segmentOf(ctx, c) // the launch's snapshot
	if err != nil {
		return permanentIfMissing(err)
	}
	now := r.now()
	page, err := audience.ReadPage(ctx, r.Store, seg.Definition, slice.IDs, ev.After, r.pageSize(), now)
	if err != nil {
		return fmt.Errorf("campaignrun.Launch: %w", err)
	}
	ms := make([]message.Message, 0, len(page.Matched))
	for _, u := range page.Matched {
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
	log.Info("segment page evaluated", "slice", slice.Index, "scanned", page.Read, "matched", len(ms))
	if page.Next != "" {
		next := events.Launch{CampaignID: c.ID, After: page.Next, Slice: slice}
		if err := r.Events.Publish(ctx, events.TopicCampaignLaunch, next); err != nil {
			return fmt.Errorf("campaignrun.Launch: %w", err)
		}
		return nil
	}
	return r.sliceRead(ctx, c.ID, slice.Index)
}

// startFanout makes the queue, fixes the slices (once: a repeated start
// reads the ones recorded) and asks for each slice not yet read.
func (r *Runner) startFanout(ctx context.Context, c campaign.Campaign) error {
	log := logging.FromContext(ctx).With("campaign_id", c.ID)
	if c.QueueCreatedAt == nil {
		var running bool
		var err error
		if c, running, err = r.ensureQueue(ctx, c); err != nil || !running {
			return err
		}
	}
	if len(c.FanoutSlices) == 0 {
		seg, err := r.segmentOf(ctx, c) // the launch's snapshot
		if err != nil {
			return permanentIfMissing(err)
		}
		now := r.now()
		rs, err := audience.Slices(ctx, r.Store, seg.Definition, r.slices(), 2*r.pageSize(), now)
		if err != nil {
			return fmt.Errorf("campaignrun.Launch: %w", err)
		}
		c, err = r.Store.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
			if len(c.FanoutSlices) > 0 {
				return store.Unchanged
			}
			c.FanoutSlices, c.UpdatedAt = rs, now
			return nil
		})
		if err != nil {
			return fmt.Errorf("campaignrun.Launch: %w", err)
		}
	}
	for i, ids := range c.FanoutSlices {
		if slices.Contains(c.SlicesDone, i) {
			continue
		}
		ev := events.Launch{CampaignID: c.ID, Slice: &events.LaunchSlice{Index: i, IDs: ids}}
		if err := r.Events.Publish(ctx, events.TopicCampaignLaunch, ev); err != nil {
			return fmt.Errorf("campaignrun.Launch: %w", err)
		}
	}
	log.Info("segment read in slices", "slices", len(c.FanoutSlices))
	return nil
}

// sliceRead records a slice read to its end; the last one marks the
// fan-out done with the number of recipients.
func (r *Runner) sliceRead(ctx context.Context, id string, index int) error {
	log := logging.FromContext(ctx).With("campaign_id", id)
	now := r.now()
	c, err := r.Store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
		if slices.Contains(c.SlicesDone, index) {
			return store.Unchanged
		}
		c.SlicesDone, c.UpdatedAt = append(c.SlicesDone, index), now
		return nil
	})
	if err != nil {
		return fmt.Errorf("campaignrun.Launch: %w", err)
	}
	// A campaign launched before slices has none recorded: its one
	// reading is the whole fan-out.
	if len(c.SlicesDone) < max(len(c.FanoutSlices), 1) {
		log.Info("segment slice read", "slice", index, "slices_read", len(c.SlicesDone), "slices", len(c.FanoutSlices))
		return nil
	}
	counts, err := r.Store.CountMessages(ctx, id)
	if err != nil {
		return fmt.Errorf("campaignrun.Launch: %w", err)
	}
	if _, err := r.Store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
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
	return r.CheckCompletion(ctx, id)
}
