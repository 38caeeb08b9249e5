// Package twilio is a local stand-in for the parts of Twilio's REST API
// that the platform uses, close enough that the real twilio-go client
// talks to it unchanged (point the client's requests at it instead of
// api.twilio.com):
//
//   - POST /2010-04-01/Accounts/{sid}/Messages.json creates a message and
//     then plays its life (queued, sent, delivered, read, StatusStep
//     apart), posting each status, signed, to its StatusCallback. As
//     Twilio, it takes Body or an approved template (ContentSid, HX and 32
//     hex digits, with ContentVariables, a JSON object of strings), and
//     From or a Messaging Service (MessagingServiceSid, MG...), and records
//     which; a send with From names DefaultServiceSID, as Twilio names the
//     account's Default Messaging Service since April 2024.
//   - As WhatsApp through Twilio, free text (Body, no ContentSid) reaches
//     a person only within Window (24h) after their last message to that
//     sender: otherwise it is accepted (201, queued) and then fails with
//     ErrorCode 63016, in the status callback and when fetched. Whether the
//     window is open is judged when the message is created. A ContentSid
//     is always allowed; a template the stand-in was given (Contents or
//     POST /_standin/contents) is rendered into the message's body with
//     its ContentVariables ({{1}}, ...), and one missing a value fails
//     with 63028; others are recorded, with their variables, bodiless.
//   - With SenderMPS set, each sender (From, or the number a Messaging
//     Service picked) hands its messages on at that rate, as Twilio's
//     per-sender queue does: "sent" (date_sent, its callback) comes a
//     1/SenderMPS seconds after the message before. The queue holds SenderQueue
//     messages, by default four hours' worth at SenderMPS (Twilio's
//     WhatsApp limit); when it is full a message from a From number is
//     refused (400, 21611), and one through a Messaging Service is
//     accepted and then fails with 30001 (Queue overflow).
//   - GET /2010-04-01/Accounts/{sid}/Messages.json lists messages, newest
//     first, filtered by To, From and DateSent (whole UTC days, as Twilio).
//   - GET /2010-04-01/Accounts/{sid}/Messages/{MessageSid}.json and
//     GET /2010-04-01/Accounts/{sid}.json fetch a message and the account.
//
// Every /2010-04-01 call needs basic auth with AccountSID:AuthToken.
//
// Like Twilio's test credentials, some recipient numbers (with or without
// the whatsapp: prefix) fail on purpose:
//
//	+15005550001  400, code 21211: invalid 'To' number
//	+15005550004  400, code 21610: recipient unsubscribed (blocked)
//	+15005550009  400, code 21614: not a mobile number
//
// Three more exist only here, for exactly-once tests:
//
//	+15005550011  the message IS created (and its callbacks are sent), but
//	              the answer is lost: 503, as if the connection broke
//	              after Twilio accepted it
//	+15005550012  accepted, then queued, sent and failed (ErrorCode 30008)
//	+15005550013  never answered, and nothing created: the request hangs
//	              until the caller gives up, as one lost on its way to
//	              Twilio (the send's outcome unknown, and absent)
//
// For tests and the demo, GET /_standin/messages lists what was sent;
// POST /_standin/inbound (From, Body, optional To, MessageSid and
// ProfileName, as a form or JSON) opens From's window with To and posts a
// signed inbound WhatsApp message to InboundURL, answering with what the
// webhook said; POST /_standin/window (From, optional To) opens the window
// alone, posting nothing; POST /_standin/contents (Sid, Body, optional
// Category) adds a template to render; POST /_standin/stop-marketing
// (From) makes From stop the business's marketing messages, as WhatsApp
// lets a person: a template added as MARKETING is then accepted and fails
// with 63033 (Meta's 131050), and other templates still reach them.
//
// For chaos tests it misbehaves on request (Faults; POST /_standin/faults
// sets them, GET says what was injected): Messages API calls answered 429
// or 500, connections dropped after a message was created, messages
// failed after sending, and status callbacks posted late, twice or out of
// order, all drawn from one seeded source.
//
// Webhooks (status callbacks and inbound posts) are retried as Twilio
// retries them: as their URL's connection overrides ask (the "#rc=3&rp=
// ct,5xx" fragment, never sent nor signed); without them a failed
// connection is tried once more and an answer, 5xx included, never.
//
// Inbound messages are not added to the message list. Logs never hold a
// whole phone number or a message body.
package twilio

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The recipient numbers that fail on purpose (see the package doc).
const (
	NumberInvalid     = "+15005550001"
	NumberBlocked     = "+15005550004"
	NumberNotMobile   = "+15005550009"
	NumberLostAnswer  = "+15005550011"
	NumberFailsLater  = "+15005550012"
	NumberNoAnswer    = "+15005550013"
	DefaultInboundTo  = "whatsapp:+14155238886" // Twilio's WhatsApp sandbox
	defaultStatusStep = 300 * time.Millisecond
	defaultWindow     = 24 * time.Hour
	queueHours        = 4 // Twilio's WhatsApp queue holds this many hours of messages
	channel           = "whatsapp:"
	apiVersion        = "2010-04-01"
)

