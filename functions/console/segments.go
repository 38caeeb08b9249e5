package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/eventstreamengine/ese/shared/phone"
)

func (s *Server) segments(w http.ResponseWriter, r *http.Request) {
	s.renderSegments(w, r, http.StatusOK, page{})
}

func (s *Server) renderSegments(w http.ResponseWriter, r *http.Request, status int, p page) {
	items, a := s.listing(r, "/api/v1/segments", "segments")
	if !a.OK() {
		s.failed(w, r, "Segments unavailable", a)
		return
	}
	supPage := r.URL.Query().Get("sup_page")
	if n, err := strconv.Atoi(supPage); err != nil || n < 1 {
		supPage = "1"
	}
	sup := s.get(r, "/api/v1/suppressions", url.Values{"page": {supPage}, "per_page": {"50"}})
	p.Title, p.Nav = "Segments", "segments"
	p.Data = map[string]any{"Pager": pagerOf("/segments", a), "Segments": items, "Suppressions": sup.Body["suppressions"],
		"SuppressionsProblem": sup.Message(), "SupPager": pagerOf("/segments", sup)}
	s.render(w, r, status, "segments", p)
}

// createSegment saves a segment, or with preview=1 counts who it matches
// (the API's POST /segments/preview) without saving it.
func (s *Server) createSegment(w http.ResponseWriter, r *http.Request) {
	redraw := func(status int, p page) { s.renderSegments(w, r, status, p) }
	if s.saveSegment(r, http.MethodPost, "/api/v1/segments", "", redraw) {
		http.Redirect(w, r, "/segments?done=segment-saved", http.StatusSeeOther)
	}
}

// saveSegment is the create and edit forms' POST: the definition checked
// as JSON, and with preview=1 counted (the API's POST /segments/preview),
// else saved by method to path. Anything else (a count, a refusal, its
// field errors after refused) is drawn on the form by redraw; it reports
// whether the segment was saved.
func (s *Server) saveSegment(r *http.Request, method, path, refused string, redraw func(int, page)) bool {
	def := json.RawMessage(strings.TrimSpace(r.PostFormValue("definition_json")))
	if !json.Valid(def) {
		redraw(http.StatusBadRequest, page{Form: r.PostForm, Errors: map[string]string{"definition_json": "is not valid JSON"}})
		return false
	}
	if r.PostFormValue("preview") != "" {
		a := s.call(r, http.MethodPost, "/api/v1/segments/preview", nil, map[string]any{"definition_json": def})
		p := page{Form: r.PostForm, Errors: a.FieldErrors()}
		if a.OK() {
			p.Flash = matchText(a.Body)
		}
		redraw(statusOf(a), p)
		return false
	}
	a := s.call(r, method, path, nil, map[string]any{
		"name": r.PostFormValue("name"), "description": r.PostFormValue("description"), "definition_json": def})
	if !a.OK() {
		redraw(a.Status, page{Form: r.PostForm, Errors: a.FieldErrors(), Problem: refused + a.Message()})
		return false
	}
	return true
}

// segmentPage is one segment's edit form, filled from its stored
// definition, with the create form's builder and live count.
func (s *Server) segmentPage(w http.ResponseWriter, r *http.Request) {
	s.renderSegment(w, r, http.StatusOK, page{})
}

func (s *Server) renderSegment(w http.ResponseWriter, r *http.Request, status int, p page) {
	a := s.get(r, apiPath("/api/v1/segments", r.PathValue("id")), nil)
	if !a.OK() {
		s.failed(w, r, "No such segment", a)
		return
	}
	if p.Form == nil {
		p.Form = segmentValues(a.Body)
	}
	p.Title, p.Nav = "Segment "+fmt.Sprint(a.Body["name"]), "segments"
	p.Data = map[string]any{"Segment": a.Body}
	s.render(w, r, status, "segment", p)
}

// segmentValues fills the edit form from a segment as the API shows it.
func segmentValues(g map[string]any) url.Values {
	v := url.Values{}
	for _, k := range []string{"name", "description"} {
		if s, ok := g[k].(string); ok {
			v.Set(k, s)
		}
	}
	if d, ok := g["definition_json"]; ok && d != nil {
		b, _ := json.MarshalIndent(d, "", "  ")
		v.Set("definition_json", string(b))
	}
	return v
}

// updateSegment saves the edit form through the API's PUT, or with
// preview=1 counts who the edited definition matches; the API's refusal
// (a bad field, or a segment it will not change) is shown on the form.
func (s *Server) updateSegment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	redraw := func(status int, p page) { s.renderSegment(w, r, status, p) }
	if s.saveSegment(r, http.MethodPut, apiPath("/api/v1/segments", id), "Not saved: ", redraw) {
		http.Redirect(w, r, "/segments/"+url.PathEscape(id)+"?done=segment-saved", http.StatusSeeOther)
	}
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
	http.Redirect(w, r, "/segments?done=suppressed", http.StatusSeeOther)
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
	http.Redirect(w, r, "/segments?done=suppression-lifted", http.StatusSeeOther)
}
