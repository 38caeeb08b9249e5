package campaignrun

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/audience"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/channelpolicy"
	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

const (
	// DryRunInline is how many people a dry run reads within the request
	// that asked for it; the rest of a larger audience is read in the
	// background (LaunchCampaign) and its result fetched when ready.
	DryRunInline = 5000
	// dryRunChunk is how many people one background event reads by
	// default, well within LaunchCampaign's deadline; the next event reads
	// on.
	dryRunChunk = 10000
	// dryRunPage is how many users one read of a dry run asks for.
	dryRunPage = 500
	// dryRunStalled is how long a background read may go without
	// progress before a look at its result asks for it again.
	dryRunStalled = 2 * time.Minute
	// dryRunPartTime is how long one part may read, whatever its count:
	// half LaunchCampaign's deadline (and the request's budget for the
	// part read inline), so a slow store ends a part early rather than
	// have it retried from its start for ever.
	dryRunPartTime = 30 * time.Second
	// tierWindow is the rolling window WhatsApp's messaging limit counts
	// unique people over.
	tierWindow = 24 * time.Hour
	// paceWarning is how long a campaign's sending may last before a dry
	// run warns that time will change what its counts say.
	paceWarning = time.Hour
)

// DryRun runs every compliance step for the campaign's audience as its
// launch would, sending nothing and changing nothing of the campaign: now,
// or at a scheduled campaign's schedule_time. An audience read whole
// within inline people is answered done; the rest of a larger one is read
// in the background, a part per Launch event naming the run, and answered
// running. Either way the result is kept as the campaign's latest dry run.
// Only a campaign not yet launched (DRAFT or SCHEDULED) has a launch to
// rehearse.
func (r *Runner) DryRun(ctx context.Context, id string, inline int) (dryrun.Result, error) {
	c, err := r.Store.GetCampaign(ctx, id)
	if err != nil {
		return dryrun.Result{}, err
	}
	if c.Status != campaign.Draft && c.Status != campaign.Scheduled {
		return dryrun.Result{}, errs.E(errs.Conflict,
			"campaign %s is %s: a dry run shows what its launch would do, before the launch", id, c.Status)
	}
	now := r.now()
	judged := now
	if c.ScheduleTime != nil && c.ScheduleTime.After(now) {
		judged = c.ScheduleTime.UTC()
	}
	res := dryrun.New(c.ID, newRunID(), now, judged)
	complete, err := r.dryRun(ctx, c, &res, inline, time.Now().Add(dryRunPartTime))
	if err != nil {
		return dryrun.Result{}, err
	}
	if complete {
		if err := r.finishDryRun(ctx, c, &res); err != nil {
			return dryrun.Result{}, err
		}
	}
	if err := r.Store.StartDryRun(ctx, res); err != nil {
		return dryrun.Result{}, err
	}
	if !complete {
		if err := r.askDryRun(ctx, res); err != nil {
			return dryrun.Result{}, err
		}
	}
	return res, nil
}

// DryRunResult is the campaign's latest dry run. A background read that
// has made no progress for a while (its event lost, or given up) is asked
// for again, so looking at it is enough to see it finish.
func (r *Runner) DryRunResult(ctx context.Context, id string) (dryrun.Result, error) {
	res, err := r.Store.GetDryRun(ctx, id)
	if err != nil {
		return res, err
	}
	if res.Status == dryrun.Running && r.now().Sub(res.UpdatedAt) > dryRunStalled {
		// Marked first, over the count it had read: of the looks at it
		// that find it stalled, those that lose the mark do not ask.
		asked := res
		asked.UpdatedAt = r.now()
		if err := r.Store.AdvanceDryRun(ctx, asked, res.Read); err == nil {
			err = r.askDryRun(ctx, asked)
			if err != nil {
				logging.FromContext(ctx).Warn("could not ask again for a stalled dry run", "campaign_id", id, "run_id", res.RunID, "error", err)
			}
			return asked, nil
		} else if !errs.Is(err, errs.Conflict) {
			return res, err
		}
	}
	return res, nil
}

func (r *Runner) askDryRun(ctx context.Context, res dryrun.Result) error {
	if err := r.Events.Publish(ctx, events.TopicCampaignLaunch, events.Launch{CampaignID: res.CampaignID, DryRun: res.RunID}); err != nil {
		return fmt.Errorf("campaignrun: dry run: %w", err)
	}
	return nil
}

