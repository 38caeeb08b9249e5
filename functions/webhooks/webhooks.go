// Package webhooks is the Webhooks function: Twilio's inbound-message and
// status callbacks. It verifies each request's signature, stores the
// payload once, publishes it for processing and answers at once with
// TwiML: empty, or the configured reply to STOP, START and HELP.
package webhooks

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/functions/internal/twilioform"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/render"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/webhook"
)

func init() {
	functions.HTTP("Webhooks", Handle)
}

// Config is what the Webhooks function reads from its environment.
type Config struct {
	setup.Project
	setup.StatusRetry
	setup.MarketingOptOut
	setup.WebhookRetention
	setup.AutoPause // for statuses processed in place
	// PublicBaseURL is this function's URL as Twilio calls it; signatures
	// cover it plus the path (see setup.InboundPath).
	PublicBaseURL string `env:"PUBLIC_BASE_URL, required"`
	AuthToken     string `env:"TWILIO_AUTH_TOKEN, required"`
	ReplyStop     string `env:"REPLY_STOP, default=You have been unsubscribed and will receive no more messages. Reply START to resubscribe."`
	ReplyStart    string `env:"REPLY_START, default=You have been resubscribed. Reply STOP to unsubscribe."`
	ReplyHelp     string `env:"REPLY_HELP, default=Reply STOP to unsubscribe or START to resubscribe."`
}

// Validate checks PUBLIC_BASE_URL.
func (c Config) Validate() error { return setup.CheckPublicBaseURL(c.PublicBaseURL) }

// publishDelay is how long a callback's publish waits for others to share
// its batch: the answer waits for it.
const publishDelay = 500 * time.Microsecond

// Handle serves the Webhooks function.
var Handle = edge.HTTPFunc("Webhooks", Build)

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (_ http.Handler, err error) {
	var opened setup.Opened
	defer opened.CloseIf(&err)
	var cfg Config
	st, err := setup.LoadStore(ctx, &cfg, l)
	if err != nil {
		return nil, err
	}
	opened.Add(st.Close)
	// Each answer waits for its publish: no batching delay.
	psc, pub, err := setup.PubSub(ctx, cfg.Project, pubsubevents.WithDelay(publishDelay))
	if err != nil {
		return nil, err
	}
	opened.Add(psc.Close)
	// The auto-pause publishes its settle requests through the same client.
	failures := setup.FailureWatchWith(cfg.AutoPause, st, pub)
	apply := InPlace(st, cfg.GiveUpAfter, failures, cfg.MarketingOptOut.Codes...)
	// A rate-limited send applied in place is tried again as HandleStatus
	// would: its task asked for through the same client.
	status := &deliverystatus.Applier{Store: st, GiveUpAfter: cfg.GiveUpAfter, Failures: failures, Retries: setup.Retries(st, pub),
		MarketingOptOutCodes: cfg.MarketingOptOut.Codes}
	apply[webhook.Status] = func(ctx context.Context, e webhook.Event) error { return status.Apply(ctx, twilioform.Status(e)) }
	return (&Server{Config: cfg, Store: st, Users: st, Events: pub, Apply: apply}).Routes(), nil
}

// InPlace processes stored callbacks as HandleInbound and HandleStatus do
// (failures, if not nil, told of each message a status fails), for when
// they cannot be handed on; marketingOptOut as MARKETING_OPT_OUT_CODES.
func InPlace(st store.Store, giveUpAfter time.Duration, failures deliverystatus.FailureWatch, marketingOptOut ...string) map[webhook.Kind]func(context.Context, webhook.Event) error {
	in := &inbound.Handler{Store: st}
	status := &deliverystatus.Applier{Store: st, GiveUpAfter: giveUpAfter, Failures: failures, MarketingOptOutCodes: marketingOptOut}
	return map[webhook.Kind]func(context.Context, webhook.Event) error{
		webhook.Inbound: func(ctx context.Context, e webhook.Event) error { return in.Handle(ctx, twilioform.Inbound(e)) },
		webhook.Status:  func(ctx context.Context, e webhook.Event) error { return status.Apply(ctx, twilioform.Status(e)) },
	}
}

