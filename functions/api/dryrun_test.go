package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/events"
)

// A dry run answers what each step would do to the audience, changes
// nothing, and is kept for GET .../dry-run; an audience too large for the
// request is answered 202 and read by LaunchCampaign.
func TestCampaign_dry_run(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.id("/api/v1/users", `{"phone_number":"+94771234567","name":"Arjuna","city":"Colombo"}`)
	f.id("/api/v1/users", `{"phone_number":"+94771234568","name":"Frank","city":"Colombo","consent_state":"OPT_OUT"}`)
	f.id("/api/v1/users", `{"phone_number":"+94771234569","city":"Colombo"}`)
	id := f.newCampaign("")
	base := "/api/v1/campaigns/" + id

	if code, out := f.call("GET", base+"/dry-run", ""); code != 404 {
		t.Errorf("dry-run before any = %d %v, want 404", code, out)
	}
	code, got := f.call("POST", base+"/trigger", `{"dry_run": true}`)
	if code != 200 {
		t.Fatalf("dry run = %d %v", code, got)
	}
	// Arjuna never wrote: free text cannot reach him.
	want := map[string]any{
		"dry_run": true, "campaign_id": id, "status": "done", "recipients": 3.0, "send_now": 0.0, "deferred": 0.0,
		"blocked":           map[string]any{"consent": 1.0, "duplicate": 0.0, "frequency_cap": 0.0, "content": 1.0, "channel_policy": 1.0},
		"blocked_by_reason": map[string]any{"no_consent": 1.0, "unresolved_placeholders": 1.0, "channel_policy": 1.0},
		"channels":          map[string]any{},
		"sample": []any{
			map[string]any{"phone_number": "+94*****4567", "step": "channel_policy", "reason": "channel_policy"},
			map[string]any{"phone_number": "+94*****4568", "step": "consent", "reason": "no_consent"},
			map[string]any{"phone_number": "+94*****4569", "step": "content", "reason": "unresolved_placeholders"},
		},
		"warnings": []any{}, "read": 3.0, "new_conversations": 0.0,
	}
	for _, k := range []string{"run_id", "started_at", "updated_at", "judged_at", "completed_at"} {
		if got[k] == nil {
			t.Errorf("dry run answer has no %s", k)
		}
		delete(got, k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	if code, c := f.call("GET", base, ""); code != 200 || c["status"] != "DRAFT" {
		t.Errorf("campaign after a dry run = %d %v, want DRAFT", code, c["status"])
	}
	if code, kept := f.call("GET", base+"/dry-run", ""); code != 200 || kept["recipients"] != 3.0 || kept["status"] != "done" {
		t.Errorf("GET dry-run = %d %v", code, kept)
	}

	// Too many to read within the request: 202, read in the background.
	f.server.DryRunInline = 2
	code, started := f.call("POST", base+"/trigger", `{"dry_run": true}`)
	if code != 202 || started["status"] != "running" || started["status_url"] != base+"/dry-run" {
		t.Fatalf("large dry run = %d %v, want 202 running with its status_url", code, started)
	}
	launches := f.events.Published(events.TopicCampaignLaunch)
	if len(launches) != 1 {
		t.Fatalf("published %d launch events, want the dry run's", len(launches))
	}
	var ev events.Launch
	if err := events.Decode(launches[0], &ev); err != nil || ev.DryRun != started["run_id"] || ev.CampaignID != id {
		t.Errorf("launch event = %+v, %v; want the dry run %v of %s", ev, err, started["run_id"], id)
	}
	if code, kept := f.call("GET", base+"/dry-run", ""); code != 200 || kept["status"] != "running" || kept["status_url"] == nil {
		t.Errorf("GET dry-run while it runs = %d %v", code, kept)
	}

	for _, tc := range []struct {
		name, body string
		wantCode   int
	}{
		{"unknown_field", `{"dry_run": true, "dryrun": true}`, 400},
		{"not_a_boolean", `{"dry_run": "yes"}`, 400},
	} {
		if code, out := f.call("POST", base+"/trigger", tc.body); code != tc.wantCode || out["error"] == "" {
			t.Errorf("%s: trigger = %d %v, want %d with an error", tc.name, code, out, tc.wantCode)
		}
	}
	if code, out := f.call("POST", "/api/v1/campaigns/nope/trigger", `{"dry_run": true}`); code != 404 {
		t.Errorf("dry run of no campaign = %d %v, want 404", code, out)
	}
	if code, out := f.call("POST", base+"/trigger", `{}`); code != 202 {
		t.Fatalf("trigger = %d %v", code, out)
	}
	if code, out := f.call("POST", base+"/trigger", `{"dry_run": true}`); code != 409 {
		t.Errorf("dry run of a running campaign = %d %v, want 409", code, out)
	}
}
