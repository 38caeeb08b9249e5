package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
)

func (s *Server) campaigns(w http.ResponseWriter, r *http.Request) {
	s.renderCampaigns(w, r, http.StatusOK, page{})
}

func (s *Server) renderCampaigns(w http.ResponseWriter, r *http.Request, status int, p page) {
	items, a := s.listing(r, "/api/v1/campaigns", "campaigns")
	if !a.OK() {
		s.failed(w, r, "Campaigns unavailable", a)
		return
	}
	tpls, tplProblem := s.choices(r, "/api/v1/templates", "templates")
	segs, segProblem := s.choices(r, "/api/v1/segments", "segments")
	p.Title, p.Nav = "Campaigns", "campaigns"
	p.Data = map[string]any{"Pager": pagerOf("/campaigns", a), "Campaigns": items, "Templates": tpls, "Segments": segs, "Ceiling": s.API.SenderMPS,
		"ChoicesProblem": choicesProblem(tplProblem, segProblem)}
	s.render(w, r, status, "campaigns", p)
}

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) {
	a := s.call(r, http.MethodPost, "/api/v1/campaigns", nil, campaignForm(r, false))
	if !a.OK() {
		s.renderCampaigns(w, r, a.Status, page{Form: r.PostForm, Errors: a.FieldErrors(), Problem: a.Message()})
		return
	}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(fmt.Sprint(a.Body["id"]))+"?done=campaign-created", http.StatusSeeOther)
}

// campaignForm is the campaign the form describes, as the API takes it.
// Editing, an empty quiet hour or schedule is null (cleared); creating,
// it is left out.
func campaignForm(r *http.Request, edit bool) map[string]any {
	body := map[string]any{"topic": r.PostFormValue("topic"), "template_id": r.PostFormValue("template_id"), "segment_id": r.PostFormValue("segment_id")}
	if v := strings.TrimSpace(r.PostFormValue("rate_limit_per_second")); v != "" {
		body["rate_limit_per_second"] = json.Number(v)
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			body["rate_limit_per_second"] = v // the API names the field
		}
	}
	for _, k := range []string{"quiet_hours_start", "quiet_hours_end", "schedule_time"} {
		if v := strings.TrimSpace(r.PostFormValue(k)); v != "" {
			body[k] = v
		} else if edit {
			body[k] = nil
		}
	}
	return body
}

// editCampaign changes a campaign before its launch (the API's PUT).
func (s *Server) editCampaign(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a := s.call(r, http.MethodPut, apiPath("/api/v1/campaigns", id), nil, campaignForm(r, true))
	if !a.OK() {
		s.renderCampaign(w, r, a.Status, page{Form: r.PostForm, Errors: a.FieldErrors(), Problem: "Not saved: " + a.Message()})
		return
	}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(id)+"?done=campaign-saved", http.StatusSeeOther)
}

// campaignPage is one campaign: its summary (progress and funnel), error
// codes with their meanings, history, series, and the moves it allows.
func (s *Server) campaignPage(w http.ResponseWriter, r *http.Request) {
	s.renderCampaign(w, r, http.StatusOK, page{})
}

