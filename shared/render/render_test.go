package render

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
)

func TestError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		err      error
		wantCode int
		want     map[string]any
	}{
		{"invalid_with_details", errs.WithDetails(errs.Invalid, "invalid user", []errs.Detail{{Row: 3, Field: "phone_number", Message: "missing leading +"}}), 400,
			map[string]any{"error": "invalid user", "details": []any{map[string]any{"row": 3.0, "field": "phone_number", "message": "missing leading +"}}}},
		{"not_found_lists_no_details", errs.E(errs.NotExist, "no campaign with id \"x\""), 404,
			map[string]any{"error": "no campaign with id \"x\"", "details": []any{}}},
		// An unclassified failure may hold internals: not shown.
		{"internal_is_hidden", errors.New("firestore: dial 10.0.0.7: refused"), 500,
			map[string]any{"error": "Internal Server Error", "details": []any{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			Error(rec, httptest.NewRequest("GET", "/", nil), tc.err)
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.wantCode {
				t.Errorf("status %d, want %d", rec.Code, tc.wantCode)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("body (-want, +got):\n%s", diff)
			}
		})
	}
}
