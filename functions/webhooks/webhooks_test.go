package webhooks

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/webhook"
)

const (
	base  = "https://hooks.example.com"
	token = "secrettoken"
)

// flaky fails its first publish.
type flaky struct {
	events.Publisher
	failed bool
}

func (f *flaky) Publish(ctx context.Context, topic string, v any) error {
	if !f.failed {
		f.failed = true
		return errors.New("pubsub unavailable")
	}
	return f.Publisher.Publish(ctx, topic, v)
}

type fixture struct {
	store  *memstore.Store
	events *memevents.Publisher
	h      http.Handler
}

func newFixture(pub func(events.Publisher) events.Publisher) *fixture {
	f := &fixture{store: memstore.New(), events: memevents.New()}
	cfg := Config{PublicBaseURL: base, AuthToken: token, ReplyStop: "bye", ReplyStart: "welcome back", ReplyHelp: "help text"}
	f.h = (&Server{Config: cfg, Store: f.store, Events: pub(f.events)}).Routes()
	return f
}

func plain(p events.Publisher) events.Publisher { return p }

// post sends form to path, signed with sign's token unless sign is "".
func (f *fixture) post(path string, form url.Values, signWith string) (int, string) {
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signWith != "" {
		req.Header.Set("X-Twilio-Signature", twilio.Sign(signWith, base+path, form))
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func inboundForm(body, sid string) url.Values {
	return url.Values{"From": {"whatsapp:+94771234577"}, "To": {"whatsapp:+14155238886"}, "Body": {body}, "MessageSid": {sid}, "WaId": {"94771234577"}}
}

func TestWebhooks_rejects_bad_signatures_without_a_trace(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		do   func(f *fixture) (int, string)
	}{
		{"unsigned", func(f *fixture) (int, string) { return f.post("/webhooks/inbound", inboundForm("STOP", "SM1"), "") }},
		{"wrong_token", func(f *fixture) (int, string) {
			return f.post("/webhooks/inbound", inboundForm("STOP", "SM1"), "othertoken")
		}},
		{"tampered_body", func(f *fixture) (int, string) {
			form := inboundForm("hello", "SM1")
			req := httptest.NewRequest("POST", "/webhooks/inbound", strings.NewReader(inboundForm("STOP", "SM1").Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", twilio.Sign(token, base+"/webhooks/inbound", form))
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			return rec.Code, rec.Body.String()
		}},
		{"signed_for_another_url", func(f *fixture) (int, string) {
			form := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}
			req := httptest.NewRequest("POST", "/webhooks/status", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", twilio.Sign(token, base+"/webhooks/inbound", form))
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			return rec.Code, rec.Body.String()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(plain)
			if code, body := tc.do(f); code != http.StatusForbidden {
				t.Fatalf("got %d %s, want 403", code, body)
			}
			for _, k := range []webhook.Kind{webhook.Inbound, webhook.Status} {
				if evs, _ := f.store.ListWebhooks(context.Background(), k, 10); len(evs) != 0 {
					t.Errorf("stored %d %s events after a bad signature", len(evs), k)
				}
			}
			if n := len(f.events.Published(events.TopicInbound)) + len(f.events.Published(events.TopicStatus)); n != 0 {
				t.Errorf("published %d events after a bad signature", n)
			}
		})
	}
}

func TestWebhooks_inbound_replies_stores_once_and_publishes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body, wantReply string
	}{
		{"STOP", "<Message>bye</Message>"},
		{"  stop! ", "<Message>bye</Message>"},
		{"Start", "<Message>welcome back</Message>"},
		{"help", "<Message>help text</Message>"},
		{"Please stop sending", "<Response></Response>"},
	}
	for _, tc := range cases {
		t.Run(strings.TrimSpace(tc.body), func(t *testing.T) {
			t.Parallel()
			f := newFixture(plain)
			for range 3 { // Twilio retries: the same MessageSid, three times
				code, body := f.post("/webhooks/inbound", inboundForm(tc.body, "SM42"), token)
				if code != 200 || !strings.Contains(body, tc.wantReply) {
					t.Fatalf("got %d %q, want 200 with %q", code, body, tc.wantReply)
				}
			}
			evs, _ := f.store.ListWebhooks(context.Background(), webhook.Inbound, 10)
			pub := f.events.Published(events.TopicInbound)
			if len(evs) != 1 || len(pub) != 1 || !evs[0].Published {
				t.Errorf("after 3 deliveries: %d stored, %d published (marked %v); want 1, 1, true", len(evs), len(pub), len(evs) == 1 && evs[0].Published)
			}
		})
	}
}

func TestWebhooks_failed_publish_is_retried_by_twilio(t *testing.T) {
	t.Parallel()
	f := newFixture(func(p events.Publisher) events.Publisher { return &flaky{Publisher: p} })
	form := url.Values{"MessageSid": {"SM7"}, "MessageStatus": {"delivered"}, "To": {"whatsapp:+94771234567"}}
	if code, _ := f.post("/webhooks/status", form, token); code != http.StatusServiceUnavailable {
		t.Fatalf("first delivery with Pub/Sub down = %d, want 503 so Twilio retries", code)
	}
	if code, _ := f.post("/webhooks/status", form, token); code != 200 {
		t.Fatalf("retry = %d, want 200", code)
	}
	if n := len(f.events.Published(events.TopicStatus)); n != 1 {
		t.Errorf("published %d times, want 1", n)
	}
}

func TestWebhooks_status_per_sid_and_status(t *testing.T) {
	t.Parallel()
	f := newFixture(plain)
	for _, st := range []string{"sent", "delivered", "sent", "read", "delivered"} {
		form := url.Values{"MessageSid": {"SM9"}, "MessageStatus": {st}}
		if code, body := f.post("/webhooks/status", form, token); code != 200 {
			t.Fatalf("%s: %d %s", st, code, body)
		}
	}
	evs, _ := f.store.ListWebhooks(context.Background(), webhook.Status, 10)
	var got []string
	for _, e := range evs {
		got = append(got, e.ID)
	}
	want := []string{"status-SM9-read", "status-SM9-delivered", "status-SM9-sent"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored (-want, +got):\n%s", diff)
	}
}

// The callback URL names the message and the attempt that sent it (the
// signature covers both): the stored event keeps them.
func TestWebhooks_status_keeps_message_and_attempt(t *testing.T) {
	t.Parallel()
	f := newFixture(plain)
	form := url.Values{"MessageSid": {"SM9"}, "MessageStatus": {"delivered"}}
	if code, body := f.post("/webhooks/status?message_id=m1&attempt=2", form, token); code != 200 {
		t.Fatalf("POST = %d %s", code, body)
	}
	evs, err := f.store.ListWebhooks(context.Background(), webhook.Status, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("ListWebhooks = %v, %v; want one", evs, err)
	}
	if got, want := []any{evs[0].MessageID, evs[0].Attempt}, []any{"m1", 2}; !cmp.Equal(want, got) {
		t.Errorf("stored message and attempt %v, want %v", got, want)
	}
}

func TestWebhooks_incomplete_callback_is_400_with_field(t *testing.T) {
	t.Parallel()
	f := newFixture(plain)
	code, body := f.post("/webhooks/status", url.Values{"MessageSid": {"SM1"}}, token)
	if code != http.StatusBadRequest || !strings.Contains(body, `"field":"MessageStatus"`) {
		t.Errorf("got %d %s, want 400 naming MessageStatus", code, body)
	}
}

// Twilio does not retry a callback answered with a 5xx: a STOP that cannot
// be published is applied in place.
func TestWebhooks_stop_applied_in_place_when_pubsub_is_down(t *testing.T) {
	t.Parallel()
	st, pub := memstore.New(), memevents.New()
	ctx := context.Background()
	if err := st.CreateUser(ctx, user.User{Phone: "+94771234577", Consent: consent.OptIn, Attributes: map[string]any{}}, consent.SourceImport, ""); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, events: pub}
	f.h = (&Server{
		Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStop: "bye"},
		Store:  st, Events: &down{}, Apply: InPlace(st, time.Minute, nil),
	}).Routes()
	if code, body := f.post("/webhooks/inbound", inboundForm("STOP", "SM77"), token); code != 200 || !strings.Contains(body, "bye") {
		t.Fatalf("STOP with Pub/Sub down = %d %q, want 200 with the reply", code, body)
	}
	u, _ := st.GetUser(ctx, "+94771234577")
	evs, _ := st.ListWebhooks(ctx, webhook.Inbound, 10)
	if u.Consent != consent.Stop || len(evs) != 1 || !evs[0].Published {
		t.Errorf("consent %s, %d stored; want STOP and 1 stored, marked handled", u.Consent, len(evs))
	}
	if u.LastInboundAt == nil || !u.LastInboundAt.Equal(evs[0].ReceivedAt) {
		t.Errorf("LastInboundAt = %v, want the STOP's arrival %v", u.LastInboundAt, evs[0].ReceivedAt)
	}
}