func (s *Server) renderCampaign(w http.ResponseWriter, r *http.Request, status int, p page) {
	id := r.PathValue("id")
	c := s.get(r, apiPath("/api/v1/campaigns", id), nil)
	if !c.OK() {
		s.failed(w, r, "No such campaign", c)
		return
	}
	sum := s.get(r, apiPath("/api/v1/reporting/campaigns", id, "summary"), nil)
	hist := s.get(r, apiPath("/api/v1/campaigns", id, "history"), nil)
	st := fmt.Sprint(c.Body["status"])
	data := map[string]any{"C": c.Body, "S": sum.Body, "SummaryProblem": sum.Message(),
		"History": hist.Body["history"], "HistoryProblem": hist.Message(), "Moves": moves(st)}
	if sum.OK() {
		data["Funnel"] = funnelOf(sum.Body)
		if pr, err := s.progress(r.Context(), id, int(num(sum.Body["total_recipients"]))); err == nil {
			data["Progress"] = pr
		} else {
			logging.FromContext(r.Context()).Warn("console: progress", "campaign", id, "error", err)
		}
	}
	if st == "DRAFT" || st == "SCHEDULED" {
		// No dry run yet is no problem; any other refusal is said.
		dr := s.get(r, apiPath("/api/v1/campaigns", id, "dry-run"), nil)
		switch {
		case dr.OK():
			data["DryRun"] = dr.Body
			if fmt.Sprint(dr.Body["status"]) == "running" {
				p.Refresh = 3
			}
		case dr.Status != http.StatusNotFound:
			data["DryRunProblem"] = dr.Message()
		}
		tpls, tplProblem := s.choices(r, "/api/v1/templates", "templates")
		segs, segProblem := s.choices(r, "/api/v1/segments", "segments")
		data["Templates"], data["Segments"], data["Editable"] = tpls, segs, true
		data["ChoicesProblem"] = choicesProblem(tplProblem, segProblem)
		data["Ceiling"] = s.API.SenderMPS
		if p.Form == nil {
			p.Form = url.Values{}
			for _, k := range []string{"topic", "template_id", "segment_id", "rate_limit_per_second", "quiet_hours_start", "quiet_hours_end", "schedule_time"} {
				if v, ok := c.Body[k]; ok && v != nil {
					p.Form.Set(k, fmt.Sprint(v))
				}
			}
		}
	}
	// Messages whose send has an unknown outcome, held for an operator
	// (UNKNOWN_OUTCOME=hold).
	if um := s.get(r, "/api/v1/messages", url.Values{"status": {"RECONCILE"}, "campaign_id": {id}, "limit": {"50"}}); um.OK() {
		data["Unknown"] = um.Body["messages"]
	} else {
		data["UnknownProblem"] = um.Message()
	}
	if ser, err := s.cachedSeries(r.Context(), []string{id}, s.now()); err == nil {
		data["Chart"] = ser.chart()
	}
	if st == "RUNNING" || st == "PAUSED" {
		p.Refresh = 15
	}
	// After a refused action the address is the action's (POST only): the
	// refresh, and a reload, read the campaign's own page.
	p.RefreshURL = "/campaigns/" + url.PathEscape(id)
	p.Title, p.Nav, p.Data = "Campaign "+fmt.Sprint(c.Body["topic"]), "campaigns", data
	s.render(w, r, status, "campaign", p)
}

// move is an action a campaign page offers.
type move struct {
	Action, Label string
	Danger        bool
}

// moves are the actions a campaign in status st offers; the API's
// lifecycle table is still the judge.
func moves(st string) []move {
	switch st {
	case "DRAFT", "SCHEDULED":
		return []move{{"dry-run", "Dry run", false}, {"launch", "Launch", false}, {"cancel", "Cancel", true}}
	case "RUNNING":
		return []move{{"pause", "Pause", false}, {"cancel", "Cancel", true}}
	case "PAUSED":
		return []move{{"resume", "Resume", false}, {"cancel", "Cancel", true}}
	}
	return nil
}

var moveText = map[string]confirm{
	"launch":  {Question: "Launch this campaign now?", Detail: "Messages start going to every eligible person in its segment, at its rate.", Button: "Launch"},
	"dry-run": {Question: "Dry-run this campaign?", Detail: "Every recipient goes through the compliance steps; nothing is sent and nothing changes.", Button: "Dry run"},
	"pause":   {Question: "Pause this campaign?", Detail: "No new send starts once the pause is answered; the rest waits for a resume.", Button: "Pause", Reason: true},
	"resume":  {Question: "Resume this campaign?", Detail: "The held messages get new tasks and sending continues.", Button: "Resume"},
	"cancel":  {Question: "Cancel this campaign?", Detail: "Every unsent message is concluded as skipped (cancelled). This cannot be undone.", Button: "Cancel the campaign", Danger: true, Reason: true},
}

func (s *Server) confirmCampaign(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.URL.Query().Get("action")
	c, ok := moveText[action]
	if !ok {
		s.notFound(w, r)
		return
	}
	cm := s.get(r, apiPath("/api/v1/campaigns", id), nil)
	if !cm.OK() {
		s.failed(w, r, "No such campaign", cm)
		return
	}
	// Only the moves the campaign's status allows are asked about.
	st := fmt.Sprint(cm.Body["status"])
	if !slices.ContainsFunc(moves(st), func(m move) bool { return m.Action == action }) {
		s.problem(w, r, http.StatusConflict, "Not possible now", fmt.Sprintf("A %s campaign cannot be asked to %s.", st, action))
		return
	}
	back := "/campaigns/" + url.PathEscape(id)
	c.Action, c.Back = back+"/"+action, back
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "campaigns", Data: map[string]any{"C": c,
		"Subject": fmt.Sprintf("Campaign %v, now %s", cm.Body["topic"], st)}})
}

