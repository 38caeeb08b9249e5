package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/errs"
)

// defaultRate applies when a campaign omits rate_limit_per_second (or
// the sender's ceiling, when that is lower: see Server.defaultRate).
const defaultRate = 10

// defaultRate is the rate of a campaign created without one: never above
// the sender's ceiling, which would refuse a field the caller never sent.
func (s *Server) defaultRate() int {
	if s.SenderMPS > 0 {
		return min(defaultRate, s.SenderMPS)
	}
	return defaultRate
}

// campaignBody is what POST and PUT /campaigns take. For a PUT, a field
// left out keeps its value and null clears the ones that may be empty
// (quiet hours, schedule_time).
type campaignBody struct {
	Topic        optional[string]      `json:"topic"`
	TemplateID   optional[flexID]      `json:"template_id"`
	SegmentID    optional[flexID]      `json:"segment_id"`
	Rate         optional[json.Number] `json:"rate_limit_per_second"`
	QuietStart   optional[string]      `json:"quiet_hours_start"`
	QuietEnd     optional[string]      `json:"quiet_hours_end"`
	ScheduleTime optional[time.Time]   `json:"schedule_time"`
}

// optional is a JSON field that may be absent (Set false), null (Set,
// Value nil) or given.
type optional[T any] struct {
	Set   bool
	Value *T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

// apply sets on c the fields the body gives, but not the schedule (see
// schedule), and returns what it could not read.
func (b campaignBody) apply(c *campaign.Campaign) []errs.Detail {
	var d []errs.Detail
	str := func(o optional[string], dst *string) {
		if o.Set {
			*dst = ""
			if o.Value != nil {
				*dst = *o.Value
			}
		}
	}
	id := func(o optional[flexID], dst *string) {
		if o.Set {
			*dst = ""
			if o.Value != nil {
				*dst = string(*o.Value)
			}
		}
	}
	str(b.Topic, &c.Topic)
	id(b.TemplateID, &c.TemplateID)
	id(b.SegmentID, &c.SegmentID)
	str(b.QuietStart, &c.QuietStart)
	str(b.QuietEnd, &c.QuietEnd)
	if b.Rate.Set {
		c.Rate = 0
		if b.Rate.Value != nil {
			n, err := strconv.Atoi(b.Rate.Value.String())
			if err != nil {
				d = append(d, errs.Detail{Field: "rate_limit_per_second", Message: "must be an integer from 1 to 500"})
			}
			c.Rate = n
		}
	}
	return d
}

// schedule applies the body's schedule_time, if given, by who at now.
func (b campaignBody) schedule(c *campaign.Campaign, by string, now time.Time) error {
	if !b.ScheduleTime.Set {
		return nil
	}
	return c.Schedule(b.ScheduleTime.Value, by, now)
}

// refs adds to d a detail for the campaign's template or segment if it
// does not exist.
func (s *Server) refs(ctx context.Context, c campaign.Campaign, d []errs.Detail) ([]errs.Detail, error) {
	if c.TemplateID != "" {
		if _, err := s.Store.GetTemplate(ctx, c.TemplateID); errs.Is(err, errs.NotExist) {
			d = append(d, errs.Detail{Field: "template_id", Message: "no template with id " + strconv.Quote(c.TemplateID)})
		} else if err != nil {
			return nil, err
		}
	}
	if c.SegmentID != "" {
		if _, err := s.Store.GetSegment(ctx, c.SegmentID); errs.Is(err, errs.NotExist) {
			d = append(d, errs.Detail{Field: "segment_id", Message: "no segment with id " + strconv.Quote(c.SegmentID)})
		} else if err != nil {
			return nil, err
		}
	}
	return dedupe(d), nil
}

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) {
	var body campaignBody
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	now, by := s.now(), callerOf(r.Context())
	c := campaign.Campaign{Rate: s.defaultRate(), Status: campaign.Draft, CreatedAt: now, UpdatedAt: now}
	d := body.apply(&c)
	c.Created(by, now)
	if err := body.schedule(&c, by, now); err != nil {
		d = append(d, errs.DetailsOf(err)...)
	}
	if err := c.Validate(); err != nil {
		d = append(d, errs.DetailsOf(err)...)
	}
	d = append(d, overCeiling(c.Rate, s.SenderMPS)...)
	d, err := s.refs(r.Context(), c, d)
	if err != nil {
		fail(w, r, err)
		return
	}
	if len(d) > 0 {
		fail(w, r, errs.WithDetails(errs.Invalid, "invalid campaign", d))
		return
	}
	c, err = s.Store.CreateCampaign(r.Context(), c)
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusCreated, campaignJSON(c))
}

