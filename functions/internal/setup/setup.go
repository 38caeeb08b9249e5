// Package setup builds what the functions need from the environment: the
// configuration each reads, and the store, publisher, send queue,
// provider and uploads bucket it asks for. Tests pass a map instead of
// the process environment.
package setup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/metadata"
	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/content"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
	"github.com/eventstreamengine/ese/shared/health"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sendqueue/cloudtasks"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/gcpfirestore"
	"github.com/eventstreamengine/ese/shared/uploads/gcsuploads"
)

// Project names the Google Cloud project; on Cloud Functions it may come
// from the metadata server instead.
type Project struct {
	ID string `env:"GOOGLE_CLOUD_PROJECT"`
}

// Tasks configures the send queues.
type Tasks struct {
	Location  string `env:"TASKS_LOCATION, default=us-central1"`
	Emulator  string `env:"CLOUD_TASKS_EMULATOR_HOST"`
	SenderURL string `env:"SENDER_URL, required"`
	// ServiceAccount signs each task's OIDC token, which the private
	// Sender requires: Queue refuses to start without it outside the
	// emulator.
	ServiceAccount string `env:"TASKS_SERVICE_ACCOUNT"`
	// Audience of that token; empty means SenderURL.
	Audience string `env:"TASKS_AUDIENCE"`
	// QueueCreateTimeout is how long a running campaign may go without its
	// send queue before it fails.
	QueueCreateTimeout time.Duration `env:"QUEUE_CREATE_TIMEOUT, default=10m"`
}

// Uploads configures the bucket where contact files are kept while they
// are imported (deleted by the bucket's lifecycle after a day).
type Uploads struct {
	Bucket string `env:"IMPORT_BUCKET, required"`
}

// bucketName is what Cloud Storage takes as a bucket's name (dotted
// names may be longer than 63 characters).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)

// Validate checks that IMPORT_BUCKET names a bucket (not a gs:// URL).
func (u Uploads) Validate() error {
	if u.Bucket != "" && !bucketName.MatchString(u.Bucket) {
		return fmt.Errorf("IMPORT_BUCKET=%q: want a bucket's name (lowercase letters, digits, '-', '_', '.'), without gs://", u.Bucket)
	}
	return nil
}

// Bucket opens the uploads bucket (on the emulator when
// STORAGE_EMULATOR_HOST is set, which the storage library reads itself).
func Bucket(ctx context.Context, u Uploads) (*gcsuploads.Bucket, error) {
	b, err := gcsuploads.Open(ctx, u.Bucket)
	if err != nil {
		return nil, fmt.Errorf("setup.Bucket: %w", err)
	}
	return b, nil
}

// Twilio configures the provider. The sender has no default: one that
// pointed at Twilio's sandbox would send production traffic from it.
type Twilio struct {
	AccountSID string `env:"TWILIO_ACCOUNT_SID, required"`
	AuthToken  string `env:"TWILIO_AUTH_TOKEN, required"`
	// Exactly one sender (Validate): a number, or a Messaging Service
	// whose sender pool holds it.
	From                string `env:"TWILIO_FROM"`
	MessagingServiceSID string `env:"TWILIO_MESSAGING_SERVICE_SID"`
	APIURL              string `env:"TWILIO_API_URL"` // the stand-in; unset in production
	// Timeout bounds each call to Twilio's API: a send's outcome is
	// unknown for at most this long after it starts, which is what
	// RECONCILE_AFTER must outlast (CheckReconcile).
	Timeout time.Duration `env:"TWILIO_TIMEOUT, default=15s"`
}

// MaxTwilioTimeout is the longest TWILIO_TIMEOUT: a Sender task may list
// what Twilio sent (one timeout) and then send (another) within the
// function's 60 s (infra/fn_sender.tf).
const MaxTwilioTimeout = 25 * time.Second

// Validate checks that exactly one sender is given, and the timeout.
func (t Twilio) Validate() error {
	switch {
	case t.Timeout <= 0 || t.Timeout > MaxTwilioTimeout:
		return fmt.Errorf("TWILIO_TIMEOUT=%s: want a duration above zero and at most %s (a task may list and then send within the Sender's 60 s)", t.Timeout, MaxTwilioTimeout)
	case t.From == "" && t.MessagingServiceSID == "":
		return errors.New("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required: the WhatsApp sender, a number (whatsapp:+...) or a Messaging Service (MG...)")
	case t.From != "" && t.MessagingServiceSID != "":
		return errors.New("TWILIO_FROM and TWILIO_MESSAGING_SERVICE_SID are both set: give one sender")
	case t.MessagingServiceSID != "" && !messagingServiceSID.MatchString(t.MessagingServiceSID):
		return fmt.Errorf("TWILIO_MESSAGING_SERVICE_SID=%q: want MG followed by 32 hex digits", t.MessagingServiceSID)
	}
	return nil
}

var messagingServiceSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)

// AutoPause is when a campaign pauses itself: when more than FailureRate
// of its last Window sends failed (Window 0: never). Read by the functions
// that see sends fail: the Sender (refused by Twilio), HandleStatus and
// Webhooks (failed in a status callback).
type AutoPause struct {
	Window      int     `env:"AUTO_PAUSE_WINDOW, default=100"`
	FailureRate float64 `env:"AUTO_PAUSE_FAILURE_RATE, default=0.5"`
}

// Validate checks the window and the rate.
func (a AutoPause) Validate() error {
	if err := a.Settings().Validate(); err != nil {
		return fmt.Errorf("AUTO_PAUSE_WINDOW=%d, AUTO_PAUSE_FAILURE_RATE=%g: %w", a.Window, a.FailureRate, err)
	}
	return nil
}

// Settings is a for the campaign runner.
func (a AutoPause) Settings() campaignrun.AutoPause {
	return campaignrun.AutoPause{Window: a.Window, FailureRate: a.FailureRate}
}

// FailureWatch is the campaign runner that pauses a campaign whose sends
// fail too often, for a function that learns of failures from status
// callbacks; nil when a is off. The pause is settled (its queue paused) by
// ProcessRecipients, asked through recipient-batch; the messages are held
// by the Sender's claim from the moment it is made. Its Pub/Sub client is
// added to opened; a function that has one already uses FailureWatchWith.
func FailureWatch(ctx context.Context, p Project, a AutoPause, st store.Store, opened *Opened) (deliverystatus.FailureWatch, error) {
	if a.Window <= 0 {
		return nil, nil
	}
	c, pub, err := PubSub(ctx, p)
	if err != nil {
		return nil, err
	}
	opened.Add(c.Close)
	return FailureWatchWith(a, st, pub), nil
}

// FailureWatchWith is FailureWatch publishing through pub.
func FailureWatchWith(a AutoPause, st store.Store, pub events.Publisher) deliverystatus.FailureWatch {
	if a.Window <= 0 {
		return nil
	}
	return &campaignrun.Runner{Store: st, Events: pub, AutoPause: a.Settings()}
}

// Retries has a rate-limited send's new attempt made (its task asked for
// through recipient-batch): for the functions that apply status
// callbacks, which have no Cloud Tasks client.
func Retries(st store.Store, pub events.Publisher) deliverystatus.Retrier {
	return &campaignrun.Runner{Store: st, Events: pub}
}

// Reconcile is how old a claim without an outcome must be before
// Twilio's silence about it proves the send never happened, so the
// Sender may send again. Read by the Sender.
type Reconcile struct {
	After time.Duration `env:"RECONCILE_AFTER, default=2m"`
	// UnknownOutcome is what then happens to a claim Twilio does not
	// list: resend_after sends it again, hold keeps it RECONCILE for an
	// operator (sending.UnknownOutcome).
	UnknownOutcome string `env:"UNKNOWN_OUTCOME, default=resend_after"`
}

// Validate checks UNKNOWN_OUTCOME names a policy.
func (r Reconcile) Validate() error {
	if _, err := sending.ParseUnknownOutcome(r.UnknownOutcome); err != nil {
		return fmt.Errorf("UNKNOWN_OUTCOME=%q: want %s (send again once Twilio's silence proves the send never happened) or %s (keep the message for an operator)", r.UnknownOutcome, sending.ResendAfter, sending.Hold)
	}
	return nil
}

// Policy is the Sender's policy for an unknown outcome.
func (r Reconcile) Policy() sending.UnknownOutcome {
	p, _ := sending.ParseUnknownOutcome(r.UnknownOutcome)
	return p
}

// ReconcileTimeouts is how many of the Twilio client's timeouts
// (TWILIO_TIMEOUT) RECONCILE_AFTER spans at least. The claim is stamped in the attempt of
// its transaction that commits, and the send starts after that commit and
// can take one timeout; Twilio's message list can lag behind a send, and
// the instances' clocks differ a little: the rest is that margin.
const ReconcileTimeouts = 4

