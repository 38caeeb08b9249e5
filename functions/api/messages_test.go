package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/message"
)

// heldMessages makes a running campaign with n messages held in RECONCILE
// (claimed, outcome unknown) and one SENT, and returns the campaign's id
// and the held messages' ids.
func (f *fixture) heldMessages(n int) (string, []string) {
	f.t.Helper()
	ctx := f.t.Context()
	c, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
	if err != nil {
		f.t.Fatal(err)
	}
	claimed := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	var ms []message.Message
	var ids []string
	for i := range n + 1 {
		p := fmt.Sprintf("+9477123450%d", i)
		heldAt := claimed.Add(time.Minute)
		m := message.Message{ID: message.ID(c.ID, p), CampaignID: c.ID, Phone: p, Status: message.Reconcile,
			Body: "Hi", ClaimedAt: &claimed, Attempts: 1, CreatedAt: claimed, UpdatedAt: claimed, HeldAt: &heldAt}
		if i == n {
			m.Status, m.ProviderSID, m.SentAt = message.Sent, "SM"+fmt.Sprintf("%032x", 7), &claimed
		} else {
			ids = append(ids, m.ID)
		}
		ms = append(ms, m)
	}
	if _, err := f.store.CreateMessages(ctx, ms); err != nil {
		f.t.Fatal(err)
	}
	return c.ID, ids
}

// The operator's queue: RECONCILE messages by id, in pages, across
// campaigns or in one.
func TestMessages_list_awaiting_resolution(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c1, held1 := f.heldMessages(3)
	_, held2 := f.heldMessages(1)
	// One still being reconciled (not held yet) is not the operator's.
	claimed := time.Now().UTC()
	if _, err := f.store.CreateMessages(t.Context(), []message.Message{{ID: message.ID(c1, "+94771239999"), CampaignID: c1, Phone: "+94771239999",
		Status: message.Reconcile, Body: "Hi", ClaimedAt: &claimed, Attempts: 1, CreatedAt: claimed, UpdatedAt: claimed}}); err != nil {
		t.Fatal(err)
	}

	page := func(query string) ([]string, any) {
		t.Helper()
		code, out := f.call("GET", "/api/v1/messages?status=RECONCILE"+query, "")
		if code != 200 {
			t.Fatalf("GET ?%s = %d %v", query, code, out)
		}
		var ids []string
		for _, m := range out["messages"].([]any) {
			mm := m.(map[string]any)
			if mm["status"] != "RECONCILE" {
				t.Errorf("listed %v", mm)
			}
			ids = append(ids, mm["id"].(string))
		}
		if out["count"] != float64(len(ids)) {
			t.Errorf("count %v, want %d", out["count"], len(ids))
		}
		return ids, out["next_after"]
	}
	var got []string
	after := ""
	for range 5 {
		ids, next := page("&limit=3&after=" + after)
		got = append(got, ids...)
		if next == nil {
			break
		}
		after = next.(string)
	}
	want := append(append([]string{}, held1...), held2...)
	if diff := cmp.Diff(sorted(want), got); diff != "" {
		t.Errorf("paged across campaigns (-want, +got):\n%s", diff)
	}
	if code, out := f.call("GET", "/api/v1/monitoring/dashboard", ""); code != 200 || out["unknown_outcome_messages"] != float64(len(want)+1) {
		t.Errorf("dashboard = %d, unknown_outcome_messages %v; want %d (every RECONCILE)", code, out["unknown_outcome_messages"], len(want)+1)
	}
	one, next := page("&campaign_id=" + c1)
	if diff := cmp.Diff(sorted(held1), one); diff != "" || next != nil {
		t.Errorf("one campaign (-want, +got):\n%s (next %v)", diff, next)
	}
	for _, tc := range []struct {
		name, query string
		wantCode    int
		wantField   string
	}{
		{"no_status", "", 400, "status"},
		{"other_status", "?status=QUEUED", 400, "status"},
		{"bad_limit", "?status=RECONCILE&limit=0", 400, "limit"},
		{"unknown_campaign", "?status=RECONCILE&campaign_id=nope", 404, ""},
	} {
		code, out := f.call("GET", "/api/v1/messages"+tc.query, "")
		if code != tc.wantCode || !namesField(out, tc.wantField) {
			t.Errorf("%s: GET = %d %v, want %d naming %q", tc.name, code, out, tc.wantCode, tc.wantField)
		}
	}
}