// A failed status applied in place, Pub/Sub being down, asks for its
// campaign's failure rate as HandleStatus would.
func TestWebhooks_failed_status_in_place_checks_failures(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	ctx := context.Background()
	at := time.Now().UTC().Add(-time.Minute)
	m := message.Message{ID: "m1-c1", CampaignID: "c1", Phone: "+94771234567", Status: message.Sent, ProviderSID: "SM5", CreatedAt: at, UpdatedAt: at, SentAt: &at}
	if _, err := st.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	w := &watch{}
	f := &fixture{store: st, events: memevents.New()}
	f.h = (&Server{Config: Config{PublicBaseURL: base, AuthToken: token}, Store: st, Events: &down{}, Apply: InPlace(st, time.Minute, w)}).Routes()
	for range 2 { // Twilio's retry changes nothing more
		form := url.Values{"MessageSid": {"SM5"}, "MessageStatus": {"failed"}, "ErrorCode": {"63016"}}
		if code, body := f.post("/webhooks/status", form, token); code != 200 {
			t.Fatalf("failed status with Pub/Sub down = %d %s, want 200", code, body)
		}
	}
	if got, _ := st.GetMessage(ctx, m.ID); got.Status != message.Failed || got.ErrorCode != "63016" {
		t.Errorf("message %s %q, want FAILED 63016", got.Status, got.ErrorCode)
	}
	if diff := cmp.Diff([]string{"c1"}, w.checked); diff != "" {
		t.Errorf("campaigns checked (-want, +got):\n%s", diff)
	}
}

