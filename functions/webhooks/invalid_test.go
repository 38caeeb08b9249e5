package webhooks

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// A STOP whose record the store refuses as Invalid (a value too long,
// invalid UTF-8: Firestore's InvalidArgument) is still honoured: only our
// own checks of the request answer 400, which Twilio never retries. The
// webhook stores it trimmed; if the store refuses that too, it is handed
// on unstored, and HandleInbound stores it trimmed or, refused even so,
// applies it unstored (a permanent error would ack it and lose it). The
// ERROR logged names neither the number nor the body.
func TestWebhooks_store_refuses_stop_as_invalid(t *testing.T) {
	t.Parallel()
	trimmed := "inbound-SM70 trimmed=true params=[Body From MessageSid To]"
	cases := []struct {
		name                    string
		webhookDown, handleDown int32 // refusals by the store, as the webhook and as HandleInbound write
		wantRecords             []string
		wantUnstored            bool
	}{
		{name: "refused_whole_stored_trimmed", webhookDown: 1, wantRecords: []string{trimmed}},
		{name: "refused_trimmed_too_handed_on_and_stored_trimmed", webhookDown: 1 << 20, handleDown: 1, wantRecords: []string{trimmed}, wantUnstored: true},
		{name: "refused_everywhere_applied_unstored", webhookDown: 1 << 20, handleDown: 1 << 20, wantUnstored: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem, pub := memstore.New(), memevents.New()
			optedIn(t, mem)
			st := &refusing{Store: mem, kind: errs.Invalid}
			st.down.Store(tc.webhookDown)
			h := (&Server{Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStop: "bye"}, Store: st, Events: pub}).Routes()
			form := inboundForm("STOP", "SM70")
			form.Set("Note", "a private note")
			req := httptest.NewRequest("POST", "/webhooks/inbound", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", twilio.Sign(token, base+"/webhooks/inbound", form))
			var logs bytes.Buffer
			req = req.WithContext(logging.WithLogger(req.Context(), logging.New(&logs, slog.LevelInfo)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<Message>bye</Message>") {
				t.Fatalf("STOP refused as invalid = %d %q, want 200 with the reply", rec.Code, rec.Body.String())
			}
			if !strings.Contains(logs.String(), `"severity":"ERROR"`) {
				t.Errorf("logs = %s, want an ERROR", logs.String())
			}
			for _, secret := range []string{"94771234577", "STOP", "private"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("logs name %q:\n%s", secret, logs.String())
				}
			}
			unstored := slices.ContainsFunc(pub.Published(events.TopicInbound), func(m events.Message) bool {
				return strings.Contains(string(m.Data), `"unstored":true`)
			})
			if unstored != tc.wantUnstored {
				t.Errorf("handed on unstored: %v, want %v", unstored, tc.wantUnstored)
			}
			consumer := &refusing{Store: mem, kind: errs.Invalid}
			consumer.down.Store(tc.handleDown)
			consume(t, consumer, pub)
			consume(t, consumer, pub) // redelivered
			if u, _ := mem.GetUser(t.Context(), person); u.Consent != consent.Stop {
				t.Errorf("consent = %s, want STOP", u.Consent)
			}
			stopHistory(t, mem, "SM70")
			es, err := mem.ListWebhooks(t.Context(), webhook.Inbound, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				keys := make([]string, 0, len(e.Params))
				for k := range e.Params {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				got = append(got, e.ID+" trimmed="+map[bool]string{true: "true", false: "false"}[e.Trimmed]+" params=["+strings.Join(keys, " ")+"]")
			}
			if d := cmp.Diff(tc.wantRecords, got); d != "" {
				t.Errorf("records (-want, +got):\n%s", d)
			}
		})
	}
}

// Our own checks of the request still answer 400: a callback without a
// MessageSid, or with one Twilio never sends (and no record could be
// named by), is not Twilio's.
func TestWebhooks_not_twilios_callback_is_400(t *testing.T) {
	t.Parallel()
	for _, sid := range []string{"", "SM/3", "__x__", "SM\xff", strings.Repeat("S", 65)} {
		f := newFixture(plain)
		form := inboundForm("STOP", sid)
		if sid == "" {
			form.Del("MessageSid")
		}
		if code, _ := f.post("/webhooks/inbound", form, token); code != http.StatusBadRequest {
			t.Errorf("STOP with MessageSid %q = %d, want 400", sid, code)
		}
		if n := len(f.events.Published(events.TopicInbound)); n != 0 {
			t.Errorf("STOP with MessageSid %q: %d published, want none", sid, n)
		}
	}
}