// CheckReconcile refuses a RECONCILE_AFTER a send in flight could
// outlast, given the Twilio client's timeout t (the Sender, which reads
// both, calls it from its Validate).
func CheckReconcile(r Reconcile, t Twilio) error {
	if t.Timeout <= 0 {
		return nil // Twilio.Validate names TWILIO_TIMEOUT
	}
	if least := ReconcileTimeouts * t.Timeout; r.After < least {
		return fmt.Errorf("RECONCILE_AFTER=%s: want at least %s, %d times the Twilio client's timeout (TWILIO_TIMEOUT=%s), or a send still in flight or not yet listed by Twilio could be sent again", r.After, least, ReconcileTimeouts, t.Timeout)
	}
	return nil
}

// FrequencyCap is the most business-initiated messages one person gets
// in any 24 hours across campaigns (unset or 0: no cap). Read by the
// Sender, whose claim enforces it exactly, and ProcessRecipients, which
// skips people already at it before they get a task.
type FrequencyCap struct {
	PerDay int `env:"FREQUENCY_CAP_PER_24H, default=0"`
}

// Validate refuses a negative cap.
func (f FrequencyCap) Validate() error {
	if f.PerDay < 0 {
		return fmt.Errorf("FREQUENCY_CAP_PER_24H=%d: want a whole number, 0 or more (0: no cap)", f.PerDay)
	}
	return nil
}

// Erasure is the secret key of erased people's hashed opt-outs (see
// shared/erasure): the API erases and checks a new user against them,
// ImportUsers checks imported rows. At least 32 bytes; deployed, from
// Secret Manager. Changing it forgets every erased person's opt-out.
type Erasure struct {
	Key string `env:"ERASURE_KEY, required"`
}

// Validate refuses a key too short to keep the hashes from being tried.
func (e Erasure) Validate() error {
	_, err := e.Hasher()
	return err
}

// KeyChecker is the store's check of the erasure key (CheckErasureKey).
type KeyChecker interface {
	CheckErasureKey(ctx context.Context, fingerprint string) error
}

// LoadStoreAndHasher is LoadStore, then cfg's CheckedHasher over that
// store: what the functions reading erased people's records start with.
// The store is closed when the key cannot be had.
func LoadStoreAndHasher(ctx context.Context, cfg interface {
	projectConfig
	CheckedHasher(context.Context, KeyChecker) (erasure.Hasher, error)
}, l envconfig.Lookuper) (*gcpfirestore.Store, erasure.Hasher, error) {
	st, err := LoadStore(ctx, cfg, l)
	if err != nil {
		return nil, erasure.Hasher{}, err
	}
	h, err := cfg.CheckedHasher(ctx, st)
	if err != nil {
		_ = st.Close()
		return nil, erasure.Hasher{}, err
	}
	return st, h, nil
}

// CheckedHasher is the key's erasure.Hasher, once st agrees it is the key
// the kept records were made under (the first start records it): a
// function given another key (a rotated secret) refuses to start, naming
// ERASURE_KEY, instead of forgetting every erased person's opt-out.
func (e Erasure) CheckedHasher(ctx context.Context, st KeyChecker) (erasure.Hasher, error) {
	h, err := e.Hasher()
	if err != nil {
		return h, err
	}
	if err := st.CheckErasureKey(ctx, h.Fingerprint()); err != nil {
		if errs.Is(err, errs.Conflict) {
			return h, fmt.Errorf("%w: ERASURE_KEY is not the key erased people's opt-outs were kept under (a new secret version?): deploy the pinned version (erasure_key_version): %w", ErrConfig, err)
		}
		return h, fmt.Errorf("setup: checking ERASURE_KEY: %w", err)
	}
	return h, nil
}

// Hasher is the key's erasure.Hasher.
func (e Erasure) Hasher() (erasure.Hasher, error) {
	h, err := erasure.NewHasher([]byte(e.Key))
	if err != nil {
		return h, fmt.Errorf("ERASURE_KEY: want at least %d bytes of secret (such as 64 hex digits)", erasure.MinKeyBytes)
	}
	return h, nil
}

