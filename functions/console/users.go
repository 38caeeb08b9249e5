package console

import (
	"cmp"
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

const usersPerPage = 25

// users lists people, a page at a time, found by a phone prefix or by
// one attribute's value. Numbers are masked: the list shows many people.
func (s *Server) users(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	scan := store.UserScan{Limit: usersPerPage}
	if after := q.Get("after"); after != "" {
		var err error
		if scan.After, err = s.openCursor(after); err != nil {
			s.problem(w, r, http.StatusBadRequest, "Page link not valid",
				"This page's link is damaged or comes from another console. Start again from the first page of users.")
			return
		}
	}
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
		scan.Filters = []segment.Filter{attributeIs(a, q.Get("value"))}
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
	if next != "" {
		var err error
		if next, err = s.sealCursor(next); err != nil {
			s.problem(w, r, http.StatusInternalServerError, "Users unavailable", "The next page's link could not be made.")
			return
		}
	}
	total, _ := s.Store.CountUsers(r.Context(), store.UserFilter{})
	data := map[string]any{"Users": us, "Total": total}
	for k, v := range userPages(q, next) {
		data[k] = v
	}
	s.render(w, r, http.StatusOK, "users", page{Title: "Users", Nav: "users", Errors: errs, Form: form, Data: data})
}

// usersTrail is how many pages back the users list remembers: the
// store's cursor only goes forward, so each link carries the cursors of
// the pages before it (back, oldest first; "-" is the first page). Every
// cursor in a link is sealed (sealCursor).
const usersTrail = 20

// userPages links the users list's first, previous and next pages from
// the page q asked for, whose next page starts at next ("" for none);
// q's cursors and next are sealed.
func userPages(q url.Values, next string) map[string]string {
	base := url.Values{}
	for _, k := range []string{"prefix", "attr", "value"} {
		if v := q.Get(k); v != "" {
			base.Set(k, v)
		}
	}
	link := func(after string, back []string) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		if after != "" && after != "-" {
			v.Set("after", after)
		}
		if len(back) > 0 {
			v["back"] = back
		}
		if len(v) == 0 {
			return "/users"
		}
		return "/users?" + v.Encode()
	}
	after, back := q.Get("after"), q["back"]
	out := map[string]string{}
	if after != "" {
		out["First"] = link("", nil)
		if len(back) > 0 {
			out["Prev"] = link(back[len(back)-1], back[:len(back)-1])
		}
	}
	if next != "" {
		trail := append(append([]string{}, back...), cmp.Or(after, "-"))
		if len(trail) > usersTrail {
			trail = trail[len(trail)-usersTrail:]
		}
		out["Next"] = link(next, trail)
	}
	return out
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
	http.Redirect(w, r, "/users/"+url.PathEscape(p)+"?done=user-added", http.StatusSeeOther)
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
	http.Redirect(w, r, "/users/"+url.PathEscape(ph)+"?done=consent-changed", http.StatusSeeOther)
}

func (s *Server) eraseUser(w http.ResponseWriter, r *http.Request) {
	ph := r.PathValue("phone")
	a := s.call(r, http.MethodDelete, apiPath("/api/v1/users", ph), nil, nil)
	if !a.OK() {
		s.renderUser(w, r, a.Status, page{Problem: "Not erased: " + a.Message()})
		return
	}
	http.Redirect(w, r, "/users?done=erased", http.StatusSeeOther)
}

// attributeIs matches an attribute holding v as typed: as text, and as
// the number or boolean it reads as (an imported age of 40 is a number).
func attributeIs(attr, v string) segment.Filter {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return segment.Filter{Attribute: attr, Op: segment.FilterIn, Value: []any{v, f}}
	}
	if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
		return segment.Filter{Attribute: attr, Op: segment.FilterIn, Value: []any{v, b}}
	}
	return segment.Filter{Attribute: attr, Op: segment.FilterEq, Value: v}
}
