package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
)

// defaultRate applies when a campaign omits rate_limit_per_second.
const defaultRate = 10

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Topic      string      `json:"topic"`
		TemplateID flexID      `json:"template_id"`
		SegmentID  flexID      `json:"segment_id"`
		Rate       json.Number `json:"rate_limit_per_second"`
		QuietStart *string     `json:"quiet_hours_start"`
		QuietEnd   *string     `json:"quiet_hours_end"`
	}
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	now := s.now()
	c := campaign.Campaign{
		Topic: body.Topic, TemplateID: string(body.TemplateID), SegmentID: string(body.SegmentID),
		Rate: defaultRate, Status: campaign.Draft, CreatedAt: now, UpdatedAt: now,
	}
	var d []errs.Detail
	if body.Rate != "" {
		n, err := strconv.Atoi(body.Rate.String())
		if err != nil {
			d = append(d, errs.Detail{Field: "rate_limit_per_second", Message: "must be an integer from 1 to 500"})
		}
		c.Rate = n
	}
	if body.QuietStart != nil {
		c.QuietStart = *body.QuietStart
	}
	if body.QuietEnd != nil {
		c.QuietEnd = *body.QuietEnd
	}
	if err := c.Validate(); err != nil {
		d = append(d, errs.DetailsOf(err)...)
	}
	ctx := r.Context()
	if c.TemplateID != "" {
		if _, err := s.Store.GetTemplate(ctx, c.TemplateID); errs.Is(err, errs.NotExist) {
			d = append(d, errs.Detail{Field: "template_id", Message: "no template with id " + strconv.Quote(c.TemplateID)})
		} else if err != nil {
			fail(w, r, err)
			return
		}
	}
	if c.SegmentID != "" {
		if _, err := s.Store.GetSegment(ctx, c.SegmentID); errs.Is(err, errs.NotExist) {
			d = append(d, errs.Detail{Field: "segment_id", Message: "no segment with id " + strconv.Quote(c.SegmentID)})
		} else if err != nil {
			fail(w, r, err)
			return
		}
	}
	if len(d) > 0 {
		fail(w, r, errs.WithDetails(errs.Invalid, "invalid campaign", dedupe(d)))
		return
	}
	c, err := s.Store.CreateCampaign(ctx, c)
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusCreated, campaignJSON(c))
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
	c, err := s.Runner.Trigger(r.Context(), id, "api-key") // the caller itself: next commit
	if err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	respond(w, http.StatusAccepted, map[string]any{
		"campaign_id": c.ID, "status": c.Status, "task_id": "launch-" + c.ID,
		"message": "Campaign launch started", "campaign": campaignJSON(c),
	})
}
