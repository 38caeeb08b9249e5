package twilio_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/emulators/twilio/twiliotest"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sms"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef"
	sender     = "whatsapp:+14155238886"
	service    = "MG0123456789abcdef0123456789abcdef"
	content    = "HX0123456789abcdef0123456789abcdef"
)

// startStandin serves a stand-in for accountSID until the test ends.
func startStandin(t *testing.T, step time.Duration) (*standin.Server, string) {
	t.Helper()
	s := standin.New(standin.Config{
		AccountSID: accountSID,
		AuthToken:  authToken,
		StatusStep: step,
		Logger:     slog.New(slog.DiscardHandler),
	})
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return s, ts.URL
}

func newProvider(t *testing.T, apiURL, token string) *twilio.Provider {
	t.Helper()
	p, err := twilio.New(twilio.Config{AccountSID: accountSID, AuthToken: token, From: sender, APIURL: apiURL})
	if err != nil {
		t.Fatalf("twilio.New: %v", err)
	}
	return p
}

// closedURL is an address where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestNew(t *testing.T) {
	t.Parallel()
	ok := twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: sender}
	tests := []struct {
		name    string
		edit    func(*twilio.Config)
		wantErr bool
	}{
		{name: "real_twilio", edit: func(*twilio.Config) {}},
		{name: "stand_in", edit: func(c *twilio.Config) { c.APIURL = "http://127.0.0.1:48080" }},
		{name: "no_account", edit: func(c *twilio.Config) { c.AccountSID = "" }, wantErr: true},
		{name: "account_with_symbols", edit: func(c *twilio.Config) { c.AccountSID = "AC-1" }, wantErr: true},
		{name: "no_token", edit: func(c *twilio.Config) { c.AuthToken = "" }, wantErr: true},
		{name: "no_sender", edit: func(c *twilio.Config) { c.From = "" }, wantErr: true},
		{name: "messaging_service", edit: func(c *twilio.Config) { c.From, c.MessagingServiceSID = "", service }},
		{name: "from_and_service", edit: func(c *twilio.Config) { c.MessagingServiceSID = service }, wantErr: true},
		{name: "bad_service_sid", edit: func(c *twilio.Config) { c.From, c.MessagingServiceSID = "", "MG123" }, wantErr: true},
		{name: "relative_api_url", edit: func(c *twilio.Config) { c.APIURL = "127.0.0.1:48080" }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.edit(&cfg)
			_, err := twilio.New(cfg)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("New() error = %v, want error: %t", err, tt.wantErr)
			}
			if err != nil && !errs.Is(err, errs.Invalid) {
				t.Errorf("New() error kind = %v, want invalid", errs.KindOf(err))
			}
		})
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		to         string
		wantKind   errs.Kind // Other: no error
		wantCode   string
		wantStatus int
		wantStored bool
	}{
		{name: "accepted", to: "+94771234577", wantStored: true},
		{name: "accepted_with_channel", to: "whatsapp:+94771234578", wantStored: true},
		{name: "invalid_number", to: standin.NumberInvalid, wantKind: errs.Permanent, wantCode: "21211", wantStatus: 400},
		{name: "unsubscribed", to: standin.NumberBlocked, wantKind: errs.Permanent, wantCode: "21610", wantStatus: 400},
		{name: "not_mobile", to: standin.NumberNotMobile, wantKind: errs.Permanent, wantCode: "21614", wantStatus: 400},
		{name: "malformed_number", to: "0771234577", wantKind: errs.Permanent, wantCode: "21211", wantStatus: 400},
		{name: "answer_lost", to: standin.NumberLostAnswer, wantKind: errs.Transient, wantCode: "20503", wantStatus: 503, wantStored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, url := startStandin(t, time.Hour)
			p := newProvider(t, url, authToken)
			req := sms.Request{To: tt.to, Body: "Hello Ada", StatusCallback: "https://example.com/webhooks/status"}

			res, err := p.Send(t.Context(), req)

			if tt.wantKind == errs.Other {
				if err != nil {
					t.Fatalf("Send() error = %v", err)
				}
				if !strings.HasPrefix(res.SID, "SM") || len(res.SID) != 34 || res.Status != "queued" {
					t.Errorf("Send() = %+v, want an SM sid and status queued", res)
				}
			} else {
				if got := errs.KindOf(err); got != tt.wantKind {
					t.Fatalf("Send() error = %v, kind %v, want %v", err, got, tt.wantKind)
				}
				if got := twilio.Code(err); got != tt.wantCode {
					t.Errorf("Code() = %q, want %q", got, tt.wantCode)
				}
				var pe *sms.ProviderError
				// None of these is certainly uncreated: the lost answer's
				// message exists, and a rejection concludes the message.
				if !errors.As(err, &pe) || pe.Status != tt.wantStatus || pe.NotCreated {
					t.Errorf("Send() error = %#v, want a *sms.ProviderError with status %d, not NotCreated", err, tt.wantStatus)
				}
				if bare := strings.TrimPrefix(tt.to, "whatsapp:"); strings.Contains(err.Error(), bare[1:]) {
					t.Errorf("Send() error %q holds the whole number", err)
				}
			}

			var got []standin.Message
			for _, m := range s.Sent() {
				m.SID, m.DateCreated, m.DateUpdated = "", time.Time{}, time.Time{}
				got = append(got, m)
			}
			var want []standin.Message
			if tt.wantStored {
				want = []standin.Message{{
					To:             "whatsapp:" + strings.TrimPrefix(tt.to, "whatsapp:"),
					From:           sender,
					Body:           "Hello Ada",
					Status:         "queued",
					StatusCallback: "https://example.com/webhooks/status",
					// Twilio names the Default Messaging Service on a From send.
					MessagingServiceSID: standin.DefaultServiceSID,
				}}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stand-in holds (-want, +got):\n%s", diff)
			}
		})
	}
}