// ContentRules are the operator's content rules, read by the functions
// that run the compliance steps (ProcessRecipients, LaunchCampaign for a
// dry run, the API for previews and dry runs).
type ContentRules struct {
	// BlockedPatterns is a JSON array of patterns (RE2) no message may
	// match; OptOutText is wording every marketing message must contain.
	BlockedPatterns string `env:"CONTENT_BLOCKED_PATTERNS"`
	OptOutText      string `env:"CONTENT_OPT_OUT_TEXT"`
}

// Validate checks the patterns compile.
func (c ContentRules) Validate() error {
	_, err := c.Rules()
	return err
}

// Rules are the content rules.
func (c ContentRules) Rules() (content.Rules, error) {
	r, err := content.ParseRules(c.BlockedPatterns, c.OptOutText)
	if err != nil {
		return content.Rules{}, fmt.Errorf("CONTENT_BLOCKED_PATTERNS: %w", err)
	}
	return r, nil
}

// MessagingLimit is the sender's WhatsApp messaging limit: how many people
// it may start conversations with in 24 hours (an integer, or "unlimited";
// unset: unlimited). A dry run warns before a campaign would pass it: the
// API and LaunchCampaign read it.
type MessagingLimit struct {
	WhatsAppTier string `env:"WHATSAPP_TIER"`
}

// Validate checks the tier reads.
func (m MessagingLimit) Validate() error {
	_, err := m.Tier()
	return err
}

// Tier is the limit; 0 for unlimited.
func (m MessagingLimit) Tier() (int, error) {
	switch v := strings.TrimSpace(m.WhatsAppTier); strings.ToLower(v) {
	case "", "unlimited":
		return 0, nil
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("WHATSAPP_TIER=%q: want the number of people the sender may message in 24 hours (such as 1000 or 100000), or unlimited", m.WhatsAppTier)
		}
		return n, nil
	}
}

// SenderCeiling is the sender's messages a second (TWILIO_SENDER_MPS; 0:
// no ceiling), shared by the campaigns running at once. The API refuses a
// campaign rate above it; the functions that launch, pause, resume and
// conclude campaigns give each running campaign's queue its share.
type SenderCeiling struct {
	MPS int `env:"TWILIO_SENDER_MPS, default=0"`
}

// Validate checks the ceiling is not negative.
func (s SenderCeiling) Validate() error {
	if s.MPS < 0 {
		return fmt.Errorf("TWILIO_SENDER_MPS=%d: want a whole number of messages a second, 0 or unset for no ceiling", s.MPS)
	}
	return nil
}

// MessageRetention is how long messages are kept before Firestore's TTL
// deletes them (unset: kept). The function that creates messages embeds it;
// the others keep the expiry a message was created with.
type MessageRetention struct {
	Messages time.Duration `env:"MESSAGE_RETENTION"`
}

// StoreRetention is r for the store.
func (r MessageRetention) StoreRetention() gcpfirestore.Retention {
	return gcpfirestore.Retention{Messages: r.Messages}
}

// WebhookRetention is MessageRetention for webhook records.
type WebhookRetention struct {
	Webhooks time.Duration `env:"WEBHOOK_RETENTION"`
}

// StoreRetention is r for the store.
func (r WebhookRetention) StoreRetention() gcpfirestore.Retention {
	return gcpfirestore.Retention{Webhooks: r.Webhooks}
}

// EnvEventMaxAge names the setting of how long after its publication an
// event is still handled.
const EnvEventMaxAge = "EVENT_MAX_AGE"

// Events is what every event function reads besides its own settings
// (each embeds it, so that its Config lists all it reads): an event
// published longer ago than MaxAge is given up and kept among its topic's
// dead letters. Beyond the retry policy's reach for most topics (10
// attempts backing off to 10 minutes); the fan-out topics' 100 attempts
// can outlast it, and their backlog is then buried rather than dropped.
// to 10 minutes), it stops only a backlog that outlived an outage.
type Events struct {
	MaxAge time.Duration `env:"EVENT_MAX_AGE, default=24h"`
}

// Validate checks MaxAge.
func (e Events) Validate() error {
	if e.MaxAge <= 0 {
		return fmt.Errorf("%s=%s: want a duration above zero, such as 24h", EnvEventMaxAge, e.MaxAge)
	}
	return nil
}

// StatusRetry bounds how long a status callback for a message not yet
// known is retried; HandleStatus and the Webhooks' in-place path share it.
type StatusRetry struct {
	GiveUpAfter time.Duration `env:"STATUS_GIVE_UP_AFTER, default=15m"`
}

