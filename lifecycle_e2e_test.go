package ese

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCampaignLifecycle pauses a running campaign on the whole local stack
// (scripts/dev on the emulators: Cloud Tasks, the real Sender, twilio-go
// and the stand-in), delivers its send tasks directly while it is paused
// and sees no send, resumes it to completion; then cancels another.
func TestCampaignLifecycle(t *testing.T) {
	d := newDemo(t)
	const people = 6
	for i := range people {
		phone := fmt.Sprintf("+9477%07d", 3000000+i)
		body := fmt.Sprintf(`{"phone_number":%q,"name":"P%d","city":"Galle"}`, phone, i)
		if code, out := d.do("POST", "/api/v1/users", strings.NewReader(body), "application/json"); code != http.StatusCreated {
			t.Fatalf("POST user = %d %v", code, out)
		}
	}
	seg := d.create("/api/v1/segments", `{"name":"Galle","definition_json":{"attribute":"city","operator":"equals","value":"Galle"}}`)

	// Paused while it sends, one a second.
	paused := d.running(t, seg, "A")
	pausedAt := d.move(t, paused, "pause", `{"reason":"checking the offer"}`, "PAUSED")
	// Sends claimed before the pause was answered may still be on their way.
	time.Sleep(time.Second)
	sentBefore := d.sendsOf("A ")
	if sentBefore == people {
		t.Fatalf("all %d sent before the pause: the test needs a slower campaign", people)
	}
	// Every task delivered directly, as Cloud Tasks would (twice for good
	// measure), while the campaign is paused: no send.
	msgs := d.messages(t, paused)
	for range 2 {
		for _, m := range msgs {
			code, out := d.doNoAuthBody("POST", "/tasks/send", fmt.Sprintf(`{"campaign_id":%q,"message_id":%q}`, paused, m["id"]))
			want := "held"
			if m["claimed_at"] != nil {
				want = "duplicate"
			}
			if code != 200 || out["outcome"] != want {
				t.Errorf("task of a %v message delivered while paused = %d %v, want 200 %s", m["status"], code, out, want)
			}
		}
	}
	time.Sleep(2 * time.Second) // the queue's own dispatches meet the pause too
	if n := d.sendsOf("A "); n != sentBefore {
		t.Errorf("%d sends while paused, want none (%d before the pause)", n-sentBefore, sentBefore)
	}
	held := 0
	for _, m := range d.messages(t, paused) {
		if m["status"] == "HELD" {
			held++
		}
		if c, ok := m["claimed_at"].(string); ok && claimedAfter(t, c, pausedAt) {
			t.Errorf("message %v claimed at %s, after the pause was answered at %s", m["id"], c, pausedAt.Format(time.RFC3339Nano))
		}
	}
	t.Logf("paused after %d of %d sends; %d held", sentBefore, people, held)
	if held != people-sentBefore {
		t.Errorf("%d messages HELD, want %d", held, people-sentBefore)
	}
	_, sum := d.do("GET", "/api/v1/reporting/campaigns/"+paused+"/summary", nil, "")
	if sum["messages_held"] != float64(held) || sum["status"] != "PAUSED" {
		t.Errorf("summary while paused = %v", sum)
	}

	// Resumed: the held messages get tasks of a new generation and every
	// person is sent exactly one message.
	d.move(t, paused, "resume", `{"reason":"offer checked"}`, "RUNNING")
	d.eventually("resumed campaign completes", 60*time.Second, func() (bool, string) {
		_, c := d.do("GET", "/api/v1/campaigns/"+paused, nil, "")
		return c["status"] == "COMPLETED", fmt.Sprint(c["status"])
	})
	if n := d.sendsOf("A "); n != people {
		t.Errorf("%d sends after the resume, want %d: one per person", n, people)
	}
	d.expectHistory(t, paused, []string{
		">DRAFT by api-key: created",
		"DRAFT>RUNNING by api-key: triggered",
		"RUNNING>PAUSED by api-key: checking the offer",
		"PAUSED>RUNNING by api-key: offer checked",
		"RUNNING>COMPLETED by system: every message concluded",
	})

	// Cancelled while it sends: nothing more is sent, every unsent message
	// is skipped as cancelled, and the queue is released.
	cancelled := d.running(t, seg, "B")
	cancelledAt := d.move(t, cancelled, "cancel", `{"reason":"sent to the wrong city"}`, "CANCELLED")
	d.eventually("cancel settles", 30*time.Second, func() (bool, string) {
		_, s := d.do("GET", "/api/v1/reporting/campaigns/"+cancelled+"/summary", nil, "")
		skipped, _ := s["skipped_by_reason"].(map[string]any)
		return skipped["cancelled"] != nil && skipped["cancelled"].(float64)+s["messages_sent"].(float64) == people, fmt.Sprint(s)
	})
	sentB := d.sendsOf("B ")
	t.Logf("cancelled after %d of %d sends", sentB, people)
	for _, m := range d.messages(t, cancelled) {
		code, out := d.doNoAuthBody("POST", "/tasks/send", fmt.Sprintf(`{"campaign_id":%q,"message_id":%q}`, cancelled, m["id"]))
		if code != 200 || out["outcome"] != "duplicate" {
			t.Errorf("task of a cancelled campaign's message = %d %v, want 200 duplicate", code, out)
		}
		if c, ok := m["claimed_at"].(string); ok && claimedAfter(t, c, cancelledAt) {
			t.Errorf("message %v claimed at %s, after the cancel was answered", m["id"], c)
		}
	}
	time.Sleep(2 * time.Second)
	if n := d.sendsOf("B "); n != sentB || n == people {
		t.Errorf("%d sends of the cancelled campaign (%d when it settled), want fewer than %d and no more", n, sentB, people)
	}
	d.eventually("cancelled campaign's queue released", 30*time.Second, func() (bool, string) {
		_, err := d.queue(d.project, "campaign-"+cancelled)
		return status.Code(err) == codes.NotFound, fmt.Sprint(err)
	})
	if code, out := d.do("POST", "/api/v1/campaigns/"+cancelled+"/resume", nil, ""); code != http.StatusConflict {
		t.Errorf("resume of a cancelled campaign = %d %v, want 409", code, out)
	}
}

