package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	handleinbound "github.com/eventstreamengine/ese/functions/inbound"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/store/storetest"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// refusing is a store whose webhook writes fail while down is above 0
// (each failure counts it down): Firestore unavailable, or (kind
// Invalid) refusing the record itself.
type refusing struct {
	*memstore.Store
	down atomic.Int32
	kind errs.Kind // Transient when not set
}

func (r *refusing) refused() error {
	if r.down.Add(-1) >= 0 {
		if r.kind == errs.Invalid {
			return errs.E(errs.Invalid, "firestore: a value is too long")
		}
		return errs.E(errs.Transient, "firestore unavailable")
	}
	return nil
}

func (r *refusing) RecordWebhook(ctx context.Context, e webhook.Event) (webhook.Event, bool, error) {
	if err := r.refused(); err != nil {
		return webhook.Event{}, false, err
	}
	return r.Store.RecordWebhook(ctx, e)
}

func (r *refusing) RecordWebhookStop(ctx context.Context, e webhook.Event, lookup store.StopLookup, decide func(store.StopRead) (store.StopWrites, error)) (webhook.Event, bool, error) {
	if err := r.refused(); err != nil {
		return webhook.Event{}, false, err
	}
	return r.Store.RecordWebhookStop(ctx, e, lookup, decide)
}

// outage is a publisher whose publishes fail while down is above 0.
type outage struct {
	*memevents.Publisher
	down atomic.Int32
}

func (o *outage) Publish(ctx context.Context, topic string, v any) error {
	if o.down.Add(-1) >= 0 {
		return errs.E(errs.Transient, "pubsub unavailable")
	}
	return o.Publisher.Publish(ctx, topic, v)
}

const person = "+94771234577"

func optedIn(t *testing.T, st *memstore.Store) {
	t.Helper()
	if err := st.CreateUser(t.Context(), user.User{Phone: person, Consent: consent.OptIn, Attributes: map[string]any{}, CreatedAt: time.Now().Add(-time.Hour)}, consent.SourceImport, "job1"); err != nil {
		t.Fatal(err)
	}
}

// stopHistory is the person's history after an import and one STOP.
func stopHistory(t *testing.T, st *memstore.Store, sid string) {
	t.Helper()
	h, err := st.ConsentHistory(t.Context(), person)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range h {
		got = append(got, string(c.From)+">"+string(c.To)+" "+string(c.Source)+" "+c.Ref)
	}
	want := []string{">OPT_IN import job1", "OPT_IN>STOP inbound " + sid}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("consent history (-want, +got):\n%s", d)
	}
}

// consume hands every inbound event published so far to HandleInbound,
// as the push subscription does, over st.
func consume(t *testing.T, st store.Store, pub *memevents.Publisher) {
	t.Helper()
	h := handleinbound.New(st, storetest.Hasher(t))
	for _, m := range pub.Published(events.TopicInbound) {
		if err := h(t.Context(), m); err != nil {
			t.Fatalf("HandleInbound: %v", err)
		}
	}
}

// A STOP is applied with its record, before the answer: nobody has to
// consume the event for the person to be STOP, and HandleInbound
// processing it later changes nothing (no second history entry).
func TestWebhooks_stop_applied_before_the_answer(t *testing.T) {
	t.Parallel()
	st, pub := memstore.New(), memevents.New()
	optedIn(t, st)
	f := &fixture{store: st, events: pub}
	f.h = (&Server{Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStop: "bye"}, Store: st, Events: pub}).Routes()
	code, body := f.post("/webhooks/inbound", inboundForm("STOP", "SM61"), token)
	if code != http.StatusOK || !strings.Contains(body, "bye") {
		t.Fatalf("STOP = %d %q, want 200 with the reply", code, body)
	}
	if u, _ := st.GetUser(t.Context(), person); u.Consent != consent.Stop {
		t.Fatalf("consent when the answer is given = %s, want STOP", u.Consent)
	}
	stopHistory(t, st, "SM61")
	consume(t, st, pub)
	consume(t, st, pub) // redelivered
	stopHistory(t, st, "SM61")
	if u, _ := st.GetUser(t.Context(), person); u.LastInboundAt == nil {
		t.Error("HandleInbound did not record the message's time")
	}
}