// MarketingOptOut lists the provider error codes, on a failed status
// callback, that say the person stopped this business's marketing
// messages in WhatsApp (Meta's 131050). The default, Twilio's 63033, is
// listed by Twilio as deprecated and as WhatsApp's 1007, not 131050: it
// is unverified against live Twilio, so an operator who sees the real
// code sets it here. HandleStatus and the Webhooks' in-place path share it.
type MarketingOptOut struct {
	Codes []string `env:"MARKETING_OPT_OUT_CODES, default=63033"`
}

// Validate refuses a code that is not 5 digits (Twilio's error codes).
func (m MarketingOptOut) Validate() error {
	for _, c := range m.Codes {
		if len(c) != 5 || strings.Trim(c, "0123456789") != "" {
			return fmt.Errorf("MARKETING_OPT_OUT_CODES: %q is not a Twilio error code (5 digits); give a comma-separated list such as 63033", c)
		}
	}
	return nil
}

// Twilio calls the Webhooks function at PUBLIC_BASE_URL plus these paths.
// Deployed, PUBLIC_BASE_URL is the function's cloudfunctions.net URL
// (https://REGION-PROJECT.cloudfunctions.net/Webhooks), which reaches the
// function with its name stripped from the path, or its run.app URL;
// either way the signature covers PUBLIC_BASE_URL plus the path the
// function sees.
const (
	InboundPath = "/webhooks/inbound"
	StatusPath  = "/webhooks/status"
)

// CheckPublicBaseURL checks PUBLIC_BASE_URL: an absolute http(s) URL
// without query, and not a webhook's own URL pasted whole.
func CheckPublicBaseURL(base string) error {
	u, err := url.Parse(base)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("PUBLIC_BASE_URL=%q: want an absolute http(s) URL", base)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("PUBLIC_BASE_URL=%q: want no query or fragment", base)
	case strings.Contains(u.Path, "/webhooks/"):
		return fmt.Errorf("PUBLIC_BASE_URL=%q: give the function's URL, not a /webhooks/ path on it", base)
	}
	return nil
}

// ConnectionOverrides ends every webhook URL we give Twilio (Twilio's
// "Webhooks connection overrides"): Twilio retries a callback answered
// with a 5xx, or whose connection failed, only when the URL asks. Three
// retries fit in Twilio's 15 s; the Webhooks function answers a 5xx
// only when neither Firestore nor Pub/Sub took the callback. The
// fragment is never sent, nor covered by the signature.
const ConnectionOverrides = "#rc=3&rp=ct,5xx"

// InboundURL is where Twilio posts inbound messages: the WhatsApp
// sender's "A message comes in" webhook.
func InboundURL(base string) string {
	return strings.TrimRight(base, "/") + InboundPath + ConnectionOverrides
}

// StatusCallbackURL is where Twilio posts a message's statuses (a send
// adds its message_id to the query, before the overrides).
func StatusCallbackURL(base string) string {
	return strings.TrimRight(base, "/") + StatusPath + ConnectionOverrides
}

// ErrConfig marks a configuration the function cannot run with: a
// missing or malformed variable. Retrying cannot help, so a function
// whose configuration fails this way stops at start (see edge).
var ErrConfig = errors.New("bad configuration")

// Load fills cfg (a pointer to a struct with env tags) from l, or from the
// process environment when l is nil. Its errors name the variable and
// wrap ErrConfig.
func Load(ctx context.Context, cfg any, l envconfig.Lookuper) error {
	if l == nil {
		l = envconfig.OsLookuper()
	}
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: l}); err != nil {
		if name := variableOf(reflect.TypeOf(cfg), err.Error()); name != "" && !strings.Contains(err.Error(), name) {
			return fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
		}
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var problems []error
	seen := map[string]bool{} // a promoted Validate runs twice
	for _, err := range validate(reflect.ValueOf(cfg)) {
		if err != nil && !seen[err.Error()] {
			seen[err.Error()] = true
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(problems...))
	}
	return nil
}

// variableOf finds the variable behind envconfig's error, which names
// the field path ("StatusRetry: GiveUpAfter: time: ..."), so the message
// names what an operator sets; "" when it names none.
func variableOf(t reflect.Type, msg string) string {
	for _, part := range strings.Split(msg, ": ") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return ""
		}
		f, ok := t.FieldByName(part)
		if !ok {
			return ""
		}
		if tag := strings.Split(f.Tag.Get("env"), ",")[0]; tag != "" {
			return tag
		}
		t = f.Type
	}
	return ""
}

