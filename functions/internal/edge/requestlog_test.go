package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/logging"
)

// Each request is logged once in Cloud Logging's httpRequest shape, by its
// route: never by its URL, which may hold a phone number.
func TestHTTP_logs_the_route_not_the_url(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/users/{phone}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"no user"}`))
	})
	h := HTTP("API", &Lazy[http.Handler]{Build: func(context.Context) (http.Handler, error) { return mux, nil }})
	var buf bytes.Buffer
	req := httptest.NewRequest("GET", "/api/v1/users/%2B94771234567?x=%2B94771234567", nil)
	req = req.WithContext(logging.WithLogger(req.Context(), logging.New(&buf, nil)))
	h.ServeHTTP(httptest.NewRecorder(), req)

	if strings.Contains(buf.String(), "771234567") {
		t.Errorf("the log holds the phone number: %s", buf.String())
	}
	var line struct {
		Message     string         `json:"message"`
		Route       string         `json:"route"`
		Function    string         `json:"function"`
		HTTPRequest map[string]any `json:"httpRequest"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	delete(line.HTTPRequest, "latency")
	want := map[string]any{"requestMethod": "GET", "status": 404.0, "responseSize": "19", "userAgent": ""}
	if line.Message != "request" || line.Route != "GET /api/v1/users/{phone}" || line.Function != "API" {
		t.Errorf("line = %+v", line)
	}
	if diff := cmp.Diff(want, line.HTTPRequest); diff != "" {
		t.Errorf("httpRequest (-want, +got):\n%s", diff)
	}
}
