package campaignrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/audience"
	"github.com/eventstreamengine/ese/shared/campaign"
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

// DryRunInline is how many people a dry run reads within the request
// that asked for it; a larger audience is read in the background
// (LaunchCampaign) and its result fetched when ready.
const DryRunInline = 5000

// dryRunPage is how many users one read of a dry run asks for.
const dryRunPage = 500

// DryRun runs every compliance step for the campaign's audience as a
// launch now would, sending nothing and changing nothing of the campaign.
// An audience read whole within inline people is answered done; a larger
// one is handed to the background (a Launch event naming the run) and
// answered running. Either way the result is kept as the campaign's
// latest dry run. Only a campaign not yet launched (DRAFT or SCHEDULED)
// has a launch to rehearse.
func (r *Runner) DryRun(ctx context.Context, id string, inline int) (dryrun.Result, error) {
	c, err := r.Store.GetCampaign(ctx, id)
	if err != nil {
		return dryrun.Result{}, err
	}
	if c.Status != campaign.Draft && c.Status != campaign.Scheduled {
		return dryrun.Result{}, errs.E(errs.Conflict,
			"campaign %s is %s: a dry run shows what its launch would do, before the launch", id, c.Status)
	}
	res := dryrun.New(c.ID, newRunID(), r.now())
	complete, err := r.dryRun(ctx, c, &res, inline)
	if err != nil {
		return dryrun.Result{}, err
	}
	if complete {
		if err := r.finishDryRun(ctx, &res); err != nil {
			return dryrun.Result{}, err
		}
		return res, r.Store.StartDryRun(ctx, res)
	}
	// Too many to read here: start again in the background, from the
	// first person, so the result is one reading of the audience.
	res = dryrun.New(c.ID, res.RunID, res.StartedAt)
	if err := r.Store.StartDryRun(ctx, res); err != nil {
		return dryrun.Result{}, err
	}
	if err := r.Events.Publish(ctx, events.TopicCampaignLaunch, events.Launch{CampaignID: c.ID, DryRun: res.RunID}); err != nil {
		return dryrun.Result{}, fmt.Errorf("campaignrun.DryRun: %w", err)
	}
	return res, nil
}

// backgroundDryRun reads a whole audience for the run ev names and
// keeps the result, unless a later dry run replaced the run meanwhile.
// A campaign that launched or vanished meanwhile fails the run, saying so.
func (r *Runner) backgroundDryRun(ctx context.Context, ev events.Launch) error {
	log := logging.FromContext(ctx).With("campaign_id", ev.CampaignID, "run_id", ev.DryRun)
	cur, err := r.Store.GetDryRun(ctx, ev.CampaignID)
	if err != nil {
		return permanentIfMissing(err)
	}
	if cur.RunID != ev.DryRun || cur.Status != dryrun.Running {
		log.Info("dry run ignored: replaced or already finished")
		return nil
	}
	res := dryrun.New(ev.CampaignID, ev.DryRun, cur.StartedAt)
	c, err := r.Store.GetCampaign(ctx, ev.CampaignID)
	switch {
	case errs.Is(err, errs.NotExist):
		res.Fail(r.now(), "the campaign no longer exists")
	case err != nil:
		return err
	case c.Status != campaign.Draft && c.Status != campaign.Scheduled:
		res.Fail(r.now(), fmt.Sprintf("the campaign was launched before its dry run finished (now %s)", c.Status))
	default:
		if _, err := r.dryRun(ctx, c, &res, 0); err != nil {
			if !errs.Is(err, errs.Permanent) && !errs.Is(err, errs.Invalid) && !errs.Is(err, errs.Conflict) && !errs.Is(err, errs.NotExist) {
				return err
			}
			res.Fail(r.now(), err.Error())
		} else if err := r.finishDryRun(ctx, &res); err != nil {
			return err
		}
	}
	if err := r.Store.FinishDryRun(ctx, res); err != nil && !errs.Is(err, errs.Conflict) {
		return err
	}
	log.Info("dry run finished", "status", res.Status, "recipients", res.Recipients)
	return nil
}

// dryRun reads c's audience front to back, at most limit people (0: all),
// into res, and reports whether it read it all.
func (r *Runner) dryRun(ctx context.Context, c campaign.Campaign, res *dryrun.Result, limit int) (complete bool, err error) {
	tmpl, seg, err := r.rehearsed(ctx, c)
	if err != nil {
		return false, err
	}
	compiled := template.Compile(tmpl)
	window, err := c.QuietHours()
	if err != nil {
		return false, errs.Wrap(errs.Invalid, err, "campaignrun.dryRun")
	}
	now := r.now()
	read, after := 0, ""
	for {
		if limit > 0 && read >= limit {
			return false, nil
		}
		n := dryRunPage
		if limit > 0 {
			n = min(n, limit-read)
		}
		page, err := audience.ReadPage(ctx, r.Store, seg.Definition, segment.Range{}, after, n, now)
		if err != nil {
			return false, fmt.Errorf("campaignrun.dryRun: %w", err)
		}
		read += page.Read
		// One message per (campaign, person): the audience names each
		// person once, so a launch makes no duplicate to refuse.
		phones := phonesOf(page.Matched)
		suppressed, err := r.suppressed(ctx, phones)
		if err != nil {
			return false, err
		}
		recent, err := r.recentSends(ctx, phones)
		if err != nil {
			return false, err
		}
		for _, u := range page.Matched {
			d := compliance.Check(compliance.Input{
				User: u, Exists: true, Suppressed: suppressed[u.Phone],
				FrequencyCap: r.FrequencyCap, RecentSends: recent[u.Phone], Quiet: window,
				Template: compiled, Content: r.Content, Now: now,
			})
			res.Add(u.Phone, d)
		}
		if page.Next == "" {
			return true, nil
		}
		after = page.Next
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

// finishDryRun adds the warnings no step gives and marks res done: the
// sender's WhatsApp messaging limit (WhatsAppTier) passed by the people
// messaged in the last 24 hours across campaigns plus those this launch
// would message.
func (r *Runner) finishDryRun(ctx context.Context, res *dryrun.Result) error {
	now := r.now()
	if r.WhatsAppTier > 0 {
		messaged, err := r.Store.PeopleMessagedSince(ctx, now.Add(-tierWindow))
		if err != nil {
			return fmt.Errorf("campaignrun.finishDryRun: %w", err)
		}
		if more := res.SendNow + res.Deferred; messaged+more > r.WhatsAppTier {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"whatsapp_tier: %d people messaged in the last 24 hours plus the %d this campaign would message pass the sender's WhatsApp messaging limit of %d people in 24 hours: WhatsApp will not deliver to those beyond it",
				messaged, more, r.WhatsAppTier))
		}
	}
	res.Finish(now)
	return nil
}

// tierWindow is the rolling window WhatsApp's messaging limit counts
// unique people over.
const tierWindow = 24 * time.Hour

// suppressed looks up which of phones are on the suppression list, in
// reads of at most store.MaxSuppressedLookup.
func (r *Runner) suppressed(ctx context.Context, phones []string) (map[string]bool, error) {
	out := map[string]bool{}
	for chunk := range slices.Chunk(phones, store.MaxSuppressedLookup) {
		got, err := r.Store.Suppressed(ctx, chunk)
		if err != nil {
			return nil, fmt.Errorf("campaignrun: suppressed: %w", err)
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
