package api

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	sidEN = "HX0123456789abcdef0123456789abcdef"
	sidSI = "HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// approvedTemplate is a template sent as Twilio's approved content, with
// a Sinhala variant.
const approvedTemplate = `{"name":"Welcome","content":"Hi {name|there}! Welcome from {city}.","variables":["name","city"],
	"content_sid":"` + sidEN + `","content_variables":{"1":"name|there","2":"city"},"category":"marketing",
	"locales":{"si":{"content":"ආයුබෝවන් {name|there}! {city}","content_sid":"` + sidSI + `"}}}`

// A template round-trips with its content SID, variables, category and
// locales; PUT replaces what a person sets and keeps id and creation time.
func TestTemplates_create_get_update(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	code, created := f.call("POST", "/api/v1/templates", approvedTemplate)
	if code != 201 {
		t.Fatalf("POST = %d %v", code, created)
	}
	id := created["id"].(string)
	want := map[string]any{
		"id": id, "name": "Welcome", "content": "Hi {name|there}! Welcome from {city}.", "variables": []any{"name", "city"},
		"content_sid": sidEN, "content_variables": map[string]any{"1": "name|there", "2": "city"}, "category": "marketing",
		"locales":    map[string]any{"si": map[string]any{"content": "ආයුබෝවන් {name|there}! {city}", "content_sid": sidSI}},
		"created_at": created["created_at"], "updated_at": created["updated_at"],
	}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("POST (-want, +got):\n%s", diff)
	}
	if _, got := f.call("GET", "/api/v1/templates/"+id, ""); !cmp.Equal(want, got) {
		t.Errorf("GET (-want, +got):\n%s", cmp.Diff(want, got))
	}

	code, updated := f.call("PUT", "/api/v1/templates/"+id, `{"name":"Welcome v2","content":"Hello {name}"}`)
	if code != 200 {
		t.Fatalf("PUT = %d %v", code, updated)
	}
	want = map[string]any{
		"id": id, "name": "Welcome v2", "content": "Hello {name}", "variables": []any{"name"},
		"created_at": created["created_at"], "updated_at": updated["updated_at"],
	}
	if diff := cmp.Diff(want, updated); diff != "" {
		t.Errorf("PUT (-want, +got):\n%s", diff)
	}
	if _, got := f.call("GET", "/api/v1/templates/"+id, ""); !cmp.Equal(want, got) {
		t.Errorf("GET after PUT (-want, +got):\n%s", cmp.Diff(want, got))
	}
}

