package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A campaign rate above the sender's ceiling (TWILIO_SENDER_MPS) is
// refused at creation and in an edit that sets it, naming the field and
// the ceiling; without a ceiling any rate Cloud Tasks allows is taken.
func TestCampaignRateAboveSenderCeiling(t *testing.T) {
	t.Parallel()
	const over = "must be at most 80, the sender's ceiling (TWILIO_SENDER_MPS) shared by the campaigns running at once"
	const outOfRange = "must be an integer from 1 to 500"
	tests := []struct {
		name      string
		ceiling   int
		method    string // POST creates; PUT edits a campaign created at rate 10
		body      string // fields beside topic, template and segment
		wantCode  int
		wantError any // the answer's details; nil when there are none
		wantRate  int // the campaign's rate, when not 0
	}{
		{name: "create_above", ceiling: 80, method: "POST", body: `"rate_limit_per_second":81`, wantCode: 400,
			wantError: []any{map[string]any{"field": "rate_limit_per_second", "message": over}}},
		{name: "create_at", ceiling: 80, method: "POST", body: `"rate_limit_per_second":80`, wantCode: 201},
		{name: "create_out_of_range_says_so_once", ceiling: 80, method: "POST", body: `"rate_limit_per_second":501`, wantCode: 400,
			wantError: []any{map[string]any{"field": "rate_limit_per_second", "message": outOfRange}}},
		{name: "create_no_ceiling", ceiling: 0, method: "POST", body: `"rate_limit_per_second":500`, wantCode: 201},
		// No rate given: the default (10), or the ceiling below it.
		{name: "create_default_below_ceiling", ceiling: 80, method: "POST", wantCode: 201, wantRate: 10},
		{name: "create_default_at_a_lower_ceiling", ceiling: 5, method: "POST", wantCode: 201, wantRate: 5},
		{name: "create_default_no_ceiling", ceiling: 0, method: "POST", wantCode: 201, wantRate: 10},
		{name: "edit_above", ceiling: 80, method: "PUT", body: `"rate_limit_per_second":200`, wantCode: 400,
			wantError: []any{map[string]any{"field": "rate_limit_per_second", "message": over}}},
		{name: "edit_within", ceiling: 80, method: "PUT", body: `"rate_limit_per_second":80`, wantCode: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tpl := f.id("/api/v1/templates", `{"name":"W","content":"Hi {name}","variables":["name"]}`)
			seg := f.id("/api/v1/segments", `{"name":"C","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
			refs := `"topic":"t","template_id":"` + tpl + `","segment_id":"` + seg + `"`
			f.server.SenderMPS = tc.ceiling
			path := "/api/v1/campaigns"
			if tc.method == "PUT" {
				path += "/" + f.id(path, `{`+refs+`,"rate_limit_per_second":10}`)
			}
			fields := refs
			if tc.body != "" {
				fields += "," + tc.body
			}
			code, got := f.call(tc.method, path, `{`+fields+`}`)
			if code != tc.wantCode {
				t.Fatalf("%s %s = %d %v, want %d", tc.method, path, code, got, tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantError, got["details"]); diff != "" {
				t.Errorf("details (-want, +got):\n%s", diff)
			}
			if tc.wantRate != 0 && got["rate_limit_per_second"] != float64(tc.wantRate) {
				t.Errorf("rate_limit_per_second = %v, want %d", got["rate_limit_per_second"], tc.wantRate)
			}
		})
	}
}