// Firestore refuses: the callback is handed on unstored and answered 200
// with the usual TwiML; HandleInbound stores it (marked handed on) and
// applies its STOP, once however often it is delivered.
func TestWebhooks_store_refuses_publish_hands_on(t *testing.T) {
	t.Parallel()
	mem, pub := memstore.New(), memevents.New()
	optedIn(t, mem)
	st := &refusing{Store: mem}
	st.down.Store(1 << 20)
	f := &fixture{store: mem, events: pub}
	f.h = (&Server{Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStop: "bye"}, Store: st, Events: pub}).Routes()
	code, body := f.post("/webhooks/inbound", inboundForm("STOP", "SM62"), token)
	if code != http.StatusOK || !strings.Contains(body, "<Message>bye</Message>") {
		t.Fatalf("STOP with Firestore down = %d %q, want 200 with the reply", code, body)
	}
	published := pub.Published(events.TopicInbound)
	if len(published) != 1 {
		t.Fatalf("published %d events, want 1", len(published))
	}
	var e webhook.Event
	if err := json.Unmarshal(published[0].Data, &e); err != nil {
		t.Fatal(err)
	}
	if !e.Unstored || e.Params["Body"] != "STOP" || e.Params["From"] != "whatsapp:"+person || e.ID != "inbound-SM62" {
		t.Errorf("handed on %+v, want the unstored callback with its params", e)
	}
	consume(t, mem, pub)
	consume(t, mem, pub)
	stopHistory(t, mem, "SM62")
	evs, _ := mem.ListWebhooks(t.Context(), webhook.Inbound, 10)
	if len(evs) != 1 || !evs[0].Published || evs[0].Unstored || evs[0].Params["Body"] != "STOP" {
		t.Errorf("records after HandleInbound = %+v, want the callback, handed on", evs)
	}
	if unpub, _ := mem.ListUnpublished(t.Context(), time.Now().Add(time.Hour), 10); len(unpub) != 0 {
		t.Errorf("%d records left for the republish sweep, want none", len(unpub))
	}
}

