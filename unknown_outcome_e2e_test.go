package ese

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
)

// Under UNKNOWN_OUTCOME=hold, on the local stack with a short window
// (TWILIO_TIMEOUT=2s, RECONCILE_AFTER=8s): a send lost on its way to
// Twilio (the stand-in never answers, and creates nothing) is held in
// RECONCILE, never sent again by itself, and its campaign waits; the API
// lists it; an operator's resend gives it a new claim generation and a
// task (through recipient-batch and Cloud Tasks), whose send is lost
// again and held again; their "sent" concludes it, and the campaign
// completes. Every decision is kept on the message.
func TestUnknownOutcome_hold_then_resolve(t *testing.T) {
	d := newDemo(t, "TWILIO_TIMEOUT=2s", "RECONCILE_AFTER=8s", "UNKNOWN_OUTCOME=hold")
	for _, p := range []string{standin.NumberNoAnswer, "+94771234000"} {
		body := fmt.Sprintf(`{"phone_number":%q,"name":"N%s","city":"Jaffna"}`, p, p[len(p)-2:])
		if code, out := d.do("POST", "/api/v1/users", strings.NewReader(body), "application/json"); code != http.StatusCreated {
			t.Fatalf("POST user = %d %v", code, out)
		}
	}
	seg := d.create("/api/v1/segments", `{"name":"Jaffna","definition_json":{"attribute":"city","operator":"equals","value":"Jaffna"}}`)
	tpl := d.approvedTemplate("Held", "Held {name}", "name")
	cid := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":"held","template_id":%q,"segment_id":%q,"rate_limit_per_second":5}`, tpl, seg))
	if code, out := d.do("POST", "/api/v1/campaigns/"+cid+"/trigger", strings.NewReader(`{}`), "application/json"); code != http.StatusAccepted {
		t.Fatalf("trigger = %d %v", code, out)
	}

	held := func(attempts float64) map[string]any {
		t.Helper()
		var m map[string]any
		d.eventually(fmt.Sprintf("the lost send held for an operator (attempt %v)", attempts), 90*time.Second, func() (bool, string) {
			code, out := d.do("GET", "/api/v1/messages?status=RECONCILE&campaign_id="+cid, nil, "")
			ms, _ := out["messages"].([]any)
			if code != 200 || len(ms) != 1 {
				return false, fmt.Sprint(code, out)
			}
			m = ms[0].(map[string]any)
			return m["attempts"] == attempts, fmt.Sprint(m)
		})
		// Held: past RECONCILE_AFTER and a few redeliveries later, nothing
		// was sent again and the campaign waits.
		time.Sleep(5 * time.Second)
		if code, out := d.do("GET", "/api/v1/messages?status=RECONCILE&campaign_id="+cid, nil, ""); code != 200 || out["count"] != 1.0 {
			t.Errorf("after a wait = %d %v, want the message still held", code, out)
		}
		if _, c := d.do("GET", "/api/v1/campaigns/"+cid, nil, ""); c["status"] != "RUNNING" {
			t.Errorf("campaign %v while a message is held, want RUNNING", c["status"])
		}
		return m
	}
	m := held(1)
	id := m["id"].(string)
	if n := d.sendsOf("Held "); n != 1 {
		t.Errorf("stand-in has %d sends, want the other person's only", n)
	}

	code, out := d.do("POST", "/api/v1/messages/"+id+"/resolve", strings.NewReader(`{"outcome":"resend","attempts":1}`), "application/json")
	if code != 200 || out["task_generation"] == nil {
		t.Fatalf("resolve resend = %d %v", code, out)
	}
	held(2) // its new task ran: claimed again, lost again, held again

	code, out = d.do("POST", "/api/v1/messages/"+id+"/resolve", strings.NewReader(`{"outcome":"sent","attempts":2,"note":"seen in Twilio's console"}`), "application/json")
	if code != 200 || out["status"] != "SENT" {
		t.Fatalf("resolve sent = %d %v", code, out)
	}
	rs, _ := out["resolutions"].([]any)
	var got []string
	for _, r := range rs {
		r := r.(map[string]any)
		got = append(got, fmt.Sprintf("%s by %s", r["outcome"], r["by"]))
	}
	if strings.Join(got, ", ") != "resend by api-key, sent by api-key" {
		t.Errorf("resolutions %v, want resend then sent, by api-key", got)
	}
	d.eventually("the campaign completes", 60*time.Second, func() (bool, string) {
		_, c := d.do("GET", "/api/v1/campaigns/"+cid, nil, "")
		return c["status"] == "COMPLETED", fmt.Sprint(c["status"])
	})
	if code, out := d.do("POST", "/api/v1/messages/"+id+"/resolve", strings.NewReader(`{"outcome":"resend","attempts":2}`), "application/json"); code != http.StatusConflict {
		t.Errorf("resend once SENT = %d %v, want 409", code, out)
	}
	// The first resend, retried late: a decision on attempt 1 is answered
	// as it was, and moves nothing.
	if code, out := d.do("POST", "/api/v1/messages/"+id+"/resolve", strings.NewReader(`{"outcome":"resend","attempts":1}`), "application/json"); code != 200 || out["status"] != "SENT" {
		t.Errorf("the first resend retried = %d %v, want 200 and still SENT", code, out)
	}
}
