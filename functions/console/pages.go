package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
)

// dashboard is the system at a glance, refreshing itself: the API's
// dashboard, /health, and the sent/delivered series of recent campaigns.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	d := s.get(r, "/api/v1/monitoring/dashboard", nil)
	if !d.OK() {
		s.failed(w, r, "Dashboard unavailable", d)
		return
	}
	h := s.get(r, "/health", nil)
	var ids []string
	if cs, ok := d.Body["campaigns"].(map[string]any); ok {
		recent, _ := cs["recent"].([]any)
		for _, c := range recent {
			if m, ok := c.(map[string]any); ok {
				ids = append(ids, fmt.Sprint(m["id"]))
			}
		}
	}
	ser, err := s.cachedSeries(r.Context(), ids, s.now())
	if err != nil {
		s.problem(w, r, http.StatusBadGateway, "Dashboard unavailable", "The messages could not be read.")
		return
	}
	s.render(w, r, http.StatusOK, "dashboard", page{Title: "Dashboard", Nav: "dashboard", Refresh: 30,
		Data: map[string]any{"D": d.Body, "Health": h.Body, "Chart": ser.chart()}})
}

const usersPerPage = 25

// users lists people, a page at a time, found by a phone prefix or by
// one attribute's value. Numbers are masked: the list shows many people.
func (s *Server) users(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	scan := store.UserScan{After: q.Get("after"), Limit: usersPerPage}
	form := url.Values{"prefix": {q.Get("prefix")}, "attr": {q.Get("attr")}, "value": {q.Get("value")}}
	errs := map[string]string{}
	if p := strings.TrimSpace(q.Get("prefix")); p != "" {
		p = "+" + strings.TrimLeft(strings.TrimPrefix(p, "+"), " ")
		if strings.Trim(p[1:], "0123456789") != "" {
			errs["prefix"] = "digits only, such as +9477"
		} else {
			scan.IDs = segment.Range{From: p, To: p + ":"} // ':' follows '9'
		}
	}
	if a := strings.TrimSpace(q.Get("attr")); a != "" {
		scan.Filters = []segment.Filter{{Attribute: a, Op: segment.FilterEq, Value: q.Get("value")}}
	} else if q.Get("value") != "" {
		errs["attr"] = "name the attribute to match the value against"
	}
	// The store's cursor is opaque, and a page may be short before the
	// last: the next page is offered while the store gives a cursor.
	var us []user.User
	next := ""
	if len(errs) == 0 {
		var err error
		if us, next, err = s.Store.ScanUsersWhere(r.Context(), scan); err != nil {
			s.problem(w, r, http.StatusBadGateway, "Users unavailable", "The users could not be read.")
			return
		}
	}
	total, _ := s.Store.CountUsers(r.Context(), store.UserFilter{})
	s.render(w, r, http.StatusOK, "users", page{Title: "Users", Nav: "users", Errors: errs, Form: form,
		Data: map[string]any{"Users": us, "Next": next, "Total": total, "Paged": q.Get("after") != ""}})
}

// createUser adds one person through the API.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"phone_number": strings.TrimSpace(r.PostFormValue("phone_number"))}
	if c := r.PostFormValue("consent_state"); c != "" {
		body["consent_state"] = c
	}
	attrs := map[string]any{}
	for _, k := range []string{"name", "language", "timezone"} {
		if v := strings.TrimSpace(r.PostFormValue(k)); v != "" {
			attrs[k] = v
		}
	}
	body["attributes"] = attrs
	a := s.call(r, http.MethodPost, "/api/v1/users", nil, body)
	if !a.OK() {
		s.renderUsersWithErrors(w, r, a)
		return
	}
	p, _ := a.Body["phone_number"].(string)
	http.Redirect(w, r, "/users/"+url.PathEscape(p)+"?done="+url.QueryEscape("User added."), http.StatusSeeOther)
}

func (s *Server) renderUsersWithErrors(w http.ResponseWriter, r *http.Request, a answer) {
	total, _ := s.Store.CountUsers(r.Context(), store.UserFilter{})
	us, _, _ := s.Store.ScanUsersWhere(r.Context(), store.UserScan{Limit: usersPerPage})
	s.render(w, r, a.Status, "users", page{Title: "Users", Nav: "users", Errors: a.FieldErrors(), Form: r.PostForm,
		Problem: a.Message(), Data: map[string]any{"Users": us, "Total": total, "Adding": true}})
}

