package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/events"
)

// newCampaign makes a template, a segment and a draft campaign through
// the API and returns the campaign's id.
func (f *fixture) newCampaign(extra string) string {
	f.t.Helper()
	tpl := f.id("/api/v1/templates", `{"name":"W","content":"Hi {name}"}`)
	seg := f.id("/api/v1/segments", `{"name":"C","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
	return f.id("/api/v1/campaigns", `{"topic":"t","template_id":"`+tpl+`","segment_id":"`+seg+`"`+extra+`}`)
}

// history returns the campaign's history as "FROM>TO by who: why".
func (f *fixture) history(id string) []string {
	f.t.Helper()
	code, out := f.call("GET", "/api/v1/campaigns/"+id+"/history", "")
	if code != 200 || out["campaign_id"] != id {
		f.t.Fatalf("history = %d %v", code, out)
	}
	var h []string
	for _, e := range out["history"].([]any) {
		m := e.(map[string]any)
		if _, err := time.Parse(time.RFC3339Nano, m["at"].(string)); err != nil {
			f.t.Errorf("history entry at %v: %v", m["at"], err)
		}
		h = append(h, fmt.Sprintf("%s>%s by %s: %v", m["from"], m["to"], m["by"], m["reason"]))
	}
	return h
}

func TestCampaign_pause_resume_cancel_and_history(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.newCampaign("")
	base := "/api/v1/campaigns/" + id
	steps := []struct {
		path, body string
		wantCode   int
		wantStatus string // or the error's start
	}{
		{"/pause", "", 409, "campaign " + id + " is DRAFT and cannot become PAUSED"},
		{"/trigger", "{}", 202, "RUNNING"},
		{"/pause", `{"reason":"wrong offer"}`, 200, "PAUSED"},
		{"/pause", "", 409, "campaign " + id + " is PAUSED and cannot become PAUSED"},
		{"/trigger", "{}", 409, "campaign " + id + " is paused: resume it instead"},
		{"/resume", `{"reason":"offer fixed"}`, 200, "RUNNING"},
		{"/resume", "", 409, "campaign " + id + " is RUNNING: only a PAUSED campaign can be resumed"},
		{"/cancel", `{}`, 200, "CANCELLED"},
		{"/resume", "", 409, "campaign " + id + " is CANCELLED, which is final"},
		{"/cancel", `{"why":"x"}`, 400, "unknown field"},
	}
	for _, s := range steps {
		code, out := f.call("POST", base+s.path, s.body)
		got := fmt.Sprint(out["status"])
		if code >= 400 {
			got = fmt.Sprint(out["error"])
		}
		if code != s.wantCode || !strings.HasPrefix(got, s.wantStatus) {
			t.Errorf("POST %s %s = %d %q, want %d %q", s.path, s.body, code, got, s.wantCode, s.wantStatus)
		}
	}
	want := []string{
		"DRAFT>RUNNING by api-key: triggered",
		"RUNNING>PAUSED by api-key: wrong offer",
		"PAUSED>RUNNING by api-key: offer fixed",
		"RUNNING>CANCELLED by api-key: <nil>",
	}
	// The creation comes first.
	if diff := cmp.Diff(append([]string{">DRAFT by api-key: created"}, want...), f.history(id)); diff != "" {
		t.Errorf("history (-want, +got):\n%s", diff)
	}
	// Each move asked for its settling.
	var settles int
	for _, m := range f.events.Published(events.TopicRecipients) {
		if strings.Contains(string(m.Data), `"settle":true`) {
			settles++
		}
	}
	if settles != 3 {
		t.Errorf("%d settle requests, want 3 (pause, resume, cancel)", settles)
	}
	_, c := f.call("GET", base, "")
	if c["status"] != "CANCELLED" || c["template_snapshot"] == nil || c["segment_snapshot"] == nil {
		t.Errorf("campaign = %v", c)
	}
	for _, path := range []string{"/api/v1/campaigns/nope/pause", "/api/v1/campaigns/nope/resume", "/api/v1/campaigns/nope/cancel"} {
		if code, _ := f.call("POST", path, ""); code != 404 {
			t.Errorf("POST %s = %d, want 404", path, code)
		}
	}
	if code, _ := f.call("GET", "/api/v1/campaigns/nope/history", ""); code != 404 {
		t.Errorf("history of an unknown campaign = %d, want 404", code)
	}
}

// Behind IAM, the history names the Google identity that moved it.
func TestCampaign_history_names_the_IAM_caller(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.newCampaign("")
	trustIAM(f.server)
	req := httptest.NewRequest("POST", "/api/v1/campaigns/"+id+"/cancel", strings.NewReader(`{"reason":"duplicate"}`))
	req.Header.Set("Authorization", "Bearer "+idToken("ops@example.com"))
	if code, out := f.serve(req); code != 200 {
		t.Fatalf("cancel = %d %v", code, out)
	}
	f.server.TrustIAM = false
	h := f.history(id)
	if got := h[len(h)-1]; got != "DRAFT>CANCELLED by ops@example.com: duplicate" {
		t.Errorf("last change %q", got)
	}
}

func TestCampaign_edit(t *testing.T) {
	t.Parallel()
	soon := time.Now().UTC().Add(time.Hour).Truncate(time.Second).Format(time.RFC3339)
	past := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	cases := []struct {
		name     string
		body     string
		wantCode int
		want     map[string]any // a subset of the answer
	}{
		{"one_field", `{"topic":"renamed"}`, 200, map[string]any{"topic": "renamed", "rate_limit_per_second": 10.0, "status": "DRAFT"}},
		{"quiet_hours_set", `{"quiet_hours_start":"21:00","quiet_hours_end":"08:00","rate_limit_per_second":3}`, 200,
			map[string]any{"quiet_hours_start": "21:00", "rate_limit_per_second": 3.0}},
		{"scheduled", `{"schedule_time":"` + soon + `"}`, 200, map[string]any{"status": "SCHEDULED", "schedule_time": soon}},
		{"schedule_in_the_past", `{"schedule_time":"` + past + `"}`, 400,
			map[string]any{"details": []any{map[string]any{"field": "schedule_time", "message": "must be in the future"}}}},
		{"bad_rate", `{"rate_limit_per_second":0}`, 400,
			map[string]any{"details": []any{map[string]any{"field": "rate_limit_per_second", "message": "must be an integer from 1 to 500"}}}},
		{"unknown_template", `{"template_id":"nope"}`, 400,
			map[string]any{"details": []any{map[string]any{"field": "template_id", "message": `no template with id "nope"`}}}},
		{"topic_cleared", `{"topic":null}`, 400,
			map[string]any{"details": []any{map[string]any{"field": "topic", "message": "is required"}}}},
		{"unknown_field", `{"status":"RUNNING"}`, 400, map[string]any{"error": "unknown field"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			id := f.newCampaign("")
			code, out := f.call("PUT", "/api/v1/campaigns/"+id, tc.body)
			if code != tc.wantCode {
				t.Fatalf("PUT = %d %v, want %d", code, out, tc.wantCode)
			}
			for k, v := range tc.want {
				if diff := cmp.Diff(v, out[k]); diff != "" {
					t.Errorf("%s (-want, +got):\n%s", k, diff)
				}
			}
			if code != 200 {
				if _, c := f.call("GET", "/api/v1/campaigns/"+id, ""); c["topic"] != "t" || c["status"] != "DRAFT" {
					t.Errorf("a refused edit changed the campaign: %v", c)
				}
			}
		})
	}
}

// Scheduling and unscheduling are moves in the history; once launched, a
// campaign is no longer edited.
func TestCampaign_schedule_then_launch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	at := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	id := f.newCampaign(`,"schedule_time":"` + at.Format(time.RFC3339) + `"`)
	if _, c := f.call("GET", "/api/v1/campaigns/"+id, ""); c["status"] != "SCHEDULED" {
		t.Fatalf("created with a schedule_time: %v", c)
	}
	if code, out := f.call("PUT", "/api/v1/campaigns/"+id, `{"schedule_time":null}`); code != 200 || out["status"] != "DRAFT" || out["schedule_time"] != nil {
		t.Errorf("unscheduled = %d %v", code, out)
	}
	if code, out := f.call("PUT", "/api/v1/campaigns/"+id, `{"schedule_time":"`+at.Format(time.RFC3339)+`"}`); code != 200 || out["status"] != "SCHEDULED" {
		t.Errorf("scheduled again = %d %v", code, out)
	}
	// Nothing is due yet; an hour later the sweep launches it.
	if code, out := f.call("POST", "/api/v1/maintenance/launch-scheduled", ""); code != 200 || len(out["launched"].([]any)) != 0 {
		t.Errorf("sweep before its time = %d %v", code, out)
	}
	f.server.Runner.Now = func() time.Time { return at.Add(time.Second) }
	if code, out := f.call("POST", "/api/v1/maintenance/launch-scheduled", ""); code != 200 || fmt.Sprint(out["launched"]) != "["+id+"]" {
		t.Errorf("sweep after its time = %d %v", code, out)
	}
	if code, out := f.call("PUT", "/api/v1/campaigns/"+id, `{"topic":"too late"}`); code != 409 {
		t.Errorf("edit of a running campaign = %d %v, want 409", code, out)
	}
	want := []string{
		">DRAFT by api-key: created",
		"DRAFT>SCHEDULED by api-key: scheduled for " + at.Format(time.RFC3339),
		"SCHEDULED>DRAFT by api-key: schedule removed",
		"DRAFT>SCHEDULED by api-key: scheduled for " + at.Format(time.RFC3339),
		"SCHEDULED>RUNNING by system: its schedule_time came",
	}
	if diff := cmp.Diff(want, f.history(id)); diff != "" {
		t.Errorf("history (-want, +got):\n%s", diff)
	}
	if n := len(f.events.Published(events.TopicCampaignLaunch)); n != 1 {
		t.Errorf("%d launch events, want 1", n)
	}
	if code, _ := f.call("PUT", "/api/v1/campaigns/nope", `{}`); code != http.StatusNotFound {
		t.Errorf("PUT of an unknown campaign = %d, want 404", code)
	}
}