type validator interface{ Validate() error }

// validate runs the Validate method of v and of every struct v embeds, so
// a config's own Validate cannot hide an embedded one's.
func validate(v reflect.Value) []error {
	var problems []error
	if c, ok := v.Interface().(validator); ok {
		problems = append(problems, c.Validate())
	}
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.Anonymous && f.IsExported() {
				problems = append(problems, validate(v.Field(i))...)
			}
		}
	}
	return problems
}

// LoadIf fills cfg like Load when the variable name is set, and reports
// whether it did: for a dependency a function uses only when configured.
func LoadIf(ctx context.Context, cfg any, l envconfig.Lookuper, name string) (bool, error) {
	if l == nil {
		l = envconfig.OsLookuper()
	}
	if v, ok := l.Lookup(name); !ok || v == "" {
		return false, nil
	}
	return true, Load(ctx, cfg, l)
}

// ProjectID returns p's id, asking the metadata server when it is unset.
func (p Project) ProjectID(ctx context.Context) (string, error) {
	if p.ID != "" {
		return p.ID, nil
	}
	id, err := metadata.ProjectIDWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("setup: GOOGLE_CLOUD_PROJECT is unset and the metadata server did not answer: %w", err)
	}
	return id, nil
}

// projectConfig is any function's configuration: each embeds Project.
type projectConfig interface {
	ProjectID(context.Context) (string, error)
}

// LoadStore fills cfg from l (or the environment) and opens the store of
// its project: what most functions start with.
func LoadStore(ctx context.Context, cfg projectConfig, l envconfig.Lookuper) (*gcpfirestore.Store, error) {
	if err := Load(ctx, cfg, l); err != nil {
		return nil, err
	}
	return Store(ctx, cfg)
}

// Store opens the Firestore store (the emulator when
// FIRESTORE_EMULATOR_HOST is set).
func Store(ctx context.Context, p projectConfig) (*gcpfirestore.Store, error) {
	id, err := p.ProjectID(ctx)
	if err != nil {
		return nil, err
	}
	c, err := firestore.NewClient(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("setup.Store: %w", err)
	}
	st := gcpfirestore.New(c)
	if r, ok := p.(interface{ StoreRetention() gcpfirestore.Retention }); ok {
		st.WithRetention(r.StoreRetention())
	}
	return st, nil
}

// PubSub opens a Pub/Sub client (the emulator when PUBSUB_EMULATOR_HOST
// is set) and a publisher on it.
func PubSub(ctx context.Context, p Project, opts ...pubsubevents.Option) (*pubsub.Client, *pubsubevents.Publisher, error) {
	id, err := p.ProjectID(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := pubsub.NewClient(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("setup.PubSub: %w", err)
	}
	return c, pubsubevents.New(c, opts...), nil
}

// Validate checks what the tags cannot: outside the emulator, tasks must
// carry an OIDC token, and SENDER_URL must be a URL.
func (t Tasks) Validate() error {
	var problems []error
	if t.Emulator == "" && t.ServiceAccount == "" {
		problems = append(problems, errors.New("TASKS_SERVICE_ACCOUNT is required when CLOUD_TASKS_EMULATOR_HOST is unset: the Sender accepts only tasks carrying its OIDC token"))
	}
	if u, err := url.Parse(t.SenderURL); t.SenderURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		problems = append(problems, fmt.Errorf("SENDER_URL=%q: want an absolute http(s) URL", t.SenderURL))
	}
	return errors.Join(problems...)
}

// Dependency names under which problems are recorded.
const DependencyCloudTasks = "cloud_tasks"

// LocalMaxBackoff is the send queues' longest retry backoff on the
// emulator (5 minutes deployed): locally, as the Pub/Sub subscriptions
// retry sooner than deployed, a retried send (a claim waiting out
// RECONCILE_AFTER, a Sender that was down) is seen within a test's
// patience, however many attempts its task has had.
const LocalMaxBackoff = 10 * time.Second

func localBackoff(t Tasks) time.Duration {
	if t.Emulator != "" {
		return LocalMaxBackoff
	}
	return 0
}

