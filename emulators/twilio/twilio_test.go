package twilio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sms"
	smstwilio "github.com/eventstreamengine/ese/shared/sms/twilio"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef"
	sender     = "whatsapp:+14155238886"
	ada        = "+94771234577"
)

var quiet = slog.New(slog.DiscardHandler)

// start serves a stand-in until the test ends.
func start(t *testing.T, cfg standin.Config) (*standin.Server, string) {
	t.Helper()
	cfg.AccountSID, cfg.AuthToken = accountSID, authToken
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s := standin.New(cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return s, ts.URL
}

func provider(t *testing.T, apiURL string) *smstwilio.Provider {
	t.Helper()
	p, err := smstwilio.New(smstwilio.Config{AccountSID: accountSID, AuthToken: authToken, From: sender, APIURL: apiURL})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rewrite sends twilio-go's requests for api.twilio.com to the stand-in.
type rewrite struct{ host string }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = "http", rw.host, ""
	return http.DefaultTransport.RoundTrip(r)
}

// twilioAPI is twilio-go itself, pointed at the stand-in.
func twilioAPI(t *testing.T, apiURL, token string) *api.ApiService {
	t.Helper()
	u, err := url.Parse(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{
		Credentials: client.NewCredentials(accountSID, token),
		HTTPClient:  &http.Client{Transport: rewrite{u.Host}, Timeout: 5 * time.Second},
	}
	c.SetAccountSid(accountSID)
	return api.NewApiServiceWithClient(c)
}

// hook is a webhook receiver that records what reaches it.
type hook struct {
	t      *testing.T
	url    string
	answer func(n int, form url.Values) int // status for the n-th request (from 0)

	mu  sync.Mutex
	got []received
}

type received struct {
	Form      url.Values
	Signature string
	Idem      string
}

func newHook(t *testing.T, answer func(int, url.Values) int) *hook {
	h := &hook{t: t, answer: answer}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	h.url = ts.URL + "/webhooks/status?tenant=demo"
	return h
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.t.Errorf("webhook form: %v", err)
	}
	h.mu.Lock()
	n := len(h.got)
	h.got = append(h.got, received{Form: r.PostForm, Signature: r.Header.Get(smstwilio.SignatureHeader), Idem: r.Header.Get("I-Twilio-Idempotency-Token")})
	h.mu.Unlock()
	status := http.StatusOK
	if h.answer != nil {
		status = h.answer(n, r.PostForm)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	io.WriteString(w, "<Response></Response>")
}

func (h *hook) requests() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.got...)
}