// DefaultServiceSID is the account's Default Messaging Service, which
// Twilio names on every message sent with From (since April 2024).
const DefaultServiceSID = "MG00000000000000000000000000000000"

// ServiceSender is the sender a Messaging Service picks from its pool.
const ServiceSender = DefaultInboundTo

// Config sets up a Server.
type Config struct {
	AccountSID string
	AuthToken  string
	// InboundURL is where /_standin/inbound posts inbound messages, e.g.
	// http://localhost:8080/webhooks/inbound.
	InboundURL string
	// StatusStep is the gap between a message's status changes (and
	// callbacks); 300ms when zero.
	StatusStep time.Duration
	Logger     *slog.Logger // slog.Default() when nil
	HTTPClient *http.Client // for callbacks and inbound posts; 15s timeout when nil

	// Window is WhatsApp's customer service window: free text reaches a
	// person only this long after their last message to the sender; 24h
	// when zero.
	Window time.Duration
	// Now is the clock of the window and the senders' queues; time.Now
	// when nil.
	Now func() time.Time
	// SenderMPS is each sender's throughput in messages per second; 0 is
	// unlimited (no queueing).
	SenderMPS float64
	// SenderQueue is how many messages a sender's queue holds; 0 means
	// four hours' worth at SenderMPS, as Twilio's WhatsApp queue.
	SenderQueue int
	// Contents are the approved templates the stand-in renders:
	// ContentSid to a body with Twilio's {{1}} variables. Others are sent
	// with no body, recorded with their variables.
	Contents map[string]string
	// Faults to inject, for chaos tests; none when zero.
	Faults Faults
}

// Message is a message the stand-in was asked to send.
type Message struct {
	SID            string    `json:"sid"`
	To             string    `json:"to"`
	From           string    `json:"from"`
	Body           string    `json:"body"`
	Status         string    `json:"status"`
	StatusCallback string    `json:"status_callback,omitempty"`
	ErrorCode      int       `json:"error_code,omitempty"`
	DateCreated    time.Time `json:"date_created"`
	DateSent       time.Time `json:"date_sent,omitzero"`
	DateUpdated    time.Time `json:"date_updated"`

	// MessagingServiceSID is the service it was sent through (From is then
	// the sender the service chose).
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"`
	// ContentSID and ContentVariables are the approved template it was
	// sent as, and the values of its numbered variables.
	ContentSID       string            `json:"content_sid,omitempty"`
	ContentVariables map[string]string `json:"content_variables,omitempty"`
}

// Server is the stand-in, an http.Handler. Close it to stop the status
// callbacks still pending.
type Server struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	mux    *http.ServeMux

	ctx    context.Context // cancelled by Close: ends pending callbacks
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	msgs     []*Message // in creation order
	bySID    map[string]*Message
	inbound  map[pair]time.Time // last message of each person to each sender
	senders  map[string]*queue  // by sender number
	contents map[string]string  // ContentSid to body
	// marketing: the ContentSids approved as MARKETING; stoppedMarketing:
	// the people (bare numbers) who stopped marketing messages.
	marketing, stoppedMarketing map[string]bool

	chaos chaos // the faults injected
}