// Server handles the two webhooks.
type Server struct {
	Config
	Store store.Webhooks
	// Users, when set, lets the START reply tell the truth: only a person
	// whose own STOP it lifts, and who is not suppressed, is told they are
	// resubscribed.
	Users interface {
		inbound.Users
		Suppressed(ctx context.Context, phones []string) (map[string]bool, error)
	}
	Events events.Publisher
	// Apply processes an event in place when it cannot be published:
	// Twilio does not retry a callback we answer with a 5xx, so a STOP
	// must not wait on Pub/Sub. Optional.
	Apply map[webhook.Kind]func(context.Context, webhook.Event) error
	Now   func() time.Time
	// RecordBudget bounds storing one callback (DefaultRecordBudget if 0),
	// and HandOnBudget handing it on (DefaultHandOnBudget if 0).
	RecordBudget, HandOnBudget time.Duration

	answers sync.Map // *answer by reply text, encoded once
}

// Routes returns the webhook routes.
func (s *Server) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+setup.InboundPath, func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, webhook.Inbound)
	})
	mux.HandleFunc("POST "+setup.StatusPath, func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, webhook.Status)
	})
	return mux
}

// DefaultRecordBudget is how long storing a callback may take before it is
// handed on unstored instead: a third of Twilio's 15 s wait for an answer.
const DefaultRecordBudget = 5 * time.Second

// DefaultHandOnBudget bounds handing a callback on, applyBudget
// processing it in place when that failed, and replyBudget the reads a
// START's reply makes: with the store's budget, an answer within Twilio's
// 15 s (5 + 4 + 3 + 1), or a 503 Twilio retries.
const (
	DefaultHandOnBudget = 4 * time.Second
	applyBudget         = 3 * time.Second
	replyBudget         = time.Second
)

// maxBody bounds a callback's form; Twilio's are a few KiB.
const maxBody = 64 << 10

