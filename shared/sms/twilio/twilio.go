// Package twilio is the sms.Provider for Twilio's WhatsApp API, through
// the official twilio-go client. It also validates (and, for the local
// stand-in and tests, computes) the X-Twilio-Signature of webhooks.
package twilio

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sms"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// Channel is the address prefix of WhatsApp numbers at Twilio.
const Channel = "whatsapp:"

// DefaultTimeout bounds each call to Twilio's API (a send, a list)
// when the Config's HTTPClient sets none: a send's outcome is unknown
// only for this long after it starts.
const DefaultTimeout = 15 * time.Second

const (
	// recentPage is how many of a number's newest messages SentTo reads
	// besides the date-filtered list (see SentTo).
	recentPage = 20
)

// Config says which account to use and where Twilio is.
type Config struct {
	AccountSID string
	AuthToken  string
	// Exactly one sender: From, our WhatsApp number (e.g.
	// "whatsapp:+14155238886"), or MessagingServiceSID (MG...), a
	// Messaging Service whose sender pool holds it.
	From                string
	MessagingServiceSID string
	// APIURL is empty for the real Twilio, else the base URL of a stand-in
	// (e.g. http://127.0.0.1:48080) that receives every API call.
	APIURL string
	// HTTPClient is optional; its Transport and Timeout are used.
	HTTPClient *http.Client
}

// Provider sends WhatsApp messages through Twilio. It is safe for
// concurrent use.
type Provider struct {
	accountSID string
	authToken  string
	from       string // "" when sending through service
	service    string
	apiURL     *url.URL // nil: real Twilio
	base       http.RoundTripper
	timeout    time.Duration
}

var _ sms.Provider = (*Provider)(nil)

// twilio-go refuses (with a 400-shaped error, after the fact) credentials
// that are not alphanumeric; say so at start-up instead.
var alphanumeric = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// messagingServiceSID is how Twilio names a Messaging Service.
var messagingServiceSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)

// New checks cfg and returns a Provider.
func New(cfg Config) (*Provider, error) {
	if !alphanumeric.MatchString(cfg.AccountSID) {
		return nil, errs.E(errs.Invalid, "twilio.New: account SID must be non-empty and alphanumeric")
	}
	if !alphanumeric.MatchString(cfg.AuthToken) {
		return nil, errs.E(errs.Invalid, "twilio.New: auth token must be non-empty and alphanumeric")
	}
	switch {
	case cfg.From == "" && cfg.MessagingServiceSID == "":
		return nil, errs.E(errs.Invalid, "twilio.New: a sender is required: a From number or a Messaging Service SID")
	case cfg.From != "" && cfg.MessagingServiceSID != "":
		return nil, errs.E(errs.Invalid, "twilio.New: give a From number or a Messaging Service SID, not both")
	case cfg.MessagingServiceSID != "" && !messagingServiceSID.MatchString(cfg.MessagingServiceSID):
		return nil, errs.E(errs.Invalid, "twilio.New: a Messaging Service SID is MG followed by 32 hex digits")
	}
	p := &Provider{
		accountSID: cfg.AccountSID,
		authToken:  cfg.AuthToken,
		service:    cfg.MessagingServiceSID,
		base:       http.DefaultTransport,
		timeout:    DefaultTimeout,
	}
	if cfg.From != "" {
		p.from = withChannel(cfg.From)
	}
	if cfg.APIURL != "" {
		u, err := url.Parse(cfg.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errs.E(errs.Invalid, "twilio.New: API URL %q is not an absolute http(s) URL", cfg.APIURL)
		}
		p.apiURL = u
	}
	if c := cfg.HTTPClient; c != nil {
		if c.Transport != nil {
			p.base = c.Transport
		}
		if c.Timeout > 0 {
			p.timeout = c.Timeout
		}
	}
	return p, nil
}

// Send asks Twilio to send one WhatsApp message: its Body, or an approved
// template (ContentSid) with its ContentVariables, from our number or
// through our Messaging Service. A Transient error means the outcome is
// unknown (Twilio may hold the message): reconcile with SentTo before
// sending again.
func (p *Provider) Send(ctx context.Context, r sms.Request) (sms.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	params := (&api.CreateMessageParams{}).SetTo(withChannel(r.To))
	if p.service != "" {
		params.SetMessagingServiceSid(p.service)
	} else {
		params.SetFrom(p.from)
	}
	if r.ContentSID != "" {
		params.SetContentSid(r.ContentSID)
		if len(r.ContentVariables) > 0 {
			vars, err := json.Marshal(r.ContentVariables)
			if err != nil {
				return sms.Result{}, errs.Wrap(errs.Permanent, err, "twilio.Send: content variables")
			}
			params.SetContentVariables(string(vars))
		}
	} else {
		params.SetBody(r.Body)
	}
	if r.StatusCallback != "" {
		params.SetStatusCallback(r.StatusCallback)
	}
	m, err := p.api(ctx).CreateMessage(params)
	if err != nil {
		return sms.Result{}, classify("twilio.Send", err)
	}
	if m.Sid == nil || *m.Sid == "" {
		return sms.Result{}, errs.E(errs.Transient, "twilio.Send: the answer has no message SID")
	}
	return sms.Result{SID: *m.Sid, Status: deref(m.Status)}, nil
}

