package console

import (
	"net/http"
	"net/url"
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
	if pg == "" {
		pg = "1"
	}
	a := s.get(r, path, url.Values{"page": {pg}, "per_page": {"50"}})
	items, _ := a.Body[key].([]any)
	return items, a
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
