package api

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSuppressions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		name, method, path, body string
		wantCode                 int
		want                     map[string]any // a subset of the answer
	}{
		{"add_normalises", "POST", "/api/v1/suppressions", `{"phone_number":"whatsapp:+94 77 123 4567","reason":"complaint"}`, 201,
			map[string]any{"phone_number": "+94771234567", "reason": "complaint", "by": "api-key"}},
		{"bad_number", "POST", "/api/v1/suppressions", `{"phone_number":"0771234567"}`, 400, nil},
		{"unknown_field", "POST", "/api/v1/suppressions", `{"phone":"+94771234567"}`, 400, nil},
		{"listed", "GET", "/api/v1/suppressions", "", 200, map[string]any{"total": 1.0}},
		{"removed", "DELETE", "/api/v1/suppressions/%2B94771234567", "", 204, nil},
		{"removed_again", "DELETE", "/api/v1/suppressions/%2B94771234567", "", 404, nil},
		{"bad_path_number", "DELETE", "/api/v1/suppressions/nope", "", 400, nil},
	} {
		code, out := f.callRaw(tc.method, tc.path, tc.body)
		if code != tc.wantCode {
			t.Fatalf("%s: %s %s = %d %v, want %d", tc.name, tc.method, tc.path, code, out, tc.wantCode)
		}
		for k, v := range tc.want {
			if diff := cmp.Diff(v, out[k]); diff != "" {
				t.Errorf("%s: %s (-want +got):\n%s", tc.name, k, diff)
			}
		}
	}
}

// raw sends a request with the key and returns the recorded answer,
// whatever its body (CSV, or none).
func (f *fixture) raw(method, path, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// callRaw is call for answers that may have no body (204).
func (f *fixture) callRaw(method, path, body string) (int, map[string]any) {
	f.t.Helper()
	rec := f.raw(method, path, body)
	out := map[string]any{}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			f.t.Fatalf("%s %s: answer is not JSON: %q", method, path, rec.Body.String())
		}
	}
	return rec.Code, out
}