// SentTo lists the messages sent to phone from our sender (our From
// number, or through our Messaging Service) that were created at or after
// since, oldest first.
//
// Twilio filters only on date_sent, by whole UTC days, and a message it
// still queues has no date_sent yet; so SentTo reads the day-filtered list
// and the number's newest page, and keeps what was created since.
func (p *Provider) SentTo(ctx context.Context, phone string, since time.Time) ([]sms.Sent, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	to := withChannel(phone)
	svc := p.api(ctx)
	day := since.UTC().Truncate(24 * time.Hour)
	dated, err := svc.ListMessage((&api.ListMessageParams{}).SetTo(to).SetDateSentAfter(day))
	if err != nil {
		return nil, classify("twilio.SentTo", err)
	}
	recent, err := svc.PageMessage((&api.ListMessageParams{}).SetTo(to).SetPageSize(recentPage), "", "")
	if err != nil {
		return nil, classify("twilio.SentTo", err)
	}

	// Twilio's dates are whole seconds: a message created in the second of
	// since reads as created before it.
	from := since.Truncate(time.Second)
	seen := make(map[string]bool)
	var out []sms.Sent
	for _, m := range slices.Concat(dated, recent.Messages) {
		s, err := toSent(m)
		if err != nil {
			return nil, fmt.Errorf("twilio.SentTo: %w", err)
		}
		if seen[s.SID] || s.DateCreated.Before(from) || withChannel(s.To) != to || !p.ours(s) {
			continue
		}
		seen[s.SID] = true
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b sms.Sent) int {
		return cmp.Or(a.DateCreated.Compare(b.DateCreated), strings.Compare(a.SID, b.SID))
	})
	return out, nil
}

// ours reports whether s went from our sender: through our Messaging
// Service, or from our number. In From mode the service is not looked at:
// since April 2024 Twilio names the account's Default Messaging Service on
// every message, even one sent with From.
func (p *Provider) ours(s sms.Sent) bool {
	if p.service != "" {
		return s.Service == p.service
	}
	return withChannel(s.From) == p.from
}

// Ready fetches our account: it fails when Twilio is unreachable, the
// credentials are wrong, or the account is not active.
func (p *Provider) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	a, err := p.api(ctx).FetchAccount(p.accountSID)
	if err != nil {
		return classify("twilio.Ready", err)
	}
	if s := deref(a.Status); s != "active" {
		return errs.E(errs.Transient, "twilio.Ready: account status is %q", s)
	}
	return nil
}

// api builds a client for one call. twilio-go v1.31 takes no context, so
// the call's context reaches the request through the transport.
func (p *Provider) api(ctx context.Context) *api.ApiService {
	c := &client.Client{
		Credentials: client.NewCredentials(p.accountSID, p.authToken),
		HTTPClient: &http.Client{
			Transport: &callTransport{ctx: ctx, base: p.base, target: p.apiURL},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	// Without it twilio-go requests /Accounts//Messages.json.
	c.SetAccountSid(p.accountSID)
	return api.NewApiServiceWithClient(c)
}

// callTransport gives each request the call's context and, for a stand-in,
// sends it to the stand-in's scheme and host instead of *.twilio.com.
type callTransport struct {
	ctx    context.Context
	base   http.RoundTripper
	target *url.URL
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(t.ctx)
	if t.target != nil {
		r.URL.Scheme = t.target.Scheme
		r.URL.Host = t.target.Host
		r.URL.Path = strings.TrimSuffix(t.target.Path, "/") + r.URL.Path
		r.URL.RawPath = ""
		r.Host = ""
	}
	return t.base.RoundTrip(r)
}

func toSent(m api.ApiV2010Message) (sms.Sent, error) {
	s := sms.Sent{
		SID:     deref(m.Sid),
		To:      strings.TrimPrefix(deref(m.To), Channel),
		From:    strings.TrimPrefix(deref(m.From), Channel),
		Service: deref(m.MessagingServiceSid),
		Body:    deref(m.Body),
		Status:  deref(m.Status),
	}
	if m.ErrorCode != nil && *m.ErrorCode != 0 {
		s.ErrorCode = strconv.Itoa(*m.ErrorCode)
	}
	created, err := time.Parse(time.RFC1123Z, deref(m.DateCreated))
	if err != nil {
		return sms.Sent{}, fmt.Errorf("message %s: date_created: %w", s.SID, err)
	}
	s.DateCreated = created.UTC()
	return s, nil
}

// withChannel addresses a number on WhatsApp, once.
func withChannel(phone string) string {
	if strings.HasPrefix(phone, Channel) {
		return phone
	}
	return Channel + phone
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