// watch records the campaigns it is asked to check.
type watch struct{ checked []string }

func (w *watch) CheckFailures(_ context.Context, campaignID string) error {
	w.checked = append(w.checked, campaignID)
	return nil
}

// down is a publisher that always fails.
type down struct{}

func (down) Publish(context.Context, string, any) error { return errors.New("pubsub unavailable") }

// START is answered "resubscribed" only when it lifts the person's STOP
// (or they are opted in already), never for an admin's OPT_OUT or a
// stranger, whom it does not opt in.
func TestWebhooks_start_reply_tells_the_truth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		consent consent.State // "" for no such user
		want    string
	}{
		{"after_own_stop", consent.Stop, "<Message>welcome back</Message>"},
		{"opted_in", consent.OptIn, "<Message>welcome back</Message>"},
		{"admin_opt_out", consent.OptOut, "<Response></Response>"},
		{"unknown_number", "", "<Response></Response>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, pub := memstore.New(), memevents.New()
			if tc.consent != "" {
				if err := st.CreateUser(context.Background(), user.User{Phone: "+94771234577", Consent: tc.consent, Attributes: map[string]any{}}, consent.SourceAdmin, ""); err != nil {
					t.Fatal(err)
				}
			}
			f := &fixture{store: st, events: pub}
			f.h = (&Server{Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStart: "welcome back"}, Store: st, Users: st, Events: pub}).Routes()
			if code, body := f.post("/webhooks/inbound", inboundForm("START", "SM5"), token); code != 200 || !strings.Contains(body, tc.want) {
				t.Errorf("START = %d %q, want %q", code, body, tc.want)
			}
		})
	}
}

// A status with nothing to process (queued, sending) is kept for the
// audit trail but not published, and marked handled so no sweep takes it.
func TestWebhooks_uneventful_status_is_kept_not_published(t *testing.T) {
	t.Parallel()
	f := newFixture(plain)
	if code, _ := f.post("/webhooks/status", url.Values{"MessageSid": {"SM8"}, "MessageStatus": {"queued"}}, token); code != 200 {
		t.Fatalf("queued status = %d", code)
	}
	evs, _ := f.store.ListWebhooks(context.Background(), webhook.Status, 10)
	if len(evs) != 1 || !evs[0].Published || len(f.events.Published(events.TopicStatus)) != 0 {
		t.Errorf("%d stored (handled %v), %d published; want 1 stored and handled, none published", len(evs), len(evs) == 1 && evs[0].Published, len(f.events.Published(events.TopicStatus)))
	}
}

