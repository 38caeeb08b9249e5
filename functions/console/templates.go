package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

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
	p.Data = map[string]any{"Pager": pagerOf("/templates", a), "Templates": items, "LocaleRows": localeRows(p.Form, p.Errors)}
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
	http.Redirect(w, r, "/templates/"+url.PathEscape(fmt.Sprint(a.Body["id"]))+"?done=template-saved", http.StatusSeeOther)
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
	if rows := typedLocales(r.PostForm); len(rows) > 0 {
		locales, bad := localesBody(rows)
		if bad != nil {
			return nil, bad
		}
		body["locales"] = locales
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
	p.Data = map[string]any{"T": a.Body, "Preview": preview, "LocaleRows": localeRows(p.Form, p.Errors)}
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
	if l, ok := t["locales"].(map[string]any); ok {
		localeValues(v, l)
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
	http.Redirect(w, r, "/templates/"+url.PathEscape(id)+"?done=template-saved", http.StatusSeeOther)
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