func (s *Server) serve(w http.ResponseWriter, r *http.Request, kind webhook.Kind) {
	// Each line names the callback through its own attributes, not With:
	// a JSON handler encodes With's at once, for lines mostly never written.
	logger := logging.FromContext(r.Context())
	sid := ""
	log := func(level slog.Level, msg string, attrs ...slog.Attr) {
		if !logger.Enabled(r.Context(), level) {
			return
		}
		logger.LogAttrs(r.Context(), level, msg, append([]slog.Attr{slog.String("webhook", string(kind)), slog.String("message_sid", sid)}, attrs...)...)
	}
	form, err := postForm(w, r)
	if err != nil {
		render.Error(w, r, errs.E(errs.Invalid, "the body must be a form of at most %d bytes", maxBody))
		return
	}
	signed := strings.TrimRight(s.PublicBaseURL, "/") + r.URL.RequestURI()
	if !twilio.ValidSignature(s.AuthToken, signed, form, r.Header.Get("X-Twilio-Signature")) {
		log(slog.LevelWarn, "rejected: bad or missing X-Twilio-Signature")
		render.ErrorMessage(w, http.StatusForbidden, "invalid X-Twilio-Signature")
		return
	}
	ev, err := s.event(kind, r, form)
	if err != nil {
		render.Error(w, r, err)
		return
	}
	sid = ev.MessageSID
	handedOn := false
	// The work goes on if Twilio hangs up: a STOP cancelled mid-write
	// with its fallback publish would be lost. Each step has its own
	// budget instead, all within Twilio's 15 s wait: store 5 s, hand on
	// 4 s, process in place 3 s, reply 1 s.
	work := context.WithoutCancel(r.Context())
	budget, handOnBudget := DefaultRecordBudget, DefaultHandOnBudget
	if s.RecordBudget > 0 {
		budget = s.RecordBudget
	}
	if s.HandOnBudget > 0 {
		handOnBudget = s.HandOnBudget
	}
	rctx, rcancel := context.WithTimeout(work, budget)
	defer rcancel()
	// The request itself was checked (event): whatever the store refuses
	// now, a 400 would lose it, as Twilio retries no 4xx.
	stored, created, err := s.record(rctx, &ev, log)
	switch {
	case err != nil:
		// Twilio retries a 5xx only as its connection overrides allow
		// (a few times, within 15 s): hand the callback on unstored, and
		// its consumer stores and applies it.
		ev.Unstored = true
		unstored := ev // on the heap only on this path
		pctx, cancel := context.WithTimeout(work, handOnBudget)
		perr := s.Events.Publish(pctx, events.WebhookTopic(kind), &unstored)
		cancel()
		if perr != nil {
			render.Error(w, r, errs.Wrap(errs.Transient, fmt.Errorf("record: %w; publish: %w", err, perr), "webhooks"))
			return
		}
		log(slog.LevelWarn, "store failed; handed on unstored", slog.Any("error", err))
		stored, created = ev, true
	case !stored.Published:
		// Publish until the publish is recorded: a replay after a failed
		// publish finds the payload stored but unpublished, and publishes.
		// As Twilio replays only what never got an answer, a failed
		// publish is processed in place when it can be.
		// What remains of the record's budget, as one timer a callback,
		// when that is at least half a hand-on's (storing was quick) and
		// at most the default record budget; else a budget of its own.
		hctx := rctx
		if d, _ := rctx.Deadline(); time.Until(d) < handOnBudget/2 || time.Until(d) > DefaultRecordBudget {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(work, handOnBudget)
			defer cancel()
		}
		if err := s.handOn(hctx, stored); err != nil {
			apply := s.Apply[kind]
			if apply == nil {
				render.Error(w, r, errs.Wrap(errs.Transient, err, "webhooks: publish"))
				return
			}
			log(slog.LevelWarn, "publish failed; processing in place", slog.Any("error", err))
			// A budget of its own: a publish that hung has spent hctx's.
			actx, cancel := context.WithTimeout(work, applyBudget)
			defer cancel()
			if aerr := apply(actx, stored); aerr != nil && errs.Retry(aerr) {
				render.Error(w, r, errs.Wrap(errs.Transient, fmt.Errorf("publish: %w; in place: %w", err, aerr), "webhooks"))
				return
			}
		}
		handedOn = true
	}
	if kind == webhook.Inbound {
		// Every request has its line already (edge's request log); this
		// one, which names the callback, is worth its cost at Info for
		// the keywords that change consent, at Debug for the rest.
		intent := consent.Classify(stored.Params[twilioform.KeyBody])
		level := slog.LevelDebug
		if intent != consent.IntentNone {
			level = slog.LevelInfo
		}
		log(level, "inbound message", slog.String("from", phone.Mask(stored.Params[twilioform.KeyFrom])), slog.Bool("duplicate", !created))
		s.twiml(w, s.reply(work, stored.Params, intent))
	} else {
		// Info for a failure, Debug for the routine (as for messages).
		level := slog.LevelDebug
		if st := strings.ToLower(stored.Status); st == "failed" || st == "undelivered" {
			level = slog.LevelInfo
		}
		log(level, "status callback", slog.String("status", stored.Status), slog.String("error_code", stored.Params[twilioform.KeyErrorCode]), slog.Bool("duplicate", !created))
		s.twiml(w, "")
	}
	if handedOn {
		// Marked once handed on (or done), so a replay changes nothing and
		// no sweep hands it on again; after the answer is on its way, as
		// Twilio need not wait for it: a mark lost here only lets the
		// sweep hand the callback on again, to idempotent consumers.
		_ = http.NewResponseController(w).Flush()
		if err := s.Store.MarkWebhookPublished(work, stored.ID); err != nil {
			log(slog.LevelWarn, "published but not marked; a replay will publish again", slog.Any("error", err))
		}
	}
}

