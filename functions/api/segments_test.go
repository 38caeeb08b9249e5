package api

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/user"
)

// segmentPeople stores five people: three in Colombo (one opted out, one
// who wrote an hour before now), one in Kandy, one in Toronto.
func segmentPeople(t *testing.T, f *fixture, now time.Time) {
	t.Helper()
	hourAgo := now.Add(-time.Hour)
	for _, u := range []user.User{
		{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo", "age": 40}, LastInboundAt: &hourAgo},
		{Phone: "+94771234568", Consent: consent.OptOut, Attributes: map[string]any{"city": "Colombo", "age": 17}},
		{Phone: "+94771234569", Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo", "age": "40"}},
		{Phone: "+94772345678", Consent: consent.OptIn, Attributes: map[string]any{"city": "Kandy", "age": 33}},
		{Phone: "+16135550123", Consent: consent.OptIn, Attributes: map[string]any{"city": "Toronto", "age": 52}},
	} {
		u.CreatedAt = now.Add(-48 * time.Hour)
		if err := f.store.CreateUser(context.Background(), u, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSegmentPreview(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	f := newFixture(t)
	f.server.Now = func() time.Time { return now }
	segmentPeople(t, f, now)
	saved := f.id("/api/v1/segments", `{"name":"Colombo","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		want   map[string]any
	}{
		{
			name: "saved", method: "GET", path: "/api/v1/segments/" + saved + "/preview",
			want: map[string]any{"segment_id": saved, "matching_users": 3.0, "by_consent_state": map[string]any{"OPT_IN": 2.0, "OPT_OUT": 1.0},
				"sample": []any{"+94*****4567", "+94*****4568", "+94*****4569"}, "users_scanned": 3.0, "complete": true},
		},
		{
			name: "unsaved_same_definition", method: "POST", path: "/api/v1/segments/preview",
			body: `{"definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`,
			want: map[string]any{"matching_users": 3.0, "by_consent_state": map[string]any{"OPT_IN": 2.0, "OPT_OUT": 1.0},
				"sample": []any{"+94*****4567", "+94*****4568", "+94*****4569"}, "users_scanned": 3.0, "complete": true},
		},
		{
			name: "unsaved_typed_and_negated", method: "POST", path: "/api/v1/segments/preview",
			body: `{"definition_json":{"conditions":[
				{"attribute":"age","operator":"between","value":[18,65]},
				{"attribute":"phone_country","operator":"in","value":["LK","CA"]},
				{"not":{"attribute":"last_inbound_at","operator":"within_last","value":"1d"}},
				{"attribute":"created_at","operator":"before","value":"2026-03-14T00:00:00Z"}]}}`,
			want: map[string]any{"matching_users": 2.0, "by_consent_state": map[string]any{"OPT_IN": 2.0},
				"sample": []any{"+1******0123", "+94*****5678"}, "users_scanned": 5.0, "complete": true},
		},
		{
			name: "unsaved_nobody", method: "POST", path: "/api/v1/segments/preview",
			body: `{"definition_json":{"attribute":"city","operator":"equals","value":"Galle"}}`,
			want: map[string]any{"matching_users": 0.0, "by_consent_state": map[string]any{}, "sample": []any{}, "users_scanned": 0.0, "complete": true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, got := f.call(tc.method, tc.path, tc.body)
			if code != 200 {
				t.Fatalf("%s %s = %d %v", tc.method, tc.path, code, got)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s %s (-want, +got):\n%s", tc.method, tc.path, diff)
			}
		})
	}
}

func TestSegmentUpdate(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	edited := created.Add(24 * time.Hour)
	f := newFixture(t)
	f.server.Now = func() time.Time { return created }
	id := f.id("/api/v1/segments", `{"name":"Colombo","description":"the city","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
	f.server.Now = func() time.Time { return edited }

	code, got := f.call("PUT", "/api/v1/segments/"+id, `{"name":"Colombo, quiet","description":"not heard from in a week","definition_json":{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"not":{"attribute":"last_inbound_at","operator":"within_last","value":"7d"}}]}}`)
	want := map[string]any{
		"id": id, "name": "Colombo, quiet", "description": "not heard from in a week",
		"definition_json": map[string]any{"conditions": []any{
			map[string]any{"attribute": "city", "operator": "equals", "value": "Colombo"},
			map[string]any{"not": map[string]any{"attribute": "last_inbound_at", "operator": "within_last", "value": "7d"}},
		}, "logic": "AND"},
		"created_at": "2026-03-01T09:00:00Z", "updated_at": "2026-03-02T09:00:00Z",
	}
	if code != 200 {
		t.Fatalf("PUT = %d %v", code, got)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PUT (-want, +got):\n%s", diff)
	}
	if _, stored := f.call("GET", "/api/v1/segments/"+id, ""); !cmp.Equal(want, stored) {
		t.Errorf("GET after PUT = %v, want %v", stored, want)
	}

	// A description left out is cleared, as PUT replaces.
	if code, got := f.call("PUT", "/api/v1/segments/"+id, `{"name":"Colombo","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`); code != 200 || got["description"] != "" {
		t.Errorf("PUT without description = %d %v, want 200 and none", code, got)
	}
}

// Every refusal is a 400 or 404 naming the field, down to the definition's
// bad node, and leaves the segment as it was.
func TestSegment_errors_name_the_node(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.id("/api/v1/segments", `{"name":"C","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
	cases := []struct {
		name, method, path, body string
		wantCode                 int
		wantDetails              []any
	}{
		{
			name: "create_bad_node_under_not", method: "POST", path: "/api/v1/segments",
			body:     `{"name":"x","definition_json":{"conditions":[{"attribute":"a","operator":"exists"},{"not":{"attribute":"created_at","operator":"after","value":"yesterday"}}]}}`,
			wantCode: 400, wantDetails: []any{map[string]any{"field": "definition_json.conditions[1].not.value", "message": "must be an RFC 3339 timestamp such as 2026-01-31T00:00:00Z for operator after"}},
		},
		{
			name: "create_without_name_or_definition", method: "POST", path: "/api/v1/segments", body: `{"description":"d"}`,
			wantCode: 400, wantDetails: []any{map[string]any{"field": "name", "message": "is required"}, map[string]any{"field": "definition_json", "message": "is required"}},
		},
		{
			name: "update_bad_between", method: "PUT", path: "/api/v1/segments/" + id,
			body:     `{"name":"x","definition_json":{"attribute":"age","operator":"between","value":[65,18]}}`,
			wantCode: 400, wantDetails: []any{map[string]any{"field": "definition_json.value", "message": "low 65 is above high 18"}},
		},
		{
			name: "update_null_definition", method: "PUT", path: "/api/v1/segments/" + id, body: `{"name":"x","definition_json":null}`,
			wantCode: 400, wantDetails: []any{map[string]any{"field": "definition_json", "message": "is required"}},
		},
		{
			name: "update_unknown_segment", method: "PUT", path: "/api/v1/segments/nope",
			body: `{"name":"x","definition_json":{"attribute":"a","operator":"exists"}}`, wantCode: 404,
		},
		{
			name: "update_unknown_field", method: "PUT", path: "/api/v1/segments/" + id,
			body: `{"name":"x","definition_json":{"attribute":"a","operator":"exists"},"logic":"OR"}`, wantCode: 400,
			wantDetails: []any{map[string]any{"field": "logic", "message": "is not a field of this resource"}},
		},
		{
			name: "preview_bad_duration", method: "POST", path: "/api/v1/segments/preview",
			body:     `{"definition_json":{"attribute":"last_inbound_at","operator":"within_last","value":"30 days"}}`,
			wantCode: 400, wantDetails: []any{map[string]any{"field": "definition_json.value", "message": `duration "30 days" unknown unit ' ' (want w, d, h or m)`}},
		},
		{
			name: "preview_without_definition", method: "POST", path: "/api/v1/segments/preview", body: `{}`,
			wantCode: 400, wantDetails: []any{map[string]any{"field": "definition_json", "message": "is required"}},
		},
		{
			name: "preview_unknown_consent_state", method: "POST", path: "/api/v1/segments/preview",
			body:     `{"definition_json":{"attribute":"consent_state","operator":"equals","value":"opted_in"}}`,
			wantCode: 400, wantDetails: []any{map[string]any{"field": "definition_json.value", "message": `unknown consent state "opted_in" (want OPT_IN, OPT_OUT or STOP)`}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, got := f.call(tc.method, tc.path, tc.body)
			if code != tc.wantCode || got["error"] == nil {
				t.Fatalf("%s %s = %d %v, want %d with an error", tc.method, tc.path, code, got, tc.wantCode)
			}
			if tc.wantDetails == nil {
				return
			}
			if diff := cmp.Diff(tc.wantDetails, got["details"]); diff != "" {
				t.Errorf("details (-want, +got):\n%s", diff)
			}
		})
	}
	if _, stored := f.call("GET", "/api/v1/segments/"+id, ""); stored["name"] != "C" {
		t.Errorf("refused updates changed the segment: %v", stored)
	}
}