// userPage is one person: attributes, consent, and their history (the
// API's GET /users/{phone}/history).
func (s *Server) userPage(w http.ResponseWriter, r *http.Request) {
	s.renderUser(w, r, http.StatusOK, page{})
}

func (s *Server) renderUser(w http.ResponseWriter, r *http.Request, status int, p page) {
	ph := r.PathValue("phone")
	u := s.get(r, apiPath("/api/v1/users", ph), nil)
	if !u.OK() {
		s.failed(w, r, "No such user", u)
		return
	}
	h := s.get(r, apiPath("/api/v1/users", ph, "history"), url.Values{"limit": {"200"}})
	p.Title, p.Nav = "User "+phone.Mask(fmt.Sprint(u.Body["phone_number"])), "users"
	p.Data = map[string]any{"U": u.Body, "History": h.Body, "HistoryProblem": h.Message()}
	s.render(w, r, status, "user", p)
}

// confirm is what a destructive action asks before it is done.
type confirm struct {
	Question, Detail, Action, Button, Back string
	Danger                                 bool
	Fields                                 map[string]string // hidden fields to post
	Reason                                 bool              // ask for a reason
}

func (s *Server) confirmUser(w http.ResponseWriter, r *http.Request) {
	ph := r.PathValue("phone")
	back := "/users/" + url.PathEscape(ph)
	var c confirm
	switch r.URL.Query().Get("action") {
	case "OPT_IN", "OPT_OUT":
		to := r.URL.Query().Get("action")
		c = confirm{Question: "Change consent to " + to + "?", Action: back + "/consent", Button: "Set " + to, Back: back,
			Detail: "The change is recorded in the person's consent history with the reason you give.",
			Fields: map[string]string{"consent_state": to}, Reason: true, Danger: to == "OPT_OUT"}
	case "erase":
		c = confirm{Question: "Erase this person?", Action: back + "/erase", Button: "Erase for good", Back: back, Danger: true,
			Detail: "Their attributes, number and message bodies are erased, and their webhook records deleted; only a hashed record of an opt-out is kept, so a re-import never opts them in again. This cannot be undone."}
	default:
		s.notFound(w, r)
		return
	}
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "users", Data: map[string]any{"C": c, "Subject": phone.Mask(ph)}})
}

func (s *Server) setConsent(w http.ResponseWriter, r *http.Request) {
	ph := r.PathValue("phone")
	a := s.call(r, http.MethodPut, apiPath("/api/v1/users", ph, "consent"), nil,
		map[string]string{"consent_state": r.PostFormValue("consent_state"), "reason": r.PostFormValue("reason")})
	if !a.OK() {
		s.renderUser(w, r, a.Status, page{Problem: a.Message(), Errors: a.FieldErrors()})
		return
	}
	http.Redirect(w, r, "/users/"+url.PathEscape(ph)+"?done="+url.QueryEscape("Consent changed to "+fmt.Sprint(a.Body["consent_state"])+"."), http.StatusSeeOther)
}

func (s *Server) eraseUser(w http.ResponseWriter, r *http.Request) {
	ph := r.PathValue("phone")
	a := s.call(r, http.MethodDelete, apiPath("/api/v1/users", ph), nil, nil)
	if !a.OK() {
		s.renderUser(w, r, a.Status, page{Problem: "Not erased: " + a.Message()})
		return
	}
	http.Redirect(w, r, "/users?done="+url.QueryEscape("Erased "+phone.Mask(ph)+"."), http.StatusSeeOther)
}

// listing reads one of the API's lists (segments, templates, campaigns).
func (s *Server) listing(r *http.Request, path, key string) ([]any, answer) {
	pg := r.URL.Query().Get("page")
	if pg == "" {
		pg = "1"
	}
	a := s.get(r, path, url.Values{"page": {pg}, "per_page": {"50"}})
	items, _ := a.Body[key].([]any)
	return items, a
}

func (s *Server) segments(w http.ResponseWriter, r *http.Request) {
	s.renderSegments(w, r, http.StatusOK, page{})
}

func (s *Server) renderSegments(w http.ResponseWriter, r *http.Request, status int, p page) {
	items, a := s.listing(r, "/api/v1/segments", "segments")
	if !a.OK() {
		s.failed(w, r, "Segments unavailable", a)
		return
	}
	sup := s.get(r, "/api/v1/suppressions", url.Values{"per_page": {"50"}})
	p.Title, p.Nav = "Segments", "segments"
	p.Data = map[string]any{"Segments": items, "Suppressions": sup.Body["suppressions"]}
	s.render(w, r, status, "segments", p)
}

