package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/phone"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticDir embed.FS

func staticFiles() http.Handler {
	sub, _ := fs.Sub(staticDir, "static")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		fsrv.ServeHTTP(w, r)
	})
}

// page is what every template gets.
type page struct {
	Title string
	Nav   string // the nav entry to mark current
	Who   string
	CSRF  string
	// Flash is a one-line outcome of the last action; Problem an error.
	Flash, Problem string
	// Errors are validation messages by form field ("" for the form).
	Errors map[string]string
	// Form holds what was typed, to show again beside its errors.
	Form url.Values
	Data map[string]any
	// Refresh, in seconds, makes the page reload its main part itself.
	Refresh int
	// IAM hides "Sign out": Google's sign-in, not the console's, admits
	// the visitor, so the console has no sign-in to end.
	IAM bool
	// RefreshURL is the page's own address, when the request's is an
	// action's (a refused POST drawn again): refreshes and reloads read it.
	RefreshURL string
}

var funcs = template.FuncMap{
	"mask": phone.Mask,
	"num":  num,
	"int":  func(v any) int { return int(math.Round(num(v))) },
	"pct": func(part, whole any) float64 {
		if num(whole) <= 0 {
			return 0
		}
		return math.Min(100, math.Round(1000*num(part)/num(whole))/10)
	},
	"when": when,
	"esc":  url.PathEscape,
	// query is an encoded query string: trusted as a URL's part (its
	// values are escaped here), so the template does not escape it again.
	"query": func(kv ...string) template.URL {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(q.Encode())
	},
	"pretty": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	},
	"lower": strings.ToLower,
	// others are the errors a form shows no field for, so that none goes
	// unsaid; a field ending in * names those that begin with it (such as
	// locales.*, shown beside their rows).
	"others": func(errs map[string]string, fields ...string) map[string]string {
		out := map[string]string{}
		for k, v := range errs {
			if k != "" && !slices.ContainsFunc(fields, func(f string) bool {
				p, prefix := strings.CutSuffix(f, "*")
				return k == f || prefix && strings.HasPrefix(k, p)
			}) {
				out[k] = v
			}
		}
		return out
	},
	"ceiling": func(v any) string {
		if n, ok := v.(int); ok && n > 0 {
			return fmt.Sprintf(" (at most %d, the sender's ceiling)", n)
		}
		return ""
	},
	"add": func(a, b int) int { return a + b },
	// importThroughMax is the largest file the users page sends through
	// the console (imports.go).
	"importThroughMax": func() int { return importThroughMax },
	"list":             func(vs ...any) []any { return vs },
	"str":              func(v any) string { return fmt.Sprint(v) },
	"has": func(m map[string]any, k string) bool {
		_, ok := m[k]
		return ok
	},
}

// num reads a JSON number (or a Go one) as a float; 0 otherwise.
func num(v any) float64 {
	switch n := v.(type) {
	case json.Number:
		f, _ := n.Float64()
		return f
	case float64:
		return n
	case int:
		return float64(n)
	case string:
		f, _ := strconv.ParseFloat(n, 64)
		return f
	}
	return 0
}

// when shows an RFC 3339 time (or a time.Time) as UTC to the minute.
func when(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	case string:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
			return x
		}
	default:
		return ""
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

var pages = map[string]*template.Template{}

func init() {
	// Partials (partial_*.html) are shared by every page.
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/partial_*.html"))
	names, _ := fs.Glob(templateFiles, "templates/*.html")
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || strings.HasPrefix(name, "partial_") {
			continue
		}
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, n))
	}
}

// doneMessages are the outcomes a redirect after an action may name
// (?done=code): the banner shows only these fixed texts, never the query's
// own words, so a crafted link cannot put a message in the console's mouth.
var doneMessages = map[string]string{
	"user-added":         "User added.",
	"consent-changed":    "Consent changed.",
	"erased":             "The person was erased.",
	"segment-saved":      "Segment saved.",
	"suppressed":         "Suppressed.",
	"suppression-lifted": "Suppression lifted.",
	"template-saved":     "Template saved.",
	"campaign-created":   "Campaign created.",
	"campaign-saved":     "Campaign saved.",
	"launch":             "Launched.",
	"dry-run":            "Dry run started.",
	"pause":              "Paused.",
	"resume":             "Resumed.",
	"cancel":             "Cancelled.",
	"message-resolved":   "Message resolved.",
	"replay":             "Replayed.",
	"discard":            "Discarded.",
}

// render writes the page named name, buffered so that a failing template
// never sends half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	v := visitorOf(r.Context())
	if p.Who == "" {
		p.Who = v.Who
	}
	if p.CSRF == "" {
		p.CSRF = v.CSRF
	}
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	p.IAM = s.IAM
	if p.Flash == "" {
		p.Flash = doneMessages[r.URL.Query().Get("done")]
	}
	t, ok := pages[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		logging.FromContext(r.Context()).Error("console: template", "page", name, "error", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// problem renders an error page.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	s.render(w, r, status, "problem", page{Title: title, Problem: msg})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.problem(w, r, http.StatusNotFound, "Not found", "There is no page at this address.")
}

// failed renders the API's refusal of a read as the page's problem.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, title string, a answer) {
	status := a.Status
	if status < 400 {
		status = http.StatusBadGateway
	}
	s.problem(w, r, status, title, a.Message())
}
