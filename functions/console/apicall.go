package console

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// answer is what the API said to one in-process call.
type answer struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

// OK reports a 2xx answer.
func (a answer) OK() bool { return a.Status >= 200 && a.Status < 300 }

// Message is the API's error text ("" on success).
func (a answer) Message() string {
	if a.OK() {
		return ""
	}
	if m, ok := a.Body["error"].(string); ok {
		return m
	}
	return http.StatusText(a.Status)
}

// FieldErrors are the API's validation details by field, for the form
// to show next to each field; details naming no field go under "".
func (a answer) FieldErrors() map[string]string {
	out := map[string]string{}
	ds, _ := a.Body["details"].([]any)
	for _, d := range ds {
		m, _ := d.(map[string]any)
		field, _ := m["field"].(string)
		msg, _ := m["message"].(string)
		if out[field] != "" {
			msg = out[field] + "; " + msg
		}
		out[field] = msg
	}
	if len(out) == 0 && !a.OK() {
		out[""] = a.Message()
	}
	return out
}

// recorder is the ResponseWriter of an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// call asks the API, in process and as the signed-in admin, for method
// path (with query q) and body (JSON-encoded unless nil).
func (s *Server) call(r *http.Request, method, path string, q url.Values, body any) answer {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{Status: http.StatusInternalServerError, Body: map[string]any{"error": err.Error()}}
		}
		rd = bytes.NewReader(b)
	}
	return s.callRaw(r, method, path, q, "application/json", rd)
}

// callRaw is call with a body already encoded as contentType.
func (s *Server) callRaw(r *http.Request, method, path string, q url.Values, contentType string, body io.Reader) answer {
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(r.Context(), method, target, body)
	if err != nil {
		return answer{Status: http.StatusInternalServerError, Body: map[string]any{"error": err.Error()}}
	}
	req.Header.Set("Content-Type", contentType)
	return s.serveAPI(r, req)
}

// serveAPI has the API answer req as r's visitor, in process.
func (s *Server) serveAPI(r, req *http.Request) answer {
	rec := &recorder{header: http.Header{}}
	s.API.As(visitorOf(r.Context()).Who).ServeHTTP(rec, req)
	a := answer{Status: rec.status, Raw: rec.body.Bytes(), Header: rec.header}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	if strings.HasPrefix(rec.header.Get("Content-Type"), "application/json") {
		d := json.NewDecoder(bytes.NewReader(a.Raw))
		d.UseNumber()
		_ = d.Decode(&a.Body)
	}
	return a
}

// get calls GET path; the answer's body is nil when it failed.
func (s *Server) get(r *http.Request, path string, q url.Values) answer {
	return s.call(r, http.MethodGet, path, q, nil)
}

// apiPath joins an API path and a path segment, escaped.
func apiPath(prefix string, segs ...string) string {
	for _, s := range segs {
		prefix += "/" + url.PathEscape(s)
	}
	return prefix
}

// download hands on one of the API's CSV files (its own name and type),
// or a page saying why there is none.
func (s *Server) download(w http.ResponseWriter, r *http.Request, path, title string) {
	a := s.get(r, path, nil)
	if !a.OK() {
		s.failed(w, r, title, a)
		return
	}
	for _, h := range []string{"Content-Type", "Content-Disposition"} {
		w.Header().Set(h, a.Header.Get(h))
	}
	_, _ = w.Write(a.Raw)
}