// createSegment saves a segment, or with preview=1 counts who it matches
// (the API's POST /segments/preview) without saving it.
func (s *Server) createSegment(w http.ResponseWriter, r *http.Request) {
	def := json.RawMessage(strings.TrimSpace(r.PostFormValue("definition_json")))
	if !json.Valid(def) {
		s.renderSegments(w, r, http.StatusBadRequest, page{Form: r.PostForm, Errors: map[string]string{"definition_json": "is not valid JSON"}})
		return
	}
	if r.PostFormValue("preview") != "" {
		a := s.call(r, http.MethodPost, "/api/v1/segments/preview", nil, map[string]any{"definition_json": def})
		p := page{Form: r.PostForm, Errors: a.FieldErrors()}
		if a.OK() {
			p.Flash = matchText(a.Body)
		}
		s.renderSegments(w, r, statusOf(a), p)
		return
	}
	a := s.call(r, http.MethodPost, "/api/v1/segments", nil, map[string]any{
		"name": r.PostFormValue("name"), "description": r.PostFormValue("description"), "definition_json": def})
	if !a.OK() {
		s.renderSegments(w, r, a.Status, page{Form: r.PostForm, Errors: a.FieldErrors(), Problem: a.Message()})
		return
	}
	http.Redirect(w, r, "/segments?done="+url.QueryEscape("Segment saved."), http.StatusSeeOther)
}

// matchText says how many people a segment preview matched.
func matchText(b map[string]any) string {
	t := fmt.Sprintf("This definition matches %v people", b["matching_users"])
	if fmt.Sprint(b["matching_users"]) == "1" {
		t = "This definition matches 1 person"
	}
	if b["complete"] == false {
		t += fmt.Sprintf(" among the first %v read", b["users_scanned"])
	}
	return t + "."
}