// Both Firestore and Pub/Sub refuse: 503, nothing applied, and Twilio's
// retry (asked for by the URL's connection overrides, played by the
// stand-in) stores and applies the STOP.
func TestWebhooks_store_and_publish_refuse_twilio_retries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		overrides string
		want      consent.State
		status    int
	}{
		{"retried_with_overrides", "#rc=2&rp=ct,5xx", consent.Stop, http.StatusOK},
		{"not_retried_without", "", consent.OptIn, http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem, mevents := memstore.New(), memevents.New()
			optedIn(t, mem)
			st := &refusing{Store: mem}
			st.down.Store(1)
			pub := &outage{Publisher: mevents}
			pub.down.Store(1)
			var srv *httptest.Server
			var hits atomic.Int32
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				(&Server{Config: Config{PublicBaseURL: srv.URL, AuthToken: token, ReplyStop: "bye"}, Store: st, Events: pub}).Routes().ServeHTTP(w, r)
			}))
			defer srv.Close()
			si := standin.New(standin.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: token, StatusStep: time.Hour,
				InboundURL: srv.URL + "/webhooks/inbound" + tc.overrides, Logger: slog.New(slog.DiscardHandler)})
			defer si.Close()
			twilio := httptest.NewServer(si)
			defer twilio.Close()
			resp, err := http.PostForm(twilio.URL+"/_standin/inbound", url.Values{"From": {"whatsapp:" + person}, "Body": {"STOP"}, "MessageSid": {"SM63"}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var answer struct {
				WebhookStatus   int    `json:"webhook_status"`
				WebhookResponse string `json:"webhook_response"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
				t.Fatal(err)
			}
			if answer.WebhookStatus != tc.status {
				t.Errorf("the webhook's last answer = %d %q, want %d", answer.WebhookStatus, answer.WebhookResponse, tc.status)
			}
			if u, _ := mem.GetUser(t.Context(), person); u.Consent != tc.want {
				t.Errorf("consent after the stand-in's delivery = %s, want %s", u.Consent, tc.want)
			}
			if tc.want == consent.Stop {
				stopHistory(t, mem, "SM63")
				if n := hits.Load(); n != 2 {
					t.Errorf("the webhook was called %d times, want 2 (a 503, then the retry)", n)
				}
			}
		})
	}
}

// slowMark holds MarkWebhookPublished until release is closed.
type slowMark struct {
	*memstore.Store
	release chan struct{}
}

func (s *slowMark) MarkWebhookPublished(ctx context.Context, id string) error {
	<-s.release
	return s.Store.MarkWebhookPublished(ctx, id)
}

// Twilio has its whole answer before the published marker is written: the
// mark costs it no latency.
func TestWebhooks_answer_complete_before_the_mark(t *testing.T) {
	t.Parallel()
	mem, pub := memstore.New(), memevents.New()
	st := &slowMark{Store: mem, release: make(chan struct{})}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(&Server{Config: Config{PublicBaseURL: srv.URL, AuthToken: token, ReplyHelp: "help text"}, Store: st, Events: pub}).Routes().ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(st.release)
	form := inboundForm("HELP", "SM64")
	req, _ := http.NewRequest("POST", srv.URL+"/webhooks/inbound", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilio.Sign(token, srv.URL+"/webhooks/inbound", form))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("POST while the mark waits: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "help text") {
		t.Errorf("answer while the mark waits = %d %q, %v; want 200 with the reply", resp.StatusCode, b, err)
	}
}

// hanging is a store whose webhook writes wait until their context ends:
// a transaction queued behind a lock that a process killed mid-transaction
// left, which Firestore expires only after tens of seconds.
type hanging struct{ *memstore.Store }

func (h hanging) RecordWebhookStop(ctx context.Context, _ webhook.Event, _ store.StopLookup, _ func(store.StopRead) (store.StopWrites, error)) (webhook.Event, bool, error) {
	<-ctx.Done()
	return webhook.Event{}, false, errs.Wrap(errs.Transient, ctx.Err(), "firestore: lock wait")
}

// A store that hangs past the budget is treated as one that refuses: the
// STOP is handed on unstored and answered 200 well within Twilio's 15 s,
// rather than held until Twilio gives up and the STOP is lost.
func TestWebhooks_store_hangs_hands_on_within_budget(t *testing.T) {
	t.Parallel()
	mem, pub := memstore.New(), memevents.New()
	optedIn(t, mem)
	f := &fixture{store: mem, events: pub}
	f.h = (&Server{Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStop: "bye"}, Store: hanging{mem}, Events: pub, RecordBudget: 50 * time.Millisecond}).Routes()
	began := time.Now()
	code, body := f.post("/webhooks/inbound", inboundForm("STOP", "SM63"), token)
	if took := time.Since(began); took >= DefaultRecordBudget {
		t.Errorf("answered after %v: the server's budget (50ms) was not used", took)
	}
	if code != http.StatusOK || !strings.Contains(body, "<Message>bye</Message>") {
		t.Fatalf("STOP with the store hanging = %d %q, want 200 with the reply", code, body)
	}
	if n := len(pub.Published(events.TopicInbound)); n != 1 {
		t.Fatalf("published %d events, want the unstored callback", n)
	}
	consume(t, mem, pub)
	stopHistory(t, mem, "SM63")
}

// stalled is a publisher that never answers: each publish waits until its
// context ends.
type stalled struct{}

func (stalled) Publish(ctx context.Context, _ string, _ any) error {
	<-ctx.Done()
	return errs.Wrap(errs.Transient, ctx.Err(), "pubsub: publish")
}

// A publish that hangs until its budget ends does not take the in-place
// processing's with it: a stored callback is processed in place, on a
// budget of its own, and answered 200 (a STOP with its reply), not 503.
func TestWebhooks_publish_hangs_processed_in_place(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, reply string
		path              string
		form              url.Values
	}{
		{"stop", "STOP", "<Message>bye</Message>", "/webhooks/inbound", inboundForm("STOP", "SM64")},
		{"reply", "hello", "<Response></Response>", "/webhooks/inbound", inboundForm("hello", "SM65")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem := memstore.New()
			optedIn(t, mem)
			applied := 0
			apply := InPlace(mem, time.Hour, nil)
			for k, fn := range apply {
				apply[k] = func(ctx context.Context, e webhook.Event) error {
					if err := ctx.Err(); err != nil {
						return errs.Wrap(errs.Transient, err, "in place")
					}
					applied++
					return fn(ctx, e)
				}
			}
			f := &fixture{store: mem}
			f.h = (&Server{Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStop: "bye"}, Store: mem, Events: stalled{}, Apply: apply,
				RecordBudget: 50 * time.Millisecond, HandOnBudget: 50 * time.Millisecond}).Routes()
			code, body := f.post(tc.path, tc.form, token)
			if code != http.StatusOK || !strings.Contains(body, tc.reply) {
				t.Fatalf("POST with Pub/Sub hanging = %d %q, want 200 with %q", code, body, tc.reply)
			}
			if applied != 1 {
				t.Errorf("processed in place %d times, want 1", applied)
			}
		})
	}
}

// A STOP applied with its record and then delivered to HandleInbound only
// after the person was erased changes nothing: the event says it was
// applied, so HandleInbound does not bring the person back as STOP (nor
// their number as a suppression).
func TestWebhooks_stop_handed_on_after_erasure_applies_nothing(t *testing.T) {
	t.Parallel()
	mem, pub := memstore.New(), memevents.New()
	optedIn(t, mem)
	f := &fixture{store: mem, events: pub}
	f.h = (&Server{Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStop: "bye"}, Store: mem, Events: pub}).Routes()
	if code, _ := f.post("/webhooks/inbound", inboundForm("STOP", "SM64"), token); code != http.StatusOK {
		t.Fatalf("STOP = %d, want 200", code)
	}
	if _, err := erasure.Erase(t.Context(), mem, storetest.Hasher(t), person, time.Now()); err != nil {
		t.Fatal(err)
	}
	consume(t, mem, pub)
	if _, err := mem.GetUser(t.Context(), person); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetUser after erasure and HandleInbound = %v, want not found", err)
	}
	if s, err := mem.Suppressed(t.Context(), []string{person}); err != nil || s[person] {
		t.Errorf("suppressed after erasure and HandleInbound = %v, %v; want not", s, err)
	}
}