// Resolving: sent records SENT with the sid and who decided; resend gives
// the message a new claim generation and asks for its task; a repeat is
// answered as the first; anything else is 400 naming the field, or 409.
func TestMessages_resolve(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid, held := f.heldMessages(2)
	sid := "SM" + fmt.Sprintf("%032x", 42)
	path := func(id string) string { return "/api/v1/messages/" + id + "/resolve" }

	for _, tc := range []struct {
		name, id, body string
		wantCode       int
		wantField      string
	}{
		{"no_outcome", held[0], `{"attempts":1}`, 400, "outcome"},
		{"no_attempts", held[0], `{"outcome":"sent"}`, 400, "attempts"},
		{"long_note", held[0], `{"outcome":"sent","attempts":1,"note":"` + strings.Repeat("x", 1001) + `"}`, 400, "note"},
		{"another_attempt", held[0], `{"outcome":"sent","attempts":2}`, 409, ""},
		{"unknown_outcome", held[0], `{"outcome":"delivered","attempts":1}`, 400, "outcome"},
		{"bad_sid", held[0], `{"outcome":"sent","attempts":1,"message_sid":"SM123"}`, 400, "message_sid"},
		{"sid_with_resend", held[0], `{"outcome":"resend","attempts":1,"message_sid":"` + sid + `"}`, 400, "message_sid"},
		{"unknown_field", held[0], `{"outcome":"sent","attempts":1,"by":"me"}`, 400, "by"},
		{"sid_of_another_message", held[0], `{"outcome":"sent","attempts":1,"message_sid":"SM` + fmt.Sprintf("%032x", 7) + `"}`, 409, ""},
		{"unknown_message", "nope", `{"outcome":"sent","attempts":1}`, 404, ""},
	} {
		code, out := f.call("POST", path(tc.id), tc.body)
		if code != tc.wantCode || !namesField(out, tc.wantField) {
			t.Errorf("%s: POST = %d %v, want %d naming %q", tc.name, code, out, tc.wantCode, tc.wantField)
		}
	}

	// sent, twice: the same answer, one resolution.
	for range 2 {
		code, out := f.call("POST", path(held[0]), `{"outcome":"sent","attempts":1,"note":"seen in the console","message_sid":"`+sid+`"}`)
		if code != 200 || out["status"] != "SENT" || out["provider_sid"] != sid {
			t.Fatalf("resolve sent = %d %v", code, out)
		}
	}
	m, err := f.store.GetMessage(t.Context(), held[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Resolutions) != 1 || m.Resolutions[0].By != "api-key" || m.Resolutions[0].Outcome != message.OutcomeSent || m.Resolutions[0].At.IsZero() || m.SentAt == nil ||
		m.Resolutions[0].Attempts != 1 || m.Resolutions[0].Note != "seen in the console" {
		t.Errorf("resolved message = %+v, want SENT with one resolution by api-key", m)
	}
	// Not awaiting resolution any more: another decision is a conflict.
	if code, out := f.call("POST", path(held[0]), `{"outcome":"resend","attempts":1}`); code != 409 {
		t.Errorf("resend a SENT message = %d %v, want 409", code, out)
	}

	// resend, twice: QUEUED under a task generation of its own, its task
	// asked for (again while it waits for it).
	for range 2 {
		code, out := f.call("POST", path(held[1]), `{"outcome":"resend","attempts":1}`)
		if code != 200 || out["status"] != "QUEUED" || out["claimed_at"] != nil || out["task_generation"] == nil {
			t.Fatalf("resolve resend = %d %v", code, out)
		}
	}
	var retasks []events.Recipients
	for _, e := range f.events.Published(events.TopicRecipients) {
		var r events.Recipients
		if err := json.Unmarshal(e.Data, &r); err != nil {
			t.Fatal(err)
		}
		retasks = append(retasks, r)
	}
	// Each "sent" asks for the campaign's completion check (through the
	// retask path); each resend for the task.
	sent := events.Recipients{CampaignID: cid, MessageIDs: []string{held[0]}, Retask: true}
	want := events.Recipients{CampaignID: cid, MessageIDs: []string{held[1]}, Retask: true}
	if diff := cmp.Diff([]events.Recipients{sent, sent, want, want}, retasks); diff != "" {
		t.Errorf("retask requests (-want, +got):\n%s", diff)
	}
	// Once it is claimed again, a repeat changes nothing and asks nothing.
	if _, err := f.store.UpdateMessage(t.Context(), held[1], func(m *message.Message) error {
		m.Status = message.Sending
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if code, out := f.call("POST", path(held[1]), `{"outcome":"resend","attempts":1}`); code != 200 || out["status"] != "SENDING" {
		t.Errorf("repeated resend after the claim = %d %v", code, out)
	}
	if n := len(f.events.Published(events.TopicRecipients)); n != 4 {
		t.Errorf("%d retask requests, want still 4", n)
	}
}

func namesField(out map[string]any, field string) bool {
	if field == "" {
		return true
	}
	details, _ := out["details"].([]any)
	for _, d := range details {
		if d.(map[string]any)["field"] == field {
			return true
		}
	}
	return false
}

func sorted(ids []string) []string { return slices.Sorted(slices.Values(ids)) }

// Resolving a campaign's last open message "sent" completes the campaign
// (through the request the API publishes), and a repeat asks again.
func TestResolve_sent_last_message_completes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid, held := f.heldMessages(1)
	if _, err := f.store.UpdateCampaign(t.Context(), cid, func(c *campaign.Campaign) error { c.FanoutDone = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if code, out := f.call("POST", "/api/v1/messages/"+held[0]+"/resolve", `{"outcome":"sent","attempts":1}`); code != 200 {
			t.Fatalf("resolve sent = %d %v", code, out)
		}
	}
	reqs := f.events.Published(events.TopicRecipients)
	if len(reqs) != 2 {
		t.Fatalf("%d requests published, want 2 (one per answer)", len(reqs))
	}
	var ev events.Recipients
	if err := json.Unmarshal(reqs[0].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if err := f.server.Runner.Recipients(t.Context(), ev); err != nil {
		t.Fatalf("Recipients(%+v) error = %v", ev, err)
	}
	c, err := f.store.GetCampaign(t.Context(), cid)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != campaign.Completed {
		t.Errorf("campaign %s after its last open message resolved sent, want COMPLETED", c.Status)
	}
}