// A template whose fields disagree is a 400 naming each field; PUT checks
// as POST does and leaves the template as it was.
func TestTemplates_invalid_name_the_field(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.id("/api/v1/templates", `{"name":"W","content":"Hi {name}"}`)
	cases := []struct {
		name, method, path, body string
		wantCode                 int
		wantFields               []string
	}{
		{"variables_disagree", "POST", "/api/v1/templates", `{"name":"W","content":"Hi {name}","variables":["name","city"]}`, 400, []string{"variables"}},
		{"bad_content_sid", "POST", "/api/v1/templates", `{"name":"W","content":"Hi","content_sid":"HX1"}`, 400, []string{"content_sid"}},
		{"bad_variable_key", "POST", "/api/v1/templates", `{"name":"W","content":"Hi {name}","content_sid":"` + sidEN + `","content_variables":{"one":"name"}}`, 400, []string{"content_variables"}},
		{"variable_not_a_string", "POST", "/api/v1/templates", `{"name":"W","content":"Hi {name}","content_sid":"` + sidEN + `","content_variables":{"1":2}}`, 400, []string{"content_variables"}},
		{"unbound_variable", "POST", "/api/v1/templates", `{"name":"W","content":"Hi {name}","content_sid":"` + sidEN + `"}`, 400, []string{"content_variables"}},
		{"bad_category", "POST", "/api/v1/templates", `{"name":"W","content":"Hi","category":"promo"}`, 400, []string{"category"}},
		{"locale_without_content", "POST", "/api/v1/templates", `{"name":"W","content":"Hi","locales":{"si":{}}}`, 400, []string{"locales.si.content"}},
		{"put_checks_too", "PUT", "/api/v1/templates/" + id, `{"name":"","content":"Hi {name","variables":["x"]}`, 400, []string{"name", "content", "variables"}},
		{"put_unknown_field", "PUT", "/api/v1/templates/" + id, `{"name":"W","content":"Hi","colour":"red"}`, 400, []string{"colour"}},
		{"put_unknown_template", "PUT", "/api/v1/templates/nope", `{"name":"W","content":"Hi"}`, 404, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.call(tc.method, tc.path, tc.body)
			if code != tc.wantCode || body["error"] == "" {
				t.Fatalf("%s %s = %d %v, want %d with an error", tc.method, tc.path, code, body, tc.wantCode)
			}
			var fields []string
			details, _ := body["details"].([]any)
			for _, d := range details {
				if fl, _ := d.(map[string]any)["field"].(string); fl != "" && !contains(fields, fl) {
					fields = append(fields, fl)
				}
			}
			if diff := cmp.Diff(tc.wantFields, fields, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("fields named (-want, +got):\n%s\ndetails: %v", diff, details)
			}
		})
	}
	if _, got := f.call("GET", "/api/v1/templates/"+id, ""); got["content"] != "Hi {name}" {
		t.Errorf("after refused PUTs the template is %v", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The preview renders for one person: their locale, what Twilio would be
// sent, what was missing or defaulted, their consent and what would block
// a campaign's message.
func TestTemplates_preview(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	approved := f.id("/api/v1/templates", approvedTemplate)
	plain := f.id("/api/v1/templates", `{"name":"Promo","content":"Hello {name}! Offer for {city} residents."}`)
	f.id("/api/v1/users", `{"phone_number":"+94771234567","name":"Arjuna","city":"Colombo"}`)
	f.id("/api/v1/users", `{"phone_number":"+94771234568","city":"Kandy","language":"si"}`)
	f.id("/api/v1/users", `{"phone_number":"+94771234569","name":"Frank","consent_state":"OPT_OUT"}`)
	f.id("/api/v1/users", `{"phone_number":"+94771234570","name":"Grace","city":"Galle"}`)
	if code, out := f.call("POST", "/api/v1/suppressions", `{"phone_number":"+94771234570","reason":"complaint"}`); code != 201 {
		t.Fatalf("suppress = %d %v", code, out)
	}
	// Priya wrote to us an hour ago: free text may go to her.
	f.id("/api/v1/users", `{"phone_number":"+94771234571","name":"Priya","city":"Kandy"}`)
	if err := f.store.RecordInbound(t.Context(), "+94771234571", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, template, body string
		want                 map[string]any
	}{
		{
			name: "content_sid_all_filled", template: approved, body: `{"phone_number":"+94771234567"}`,
			want: map[string]any{
				"template_id": approved, "phone_number": "+94771234567", "consent_state": "OPT_IN", "language": "", "locale": "default",
				"send_as": "content_sid", "body": "Hi Arjuna! Welcome from Colombo.", "content_sid": sidEN,
				"content_variables": map[string]any{"1": "Arjuna", "2": "Colombo"},
				"missing":           []any{}, "defaults_used": []any{}, "unfilled": false, "blocked_by": nil,
				"blocked_step": nil, "channel": "template",
			},
		},
		{
			name: "locale_and_default", template: approved, body: `{"phone_number":"whatsapp:+94 77 123 4568"}`,
			want: map[string]any{
				"template_id": approved, "phone_number": "+94771234568", "consent_state": "OPT_IN", "language": "si", "locale": "si",
				"send_as": "content_sid", "body": "ආයුබෝවන් there! Kandy", "content_sid": sidSI,
				"content_variables": map[string]any{"1": "there", "2": "Kandy"},
				"missing":           []any{}, "defaults_used": []any{"name"}, "unfilled": false, "blocked_by": nil,
				"blocked_step": nil, "channel": "template",
			},
		},
		{
			name: "body_unfilled_and_opted_out", template: plain, body: `{"phone_number":"+94771234569"}`,
			want: map[string]any{
				"template_id": plain, "phone_number": "+94771234569", "consent_state": "OPT_OUT", "language": "", "locale": "default",
				"send_as": "body", "body": "Hello Frank! Offer for {city} residents.",
				"missing": []any{"city"}, "defaults_used": []any{}, "unfilled": true, "blocked_by": "no_consent",
				"blocked_step": "consent", "channel": nil,
			},
		},
		{
			name: "suppressed_blocks_whatever_the_consent", template: plain, body: `{"phone_number":"+94771234570"}`,
			want: map[string]any{
				"template_id": plain, "phone_number": "+94771234570", "consent_state": "OPT_IN", "language": "", "locale": "default",
				"send_as": "body", "body": "Hello Grace! Offer for Galle residents.",
				"missing": []any{}, "defaults_used": []any{}, "unfilled": false, "blocked_by": "suppressed",
				"blocked_step": "consent", "channel": nil,
			},
		},
		{
			name: "unfilled_blocks", template: plain, body: `{"phone_number":"+94771234568"}`,
			want: map[string]any{
				"template_id": plain, "phone_number": "+94771234568", "consent_state": "OPT_IN", "language": "si", "locale": "default",
				"send_as": "body", "body": "Hello {name}! Offer for Kandy residents.",
				"missing": []any{"name"}, "defaults_used": []any{}, "unfilled": true, "blocked_by": "unresolved_placeholders",
				"blocked_step": "content", "channel": nil,
			},
		},
		{
			name: "free_text_to_someone_who_never_wrote", template: plain, body: `{"phone_number":"+94771234567"}`,
			want: map[string]any{
				"template_id": plain, "phone_number": "+94771234567", "consent_state": "OPT_IN", "language": "", "locale": "default",
				"send_as": "body", "body": "Hello Arjuna! Offer for Colombo residents.",
				"missing": []any{}, "defaults_used": []any{}, "unfilled": false, "blocked_by": "channel_policy",
				"blocked_step": "channel_policy", "channel": nil,
			},
		},
		{
			name: "free_text_inside_the_window", template: plain, body: `{"phone_number":"+94771234571"}`,
			want: map[string]any{
				"template_id": plain, "phone_number": "+94771234571", "consent_state": "OPT_IN", "language": "", "locale": "default",
				"send_as": "body", "body": "Hello Priya! Offer for Kandy residents.",
				"missing": []any{}, "defaults_used": []any{}, "unfilled": false, "blocked_by": nil,
				"blocked_step": nil, "channel": "session",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, got := f.call("POST", "/api/v1/templates/"+tc.template+"/preview", tc.body)
			if code != 200 {
				t.Fatalf("preview = %d %v", code, got)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("preview (-want, +got):\n%s", diff)
			}
		})
	}
	for _, tc := range []struct {
		name, template, body string
		wantCode             int
	}{
		{"unknown_template", "nope", `{"phone_number":"+94771234567"}`, 404},
		{"unknown_user", approved, `{"phone_number":"+94770000000"}`, 404},
		{"bad_phone", approved, `{"phone_number":"0771234567"}`, 400},
		{"no_phone", approved, `{}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, got := f.call("POST", "/api/v1/templates/"+tc.template+"/preview", tc.body); code != tc.wantCode || got["error"] == "" {
				t.Errorf("preview = %d %v, want %d with an error", code, got, tc.wantCode)
			}
		})
	}
}