// pair is a person and a sender, both numbers without the channel.
type pair struct{ person, sender string }

// New returns a stand-in for cfg's account.
func New(cfg Config) *Server {
	if cfg.StatusStep <= 0 {
		cfg.StatusStep = defaultStatusStep
	}
	if cfg.Window <= 0 {
		cfg.Window = defaultWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SenderQueue <= 0 {
		cfg.SenderQueue = int(min(cfg.SenderMPS*queueHours*3600, math.MaxInt32))
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		client:   cfg.HTTPClient,
		mux:      http.NewServeMux(),
		bySID:    make(map[string]*Message),
		inbound:  make(map[pair]time.Time),
		senders:  make(map[string]*queue),
		contents: maps.Clone(cfg.Contents),

		marketing:        make(map[string]bool),
		stoppedMarketing: make(map[string]bool),
	}
	if s.contents == nil {
		s.contents = make(map[string]string)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.client == nil {
		// Its own transport: http.DefaultTransport's idle connections are
		// closed under it by whatever else runs in the process (each
		// httptest.Server.Close does), failing a callback in flight with
		// "CloseIdleConnections called", which Twilio would not do.
		s.client = &http.Client{Timeout: 15 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.chaos.set(cfg.Faults)

	const acct = "/2010-04-01/Accounts/"
	s.mux.Handle("POST "+acct+"{sid}/Messages.json", s.auth(s.faulty(s.createMessage)))
	s.mux.Handle("GET "+acct+"{sid}/Messages.json", s.auth(s.faulty(s.listMessages)))
	s.mux.Handle("GET "+acct+"{sid}/Messages/{file}", s.auth(s.faulty(s.fetchMessage)))
	s.mux.Handle("GET "+acct+"{file}", s.auth(s.fetchAccount))
	s.mux.Handle("/2010-04-01/", s.auth(func(w http.ResponseWriter, r *http.Request) {
		notFound(w, r)
	}))
	s.mux.HandleFunc("GET /_standin/messages", s.standinMessages)
	s.mux.HandleFunc("POST /_standin/inbound", s.postInbound)
	s.mux.HandleFunc("POST /_standin/window", s.openWindow)
	s.mux.HandleFunc("POST /_standin/contents", s.addContent)
	s.mux.HandleFunc("POST /_standin/stop-marketing", s.stopMarketing)
	s.mux.HandleFunc("POST /_standin/faults", s.postFaults)
	s.mux.HandleFunc("GET /_standin/faults", s.getFaults)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops the pending status callbacks and waits for them to end.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Sent returns a copy of the messages it was asked to send, oldest first.
func (s *Server) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = *m
	}
	return out
}

// auth answers 401 unless the request carries our credentials, and 404
// for another account's path, as Twilio does.
func (s *Server) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || !equal(user, s.cfg.AccountSID) || !equal(pass, s.cfg.AuthToken) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
			return
		}
		sid := r.PathValue("sid")
		if sid == "" {
			sid = strings.TrimSuffix(r.PathValue("file"), ".json")
		}
		if sid != "" && sid != s.cfg.AccountSID {
			notFound(w, r)
			return
		}
		next(w, r)
	})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// apiError is Twilio's error body, which twilio-go decodes.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, apiError{
		Code:     code,
		Message:  msg,
		MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		Status:   status,
	})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
}

// writeJSON encodes into a buffer first, so that a failed encode never
// sends half an answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // webhook answers are TwiML: keep them readable
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":"encoding the answer failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.Copy(w, &buf)
}

// newSID returns a Twilio-shaped SID: a two-letter prefix and 32 hex digits.
func newSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// mask keeps the last four digits of a phone number, for logs.
func mask(phone string) string {
	digits := strings.TrimPrefix(strings.TrimPrefix(phone, channel), "+")
	if len(digits) <= 4 {
		return "****"
	}
	return "***" + digits[len(digits)-4:]
}
