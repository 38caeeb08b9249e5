package ese

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCompliance_dry_run_predicts_the_campaign runs two campaigns over a
// mixed audience on the whole local stack (scripts/dev on the emulators,
// the real Sender, twilio-go and the stand-in), one of free text and one
// of an approved template, and checks each ends with exactly the counts
// per step its dry run predicted: opted out, suppressed, at the frequency
// cap, in quiet hours, outside the 24-hour window, bad content. No message
// reaches Twilio to fail with 63016.
func TestCompliance_dry_run_predicts_the_campaign(t *testing.T) {
	d := newDemo(t, "FREQUENCY_CAP_PER_24H=2", `CONTENT_BLOCKED_PATTERNS=["(?i)forbidden"]`)
	// Quiet hours around now in Colombo; everyone else lives in Kiritimati,
	// 8.5 hours ahead, where it is not quiet.
	colombo, _ := time.LoadLocation("Asia/Colombo")
	now := time.Now().In(colombo)
	quietStart, quietEnd := now.Add(-time.Hour).Format("15:04"), now.Add(2*time.Hour).Format("15:04")
	const away = "Pacific/Kiritimati"
	people := []struct {
		phone, name, zone, consent string
		wrote, suppressed, capped  bool
	}{
		{phone: "+94775000001", name: "Open", zone: away, wrote: true},
		{phone: "+94775000002", name: "Opted Out", zone: away, wrote: true, consent: "OPT_OUT"},
		{phone: "+94775000003", name: "Suppressed", zone: away, wrote: true, suppressed: true},
		{phone: "+94775000004", name: "Capped", zone: away, wrote: true, capped: true},
		{phone: "+94775000005", name: "Night", zone: "Asia/Colombo", wrote: true},
		{phone: "+94775000006", name: "Never Wrote", zone: away},
		{phone: "+94775000007", name: "Forbidden Fruit", zone: away, wrote: true},
		{phone: "+94775000008", zone: away, wrote: true}, // no name to fill
	}
	for i, p := range people {
		body := fmt.Sprintf(`{"phone_number":%q,"tag":"mixed","timezone":%q`, p.phone, p.zone)
		if p.name != "" {
			body += fmt.Sprintf(`,"name":%q`, p.name)
		}
		if p.consent != "" {
			body += fmt.Sprintf(`,"consent_state":%q`, p.consent)
		}
		if p.capped {
			body += `,"capped":true`
		}
		if code, out := d.do("POST", "/api/v1/users", strings.NewReader(body+"}"), "application/json"); code != http.StatusCreated {
			t.Fatalf("POST user = %d %v", code, out)
		}
		if p.suppressed {
			if code, out := d.do("POST", "/api/v1/suppressions", strings.NewReader(`{"phone_number":"`+p.phone+`","reason":"complaint"}`), "application/json"); code != http.StatusCreated {
				t.Fatalf("suppress = %d %v", code, out)
			}
		}
		if p.wrote {
			d.inbound(p.phone, "Hello", fmt.Sprintf("SMmixed%02d", i))
		}
	}
	for _, p := range people {
		if !p.wrote {
			continue
		}
		d.eventually(p.name+"'s message recorded", 30*time.Second, func() (bool, string) {
			_, u := d.do("GET", "/api/v1/users/"+strings.ReplaceAll(p.phone, "+", "%2B"), nil, "")
			return u["last_inbound_at"] != nil, fmt.Sprint(u)
		})
	}

	// Two messages to Capped first: the cap is reached.
	capped := d.create("/api/v1/segments", `{"name":"Capped","definition_json":{"attribute":"capped","operator":"equals","value":true}}`)
	warmUp := d.approvedTemplate("Warm-up", "Hi {name}, a first offer. Reply STOP to opt out.", "name")
	for i := range 2 {
		cid := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":"warm-up %d","template_id":%q,"segment_id":%q,"rate_limit_per_second":10}`, i, warmUp, capped))
		d.trigger(t, cid)
		d.eventually("warm-up completes", 60*time.Second, func() (bool, string) {
			_, s := d.do("GET", "/api/v1/reporting/campaigns/"+cid+"/summary", nil, "")
			return s["status"] == "COMPLETED" && s["messages_sent"] == 1.0, fmt.Sprint(s)
		})
	}

	mixed := d.create("/api/v1/segments", `{"name":"Mixed","definition_json":{"attribute":"tag","operator":"equals","value":"mixed"}}`)
	freeText := d.create("/api/v1/templates", `{"name":"Offer","content":"Hi {name}, an offer for you. Reply STOP to opt out."}`)
	approved := d.approvedTemplate("Approved offer", "Hi {name}, an approved offer for you. Reply STOP to opt out.", "name")
	for _, tc := range []struct {
		name, template string
		want           map[string]any
	}{
		{
			// Never Wrote is outside the window: free text cannot reach them.
			name: "free text", template: freeText,
			want: map[string]any{"recipients": 8.0, "send_now": 1.0, "deferred": 1.0,
				"blocked": map[string]any{"consent": 2.0, "duplicate": 0.0, "frequency_cap": 1.0, "content": 2.0, "channel_policy": 1.0}},
		},
		{
			// The approved template reaches Never Wrote too.
			name: "approved template", template: approved,
			want: map[string]any{"recipients": 8.0, "send_now": 2.0, "deferred": 1.0,
				"blocked": map[string]any{"consent": 2.0, "duplicate": 0.0, "frequency_cap": 1.0, "content": 2.0, "channel_policy": 0.0}},
		},
	} {
		cid := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":%q,"template_id":%q,"segment_id":%q,"rate_limit_per_second":10,"quiet_hours_start":%q,"quiet_hours_end":%q}`,
			tc.name, tc.template, mixed, quietStart, quietEnd))
		code, dry := d.do("POST", "/api/v1/campaigns/"+cid+"/trigger", strings.NewReader(`{"dry_run":true}`), "application/json")
		if code != http.StatusOK {
			t.Fatalf("%s: dry run = %d %v", tc.name, code, dry)
		}
		predicted := map[string]any{"recipients": dry["recipients"], "send_now": dry["send_now"], "deferred": dry["deferred"], "blocked": dry["blocked"]}
		if diff := cmp.Diff(tc.want, predicted); diff != "" {
			t.Errorf("%s: dry run (-want +got):\n%s\nsample: %v", tc.name, diff, dry["sample"])
		}

		d.trigger(t, cid)
		var sum map[string]any
		d.eventually(tc.name+": every message sent, deferred or skipped", 60*time.Second, func() (bool, string) {
			_, sum = d.do("GET", "/api/v1/reporting/campaigns/"+cid+"/summary", nil, "")
			done, _ := sum["messages_sent"].(float64)
			deferred, _ := sum["messages_deferred"].(float64)
			skipped, _ := sum["messages_skipped"].(float64)
			return done+deferred+skipped == 8, fmt.Sprint(sum)
		})
		actual := map[string]any{"recipients": sum["total_recipients"], "send_now": sum["messages_sent"], "deferred": sum["messages_deferred"], "blocked": sum["blocked_by_step"]}
		if diff := cmp.Diff(predicted, actual); diff != "" {
			t.Errorf("%s: the campaign against its dry run (-dry run +campaign):\n%s\nsummary: %v", tc.name, diff, sum)
		}
	}
	for _, m := range d.standinMessages() {
		if m["error_code"] == 63016.0 {
			t.Errorf("the stand-in failed a message with 63016 (outside the window): %v", m)
		}
	}
}

// trigger launches the campaign.
func (d *demo) trigger(t *testing.T, cid string) {
	t.Helper()
	if code, out := d.do("POST", "/api/v1/campaigns/"+cid+"/trigger", strings.NewReader(`{}`), "application/json"); code != http.StatusAccepted {
		t.Fatalf("trigger = %d %v", code, out)
	}
}