// record stores a callback once; an inbound STOP is applied in the same
// transaction (inbound.Record), before Twilio has its answer.
//
// Its ctx carries a budget (Server.RecordBudget): a transaction waiting on a lock (one left by a
// process killed mid-transaction holds it until Firestore expires it, tens
// of seconds) must not outlast Twilio's 15 s wait for our answer, after
// which the callback would be lost (a read timeout is not among the
// retries our URLs ask for). Past the budget the callback is handed on
// unstored, as when Firestore refuses; if the write did commit after all,
// its consumer finds it stored and the STOP applied, and changes nothing.
//
// A callback the store refuses as Invalid (a value too long, invalid
// UTF-8) is stored trimmed instead (twilioform.Trimmed), within the same
// budget, and *ev becomes the trimmed one, which is what is handed on if
// that fails too.
func (s *Server) record(ctx context.Context, ev *webhook.Event, log func(slog.Level, string, ...slog.Attr)) (webhook.Event, bool, error) {
	return twilioform.StoreTrimmed(ev, func(e webhook.Event) (webhook.Event, bool, error) { return s.store(ctx, e) }, func(err error) {
		log(slog.LevelError, "store refused the callback as invalid; storing it trimmed", slog.Any("error", err))
	})
}

func (s *Server) store(ctx context.Context, ev webhook.Event) (webhook.Event, bool, error) {
	if ev.Kind == webhook.Inbound {
		return inbound.Record(ctx, s.Store, nil, ev, twilioform.Inbound(ev))
	}
	return s.Store.RecordWebhook(ctx, ev)
}

// postForm reads the request's form body as r.ParseForm would, without
// its copy into r.Form: the body alone is what Twilio signs and sends. A
// body of another type is an empty form (and fails the signature).
func postForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
		return url.Values{}, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, err
	}
	return url.ParseQuery(string(b))
}