// running creates a campaign to the segment at one message a second, its
// template starting with prefix, triggers it, and returns once every
// message has a task and the first is sent.
func (d *demo) running(t *testing.T, seg, prefix string) string {
	t.Helper()
	tpl := d.approvedTemplate(prefix, prefix+" {name}", "name")
	id := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":%q,"template_id":%q,"segment_id":%q,"rate_limit_per_second":1}`, prefix, tpl, seg))
	if code, out := d.do("POST", "/api/v1/campaigns/"+id+"/trigger", strings.NewReader(`{}`), "application/json"); code != http.StatusAccepted {
		t.Fatalf("trigger = %d %v", code, out)
	}
	d.eventually("campaign "+prefix+" queued and sending", 30*time.Second, func() (bool, string) {
		_, s := d.do("GET", "/api/v1/reporting/campaigns/"+id+"/summary", nil, "")
		return s["messages_queued"] == 6.0 && s["messages_sent"].(float64) >= 1, fmt.Sprint(s)
	})
	return id
}

// move POSTs a pause, resume or cancel and returns when it was answered.
func (d *demo) move(t *testing.T, id, move, body, want string) time.Time {
	t.Helper()
	code, out := d.do("POST", "/api/v1/campaigns/"+id+"/"+move, strings.NewReader(body), "application/json")
	answered := time.Now()
	if code != http.StatusOK || out["status"] != want {
		t.Fatalf("%s = %d %v, want 200 %s", move, code, out, want)
	}
	return answered
}

// messages lists the campaign's messages.
func (d *demo) messages(t *testing.T, id string) []map[string]any {
	t.Helper()
	code, out := d.do("GET", "/api/v1/reporting/messages/status?campaign_id="+id+"&limit=100", nil, "")
	if code != 200 {
		t.Fatalf("messages = %d %v", code, out)
	}
	var ms []map[string]any
	for _, m := range out["messages"].([]any) {
		ms = append(ms, m.(map[string]any))
	}
	return ms
}

// sendsOf counts what the stand-in was asked to send with a body
// starting with prefix.
func (d *demo) sendsOf(prefix string) int {
	n := 0
	for _, m := range d.standinMessages() {
		if strings.HasPrefix(fmt.Sprint(m["body"]), prefix) {
			n++
		}
	}
	return n
}

func (d *demo) expectHistory(t *testing.T, id string, want []string) {
	t.Helper()
	_, out := d.do("GET", "/api/v1/campaigns/"+id+"/history", nil, "")
	var got []string
	for _, e := range out["history"].([]any) {
		m := e.(map[string]any)
		got = append(got, fmt.Sprintf("%s>%s by %s: %s", m["from"], m["to"], m["by"], m["reason"]))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func claimedAfter(t *testing.T, claimed string, answered time.Time) bool {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, claimed)
	if err != nil {
		t.Fatalf("claimed_at %q: %v", claimed, err)
	}
	return at.After(answered)
}