// countSegment answers the segment form's live count as JSON: what the
// definition typed so far matches, or the API's errors by field.
func (s *Server) countSegment(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{}
	def := json.RawMessage(strings.TrimSpace(r.PostFormValue("definition_json")))
	if !json.Valid(def) {
		out["errors"] = map[string]string{"definition_json": "is not valid JSON"}
	} else if a := s.call(r, http.MethodPost, "/api/v1/segments/preview", nil, map[string]any{"definition_json": def}); a.OK() {
		out["text"], out["matching_users"] = matchText(a.Body), a.Body["matching_users"]
	} else {
		out["errors"] = a.FieldErrors()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

func statusOf(a answer) int {
	if a.OK() {
		return http.StatusOK
	}
	return a.Status
}

func (s *Server) templates(w http.ResponseWriter, r *http.Request) {
	s.renderTemplates(w, r, http.StatusOK, page{})
}

func (s *Server) renderTemplates(w http.ResponseWriter, r *http.Request, status int, p page) {
	items, a := s.listing(r, "/api/v1/templates", "templates")
	if !a.OK() {
		s.failed(w, r, "Templates unavailable", a)
		return
	}
	p.Title, p.Nav = "Templates", "templates"
	p.Data = map[string]any{"Templates": items}
	s.render(w, r, status, "templates", p)
}

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request) {
	body, bad := templateForm(r)
	if bad != nil {
		s.renderTemplates(w, r, http.StatusBadRequest, page{Form: r.PostForm, Errors: bad})
		return
	}
	a := s.call(r, http.MethodPost, "/api/v1/templates", nil, body)
	if !a.OK() {
		s.renderTemplates(w, r, a.Status, page{Form: r.PostForm, Errors: a.FieldErrors(), Problem: a.Message()})
		return
	}
	http.Redirect(w, r, "/templates/"+url.PathEscape(fmt.Sprint(a.Body["id"]))+"?done="+url.QueryEscape("Template saved."), http.StatusSeeOther)
}

// templateForm is the template the form describes, as the API takes it
// (POST and PUT alike); bad names the fields it could not read.
func templateForm(r *http.Request) (map[string]any, map[string]string) {
	body := map[string]any{
		"name": r.PostFormValue("name"), "content": r.PostFormValue("content"),
		"category": r.PostFormValue("category"), "variables": splitList(r.PostFormValue("variables")),
	}
	if sid := strings.TrimSpace(r.PostFormValue("content_sid")); sid != "" {
		body["content_sid"] = sid
		vars := map[string]string{}
		for i, v := range splitList(r.PostFormValue("content_variables")) {
			vars[strconv.Itoa(i+1)] = v
		}
		body["content_variables"] = vars
	}
	if l := strings.TrimSpace(r.PostFormValue("locales")); l != "" {
		if !json.Valid([]byte(l)) {
			return nil, map[string]string{"locales": "is not valid JSON"}
		}
		body["locales"] = json.RawMessage(l)
	}
	return body, nil
}

// templatePage is one template: its form to edit, and a preview for a
// chosen person.
func (s *Server) templatePage(w http.ResponseWriter, r *http.Request) {
	s.renderTemplate(w, r, http.StatusOK, page{}, nil)
}

func (s *Server) renderTemplate(w http.ResponseWriter, r *http.Request, status int, p page, preview map[string]any) {
	id := r.PathValue("id")
	a := s.get(r, apiPath("/api/v1/templates", id), nil)
	if !a.OK() {
		s.failed(w, r, "No such template", a)
		return
	}
	if p.Form == nil {
		p.Form = templateValues(a.Body)
	}
	p.Title, p.Nav = "Template "+fmt.Sprint(a.Body["name"]), "templates"
	p.Data = map[string]any{"T": a.Body, "Preview": preview}
	s.render(w, r, status, "template", p)
}

// templateValues fills the edit form from a template as the API shows it.
func templateValues(t map[string]any) url.Values {
	v := url.Values{}
	for _, k := range []string{"name", "content", "category", "content_sid"} {
		if s, ok := t[k].(string); ok {
			v.Set(k, s)
		}
	}
	var vars []string
	if vs, ok := t["variables"].([]any); ok {
		for _, x := range vs {
			vars = append(vars, fmt.Sprint(x))
		}
	}
	v.Set("variables", strings.Join(vars, ", "))
	if cv, ok := t["content_variables"].(map[string]any); ok {
		bound := make([]string, len(cv))
		for k, x := range cv {
			if i, err := strconv.Atoi(k); err == nil && i >= 1 && i <= len(cv) {
				bound[i-1] = fmt.Sprint(x)
			}
		}
		v.Set("content_variables", strings.Join(bound, ", "))
	}
	if l, ok := t["locales"].(map[string]any); ok && len(l) > 0 {
		b, _ := json.MarshalIndent(l, "", "  ")
		v.Set("locales", string(b))
	}
	return v
}

func (s *Server) updateTemplate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, bad := templateForm(r)
	if bad != nil {
		s.renderTemplate(w, r, http.StatusBadRequest, page{Form: r.PostForm, Errors: bad}, nil)
		return
	}
	a := s.call(r, http.MethodPut, apiPath("/api/v1/templates", id), nil, body)
	if !a.OK() {
		s.renderTemplate(w, r, a.Status, page{Form: r.PostForm, Errors: a.FieldErrors(), Problem: a.Message()}, nil)
		return
	}
	http.Redirect(w, r, "/templates/"+url.PathEscape(id)+"?done="+url.QueryEscape("Template saved."), http.StatusSeeOther)
}

// previewTemplate renders the template for one person (the API's
// preview): what they would get, and what would block it.
func (s *Server) previewTemplate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a := s.call(r, http.MethodPost, apiPath("/api/v1/templates", id, "preview"), nil, map[string]string{"phone_number": strings.TrimSpace(r.PostFormValue("preview_phone"))})
	if !a.OK() {
		errs := a.FieldErrors()
		if m, ok := errs["phone_number"]; ok {
			errs["preview_phone"] = m
		}
		s.renderTemplate(w, r, a.Status, page{Errors: errs, Problem: a.Message()}, nil)
		return
	}
	s.renderTemplate(w, r, http.StatusOK, page{}, a.Body)
}

// splitList reads "a, b ,c" as [a b c].
func splitList(v string) []string {
	out := []string{}
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *Server) campaigns(w http.ResponseWriter, r *http.Request) {
	s.renderCampaigns(w, r, http.StatusOK, page{})
}