// A sender whose queue is full refuses more for now (21611): the caller
// may try again once it drains, so the error is transient.
func TestSend_sender_queue_full(t *testing.T) {
	t.Parallel()
	s := standin.New(standin.Config{AccountSID: accountSID, AuthToken: authToken, StatusStep: time.Hour,
		SenderMPS: 0.001, SenderQueue: 1, Logger: slog.New(slog.DiscardHandler)})
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	p := newProvider(t, ts.URL, authToken)
	req := sms.Request{To: "+94771234577", ContentSID: content}
	if _, err := p.Send(t.Context(), req); err != nil {
		t.Fatalf("first Send() error = %v", err)
	}

	_, err := p.Send(t.Context(), req)

	var pe *sms.ProviderError
	got := []any{errs.KindOf(err), twilio.Code(err), errors.As(err, &pe) && pe.NotCreated}
	if diff := cmp.Diff([]any{errs.Transient, "21611", true}, got); diff != "" {
		t.Errorf("Send() to a full queue: %v; kind, code, not created (-want, +got):\n%s", err, diff)
	}
}

// Throttled (429), Twilio made no message: the caller may release its
// claim at once.
func TestSend_throttled(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"code": 20429, "message": "Too Many Requests", "status": 429}`)
	}))
	t.Cleanup(ts.Close)
	p := newProvider(t, ts.URL, authToken)

	_, err := p.Send(t.Context(), sms.Request{To: "+94771234577", Body: "Hi"})

	var pe *sms.ProviderError
	got := []any{errs.KindOf(err), twilio.Code(err), errors.As(err, &pe) && pe.NotCreated}
	if diff := cmp.Diff([]any{errs.Transient, "20429", true}, got); diff != "" {
		t.Errorf("Send() throttled: %v; kind, code, not created (-want, +got):\n%s", err, diff)
	}
}

// An approved template goes as ContentSid and ContentVariables, never as
// Body; a Messaging Service replaces From.
func TestSend_content_and_service(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  twilio.Config // sender fields
		req  sms.Request
		want standin.Message // sender and content fields
	}{
		{
			name: "content_from_number",
			cfg:  twilio.Config{From: sender},
			req:  sms.Request{Body: "Hi Ada", ContentSID: content, ContentVariables: map[string]string{"1": "Ada", "2": "Colombo"}},
			want: standin.Message{From: sender, MessagingServiceSID: standin.DefaultServiceSID, ContentSID: content, ContentVariables: map[string]string{"1": "Ada", "2": "Colombo"}},
		},
		{
			name: "content_without_variables",
			cfg:  twilio.Config{From: sender},
			req:  sms.Request{Body: "Your order shipped", ContentSID: content},
			want: standin.Message{From: sender, MessagingServiceSID: standin.DefaultServiceSID, ContentSID: content},
		},
		{
			name: "body_through_service",
			cfg:  twilio.Config{MessagingServiceSID: service},
			req:  sms.Request{Body: "Hi Ada"},
			want: standin.Message{From: standin.ServiceSender, Body: "Hi Ada", MessagingServiceSID: service},
		},
		{
			name: "content_through_service",
			cfg:  twilio.Config{MessagingServiceSID: service},
			req:  sms.Request{Body: "Hi Ada", ContentSID: content, ContentVariables: map[string]string{"1": "Ada"}},
			want: standin.Message{From: standin.ServiceSender, MessagingServiceSID: service, ContentSID: content, ContentVariables: map[string]string{"1": "Ada"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, url := startStandin(t, time.Hour)
			cfg := tt.cfg
			cfg.AccountSID, cfg.AuthToken, cfg.APIURL = accountSID, authToken, url
			p, err := twilio.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			req := tt.req
			req.To = "+94771234577"
			res, err := p.Send(t.Context(), req)
			if err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			sent := s.Sent()
			if len(sent) != 1 {
				t.Fatalf("stand-in holds %d messages, want 1", len(sent))
			}
			want := tt.want
			want.SID, want.To, want.Status, want.DateCreated, want.DateUpdated = res.SID, "whatsapp:+94771234577", "queued", sent[0].DateCreated, sent[0].DateUpdated
			if diff := cmp.Diff(want, sent[0]); diff != "" {
				t.Errorf("stand-in holds (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestSend_transport_failures(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	_, live := startStandin(t, time.Hour)
	tests := []struct {
		name   string
		url    string
		ctx    context.Context
		wantIs error
	}{
		{name: "nothing_listens", url: closedURL(t), ctx: t.Context()},
		{name: "context_cancelled", url: live, ctx: cancelled, wantIs: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t, tt.url, authToken)
			_, err := p.Send(tt.ctx, sms.Request{To: "+94771234577", Body: "Hi"})
			if !errs.Is(err, errs.Transient) {
				t.Fatalf("Send() error = %v, want a transient error", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Send() error = %v, want one that is %v", err, tt.wantIs)
			}
			if got := twilio.Code(err); got != "" {
				t.Errorf("Code() = %q, want none", got)
			}
		})
	}
}

func TestSend_timeout(t *testing.T) {
	t.Parallel()
	apiURL := twiliotest.Hanging(t)
	p, err := twilio.New(twilio.Config{
		AccountSID: accountSID, AuthToken: authToken, From: sender, APIURL: apiURL,
		HTTPClient: &http.Client{Timeout: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Send(t.Context(), sms.Request{To: "+94771234577", Body: "Hi"})
	if !errs.Is(err, errs.Transient) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send() error = %v, want a transient deadline error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Send() took %v, want about the 50ms timeout", took)
	}
}

func TestSend_server_error_without_twilio_body(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html>bad gateway</html>")
	}))
	t.Cleanup(ts.Close)
	p := newProvider(t, ts.URL, authToken)
	_, err := p.Send(t.Context(), sms.Request{To: "+94771234577", Body: "Hi"})
	if !errs.Is(err, errs.Transient) {
		t.Errorf("Send() error = %v, want transient", err)
	}
}

// waitFor polls cond until it holds or a few seconds pass.
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

func allSent(s *standin.Server) func() bool {
	return func() bool {
		for _, m := range s.Sent() {
			if m.DateSent.IsZero() {
				return false
			}
		}
		return true
	}
}

func TestSentTo(t *testing.T) {
	t.Parallel()
	const ada, bob = "+94771234577", "+94771234588"
	tests := []struct {
		name  string
		step  time.Duration // how fast the stand-in moves messages on
		sends []string      // recipients, in order
		phone string
		since time.Duration // relative to before the first send
		want  int
	}{
		{name: "sent_messages", step: time.Millisecond, sends: []string{ada, bob, ada}, phone: ada, since: -time.Minute, want: 2},
		{name: "still_queued_messages", step: time.Hour, sends: []string{ada, bob, ada}, phone: ada, since: -time.Minute, want: 2},
		{name: "other_number", step: time.Millisecond, sends: []string{ada, ada}, phone: bob, since: -time.Minute, want: 0},
		{name: "created_before_since", step: time.Millisecond, sends: []string{ada, ada}, phone: ada, since: time.Hour, want: 0},
		{name: "since_within_the_same_second", step: time.Millisecond, sends: []string{ada}, phone: ada, since: 0, want: 1},
		{name: "since_yesterday", step: time.Millisecond, sends: []string{ada}, phone: ada, since: -25 * time.Hour, want: 1},
		{name: "more_than_a_page", step: time.Millisecond, sends: repeat(ada, 60), phone: ada, since: -time.Minute, want: 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, url := startStandin(t, tt.step)
			p := newProvider(t, url, authToken)
			s.OpenWindow(ada, sender) // free text: they wrote first
			s.OpenWindow(bob, sender)
			before := time.Now()
			sids := make(map[string]bool)
			for i, to := range tt.sends {
				res, err := p.Send(t.Context(), sms.Request{To: to, Body: "Hello " + to})
				if err != nil {
					t.Fatalf("Send(#%d) error = %v", i, err)
				}
				if to == tt.phone {
					sids[res.SID] = true
				}
			}
			if tt.step < time.Second {
				waitFor(t, "the messages to be sent", allSent(s))
			}

			got, err := p.SentTo(t.Context(), tt.phone, before.Add(tt.since))
			if err != nil {
				t.Fatalf("SentTo() error = %v", err)
			}

			if len(got) != tt.want {
				t.Fatalf("SentTo() returned %d messages, want %d", len(got), tt.want)
			}
			for i, m := range got {
				if !sids[m.SID] || m.To != tt.phone || m.Body != "Hello "+tt.phone {
					t.Errorf("SentTo()[%d] = %+v, want one of our messages to %s", i, m, tt.phone)
				}
				if i > 0 && m.DateCreated.Before(got[i-1].DateCreated) {
					t.Errorf("SentTo() not oldest first at %d", i)
				}
				delete(sids, m.SID) // each message once
			}
		})
	}
}

// A message Twilio accepted and failed later is listed with its code.
func TestSentTo_failed_message(t *testing.T) {
	t.Parallel()
	const ada = "+94771234577"
	tests := []struct {
		name     string
		to       string
		wrote    bool // the person wrote first: free text may reach them
		wantCode string
	}{
		{name: "failed_later", to: standin.NumberFailsLater, wrote: true, wantCode: "30008"},
		{name: "outside_the_window", to: ada, wantCode: "63016"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, url := startStandin(t, time.Millisecond)
			p := newProvider(t, url, authToken)
			if tt.wrote {
				s.OpenWindow(tt.to, sender)
			}
			res, err := p.Send(t.Context(), sms.Request{To: tt.to, Body: "Hi"})
			if err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			waitFor(t, "the failure", func() bool { m := s.Sent(); return len(m) == 1 && m[0].Status == "failed" })

			got, err := p.SentTo(t.Context(), tt.to, time.Now().Add(-time.Minute))
			if err != nil {
				t.Fatalf("SentTo() error = %v", err)
			}
			for i := range got {
				got[i].DateCreated = time.Time{}
			}
			want := []sms.Sent{{SID: res.SID, To: tt.to, From: strings.TrimPrefix(sender, "whatsapp:"), Service: standin.DefaultServiceSID, Body: "Hi", Status: "failed", ErrorCode: tt.wantCode}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("SentTo() (-want, +got):\n%s", diff)
			}
		})
	}
}

// SentTo lists only what our own sender sent: the same account's other
// number, or a Messaging Service other than ours, is never evidence of
// our send. In From mode the service is not looked at: Twilio names the
// account's Default Messaging Service on a send with From (the stand-in
// does too), and a send through a service from our own number's pool is
// from our number all the same.
func TestSentTo_only_our_sender(t *testing.T) {
	t.Parallel()
	const ada = "+94771234577"
	other := "whatsapp:+14155550199"
	otherService := "MG" + strings.Repeat("0", 31) + "1"
	senders := map[string]twilio.Config{
		"our_number":    {From: sender},
		"other_number":  {From: other},
		"our_service":   {MessagingServiceSID: service},
		"other_service": {MessagingServiceSID: otherService},
	}
	for _, tc := range []struct {
		name string
		us   string   // which of senders is ours
		want []string // the senders whose sends SentTo lists
	}{
		// The services' pool sends from our number (standin.ServiceSender).
		{"from_a_number", "our_number", []string{"other_service", "our_number", "our_service"}},
		{"through_a_service", "our_service", []string{"our_service"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, url := startStandin(t, time.Hour)
			s.OpenWindow(ada, sender)
			s.OpenWindow(ada, other)
			s.OpenWindow(ada, standin.ServiceSender)
			sidOf := map[string]string{}
			for name, cfg := range senders {
				cfg.AccountSID, cfg.AuthToken, cfg.APIURL = accountSID, authToken, url
				p, err := twilio.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				res, err := p.Send(t.Context(), sms.Request{To: ada, Body: "Hi"})
				if err != nil {
					t.Fatalf("Send(%s) error = %v", name, err)
				}
				sidOf[res.SID] = name
			}
			cfg := senders[tc.us]
			cfg.AccountSID, cfg.AuthToken, cfg.APIURL = accountSID, authToken, url
			p, err := twilio.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.SentTo(t.Context(), ada, time.Now().Add(-time.Minute))
			if err != nil {
				t.Fatalf("SentTo() error = %v", err)
			}
			var names []string
			for _, m := range got {
				if sidOf[m.SID] == "our_number" && m.Service != standin.DefaultServiceSID {
					t.Errorf("SentTo() lists our From send with service %q, want the default service %s", m.Service, standin.DefaultServiceSID)
				}
				names = append(names, sidOf[m.SID])
			}
			slices.Sort(names)
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("SentTo() of 4 senders' sends (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestSentTo_wrong_token(t *testing.T) {
	t.Parallel()
	_, url := startStandin(t, time.Hour)
	p := newProvider(t, url, "wrongtoken")
	_, err := p.SentTo(t.Context(), "+94771234577", time.Now())
	if twilio.Code(err) != "20003" || !errs.Is(err, errs.Transient) {
		t.Errorf("SentTo() error = %v, want a transient 20003", err)
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	_, live := startStandin(t, time.Hour)
	tests := []struct {
		name     string
		url      string
		token    string
		wantErr  bool
		wantCode string
	}{
		{name: "answers", url: live, token: authToken},
		{name: "wrong_token", url: live, token: "wrongtoken", wantErr: true, wantCode: "20003"},
		{name: "unreachable", url: closedURL(t), token: authToken, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := newProvider(t, tt.url, tt.token).Ready(t.Context())
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("Ready() error = %v, want error: %t", err, tt.wantErr)
			}
			if got := twilio.Code(err); got != tt.wantCode {
				t.Errorf("Code() = %q, want %q", got, tt.wantCode)
			}
			if err != nil && !errs.Is(err, errs.Transient) {
				t.Errorf("Ready() error kind = %v, want transient", errs.KindOf(err))
			}
		})
	}
}

func TestCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "nil", err: nil, want: ""},
		{name: "plain", err: errors.New("boom"), want: ""},
		{name: "wrapped_provider_error", err: errs.Wrap(errs.Permanent, &sms.ProviderError{Code: "21610"}, "send"), want: "21610"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := twilio.Code(tt.err); got != tt.want {
				t.Errorf("Code() = %q, want %q", got, tt.want)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