// editCampaign changes a campaign before its launch (DRAFT or SCHEDULED;
// 409 after), the fields given and only those. Setting schedule_time
// schedules a draft; clearing it makes a scheduled campaign a draft again.
func (s *Server) editCampaign(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body campaignBody
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	ctx := r.Context()
	cur, err := s.Store.GetCampaign(ctx, id)
	if err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	now, by := s.now(), callerOf(ctx)
	// Checked on the campaign as read, then applied in a transaction that
	// refuses it if the campaign moved or changed meanwhile.
	edited, err := edit(cur, body, by, now, s.SenderMPS)
	if err != nil {
		fail(w, r, err)
		return
	}
	d, err := s.refs(ctx, edited, nil)
	if err != nil {
		fail(w, r, err)
		return
	}
	if len(d) > 0 {
		fail(w, r, errs.WithDetails(errs.Invalid, "invalid campaign", d))
		return
	}
	c, err := s.Store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
		if !c.UpdatedAt.Equal(cur.UpdatedAt) || c.Status != cur.Status {
			return errs.E(errs.Conflict, "campaign %s changed while it was being edited; send the edit again", id)
		}
		next, err := edit(*c, body, by, now, s.SenderMPS)
		if err != nil {
			return err
		}
		*c = next
		return nil
	})
	if err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	respond(w, http.StatusOK, campaignJSON(c))
}

// edit applies body to c as a PUT does: refused (409) unless c is still
// editable, invalid (400, with details) unless the result is a valid
// campaign whose rate, if the body sets it, is within the sender's
// ceiling mps. Template and segment are checked by the caller.
func edit(c campaign.Campaign, body campaignBody, by string, now time.Time, mps int) (campaign.Campaign, error) {
	if !c.Status.Editable() {
		return c, errs.E(errs.Conflict, "campaign %s is %s: only a DRAFT or SCHEDULED campaign can be edited", c.ID, c.Status)
	}
	d := body.apply(&c)
	if err := body.schedule(&c, by, now); err != nil {
		if errs.Is(err, errs.Conflict) {
			return c, err
		}
		d = append(d, errs.DetailsOf(err)...)
	}
	if err := c.Validate(); err != nil {
		d = append(d, errs.DetailsOf(err)...)
	}
	if body.Rate.Set {
		// Only a rate being set: a ceiling lowered since must not block
		// other edits, and the launch holds the campaign to its share.
		d = append(d, overCeiling(c.Rate, mps)...)
	}
	if len(d) > 0 {
		return c, errs.WithDetails(errs.Invalid, "invalid campaign", dedupe(d))
	}
	c.UpdatedAt = now
	return c, nil
}

// overCeiling refuses a rate above the sender's ceiling mps (0: none). A
// rate out of range is refused by Validate alone.
func overCeiling(rate, mps int) []errs.Detail {
	if mps <= 0 || rate <= mps || rate > campaign.MaxRate {
		return nil
	}
	return []errs.Detail{{
		Field:   "rate_limit_per_second",
		Message: fmt.Sprintf("must be at most %d, the sender's ceiling (TWILIO_SENDER_MPS) shared by the campaigns running at once", mps),
	}}
}