func (s *Server) renderCampaigns(w http.ResponseWriter, r *http.Request, status int, p page) {
	items, a := s.listing(r, "/api/v1/campaigns", "campaigns")
	if !a.OK() {
		s.failed(w, r, "Campaigns unavailable", a)
		return
	}
	tpls, _ := s.listing(r, "/api/v1/templates", "templates")
	segs, _ := s.listing(r, "/api/v1/segments", "segments")
	p.Title, p.Nav = "Campaigns", "campaigns"
	p.Data = map[string]any{"Campaigns": items, "Templates": tpls, "Segments": segs, "Ceiling": s.API.SenderMPS}
	s.render(w, r, status, "campaigns", p)
}

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) {
	a := s.call(r, http.MethodPost, "/api/v1/campaigns", nil, campaignForm(r, false))
	if !a.OK() {
		s.renderCampaigns(w, r, a.Status, page{Form: r.PostForm, Errors: a.FieldErrors(), Problem: a.Message()})
		return
	}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(fmt.Sprint(a.Body["id"]))+"?done="+url.QueryEscape("Campaign created."), http.StatusSeeOther)
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
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(id)+"?done="+url.QueryEscape("Campaign saved."), http.StatusSeeOther)
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
	data := map[string]any{"C": c.Body, "S": sum.Body, "History": hist.Body["history"], "Moves": moves(fmt.Sprint(c.Body["status"]))}
	if sum.OK() {
		data["Funnel"] = funnelOf(sum.Body)
	}
	if st := fmt.Sprint(c.Body["status"]); st == "DRAFT" || st == "SCHEDULED" {
		if dr := s.get(r, apiPath("/api/v1/campaigns", id, "dry-run"), nil); dr.OK() {
			data["DryRun"] = dr.Body
		}
		tpls, _ := s.listing(r, "/api/v1/templates", "templates")
		segs, _ := s.listing(r, "/api/v1/segments", "segments")
		data["Templates"], data["Segments"], data["Editable"] = tpls, segs, true
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
	}
	if ser, err := s.cachedSeries(r.Context(), []string{id}, s.now()); err == nil {
		data["Chart"] = ser.chart()
	}
	p.Title, p.Nav, p.Data = "Campaign "+fmt.Sprint(c.Body["topic"]), "campaigns", data
	if st := fmt.Sprint(c.Body["status"]); st == "RUNNING" || st == "PAUSED" {
		p.Refresh = 15
	}
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
	"pause":   {Question: "Pause this campaign?", Detail: "No new send starts once the pause is answered; the rest waits for a resume.", Button: "Pause"},
	"resume":  {Question: "Resume this campaign?", Detail: "The held messages get new tasks and sending continues.", Button: "Resume"},
	"cancel":  {Question: "Cancel this campaign?", Detail: "Every unsent message is concluded as skipped (cancelled). This cannot be undone.", Button: "Cancel the campaign", Danger: true},
}

func (s *Server) confirmCampaign(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.URL.Query().Get("action")
	c, ok := moveText[action]
	if !ok {
		s.notFound(w, r)
		return
	}
	back := "/campaigns/" + url.PathEscape(id)
	c.Action, c.Back = back+"/"+action, back
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "campaigns", Data: map[string]any{"C": c, "Subject": "Campaign " + id}})
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
	done := map[string]string{"launch": "Launched.", "dry-run": "Dry run started.", "pause": "Paused.", "resume": "Resumed.", "cancel": "Cancelled."}[action]
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(id)+"?done="+url.QueryEscape(done), http.StatusSeeOther)
}

// exportMessages hands on the API's CSV export as a download.
func (s *Server) exportMessages(w http.ResponseWriter, r *http.Request) {
	s.download(w, r, apiPath("/api/v1/reporting/campaigns", r.PathValue("id"), "messages.csv"), "No export")
}

// monitoring is the inbound stream, recent failures and the work that is
// stuck or dead-lettered.
func (s *Server) monitoring(w http.ResponseWriter, r *http.Request) {
	in := s.get(r, "/api/v1/monitoring/inbound", url.Values{"limit": {"50"}})
	if !in.OK() {
		s.failed(w, r, "Monitoring unavailable", in)
		return
	}
	d := s.get(r, "/api/v1/monitoring/dashboard", nil)
	dl := s.get(r, "/api/v1/monitoring/dead-letters", nil)
	failures, err := s.recentFailures(r.Context(), 50)
	if err != nil {
		s.problem(w, r, http.StatusBadGateway, "Monitoring unavailable", "The messages could not be read.")
		return
	}
	s.render(w, r, http.StatusOK, "monitoring", page{Title: "Monitoring", Nav: "monitoring", Refresh: 15,
		Data: map[string]any{"Inbound": in.Body["messages"], "D": d.Body, "DeadLetters": dl.Body, "DeadLettersProblem": dl.Message(), "Failures": failures}})
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
	c.Fields = map[string]string{"outcome": outcome}
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "campaigns", Data: map[string]any{"C": c, "Subject": "Message " + mid}})
}

