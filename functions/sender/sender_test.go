package sender_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/emulators/twilio/twiliotest"
	"github.com/eventstreamengine/ese/functions/sender"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/user"
)

type fixture struct {
	store   *memstore.Store
	standin *standin.Server
	h       http.Handler
	cid     string // a running campaign without quiet hours
}

// newFixture is the Sender's handler over a memory store and the real
// Twilio provider talking to the stand-in.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	si, p := twiliotest.Start(t)
	st, q := memstore.New(), memqueue.New()
	c, err := st.CreateCampaign(context.Background(), campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.EnsureQueue(context.Background(), sendqueue.QueueID(c.ID, 0), c.Rate); err != nil {
		t.Fatal(err)
	}
	s := &sending.Sender{Store: st, Provider: p, Queue: q, StatusCallback: "http://127.0.0.1:1/webhooks/status", ReconcileAfter: time.Minute}
	return &fixture{store: st, standin: si, h: sender.New(s), cid: c.ID}
}

// queued stores a user in state c and a QUEUED message to them, and
// returns the message's task body.
func (f *fixture) queued(t *testing.T, phone string, c consent.State) string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	if err := f.store.CreateUser(ctx, user.User{Phone: phone, Consent: c, Attributes: map[string]any{}, LastInboundAt: &now}, consent.SourceAPI, ""); err != nil {
		t.Fatal(err)
	}
	m := message.Message{ID: message.ID(f.cid, phone), CampaignID: f.cid, Phone: phone, Status: message.Queued, Body: "Hi", QueuedAt: &now}
	if _, err := f.store.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	return `{"campaign_id":"` + f.cid + `","message_id":"` + m.ID + `"}`
}

type answer struct {
	Code int
	Body map[string]string
}

// post delivers a task body as Cloud Tasks does.
func (f *fixture) post(t *testing.T, method, body string) answer {
	t.Helper()
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CloudTasks-TaskRetryCount", "0")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", method, ct)
	}
	a := answer{Code: rec.Code}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("%s: answer %q is not a JSON object: %v", method, rec.Body.String(), err)
	}
	if d, ok := raw["details"]; ok && string(d) != "[]" {
		t.Errorf("%s: details %s, want []", method, d)
	}
	delete(raw, "details")
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &a.Body); err != nil {
		t.Fatalf("%s: answer %q is not a JSON object of strings: %v", method, rec.Body.String(), err)
	}
	return a
}

func outcome(o string) answer { return answer{http.StatusOK, map[string]string{"outcome": o}} }

func TestSender(t *testing.T) {
	t.Parallel()
	dropped := answer{http.StatusOK, map[string]string{"outcome": "dropped", "error": "unreadable task"}}
	cases := []struct {
		name      string
		phone     string        // "" for no stored message
		consent   consent.State // of phone
		method    string
		body      string // "" for the phone's task
		want      []answer
		wantSends int
	}{
		{name: "sent_then_duplicate", phone: "+94771234567", consent: consent.OptIn,
			want: []answer{outcome("sent"), outcome("duplicate")}, wantSends: 1},
		{name: "stop_before_send_is_skipped", phone: "+94771234567", consent: consent.Stop,
			want: []answer{outcome("skipped"), outcome("duplicate")}},
		{name: "rejected_number_fails_and_is_not_retried", phone: standin.NumberInvalid, consent: consent.OptIn,
			want: []answer{outcome("failed"), outcome("duplicate")}},
		// The stand-in takes the message but the answer is lost: retry,
		// and the retry finds the send instead of sending again.
		{name: "lost_answer_is_retried_then_reconciled", phone: standin.NumberLostAnswer, consent: consent.OptIn,
			want: []answer{{http.StatusServiceUnavailable, map[string]string{"error": "retry later"}}, outcome("reconciled")}, wantSends: 1},
		{name: "unknown_message_is_dropped", body: `{"campaign_id":"c1","message_id":"nope"}`,
			want: []answer{outcome("dropped")}},
		{name: "not_json_is_dropped", body: `hello`, want: []answer{dropped}},
		{name: "no_message_id_is_dropped", body: `{"campaign_id":"c1"}`, want: []answer{dropped}},
		{name: "wrong_type_is_dropped", body: `{"message_id":7}`, want: []answer{dropped}},
		{name: "oversized_is_dropped", body: `{"message_id":"` + strings.Repeat("x", 5<<10) + `"}`, want: []answer{dropped}},
		{name: "get_is_405", phone: "+94771234567", consent: consent.OptIn, method: "GET",
			want: []answer{{http.StatusMethodNotAllowed, map[string]string{"error": "POST a send task"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			body := tc.body
			if tc.phone != "" {
				body = f.queued(t, tc.phone, tc.consent)
			}
			method := tc.method
			if method == "" {
				method = "POST"
			}
			var got []answer
			for range tc.want {
				got = append(got, f.post(t, method, body))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answers to %d deliveries (-want, +got):\n%s", len(tc.want), diff)
			}
			if n := len(f.standin.Sent()); n != tc.wantSends {
				t.Errorf("the stand-in got %d messages, want %d", n, tc.wantSends)
			}
		})
	}
}
