package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// confirm is what a destructive action asks before it is done.
type confirm struct {
	Question, Detail, Action, Button, Back string
	Danger                                 bool
	Fields                                 map[string]string // hidden fields to post
	Reason                                 bool              // ask for a reason
}

// listing reads one of the API's lists (segments, templates, campaigns).
func (s *Server) listing(r *http.Request, path, key string) ([]any, answer) {
	pg := r.URL.Query().Get("page")
	if n, err := strconv.Atoi(pg); err != nil || n < 1 {
		pg = "1"
	}
	a := s.get(r, path, url.Values{"page": {pg}, "per_page": {"50"}})
	items, _ := a.Body[key].([]any)
	return items, a
}

// choices reads the first 200 of one of the API's lists, for a form's
// select; problem is the API's refusal ("" when it answered).
func (s *Server) choices(r *http.Request, path, key string) (items []any, problem string) {
	a := s.get(r, path, url.Values{"page": {"1"}, "per_page": {"200"}})
	items, _ = a.Body[key].([]any)
	return items, a.Message()
}

// choicesProblem says which of a form's lists could not be read.
func choicesProblem(templates, segments string) string {
	var out []string
	if templates != "" {
		out = append(out, "The templates could not be read: "+templates)
	}
	if segments != "" {
		out = append(out, "The segments could not be read: "+segments)
	}
	return strings.Join(out, " ")
}

// pager links a list's pages.
type pager struct {
	Path       string
	Prev, Next int // 0: none
}

func pagerOf(path string, a answer) pager {
	n := int(num(a.Body["page"]))
	p := pager{Path: path}
	if n > 1 {
		p.Prev = n - 1
	}
	if a.Body["has_next"] == true {
		p.Next = n + 1
	}
	return p
}

func statusOf(a answer) int {
	if a.OK() {
		return http.StatusOK
	}
	return a.Status
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