// Twilio signs the URL it calls. Deployed, that is the function's
// cloudfunctions.net URL, which reaches the function with /Webhooks
// stripped from the path, or its run.app URL. PUBLIC_BASE_URL is that URL
// (the Sender builds status callbacks from the same setting), and the
// signature is checked against it plus the path the function sees.
func TestWebhooks_signatures_for_both_deployed_URL_shapes(t *testing.T) {
	t.Parallel()
	shapes := map[string]string{
		"cloudfunctions_net": "https://us-central1-ese-prod.cloudfunctions.net/Webhooks",
		"run_app":            "https://webhooks-abc123-uc.a.run.app",
	}
	requests := []struct {
		name   string
		called func(base string) string // what Twilio calls and signs
		seen   string                   // the path and query the function sees
		form   url.Values
	}{
		{"inbound", func(b string) string { return strings.TrimSuffix(setup.InboundURL(b), setup.ConnectionOverrides) }, "/webhooks/inbound", inboundForm("hello", "SM1")},
		{"status", func(b string) string {
			return strings.TrimSuffix(setup.StatusCallbackURL(b), setup.ConnectionOverrides) + "?message_id=m1&attempt=2"
		}, "/webhooks/status?message_id=m1&attempt=2",
			url.Values{"MessageSid": {"SM2"}, "MessageStatus": {"delivered"}}},
	}
	for shape, base := range shapes {
		for _, rq := range requests {
			for signedFor, signedBase := range shapes {
				t.Run(shape+"/"+rq.name+"/signed_for_"+signedFor, func(t *testing.T) {
					t.Parallel()
					st, pub := memstore.New(), memevents.New()
					h := (&Server{Config: Config{PublicBaseURL: base, AuthToken: token}, Store: st, Events: pub}).Routes()
					req := httptest.NewRequest("POST", rq.seen, strings.NewReader(rq.form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("X-Twilio-Signature", twilio.Sign(token, rq.called(signedBase), rq.form))
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					want := http.StatusOK
					if signedFor != shape {
						want = http.StatusForbidden
					}
					if rec.Code != want {
						t.Errorf("POST %s (PUBLIC_BASE_URL %s) = %d %s, want %d", rq.seen, base, rec.Code, rec.Body, want)
					}
				})
			}
		}
	}
}

func TestConfig_Validate_PUBLIC_BASE_URL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base string
		ok   bool
	}{
		{"https://us-central1-ese-prod.cloudfunctions.net/Webhooks", true},
		{"https://webhooks-abc123-uc.a.run.app", true},
		{"http://localhost:8080", true},
		{"https://us-central1-ese-prod.cloudfunctions.net/Webhooks/webhooks/inbound", false},
		{"us-central1-ese-prod.cloudfunctions.net/Webhooks", false},
		{"https://hooks.example.com?x=1", false},
	} {
		err := Config{PublicBaseURL: tc.base}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("PUBLIC_BASE_URL=%q: Validate() = %v, want ok %v", tc.base, err, tc.ok)
		}
	}
}

// TestWebhooks_reads_the_form_body: the form is the body alone, read as
// net/http reads forms: a charset is fine, another content type is an
// empty form (refused by its signature), and a body too big or not a form
// is a 400 that says so.
func TestWebhooks_reads_the_form_body(t *testing.T) {
	t.Parallel()
	form := inboundForm("hello", "SM1")
	cases := []struct {
		name, contentType, body string
		want                    int
	}{
		{"form", "application/x-www-form-urlencoded", form.Encode(), http.StatusOK},
		{"form with charset", "Application/X-WWW-Form-Urlencoded; charset=utf-8", form.Encode(), http.StatusOK},
		{"json", "application/json", form.Encode(), http.StatusForbidden},
		{"no type", "", form.Encode(), http.StatusForbidden},
		{"bad escape", "application/x-www-form-urlencoded", form.Encode() + "&x=%zz", http.StatusBadRequest},
		{"too big", "application/x-www-form-urlencoded", form.Encode() + "&x=" + strings.Repeat("a", 64<<10), http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(plain)
			req := httptest.NewRequest("POST", "/webhooks/inbound", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Header.Set("X-Twilio-Signature", twilio.Sign(token, base+"/webhooks/inbound", form))
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("POST = %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			if tc.want == http.StatusBadRequest && !strings.Contains(rec.Body.String(), `"error"`) {
				t.Errorf("400 body %s: want a JSON error", rec.Body)
			}
			stored, _ := f.store.ListWebhooks(context.Background(), webhook.Inbound, 10)
			if got, want := len(stored), map[bool]int{true: 1, false: 0}[tc.want == http.StatusOK]; got != want {
				t.Errorf("stored %d callbacks, want %d", got, want)
			}
		})
	}
}