// resolveMessage records the operator's decision (the API's
// POST /messages/{id}/resolve).
func (s *Server) resolveMessage(w http.ResponseWriter, r *http.Request) {
	id, mid := r.PathValue("id"), r.PathValue("mid")
	a := s.call(r, http.MethodPost, apiPath("/api/v1/messages", mid, "resolve"), nil, map[string]string{"outcome": r.PostFormValue("outcome")})
	if !a.OK() {
		s.renderCampaign(w, r, a.Status, page{Problem: "Not resolved: " + a.Message()})
		return
	}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(id)+"?done="+url.QueryEscape("Message resolved."), http.StatusSeeOther)
}

// suppress adds a number to the do-not-message list (the API's).
func (s *Server) suppress(w http.ResponseWriter, r *http.Request) {
	a := s.call(r, http.MethodPost, "/api/v1/suppressions", nil, map[string]string{
		"phone_number": strings.TrimSpace(r.PostFormValue("phone_number")), "reason": r.PostFormValue("reason")})
	if !a.OK() {
		errs := a.FieldErrors()
		if m, ok := errs["phone_number"]; ok {
			errs["sup_phone"] = m
		}
		s.renderSegments(w, r, a.Status, page{Form: r.PostForm, Errors: errs, Problem: "Not suppressed: " + a.Message()})
		return
	}
	http.Redirect(w, r, "/segments?done="+url.QueryEscape("Suppressed."), http.StatusSeeOther)
}

func (s *Server) confirmUnsuppress(w http.ResponseWriter, r *http.Request) {
	ph := r.PathValue("phone")
	c := confirm{Question: "Lift this suppression?", Button: "Lift it", Danger: true, Back: "/segments",
		Action: "/suppressions/" + url.PathEscape(ph) + "/lift",
		Detail: "The number may be messaged again, as its consent allows."}
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "segments", Data: map[string]any{"C": c, "Subject": phone.Mask(ph)}})
}

func (s *Server) unsuppress(w http.ResponseWriter, r *http.Request) {
	a := s.call(r, http.MethodDelete, apiPath("/api/v1/suppressions", r.PathValue("phone")), nil, nil)
	if !a.OK() {
		s.renderSegments(w, r, a.Status, page{Problem: "Not lifted: " + a.Message()})
		return
	}
	http.Redirect(w, r, "/segments?done="+url.QueryEscape("Suppression lifted."), http.StatusSeeOther)
}

var deadLetterText = map[string]confirm{
	"replay":  {Question: "Replay this event?", Button: "Replay", Detail: "It is published to its topic again and handled as it was first meant to be; every handler is idempotent."},
	"discard": {Question: "Discard this event?", Button: "Discard", Danger: true, Detail: "It is removed for good: do this only for an event no handler will ever take."},
}

func (s *Server) confirmDeadLetter(w http.ResponseWriter, r *http.Request) {
	topic, id, action := r.PathValue("topic"), r.PathValue("id"), r.URL.Query().Get("action")
	c, ok := deadLetterText[action]
	if !ok {
		s.notFound(w, r)
		return
	}
	c.Action, c.Back = "/monitoring/dead-letters/"+url.PathEscape(topic)+"/"+url.PathEscape(id)+"/"+action, "/monitoring"
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "monitoring", Data: map[string]any{"C": c, "Subject": topic + " " + id}})
}

// deadLetter replays or discards a dead letter (the API's).
func (s *Server) deadLetter(w http.ResponseWriter, r *http.Request) {
	topic, id, action := r.PathValue("topic"), r.PathValue("id"), r.PathValue("action")
	if _, ok := deadLetterText[action]; !ok {
		s.notFound(w, r)
		return
	}
	a := s.call(r, http.MethodPost, apiPath("/api/v1/monitoring/dead-letters", topic, id, action), nil, nil)
	if !a.OK() {
		s.problem(w, r, a.Status, "Not done", a.Message())
		return
	}
	http.Redirect(w, r, "/monitoring?done="+url.QueryEscape(map[string]string{"replay": "Replayed.", "discard": "Discarded."}[action]), http.StatusSeeOther)
}