// backgroundDryRun reads the next part of the audience for the run ev
// names, keeps the counts, and asks for the part after. Each part is kept
// only over the count it started from: a redelivered event that finds the
// run read further, replaced by a later run or finished changes nothing.
// A campaign launched or gone meanwhile fails the run, saying so.
func (r *Runner) backgroundDryRun(ctx context.Context, ev events.Launch) error {
	log := logging.FromContext(ctx).With("campaign_id", ev.CampaignID, "run_id", ev.DryRun)
	cur, err := r.Store.GetDryRun(ctx, ev.CampaignID)
	if err != nil {
		return permanentIfMissing(err)
	}
	if cur.RunID != ev.DryRun || cur.Status != dryrun.Running {
		log.Info("dry run event ignored: replaced or finished")
		return nil
	}
	res := cur
	c, err := r.Store.GetCampaign(ctx, ev.CampaignID)
	complete := true
	switch {
	case errs.Is(err, errs.NotExist):
		res.Fail(r.now(), "the campaign no longer exists")
	case err != nil:
		return err
	case c.Status != campaign.Draft && c.Status != campaign.Scheduled:
		res.Fail(r.now(), fmt.Sprintf("the campaign was launched before its dry run finished (now %s)", c.Status))
	default:
		res.UpdatedAt = r.now()
		complete, err = r.dryRun(ctx, c, &res, cmp.Or(r.DryRunChunk, dryRunChunk), time.Now().Add(dryRunPartTime))
		switch {
		case err != nil && retryable(err):
			return err
		case err != nil:
			res.Fail(r.now(), err.Error())
			complete = true
		case complete:
			if err := r.finishDryRun(ctx, c, &res); err != nil {
				return err
			}
		}
	}
	if err := r.Store.AdvanceDryRun(ctx, res, cur.Read); errs.Is(err, errs.Conflict) {
		log.Info("dry run part already read by another delivery")
		return nil
	} else if err != nil {
		return err
	}
	if !complete {
		return r.askDryRun(ctx, res)
	}
	log.Info("dry run finished", "status", res.Status, "recipients", res.Recipients)
	return nil
}

// retryable reports whether a dry run's error may pass: not one that says
// the campaign cannot be rehearsed.
func retryable(err error) bool {
	return !errs.Is(err, errs.Permanent) && !errs.Is(err, errs.Invalid) && !errs.Is(err, errs.Conflict) && !errs.Is(err, errs.NotExist)
}

// dryRun reads on from res.Next at most limit more people (0: all) into
// res, stopping after the page that passes until, and reports whether it
// read the audience to its end.
func (r *Runner) dryRun(ctx context.Context, c campaign.Campaign, res *dryrun.Result, limit int, until time.Time) (complete bool, err error) {
	tmpl, seg, err := r.rehearsed(ctx, c)
	if err != nil {
		return false, err
	}
	compiled := template.Compile(tmpl)
	window, err := c.QuietHours()
	if err != nil {
		return false, errs.Wrap(errs.Invalid, err, "campaignrun.dryRun")
	}
	at := res.JudgedAt
	read := 0
	for {
		if (limit > 0 && read >= limit) || (read > 0 && time.Now().After(until)) {
			return false, nil
		}
		n := dryRunPage
		if limit > 0 {
			n = min(n, limit-read)
		}
		page, err := audience.ReadPage(ctx, r.Store, seg.Definition, segment.Range{}, res.Next, n, at)
		if err != nil {
			return false, fmt.Errorf("campaignrun.dryRun: %w", err)
		}
		read += page.Read
		res.Read += page.Read
		// One message per (campaign, person): the audience names each
		// person once, so a launch makes no duplicate to refuse.
		phones := phonesOf(page.Matched)
		suppressed, err := r.suppressed(ctx, phones)
		if err != nil {
			return false, err
		}
		recent, err := r.sendsSince(ctx, phones, at.Add(-compliance.FrequencyWindow))
		if err != nil {
			return false, err
		}
		messaged, err := r.messagedSince(ctx, phones, at.Add(-tierWindow))
		if err != nil {
			return false, err
		}
		for _, u := range page.Matched {
			d := compliance.Check(compliance.Input{
				User: u, Exists: true, Suppressed: suppressed[u.Phone],
				FrequencyCap: r.FrequencyCap, RecentSends: recent[u.Phone], Quiet: window,
				Template: compiled, Content: r.Content, Now: at,
			})
			res.Add(u.Phone, d)
			if d.Action != compliance.Skip && d.Channel == channelpolicy.Template && !messaged[u.Phone] {
				res.NewConversations++
			}
		}
		res.Next = page.Next
		if page.Next == "" {
			return true, nil
		}
	}
}