func (s *Server) event(kind webhook.Kind, r *http.Request, form url.Values) (webhook.Event, error) {
	params := make(map[string]string, len(form))
	for k, v := range form {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	var missing []errs.Detail
	sid := params[twilioform.KeyMessageSID]
	if sid == "" {
		sid = params[twilioform.KeySMSSID]
	}
	switch {
	case sid == "":
		missing = append(missing, errs.Detail{Field: twilioform.KeyMessageSID, Message: "is required"})
	case !validSID(sid):
		missing = append(missing, errs.Detail{Field: twilioform.KeyMessageSID, Message: "is not a Twilio id"})
	}
	status := params[twilioform.KeyMessageStatus]
	if status == "" {
		status = params[twilioform.KeySMSStatus]
	}
	if kind == webhook.Status && status == "" {
		missing = append(missing, errs.Detail{Field: twilioform.KeyMessageStatus, Message: "is required"})
	}
	if kind == webhook.Inbound && params[twilioform.KeyFrom] == "" {
		missing = append(missing, errs.Detail{Field: twilioform.KeyFrom, Message: "is required"})
	}
	if len(missing) > 0 {
		return webhook.Event{}, errs.WithDetails(errs.Invalid, "incomplete Twilio callback", missing)
	}
	if kind == webhook.Status {
		params[twilioform.KeyMessageStatus] = status
	} else {
		status = ""
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	ev := webhook.Event{
		ID: webhook.EventID(kind, sid, status), Kind: kind, MessageSID: sid, Status: status,
		Params: params, ReceivedAt: now.UTC(),
	}
	if kind == webhook.Status {
		// The sender names the message in the callback URL (and the
		// signature covers it).
		ev.MessageID = r.URL.Query().Get("message_id")
		// And the claim generation that sent it: an earlier attempt's
		// news never moves a later one.
		if n, err := strconv.Atoi(r.URL.Query().Get("attempt")); err == nil && n > 0 {
			ev.Attempt = n
		}
	}
	return ev, nil
}

// validSID reports whether sid can be Twilio's: letters and digits (and
// _ or -), at most 64. A callback with any other is not Twilio's and is
// refused (400) here, as no record could be named by it; every other
// refusal of a record is the store's, and is not a 400 (record).
func validSID(sid string) bool {
	if len(sid) > 64 || (len(sid) >= 4 && strings.HasPrefix(sid, "__") && strings.HasSuffix(sid, "__")) {
		return false
	}
	for _, c := range []byte(sid) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// handOn publishes an event for processing, unless it has nothing to
// process: statuses such as queued or sending are kept for the audit
// trail only.
func (s *Server) handOn(ctx context.Context, e webhook.Event) error {
	if e.Kind == webhook.Status && !twilioform.Status(e).Records() {
		return nil
	}
	return s.Events.Publish(ctx, events.WebhookTopic(e.Kind), &e)
}

// reply is the TwiML reply to an inbound message whose Body is of intent:
// only the keywords get one, and only one that is true.
func (s *Server) reply(ctx context.Context, params map[string]string, intent consent.Intent) string {
	from := params[twilioform.KeyFrom]
	switch intent {
	case consent.IntentOptOut:
		// inbound.Handler keeps every STOP whose sender id it can read
		// (as a suppression when it names nobody); one it cannot read is
		// told nothing.
		if w, err := phone.FromWhatsApp(from); err != nil && w.ID == "" {
			return ""
		}
		return s.ReplyStop
	case consent.IntentOptIn:
		ctx, cancel := context.WithTimeout(ctx, replyBudget)
		defer cancel()
		if s.Users != nil && !s.startLifts(ctx, from) {
			return ""
		}
		return s.ReplyStart
	case consent.IntentHelp:
		return s.ReplyHelp
	}
	return ""
}

// startLifts reports whether a START from the sender id lifts a STOP:
// only the person's own STOP is lifted (an unknown number or an admin's
// OPT_OUT stays as it is), and no START lifts a suppression.
func (s *Server) startLifts(ctx context.Context, from string) bool {
	sender, err := inbound.FindSender(ctx, s.Users, from)
	if err != nil {
		return false
	}
	lifts := false
	numbers := make([]string, 0, len(sender.Users))
	for _, u := range sender.Users {
		lifts = lifts || u.Consent == consent.Stop || u.Consent == consent.OptIn
		numbers = append(numbers, u.Phone)
	}
	if !lifts {
		return false
	}
	suppressed, err := s.Users.Suppressed(ctx, numbers)
	if err != nil {
		return false
	}
	for _, n := range numbers {
		if suppressed[n] {
			return false
		}
	}
	return true
}

type twimlResponse struct {
	XMLName xml.Name `xml:"Response"`
	Message string   `xml:"Message,omitempty"`
}

// answer is one TwiML answer, encoded, with its headers' values: each
// slice is full (len == cap), so a handler that adds to a header appends
// to a copy, never to the one answers share.
type answer struct {
	body                []byte
	contentType, length []string
}

var twimlContentType = []string{"text/xml; charset=utf-8"}

func (s *Server) twiml(w http.ResponseWriter, msg string) {
	// The answers are the few configured replies: each is encoded once.
	a, ok := s.answers.Load(msg)
	if !ok {
		enc, err := xml.Marshal(twimlResponse{Message: msg})
		if err != nil {
			http.Error(w, "", http.StatusInternalServerError)
			return
		}
		body := append([]byte(xml.Header), enc...)
		a, _ = s.answers.LoadOrStore(msg, &answer{body: body, contentType: twimlContentType[:1:1], length: []string{strconv.Itoa(len(body))}})
	}
	ans := a.(*answer)
	h := w.Header()
	h["Content-Type"] = ans.contentType
	// Its length, so that once flushed the answer is complete for Twilio.
	h["Content-Length"] = ans.length
	_, _ = w.Write(ans.body)
}