// statuses lists the MessageStatus of each request that validates.
func (h *hook) statuses(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range h.requests() {
		if !smstwilio.ValidSignature(authToken, h.url, r.Form, r.Signature) {
			t.Errorf("callback %v: signature %q does not validate", r.Form.Get("MessageStatus"), r.Signature)
		}
		out = append(out, r.Form.Get("MessageStatus"))
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCreateMessage_twilio_go(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		to         string
		from       string
		body       string
		wantCode   int // 0: created
		wantStatus int
	}{
		{name: "created", to: "whatsapp:" + ada, from: sender, body: "Hi"},
		{name: "invalid_number", to: "whatsapp:" + standin.NumberInvalid, from: sender, body: "Hi", wantCode: 21211, wantStatus: 400},
		{name: "unsubscribed", to: "whatsapp:" + standin.NumberBlocked, from: sender, body: "Hi", wantCode: 21610, wantStatus: 400},
		{name: "not_mobile", to: standin.NumberNotMobile, from: "+14155238886", body: "Hi", wantCode: 21614, wantStatus: 400},
		{name: "answer_lost", to: "whatsapp:" + standin.NumberLostAnswer, from: sender, body: "Hi", wantCode: 20503, wantStatus: 503},
		{name: "no_to", from: sender, body: "Hi", wantCode: 21604, wantStatus: 400},
		{name: "no_from", to: "whatsapp:" + ada, body: "Hi", wantCode: 21603, wantStatus: 400},
		{name: "no_body", to: "whatsapp:" + ada, from: sender, wantCode: 21602, wantStatus: 400},
		{name: "body_too_long", to: "whatsapp:" + ada, from: sender, body: strings.Repeat("é", 1601), wantCode: 21617, wantStatus: 400},
		{name: "channels_differ", to: ada, from: sender, body: "Hi", wantCode: 21910, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, u := start(t, standin.Config{StatusStep: time.Hour})
			params := &api.CreateMessageParams{}
			if tt.to != "" {
				params.SetTo(tt.to)
			}
			if tt.from != "" {
				params.SetFrom(tt.from)
			}
			if tt.body != "" {
				params.SetBody(tt.body)
			}

			m, err := twilioAPI(t, u, authToken).CreateMessage(params)

			if tt.wantCode != 0 {
				re, ok := err.(*client.TwilioRestError)
				if !ok {
					t.Fatalf("CreateMessage() error = %v, want a *client.TwilioRestError", err)
				}
				got := [2]int{re.Code, re.Status}
				if want := [2]int{tt.wantCode, tt.wantStatus}; got != want {
					t.Errorf("CreateMessage() error code, status = %v, want %v", got, want)
				}
				if re.MoreInfo != fmt.Sprintf("https://www.twilio.com/docs/errors/%d", tt.wantCode) {
					t.Errorf("more_info = %q", re.MoreInfo)
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateMessage() error = %v", err)
			}
			if _, err := time.Parse(time.RFC1123Z, *m.DateCreated); err != nil {
				t.Errorf("date_created %q: %v", *m.DateCreated, err)
			}
			got := []any{len(*m.Sid), (*m.Sid)[:2], *m.Status, *m.To, *m.From, *m.Body, *m.AccountSid, *m.Direction, m.DateSent, m.ErrorCode}
			want := []any{34, "SM", "queued", tt.to, tt.from, tt.body, accountSID, "outbound-api", (*string)(nil), (*int)(nil)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("CreateMessage() (-want, +got):\n%s", diff)
			}
		})
	}
}

// As Twilio: Body or ContentSid (with ContentVariables) is required, From
// or MessagingServiceSid; what was asked is recorded.
func TestCreateMessage_content_and_service(t *testing.T) {
	t.Parallel()
	const (
		content = "HX0123456789abcdef0123456789abcdef"
		service = "MG0123456789abcdef0123456789abcdef"
	)
	tests := []struct {
		name                         string
		from, service, body          string
		contentSID, contentVariables string
		wantCode                     int             // 0: created
		want                         standin.Message // To, From, Body, MessagingServiceSID, ContentSID, ContentVariables
	}{
		{
			name: "content_sid_with_variables", from: sender, contentSID: content, contentVariables: `{"1":"Arjuna","2":"Colombo"}`,
			want: standin.Message{From: sender, MessagingServiceSID: standin.DefaultServiceSID, ContentSID: content, ContentVariables: map[string]string{"1": "Arjuna", "2": "Colombo"}},
		},
		{name: "content_sid_alone", from: sender, contentSID: content, want: standin.Message{From: sender, MessagingServiceSID: standin.DefaultServiceSID, ContentSID: content}},
		{
			name: "messaging_service_picks_the_sender", service: service, body: "Hi",
			want: standin.Message{From: standin.ServiceSender, Body: "Hi", MessagingServiceSID: service},
		},
		{
			name: "service_and_content", service: service, contentSID: content, contentVariables: `{"1":"x"}`,
			want: standin.Message{From: standin.ServiceSender, MessagingServiceSID: service, ContentSID: content, ContentVariables: map[string]string{"1": "x"}},
		},
		{name: "neither_body_nor_content", from: sender, contentVariables: `{"1":"x"}`, wantCode: 21602},
		{name: "neither_from_nor_service", contentSID: content, wantCode: 21603},
		{name: "bad_service_sid", service: "MG123", body: "Hi", wantCode: 21701},
		{name: "bad_content_sid", from: sender, contentSID: "HX123", wantCode: 21655},
		{name: "message_sid_as_content_sid", from: sender, contentSID: "SM0123456789abcdef0123456789abcdef", wantCode: 21655},
		{name: "variables_not_json", from: sender, contentSID: content, contentVariables: "1=Arjuna", wantCode: 21656},
		{name: "variables_not_an_object", from: sender, contentSID: content, contentVariables: `["Arjuna"]`, wantCode: 21656},
		{name: "variables_not_strings", from: sender, contentSID: content, contentVariables: `{"1":2}`, wantCode: 21656},
		{name: "variables_null", from: sender, contentSID: content, contentVariables: `null`, wantCode: 21656},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, u := start(t, standin.Config{StatusStep: time.Hour})
			params := (&api.CreateMessageParams{}).SetTo("whatsapp:" + ada)
			for _, set := range []struct {
				v   string
				set func(string) *api.CreateMessageParams
			}{
				{tt.from, params.SetFrom}, {tt.service, params.SetMessagingServiceSid}, {tt.body, params.SetBody},
				{tt.contentSID, params.SetContentSid}, {tt.contentVariables, params.SetContentVariables},
			} {
				if set.v != "" {
					set.set(set.v)
				}
			}

			m, err := twilioAPI(t, u, authToken).CreateMessage(params)

			if tt.wantCode != 0 {
				re, ok := err.(*client.TwilioRestError)
				if !ok || re.Code != tt.wantCode || re.Status != 400 {
					t.Fatalf("CreateMessage() error = %v, want code %d, status 400", err, tt.wantCode)
				}
				if n := len(s.Sent()); n != 0 {
					t.Errorf("%d messages recorded after a refusal", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateMessage() error = %v", err)
			}
			gotService := ""
			if m.MessagingServiceSid != nil {
				gotService = *m.MessagingServiceSid
			}
			if gotService != tt.want.MessagingServiceSID || *m.From != tt.want.From {
				t.Errorf("answer: messaging_service_sid %q, from %q; want %q, %q", gotService, *m.From, tt.want.MessagingServiceSID, tt.want.From)
			}
			sent := s.Sent()
			if len(sent) != 1 {
				t.Fatalf("%d messages recorded, want 1", len(sent))
			}
			got := sent[0]
			want := tt.want
			want.SID, want.To, want.Status, want.DateCreated, want.DateUpdated = got.SID, "whatsapp:"+ada, "queued", got.DateCreated, got.DateUpdated
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("recorded (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestFetchAndList_twilio_go(t *testing.T) {
	t.Parallel()
	s, u := start(t, standin.Config{StatusStep: time.Millisecond})
	tw := twilioAPI(t, u, authToken)
	const bob = "+94771234588"
	s.OpenWindow(ada, sender)
	s.OpenWindow(bob, sender)
	var adas []string
	for i := range 7 {
		to := ada
		if i%3 == 2 {
			to = bob
		}
		m, err := tw.CreateMessage((&api.CreateMessageParams{}).SetTo("whatsapp:" + to).SetFrom(sender).SetBody(fmt.Sprint("msg ", i)))
		if err != nil {
			t.Fatal(err)
		}
		if to == ada {
			adas = append([]string{*m.Sid}, adas...) // newest first
		}
	}
	waitFor(t, "every message read", func() bool {
		for _, m := range s.Sent() {
			if m.Status != "read" {
				return false
			}
		}
		return true
	})

	got, err := tw.FetchMessage(adas[0], nil)
	if err != nil {
		t.Fatalf("FetchMessage() error = %v", err)
	}
	if *got.Status != "read" || got.DateSent == nil {
		t.Errorf("FetchMessage() status %q, date_sent %v; want read and a date", *got.Status, got.DateSent)
	}
	if _, err := tw.FetchMessage("SM0000", nil); err == nil || err.(*client.TwilioRestError).Code != 20404 {
		t.Errorf("FetchMessage(unknown) error = %v, want 20404", err)
	}

	today := time.Now().UTC()
	tests := []struct {
		name   string
		params *api.ListMessageParams
		want   []string
	}{
		{name: "to_paged_by_two", params: (&api.ListMessageParams{}).SetTo("whatsapp:" + ada).SetPageSize(2), want: adas},
		{name: "to_and_sent_today", params: (&api.ListMessageParams{}).SetTo("whatsapp:" + ada).SetDateSentAfter(today), want: adas},
		{name: "sent_on_today", params: (&api.ListMessageParams{}).SetTo("whatsapp:" + ada).SetDateSent(today), want: adas},
		{name: "sent_before_today", params: (&api.ListMessageParams{}).SetTo("whatsapp:" + ada).SetDateSentBefore(today.AddDate(0, 0, -1))},
		{name: "sent_from_tomorrow", params: (&api.ListMessageParams{}).SetTo("whatsapp:" + ada).SetDateSentAfter(today.AddDate(0, 0, 1))},
		{name: "limit", params: (&api.ListMessageParams{}).SetTo("whatsapp:" + ada).SetLimit(3), want: adas[:3]},
		{name: "other_channel", params: (&api.ListMessageParams{}).SetTo(ada)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ms, err := tw.ListMessage(tt.params)
			if err != nil {
				t.Fatalf("ListMessage() error = %v", err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, *m.Sid)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ListMessage() sids (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestAPI_auth(t *testing.T) {
	t.Parallel()
	_, u := start(t, standin.Config{StatusStep: time.Hour})
	tests := []struct {
		name       string
		path       string
		user, pass string
		wantStatus int
		wantCode   int
	}{
		{name: "account", path: "/2010-04-01/Accounts/" + accountSID + ".json", user: accountSID, pass: authToken, wantStatus: 200},
		{name: "no_credentials", path: "/2010-04-01/Accounts/" + accountSID + ".json", wantStatus: 401, wantCode: 20003},
		{name: "wrong_token", path: "/2010-04-01/Accounts/" + accountSID + "/Messages.json", user: accountSID, pass: "nope", wantStatus: 401, wantCode: 20003},
		{name: "other_account", path: "/2010-04-01/Accounts/AC99/Messages.json", user: accountSID, pass: authToken, wantStatus: 404, wantCode: 20404},
		{name: "unknown_resource", path: "/2010-04-01/Accounts/" + accountSID + "/Calls.json", user: accountSID, pass: authToken, wantStatus: 404, wantCode: 20404},
		{name: "bad_date_filter", path: "/2010-04-01/Accounts/" + accountSID + "/Messages.json?DateSent%3E=yesterday", user: accountSID, pass: authToken, wantStatus: 400, wantCode: 20001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u+tt.path, nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if tt.wantCode == 0 {
				if resp.StatusCode != tt.wantStatus || body["sid"] != accountSID || body["status"] != "active" {
					t.Errorf("GET %s = %d %v, want %d and the active account", tt.path, resp.StatusCode, body, tt.wantStatus)
				}
				return
			}
			got := []any{resp.StatusCode, body["code"], body["status"]}
			want := []any{tt.wantStatus, float64(tt.wantCode), float64(tt.wantStatus)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("GET %s status, code, body status (-want, +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestStatusCallbacks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		to   string
		want []string
	}{
		{name: "delivered_and_read", to: ada, want: []string{"queued", "sent", "delivered", "read"}},
		{name: "fails_later", to: standin.NumberFailsLater, want: []string{"queued", "sent", "failed"}},
		{name: "answer_lost", to: standin.NumberLostAnswer, want: []string{"queued", "sent", "delivered", "read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHook(t, nil)
			s, u := start(t, standin.Config{StatusStep: 2 * time.Millisecond})
			s.OpenWindow(tt.to, sender) // free text: the person wrote first
			_, _ = provider(t, u).Send(t.Context(), sms.Request{To: tt.to, Body: "Hi", StatusCallback: h.url})
			waitFor(t, "every callback", func() bool { return len(h.requests()) == len(tt.want) })
			s.Close() // nothing more may come

			if diff := cmp.Diff(tt.want, h.statuses(t)); diff != "" {
				t.Errorf("callback statuses (-want, +got):\n%s", diff)
			}
			sent := s.Sent()
			last := h.requests()[len(tt.want)-1].Form
			want := url.Values{
				"MessageSid":        {sent[0].SID},
				"SmsSid":            {sent[0].SID},
				"AccountSid":        {accountSID},
				"From":              {sender},
				"To":                {"whatsapp:" + tt.to},
				"MessageStatus":     {tt.want[len(tt.want)-1]},
				"SmsStatus":         {tt.want[len(tt.want)-1]},
				"ApiVersion":        {"2010-04-01"},
				"ChannelPrefix":     {"whatsapp"},
				"ChannelToAddress":  {tt.to},
				"StructuredMessage": {"false"},
			}
			if tt.to == standin.NumberFailsLater {
				want.Set("ErrorCode", "30008")
			}
			if diff := cmp.Diff(want, last); diff != "" {
				t.Errorf("last callback form (-want, +got):\n%s", diff)
			}
			if got := sent[0].Status; got != tt.want[len(tt.want)-1] {
				t.Errorf("stored status = %q, want %q", got, tt.want[len(tt.want)-1])
			}
		})
	}
}

func TestStatusCallbacks_retries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		overrides string // the callback URL's connection overrides
		answer    func(n int, form url.Values) int
		want      []string
	}{
		{
			name:      "server_errors_retried",
			overrides: "#rc=3&rp=ct,5xx",
			answer: func(n int, _ url.Values) int {
				switch n { // n=1 is the first "sent"
				case 1:
					return http.StatusInternalServerError
				case 2:
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			},
			want: []string{"queued", "sent", "sent", "sent", "delivered", "read"},
		},
		{
			name:      "client_errors_not_retried",
			overrides: "#rc=3&rp=ct,5xx",
			answer:    func(n int, _ url.Values) int { return 403 },
			want:      []string{"queued", "sent", "delivered", "read"},
		},
		{
			name:      "client_errors_retried_when_asked",
			overrides: "#rc=1&rp=all",
			answer:    func(n int, _ url.Values) int { return 403 },
			want:      []string{"queued", "queued", "sent", "sent", "delivered", "delivered", "read", "read"},
		},
		{
			// Twilio's defaults (rc=1, rp=ct): an answer is never retried.
			name:   "server_errors_not_retried_without_overrides",
			answer: func(n int, _ url.Values) int { return http.StatusServiceUnavailable },
			want:   []string{"queued", "sent", "delivered", "read"},
		},
		{
			name:      "given_up_after_four_attempts",
			overrides: "#rc=3&rp=5xx",
			answer: func(n int, f url.Values) int {
				if f.Get("MessageStatus") == "sent" {
					return http.StatusBadGateway
				}
				return http.StatusOK
			},
			want: []string{"queued", "sent", "sent", "sent", "sent", "delivered", "read"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHook(t, tt.answer)
			s, u := start(t, standin.Config{StatusStep: 2 * time.Millisecond})
			s.OpenWindow(ada, sender)
			if _, err := provider(t, u).Send(t.Context(), sms.Request{To: ada, Body: "Hi", StatusCallback: h.url + tt.overrides}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "every callback", func() bool { return len(h.requests()) == len(tt.want) })
			s.Close()

			if diff := cmp.Diff(tt.want, h.statuses(t)); diff != "" {
				t.Errorf("callback statuses (-want, +got):\n%s", diff)
			}
			// A retry carries the same idempotency token; another status, another.
			tokens := make(map[string]string)
			for _, r := range h.requests() {
				st := r.Form.Get("MessageStatus")
				if prev, ok := tokens[st]; ok && prev != r.Idem {
					t.Errorf("retries of %q carry tokens %q and %q", st, prev, r.Idem)
				}
				tokens[st] = r.Idem
			}
			if len(tokens) != 4 || tokens["queued"] == tokens["sent"] {
				t.Errorf("idempotency tokens = %v, want one per status", tokens)
			}
		})
	}
}

func TestClose_stops_pending_callbacks(t *testing.T) {
	t.Parallel()
	h := newHook(t, nil)
	s, u := start(t, standin.Config{StatusStep: time.Hour})
	if _, err := provider(t, u).Send(t.Context(), sms.Request{To: ada, Body: "Hi", StatusCallback: h.url}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close() did not return")
	}
	if got := h.requests(); len(got) != 0 {
		t.Errorf("callbacks after Close: %d", len(got))
	}
}

func TestInbound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantForm    url.Values // the fields checked
	}{
		{
			name:        "form",
			contentType: "application/x-www-form-urlencoded",
			body:        url.Values{"From": {ada}, "Body": {"STOP"}}.Encode(),
			wantStatus:  200,
			wantForm: url.Values{
				"From": {"whatsapp:" + ada}, "To": {standin.DefaultInboundTo}, "Body": {"STOP"},
				"WaId": {"94771234577"}, "NumMedia": {"0"}, "AccountSid": {accountSID}, "SmsStatus": {"received"},
			},
		},
		{
			name:        "json_with_channel_and_sid",
			contentType: "application/json",
			body:        `{"from":"whatsapp:+94771234577","body":"START","To":"+14155550100","MessageSid":"SMfixed","ProfileName":"Ada"}`,
			wantStatus:  200,
			wantForm: url.Values{
				"From": {"whatsapp:" + ada}, "To": {"whatsapp:+14155550100"}, "Body": {"START"},
				"MessageSid": {"SMfixed"}, "SmsMessageSid": {"SMfixed"}, "ProfileName": {"Ada"},
			},
		},
		{name: "no_from", contentType: "application/x-www-form-urlencoded", body: "Body=STOP", wantStatus: 400},
		{name: "bad_from", contentType: "application/json", body: `{"From":"0771234577","Body":"STOP"}`, wantStatus: 400},
		{name: "bad_json", contentType: "application/json", body: `{"From":1}`, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHook(t, nil)
			_, u := start(t, standin.Config{InboundURL: h.url})

			status, ans := postInbound(t, u, tt.contentType, tt.body)

			if status != tt.wantStatus {
				t.Fatalf("POST /_standin/inbound = %d %+v, want %d", status, ans, tt.wantStatus)
			}
			got := h.requests()
			if tt.wantForm == nil {
				if len(got) != 0 || ans.Error == "" {
					t.Errorf("rejected inbound reached the webhook (%d) or has no error (%+v)", len(got), ans)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("webhook got %d requests, want 1", len(got))
			}
			if !smstwilio.ValidSignature(authToken, h.url, got[0].Form, got[0].Signature) {
				t.Errorf("inbound signature %q does not validate", got[0].Signature)
			}
			gotFields := url.Values{}
			for k := range tt.wantForm {
				gotFields[k] = got[0].Form[k]
			}
			if diff := cmp.Diff(tt.wantForm, gotFields); diff != "" {
				t.Errorf("inbound form (-want, +got):\n%s", diff)
			}
			wantAns := inboundAnswer{MessageSID: got[0].Form.Get("MessageSid"), WebhookStatus: 200, WebhookResponse: "<Response></Response>"}
			if diff := cmp.Diff(wantAns, ans); diff != "" {
				t.Errorf("answer (-want, +got):\n%s", diff)
			}
		})
	}
}

type inboundAnswer struct {
	MessageSID      string `json:"message_sid"`
	WebhookStatus   int    `json:"webhook_status"`
	WebhookResponse string `json:"webhook_response"`
	Error           string `json:"error"`
}

func postInbound(t *testing.T, base, contentType, body string) (int, inboundAnswer) {
	t.Helper()
	resp, err := testClient.Post(base+"/_standin/inbound", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans inboundAnswer
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatalf("answer: %v", err)
	}
	return resp.StatusCode, ans
}

func TestInbound_nowhere_to_post(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	tests := []struct {
		name       string
		inboundURL string
		wantStatus int
	}{
		{name: "no_inbound_url", wantStatus: http.StatusServiceUnavailable},
		{name: "webhook_down", inboundURL: down.URL + "/webhooks/inbound", wantStatus: http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, u := start(t, standin.Config{InboundURL: tt.inboundURL})
			status, ans := postInbound(t, u, "application/x-www-form-urlencoded", "From=%2B94771234577&Body=hi")
			if status != tt.wantStatus || ans.Error == "" {
				t.Errorf("POST /_standin/inbound = %d %+v, want %d with an error", status, ans, tt.wantStatus)
			}
		})
	}
}

func TestStandinMessages(t *testing.T) {
	t.Parallel()
	_, u := start(t, standin.Config{StatusStep: time.Hour})
	p := provider(t, u)
	for _, to := range []string{ada, "+94771234588", ada} {
		if _, err := p.Send(t.Context(), sms.Request{To: to, Body: "Hi " + to, StatusCallback: "http://127.0.0.1:1/status"}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{name: "all", want: []string{"Hi " + ada, "Hi +94771234588", "Hi " + ada}},
		{name: "to_one", query: "?to=%2B94771234588", want: []string{"Hi +94771234588"}},
		{name: "to_nobody", query: "?to=whatsapp:%2B1555", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := testClient.Get(u + "/_standin/messages" + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var ms []map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, m := range ms {
				got = append(got, m["body"].(string))
				for _, k := range []string{"sid", "to", "from", "status", "status_callback"} {
					if m[k] == "" || m[k] == nil {
						t.Errorf("message lacks %q: %v", k, m)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("bodies (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	h := newHook(t, nil)
	s, u := start(t, standin.Config{StatusStep: time.Millisecond})
	p := provider(t, u)
	const n = 40
	var wg sync.WaitGroup
	sids := make(chan string, n)
	for i := range n {
		s.OpenWindow(fmt.Sprintf("+9477%07d", i), sender)
	}
	for i := range n {
		wg.Go(func() {
			res, err := p.Send(t.Context(), sms.Request{To: fmt.Sprintf("+9477%07d", i), Body: "Hi", StatusCallback: h.url})
			if err != nil {
				t.Errorf("Send(#%d) error = %v", i, err)
				return
			}
			sids <- res.SID
		})
		wg.Go(func() { _, _ = p.SentTo(t.Context(), fmt.Sprintf("+9477%07d", i), time.Now().Add(-time.Hour)) })
		wg.Go(func() { _ = s.Sent() })
	}
	wg.Wait()
	close(sids)
	unique := make(map[string]bool)
	for sid := range sids {
		unique[sid] = true
	}
	if len(unique) != n || len(s.Sent()) != n {
		t.Errorf("%d unique SIDs, %d stored; want %d", len(unique), len(s.Sent()), n)
	}
	waitFor(t, "every callback", func() bool { return len(h.requests()) == 4*n })
}

func TestLogs_hold_no_number_or_body(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var failed atomic.Bool
	h := newHook(t, func(_ int, f url.Values) int {
		if f.Get("MessageStatus") == "sent" && !failed.Swap(true) {
			return http.StatusInternalServerError // for a retry's log line
		}
		return http.StatusOK
	})
	s, u := start(t, standin.Config{StatusStep: time.Millisecond, InboundURL: h.url, Logger: logger})
	p := provider(t, u)
	s.OpenWindow(standin.NumberFailsLater, "")
	post(t, u+"/_standin/window", url.Values{"From": {ada}})
	const secret = "secret body text"
	for _, to := range []string{ada, standin.NumberInvalid, standin.NumberFailsLater} {
		_, _ = p.Send(context.Background(), sms.Request{To: to, Body: secret, StatusCallback: h.url + "#rc=1&rp=5xx"})
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	_, _ = p.Send(context.Background(), sms.Request{To: ada, Body: secret, StatusCallback: down.URL + "/status?tenant=demo"})
	postInbound(t, u, "application/x-www-form-urlencoded", url.Values{"From": {ada}, "Body": {secret}}.Encode())
	logs := func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
	waitFor(t, "every callback", func() bool { return len(h.requests()) >= 9 })
	waitFor(t, "a failed callback", func() bool { return strings.Contains(logs(), "connection refused") })
	s.Close()

	for _, leak := range []string{"94771234577", "15005550001", "15005550012", secret, "tenant=demo"} {
		if strings.Contains(logs(), leak) {
			t.Errorf("logs hold %q:\n%s", leak, logs())
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Send through the adapter reports the stand-in's faults with the kinds
// the sender decides on.
func TestFaults_through_adapter(t *testing.T) {
	t.Parallel()
	_, u := start(t, standin.Config{StatusStep: time.Hour})
	p := provider(t, u)
	tests := []struct {
		to       string
		wantKind errs.Kind
		wantCode string
	}{
		{to: standin.NumberInvalid, wantKind: errs.Permanent, wantCode: "21211"},
		{to: standin.NumberBlocked, wantKind: errs.Permanent, wantCode: "21610"},
		{to: standin.NumberNotMobile, wantKind: errs.Permanent, wantCode: "21614"},
		{to: standin.NumberLostAnswer, wantKind: errs.Transient, wantCode: "20503"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.to, "+"), func(t *testing.T) {
			t.Parallel()
			_, err := p.Send(t.Context(), sms.Request{To: tt.to, Body: "Hi"})
			if errs.KindOf(err) != tt.wantKind || smstwilio.Code(err) != tt.wantCode {
				t.Errorf("Send() error = %v (kind %v, code %q), want kind %v code %q", err, errs.KindOf(err), smstwilio.Code(err), tt.wantKind, tt.wantCode)
			}
		})
	}
}

// A send to NumberNoAnswer is never answered and leaves nothing: the
// adapter gives up at its timeout (transient: the outcome unknown), and
// the list shows no such send (the outcome was absent).
func TestNoAnswer_through_adapter(t *testing.T) {
	t.Parallel()
	s, u := start(t, standin.Config{StatusStep: time.Hour})
	p, err := smstwilio.New(smstwilio.Config{AccountSID: accountSID, AuthToken: authToken, From: sender, APIURL: u,
		HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if _, err := p.Send(t.Context(), sms.Request{To: standin.NumberNoAnswer, Body: "Hi"}); !errs.Is(err, errs.Transient) {
		t.Errorf("Send() error = %v, want transient (the client's timeout)", err)
	}
	// Listed with the usual timeout: the short one is for the send.
	listed, err := provider(t, u).SentTo(t.Context(), standin.NumberNoAnswer, before.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 0 || len(s.Sent()) != 0 {
		t.Errorf("listed %v, stand-in holds %d; want nothing created", listed, len(s.Sent()))
	}
}