// rehearsed is the template and segment a launch now would snapshot.
func (r *Runner) rehearsed(ctx context.Context, c campaign.Campaign) (template.Template, segment.Segment, error) {
	tmpl, err := r.Store.GetTemplate(ctx, c.TemplateID)
	if err != nil {
		return tmpl, segment.Segment{}, notUsable(err, "template", c.TemplateID)
	}
	seg, err := r.Store.GetSegment(ctx, c.SegmentID)
	if err != nil {
		return tmpl, seg, notUsable(err, "segment", c.SegmentID)
	}
	return tmpl, seg, nil
}

// finishDryRun adds the warnings no step gives and marks res done.
//   - The sender's WhatsApp messaging limit (WhatsAppTier): the people
//     messaged in the 24 hours before plus the conversations this launch
//     would start (an approved template to someone not among them) pass
//     it.
//   - Pacing: the counts are judged at one moment, but a campaign paced at
//     its rate sends its last message later; when that is over an hour,
//     windows closing and quiet hours beginning meanwhile change them.
func (r *Runner) finishDryRun(ctx context.Context, c campaign.Campaign, res *dryrun.Result) error {
	if r.WhatsAppTier > 0 {
		messaged, err := r.Store.PeopleMessagedSince(ctx, res.JudgedAt.Add(-tierWindow))
		if err != nil {
			return fmt.Errorf("campaignrun.finishDryRun: %w", err)
		}
		if messaged+res.NewConversations > r.WhatsAppTier {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"whatsapp_tier: %d people messaged in the last 24 hours and the %d conversations this campaign would start pass the sender's WhatsApp messaging limit of %d people in 24 hours: WhatsApp will not deliver to those beyond it",
				messaged, res.NewConversations, r.WhatsAppTier))
		}
	}
	if w := pacingWarning(c.Rate, res.SendNow+res.Deferred); w != "" {
		res.Warnings = append(res.Warnings, w)
	}
	res.Finish(r.now())
	return nil
}

// pacingWarning says when sends messages at rate a second take longer
// than paceWarning to go.
func pacingWarning(rate, sends int) string {
	if rate <= 0 || sends <= 0 {
		return ""
	}
	last := time.Duration(sends/rate) * time.Second
	if last <= paceWarning {
		return ""
	}
	return fmt.Sprintf("pacing: at %d a second the last of %d messages goes about %s after the launch; these counts are judged at its start, and by then some free text may find the person's 24-hour window closed (skipped channel_policy) and some quiet hours begun (deferred)",
		rate, sends, last.Round(time.Minute))
}

// suppressed looks up which of phones are on the suppression list.
func (r *Runner) suppressed(ctx context.Context, phones []string) (map[string]bool, error) {
	return lookup(ctx, "suppressed", phones, r.Store.Suppressed)
}

// sendsSince reads how many sends each of phones had after since.
func (r *Runner) sendsSince(ctx context.Context, phones []string, since time.Time) (map[string]int, error) {
	return lookup(ctx, "sends since", phones, func(ctx context.Context, chunk []string) (map[string]int, error) {
		return r.Store.SendsSince(ctx, chunk, since)
	})
}

// messagedSince reads which of phones had a send at or after since.
func (r *Runner) messagedSince(ctx context.Context, phones []string, since time.Time) (map[string]bool, error) {
	return lookup(ctx, "messaged since", phones, func(ctx context.Context, chunk []string) (map[string]bool, error) {
		return r.Store.MessagedSince(ctx, chunk, since)
	})
}

// lookup runs a store's per-person batched read over phones in reads of
// at most store.MaxSuppressedLookup, the most one read takes.
func lookup[V any](ctx context.Context, what string, phones []string, read func(context.Context, []string) (map[string]V, error)) (map[string]V, error) {
	out := map[string]V{}
	for chunk := range slices.Chunk(phones, store.MaxSuppressedLookup) {
		got, err := read(ctx, chunk)
		if err != nil {
			return nil, fmt.Errorf("campaignrun: %s: %w", what, err)
		}
		maps.Copy(out, got)
	}
	return out, nil
}

func phonesOf(us []user.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Phone
	}
	return out
}

func newRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