// Queue opens the Cloud Tasks send queues. The misconfigurations they
// meet are recorded in problems, where the API's /health finds them.
func Queue(ctx context.Context, p Project, t Tasks, problems store.Problems) (*cloudtasks.Queue, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	id, err := p.ProjectID(ctx)
	if err != nil {
		return nil, err
	}
	q, err := cloudtasks.New(ctx, cloudtasks.Config{
		Project: id, Location: t.Location, Endpoint: t.Emulator,
		TargetURL: t.SenderURL, ServiceAccount: t.ServiceAccount, Audience: cmp.Or(t.Audience, t.SenderURL),
		NoPause: t.Emulator != "", // the emulator's pausing breaks its queues
		// The emulator lacks UpdateQueue: locally, a campaign's share of
		// TWILIO_SENDER_MPS is applied only when its queue is created.
		NoSetRate:  t.Emulator != "",
		MaxBackoff: localBackoff(t),
	})
	if err != nil {
		return nil, fmt.Errorf("setup.Queue: %w", err)
	}
	reporter := cmp.Or(os.Getenv("FUNCTION_TARGET"), "local stack")
	q.ReportProblems(func(ctx context.Context, p *cloudtasks.Problem) {
		err := problems.RecordProblem(ctx, health.Problem{
			Dependency: DependencyCloudTasks, Kind: string(p.Kind), Hint: p.Hint, Reporter: reporter, At: p.At,
		})
		if err != nil {
			logging.FromContext(ctx).Warn("could not record the problem for /health", "error", err)
		}
	})
	return q, nil
}

// Provider builds the Twilio provider.
func Provider(t Twilio) (*twilio.Provider, error) {
	p, err := twilio.New(twilio.Config{
		AccountSID: t.AccountSID, AuthToken: t.AuthToken,
		From: t.From, MessagingServiceSID: t.MessagingServiceSID, APIURL: t.APIURL,
		HTTPClient: &http.Client{Timeout: t.Timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("setup.Provider: %w", err)
	}
	return p, nil
}

// RunnerConfig is what a campaign step reads from its environment; a
// step's own Config embeds it.
type RunnerConfig struct {
	Project
	Tasks
	ContentRules
	Events // read by edge.EventFunc
	SenderCeiling
}

func (c RunnerConfig) runner() RunnerConfig { return c }

// runnerConfig is a step's Config: it embeds RunnerConfig.
type runnerConfig interface {
	projectConfig
	runner() RunnerConfig
}

// Runner fills cfg from l (or the environment) and builds a campaign
// runner over Firestore, Pub/Sub and Cloud Tasks.
func Runner(ctx context.Context, cfg runnerConfig, l envconfig.Lookuper) (_ *campaignrun.Runner, err error) {
	var opened Opened
	defer opened.CloseIf(&err)
	st, err := LoadStore(ctx, cfg, l)
	if err != nil {
		return nil, err
	}
	opened.Add(st.Close)
	rc := cfg.runner()
	psc, pub, err := PubSub(ctx, rc.Project)
	if err != nil {
		return nil, err
	}
	opened.Add(psc.Close)
	q, err := Queue(ctx, rc.Project, rc.Tasks, st)
	if err != nil {
		return nil, err
	}
	rules, err := rc.Rules()
	if err != nil {
		return nil, err
	}
	return &campaignrun.Runner{Store: st, Events: pub, Queue: q, QueueCreateTimeout: rc.QueueCreateTimeout, Content: rules, SenderMPS: rc.MPS}, nil
}

// RunnerStep builds a campaign step from cfg: step picks the Runner method
// the function runs (LaunchCampaign and ProcessRecipients differ only there).
func RunnerStep[H any](ctx context.Context, cfg runnerConfig, l envconfig.Lookuper, step func(*campaignrun.Runner) H) (H, error) {
	r, err := Runner(ctx, cfg, l)
	if err != nil {
		var zero H
		return zero, err
	}
	return step(r), nil
}

// Opened is the clients a build has opened so far. A build that fails
// half-way closes them: it is tried again on the next request, and each
// try would otherwise leak a set of connections.
type Opened []func() error

// Add remembers a client's Close.
func (o *Opened) Add(close func() error) { *o = append(*o, close) }

// CloseIf closes every client when *err is set (defer it).
func (o *Opened) CloseIf(err *error) {
	if *err == nil {
		return
	}
	for _, c := range *o {
		_ = c()
	}
}