// dedupe drops repeated details (a rate that is not a number is also out
// of range).
func dedupe(d []errs.Detail) []errs.Detail {
	seen := map[errs.Detail]bool{}
	out := d[:0]
	for _, x := range d {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// campaignJSON shows "no quiet hours" as nulls, as the seed's clients send.
func campaignJSON(c campaign.Campaign) map[string]any {
	b, _ := json.Marshal(c)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	if c.QuietStart == "" {
		out["quiet_hours_start"] = nil
	}
	if c.QuietEnd == "" {
		out["quiet_hours_end"] = nil
	}
	return out
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	items, total, err := s.Store.ListCampaigns(r.Context(), p)
	if err != nil {
		fail(w, r, err)
		return
	}
	out := make([]map[string]any, len(items))
	for i, c := range items {
		out[i] = campaignJSON(c)
	}
	list(w, "campaigns", out, total, p)
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := s.Store.GetCampaign(r.Context(), id)
	if err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	respond(w, http.StatusOK, campaignJSON(c))
}

func (s *Server) triggerCampaign(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	// The seed's clients send {} here; accept an empty body too.
	var body struct {
		DryRun bool `json:"dry_run"`
	}
	if err := decodeOptional(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	if body.DryRun {
		s.dryRun(w, r, id)
		return
	}
	c, err := s.Runner.Trigger(r.Context(), id, callerOf(r.Context()))
	if err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	respond(w, http.StatusAccepted, map[string]any{
		"campaign_id": c.ID, "status": c.Status, "task_id": "launch-" + c.ID,
		"message": "Campaign launch started", "campaign": campaignJSON(c),
	})
}

// moveCampaign serves pause, resume and cancel: an optional
// {"reason": "..."} says why, kept in the campaign's history with the
// caller. 409 when the campaign cannot make the move.
func (s *Server) moveCampaign(move func(ctx context.Context, id, by, why string) (campaign.Campaign, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		var body struct {
			Reason string `json:"reason"`
		}
		if err := decodeOptional(w, r, &body); err != nil {
			fail(w, r, err)
			return
		}
		c, err := move(r.Context(), id, callerOf(r.Context()), body.Reason)
		if err != nil {
			fail(w, r, notFound(err, "campaign", id))
			return
		}
		respond(w, http.StatusOK, campaignJSON(c))
	}
}

// campaignHistory lists who moved the campaign from which status to
// which, when and why, oldest first, beginning with its creation.
func (s *Server) campaignHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h, err := s.Store.CampaignHistory(r.Context(), id)
	if err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	if h == nil {
		h = []campaign.Change{}
	}
	respond(w, http.StatusOK, map[string]any{"campaign_id": id, "history": h})
}

// dryRun answers a dry run: 200 with the result when the audience was
// read within the request, else 202 with where to fetch it.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request, id string) {
	res, err := s.Runner.DryRun(r.Context(), id, cmp.Or(s.DryRunInline, campaignrun.DryRunInline))
	if err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	if res.Status == dryrun.Running {
		respond(w, http.StatusAccepted, dryRunAnswer{Result: res, StatusURL: "/api/v1/campaigns/" + id + "/dry-run"})
		return
	}
	respond(w, http.StatusOK, dryRunAnswer{Result: res})
}

// dryRunAnswer is a dry run's result, with where to ask again while it
// runs.
type dryRunAnswer struct {
	dryrun.Result
	StatusURL string `json:"status_url,omitempty"`
}

// getDryRun gives the campaign's latest dry run.
func (s *Server) getDryRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	res, err := s.Runner.DryRunResult(r.Context(), id)
	if errs.Is(err, errs.NotExist) {
		err = errs.E(errs.NotExist, "campaign %s has no dry run: POST /api/v1/campaigns/%s/trigger with {\"dry_run\": true}", id, id)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	out := dryRunAnswer{Result: res}
	if res.Status == dryrun.Running {
		out.StatusURL = "/api/v1/campaigns/" + id + "/dry-run"
	}
	respond(w, http.StatusOK, out)
}