// moveCampaign launches, dry-runs, pauses, resumes or cancels.
func (s *Server) moveCampaign(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var a answer
	switch action {
	case "launch":
		a = s.call(r, http.MethodPost, apiPath("/api/v1/campaigns", id, "trigger"), nil, map[string]any{})
	case "dry-run":
		a = s.call(r, http.MethodPost, apiPath("/api/v1/campaigns", id, "trigger"), nil, map[string]any{"dry_run": true})
	case "pause", "resume", "cancel":
		a = s.call(r, http.MethodPost, apiPath("/api/v1/campaigns", id, action), nil, map[string]any{"reason": r.PostFormValue("reason")})
	default:
		s.notFound(w, r)
		return
	}
	if !a.OK() {
		s.renderCampaign(w, r, a.Status, page{Problem: moveText[action].Button + " refused: " + a.Message()})
		return
	}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(id)+"?done="+action, http.StatusSeeOther)
}

// exportMessages hands on the API's CSV export as a download.
func (s *Server) exportMessages(w http.ResponseWriter, r *http.Request) {
	s.download(w, r, apiPath("/api/v1/reporting/campaigns", r.PathValue("id"), "messages.csv"), "No export")
}

var outcomeText = map[string]confirm{
	"sent": {Question: "Record this message as sent?", Button: "Record as sent",
		Detail: "Do this when Twilio's console or logs show the send went out: it is never sent again."},
	"resend": {Question: "Send this message again?", Button: "Send again", Danger: true,
		Detail: "Do this only when Twilio shows no send to this person at that time: if the first one went out after all, the person gets it twice."},
}

// confirmResolve asks before an operator decides a held message.
func (s *Server) confirmResolve(w http.ResponseWriter, r *http.Request) {
	id, mid, outcome := r.PathValue("id"), r.PathValue("mid"), r.URL.Query().Get("outcome")
	c, ok := outcomeText[outcome]
	if !ok {
		s.notFound(w, r)
		return
	}
	back := "/campaigns/" + url.PathEscape(id)
	c.Action, c.Back = back+"/messages/"+url.PathEscape(mid)+"/resolve", back
	// The decision is about the attempt the operator saw held.
	c.Fields = map[string]string{"outcome": outcome, "attempts": r.URL.Query().Get("attempts")}
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "campaigns", Data: map[string]any{"C": c, "Subject": "Message " + mid}})
}

// resolveMessage records the operator's decision (the API's
// POST /messages/{id}/resolve).
func (s *Server) resolveMessage(w http.ResponseWriter, r *http.Request) {
	id, mid := r.PathValue("id"), r.PathValue("mid")
	attempts, _ := strconv.Atoi(r.PostFormValue("attempts"))
	a := s.call(r, http.MethodPost, apiPath("/api/v1/messages", mid, "resolve"), nil, map[string]any{"outcome": r.PostFormValue("outcome"), "attempts": attempts})
	if !a.OK() {
		s.renderCampaign(w, r, a.Status, page{Problem: "Not resolved: " + a.Message()})
		return
	}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(id)+"?done=message-resolved", http.StatusSeeOther)
}

// progress is how many of a campaign's recipients have concluded.
type progress struct {
	Done, Total int
	Percent     float64
}

// progress counts the campaign's messages in a concluded status (see
// message.Status.Concluded), each once: the summary counts a message in
// every stage it reached, so its sent and failed overlap.
func (s *Server) progress(ctx context.Context, id string, total int) (progress, error) {
	done := 0
	for _, st := range []message.Status{message.Sent, message.Delivered, message.Read, message.Failed, message.Skipped} {
		n, err := s.Store.CountByStatus(ctx, st, id)
		if err != nil {
			return progress{}, fmt.Errorf("CountByStatus: %w", err)
		}
		done += n
	}
	p := progress{Done: min(done, total), Total: total}
	if total > 0 {
		p.Percent = float64(int(1000*float64(p.Done)/float64(total))) / 10
	}
	return p, nil
}
