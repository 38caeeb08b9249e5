package webhooks_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/eventstreamengine/ese/functions/webhooks"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/webhook"
)

const (
	publicBase = "https://hooks.example.com"
	authToken  = "fuzztoken"
)

func newServer(st *memstore.Store, pub *memevents.Publisher) http.Handler {
	cfg := webhooks.Config{PublicBaseURL: publicBase, AuthToken: authToken, ReplyStop: "bye", ReplyStart: "welcome", ReplyHelp: "help"}
	return (&webhooks.Server{Config: cfg, Store: st, Events: pub}).Routes()
}

// signedPost is a form body POSTed to path with Twilio's signature of the
// form as the handler will parse it.
func signedPost(ctx context.Context, path, body string) *http.Request {
	form, _ := url.ParseQuery(body)
	req := httptest.NewRequestWithContext(ctx, "POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, twilio.Sign(authToken, publicBase+path, form))
	return req
}

// FuzzWebhooks posts arbitrary, correctly signed forms, each twice (as
// Twilio retries): the answer is never a 5xx, at most one event is stored
// and published per callback, and an accepted callback is stored under its
// MessageSid.
func FuzzWebhooks(f *testing.F) {
	for _, s := range []struct {
		status bool
		body   string
	}{
		{false, "From=whatsapp%3A%2B94771234577&To=whatsapp%3A%2B14155238886&Body=STOP&MessageSid=SM1&WaId=94771234577"},
		{false, "From=whatsapp%3A%2B94771234577&Body=hello+there&SmsSid=SM2"},
		{false, "From=x&Body=&MessageSid=SM%2F3"},
		{false, "From=a&From=b&Body=START&MessageSid=SM4&MessageSid=SM5"},
		{false, "Body=HELP&MessageSid=SM6"},
		{true, "MessageSid=SM7&MessageStatus=delivered&To=whatsapp%3A%2B94771234567"},
		{true, "SmsSid=SM8&SmsStatus=Failed&ErrorCode=30008"},
		{true, "MessageSid=SM9"},
		{true, "MessageSid=__x__&MessageStatus=read"},
		{true, "%zz=1&MessageSid=SM10&MessageStatus=sent"},
		{true, "MessageSid=SM11;MessageStatus=sent"},
	} {
		f.Add(s.status, []byte(s.body))
	}
	quiet := logging.WithLogger(context.Background(), slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, status bool, body []byte) {
		st, pub := memstore.New(), memevents.New()
		h := newServer(st, pub)
		path, kind, topic := "/webhooks/inbound", webhook.Inbound, events.TopicInbound
		if status {
			path, kind, topic = "/webhooks/status", webhook.Status, events.TopicStatus
		}
		var codes []int
		for range 2 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, signedPost(quiet, path, string(body)))
			if rec.Code >= 500 {
				t.Fatalf("POST %s %q = %d %s, want no 5xx", path, body, rec.Code, rec.Body.String())
			}
			codes = append(codes, rec.Code)
		}
		stored, err := st.ListWebhooks(context.Background(), kind, 10)
		if err != nil {
			t.Fatal(err)
		}
		published := pub.Published(topic)
		if len(stored) > 1 || len(published) > 1 {
			t.Fatalf("POST %s %q twice: %d stored, %d published; want at most one each", path, body, len(stored), len(published))
		}
		if codes[0] != codes[1] {
			t.Fatalf("POST %s %q: a replay answered %d after %d", path, body, codes[1], codes[0])
		}
		if codes[0] != http.StatusOK {
			if len(stored)+len(published) != 0 {
				t.Fatalf("POST %s %q = %d, yet %d stored and %d published", path, body, codes[0], len(stored), len(published))
			}
			return
		}
		if len(stored) != 1 || len(published) != 1 || !stored[0].Published {
			t.Fatalf("POST %s %q = 200 but %d stored, %d published", path, body, len(stored), len(published))
		}
		form, _ := url.ParseQuery(string(body))
		sid := form.Get("MessageSid")
		if sid == "" {
			sid = form.Get("SmsSid")
		}
		if stored[0].MessageSID != sid {
			t.Fatalf("POST %s %q stored MessageSid %q, want %q", path, body, stored[0].MessageSID, sid)
		}
	})
}

// BenchmarkInbound is one signed inbound message through the handler:
// signature check, the store's create-once, the publish and the TwiML
// answer, over memstore and memevents. Logging goes through the JSON
// logger to io.Discard, so the encoding is counted but no I/O.
func BenchmarkInbound(b *testing.B) {
	st, pub := memstore.New(), memevents.New()
	h := newServer(st, pub)
	ctx := logging.WithLogger(context.Background(), logging.New(io.Discard, slog.LevelInfo))
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		form := url.Values{
			"From": {"whatsapp:+94771234577"}, "To": {"whatsapp:+14155238886"}, "Body": {"STOP"},
			"MessageSid": {"SM" + strconv.Itoa(i)}, "WaId": {"94771234577"}, "ProfileName": {"Grace"},
			"NumMedia": {"0"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "ApiVersion": {"2010-04-01"},
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedPost(ctx, "/webhooks/inbound", form.Encode()))
		if rec.Code != http.StatusOK {
			b.Fatalf("POST = %d %s", rec.Code, rec.Body.String())
		}
	}
	if n := len(pub.Published(events.TopicInbound)); n != i {
		b.Fatalf("published %d of %d", n, i)
	}
}
