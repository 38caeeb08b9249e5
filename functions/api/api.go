// Package api is the API function: the admin REST API under /api/v1 (the
// seed's paths and field names) and the open /health. Every /api route
// requires "Authorization: Bearer <key>".
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/idtoken"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
	"github.com/eventstreamengine/ese/shared/importrun"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/render"
	"github.com/eventstreamengine/ese/shared/store"
)

func init() {
	functions.HTTP("API", Handle)
}

// Config is what the API reads from its environment. The Twilio and
// Cloud Tasks settings are optional: given, /health reports on them too.
type Config struct {
	setup.Project
	// Uploads is where imported files are kept: the API writes a
	// request's file there and signs the URLs clients PUT theirs to.
	setup.Uploads
	// UploadURLTTL is how long a signed upload URL works: at most a day,
	// the bucket keeping uploads no longer.
	UploadURLTTL time.Duration `env:"UPLOAD_URL_TTL, default=1h"`
	// Auth is how a caller proves who it is: "key", the bearer key
	// (locally); or "iam", deployed behind Cloud Run IAM, which admits only
	// Google identities holding the invoker role.
	Auth string `env:"API_AUTH, default=key"`
	// IDTokenAudiences are the audiences an ID token may be for with
	// API_AUTH=iam (its signature, expiry and issuer are checked too):
	// the function's URL, and gcloud's client id for an admin's own token.
	IDTokenAudiences []string `env:"ID_TOKEN_AUDIENCES"`
	// TrustCloudRunIAM accepts, with API_AUTH=iam, a token whose signature
	// Cloud Run IAM checked and then replaced with
	// SIGNATURE_REMOVED_BY_GOOGLE, as it does before the function sees it:
	// its expiry, issuer and audience are still checked, its signature
	// cannot be. Deployed only, where admin_members is never public:
	// refused unless on Cloud Run (K_SERVICE), since elsewhere nothing
	// checked the signature that was removed.
	TrustCloudRunIAM bool `env:"TRUST_CLOUD_RUN_IAM, default=false"`
	// KService is the Cloud Run service's name, which Cloud Run sets.
	KService string `env:"K_SERVICE"`
	// Admins are the e-mails admitted with API_AUTH=iam, compared without
	// regard to case; empty admits every identity with a valid token. An
	// ID token for gcloud's client id is one any Google account can mint.
	Admins []string `env:"API_ADMINS"`
	// APIKey is the bearer key in clear (local use); production sets
	// APIKeySHA256, the hex SHA-256 of the key, from a secret.
	APIKey       string `env:"API_KEY"`
	APIKeySHA256 string `env:"API_KEY_SHA256"`
	// Subscriptions /health requires; empty means every topic's push
	// subscription.
	Subscriptions []string `env:"PUBSUB_SUBSCRIPTIONS"`
	// StuckAfter is how long a running campaign with work due may go
	// without any progress before the campaign check reports it.
	StuckAfter time.Duration `env:"STUCK_AFTER, default=30m"`
	// Previews and dry runs run the checks a campaign runs.
	setup.ContentRules
	setup.FrequencyCap
	setup.MessagingLimit
	// SenderCeiling refuses a campaign rate above the sender's.
	setup.SenderCeiling
	// Erasure keys erased people's hashed opt-outs.
	setup.Erasure
}

// Auth modes.
const (
	AuthKey = "key"
	AuthIAM = "iam"
)

// Validate checks what envconfig cannot: the auth mode and the key.
func (c Config) Validate() error {
	switch c.Auth {
	case AuthKey:
		if c.APIKey == "" && c.APIKeySHA256 == "" {
			return errors.New("API_AUTH=key needs API_KEY or API_KEY_SHA256")
		}
	case AuthIAM:
		if len(c.IDTokenAudiences) == 0 {
			return errors.New("API_AUTH=iam needs ID_TOKEN_AUDIENCES: the audiences an admin's ID token may be for (the function's URL)")
		}
	default:
		return fmt.Errorf("API_AUTH=%q: want key or iam", c.Auth)
	}
	if c.TrustCloudRunIAM && c.KService == "" {
		return errors.New("TRUST_CLOUD_RUN_IAM=true is only for Cloud Run (K_SERVICE unset): elsewhere nothing checked the signature it trusts removed")
	}
	if _, err := c.keyHash(); err != nil {
		return err
	}
	if c.UploadURLTTL != 0 && (c.UploadURLTTL < time.Minute || c.UploadURLTTL > 24*time.Hour) {
		return fmt.Errorf("UPLOAD_URL_TTL=%s: want a minute to a day", c.UploadURLTTL)
	}
	return nil
}

// keyHash returns the SHA-256 the bearer key must hash to; nil when no
// key is configured.
func (c Config) keyHash() ([]byte, error) {
	switch {
	case c.APIKeySHA256 != "":
		h, err := hex.DecodeString(c.APIKeySHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, errors.New("API_KEY_SHA256 must be 64 hex digits")
		}
		return h, nil
	case c.APIKey != "":
		h := sha256.Sum256([]byte(c.APIKey))
		return h[:], nil
	}
	return nil, nil
}

// Handle serves the API function.
var Handle = edge.HTTPFunc("API", Build)

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (http.Handler, error) {
	s, err := New(ctx, l)
	if err != nil {
		return nil, err
	}
	return s.Routes(), nil
}

// New makes the API's server from the environment (or l, in tests). The
// Console makes one too, and acts through it in process (see As).
func New(ctx context.Context, l envconfig.Lookuper) (_ *Server, err error) {
	var opened setup.Opened
	defer opened.CloseIf(&err)
	var cfg Config
	if err := setup.Load(ctx, &cfg, l); err != nil {
		return nil, err
	}
	hash, _ := cfg.keyHash() // checked by Validate
	st, err := setup.Store(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	opened.Add(st.Close)
	psc, pub, err := setup.PubSub(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	opened.Add(psc.Close)
	bucket, err := setup.Bucket(ctx, cfg.Uploads)
	if err != nil {
		return nil, err
	}
	opened.Add(bucket.Close)
	subs := cfg.Subscriptions
	if len(subs) == 0 {
		for _, t := range events.Topics {
			subs = append(subs, events.PushSubscription(t))
		}
	}
	checks := map[string]func(context.Context) error{
		"firestore": func(ctx context.Context) error {
			_, err := st.GetCampaign(ctx, "health-probe")
			if errs.Is(err, errs.NotExist) {
				return nil
			}
			return err
		},
		"pubsub": func(ctx context.Context) error {
			return pubsubevents.Ready(ctx, psc, events.Topics, subs)
		},
	}
	// Cloud Tasks is used by the campaign steps and the Sender: the problems
	// they met are recorded in the store. Given the settings (locally), the
	// API also asks Cloud Tasks itself.
	var queueReady func(context.Context) error
	var tasks setup.Tasks
	if ok, err := setup.LoadIf(ctx, &tasks, l, "TASKS_LOCATION"); err != nil {
		return nil, err
	} else if ok {
		q, err := setup.Queue(ctx, cfg.Project, tasks, st)
		if err != nil {
			return nil, err
		}
		opened.Add(q.Close)
		queueReady = q.Ready
	}
	checks[setup.DependencyCloudTasks] = recordedProblems(st, setup.DependencyCloudTasks, queueReady)
	var tw setup.Twilio
	if ok, err := setup.LoadIf(ctx, &tw, l, "TWILIO_ACCOUNT_SID"); err != nil {
		return nil, err
	} else if ok {
		prov, err := setup.Provider(tw)
		if err != nil {
			return nil, err
		}
		checks["twilio"] = prov.Ready
	}
	runner := &campaignrun.Runner{Store: st, Events: pub}
	if runner.Content, err = cfg.Rules(); err != nil {
		return nil, err
	}
	if runner.WhatsAppTier, err = cfg.Tier(); err != nil {
		return nil, err
	}
	runner.FrequencyCap = cfg.PerDay
	hasher, err := cfg.CheckedHasher(ctx, st)
	if err != nil {
		return nil, err
	}
	var tokens IDTokenValidator
	if cfg.Auth == AuthIAM {
		if tokens, err = idtoken.NewValidator(ctx); err != nil {
			return nil, fmt.Errorf("idtoken.NewValidator: %w", err)
		}
	}
	s := &Server{
		IDTokens: tokens, Audiences: cfg.IDTokenAudiences, TrustCloudRunIAM: cfg.TrustCloudRunIAM, Admins: EmailSet(cfg.Admins),
		Erasure: hasher,
		KeyHash: hash, TrustIAM: cfg.Auth == AuthIAM, Store: st, Events: pub, StuckAfter: cfg.StuckAfter, SenderMPS: cfg.SenderCeiling.MPS,
		Runner:       runner,
		DeadLetters:  pubsubevents.NewDeadLetters(psc, events.Topics),
		Checks:       checks,
		Imports:      &importrun.Runner{Store: st, Bucket: bucket, BucketName: cfg.Uploads.Bucket, Events: pub},
		UploadURLTTL: cfg.UploadURLTTL,
	}
	return s, nil
}

// Server serves the API.
type Server struct {
	// KeyHash is the SHA-256 of the bearer key; nil accepts no key.
	KeyHash []byte
	// TrustIAM admits Google identities by their ID token, checked by
	// IDTokens and for one of Audiences (Cloud Run IAM checks it first,
	// deployed; the API does not count on that).
	TrustIAM  bool
	IDTokens  IDTokenValidator
	Audiences []string
	// TrustCloudRunIAM: see Config.TrustCloudRunIAM.
	TrustCloudRunIAM bool
	// Admins (lower-case e-mails), when not empty, are the only
	// identities admitted by ID token (API_ADMINS).
	Admins map[string]bool
	Store  store.Store
	Events events.Publisher
	Runner *campaignrun.Runner
	// DryRunInline is how many people a dry run reads within its request
	// (campaignrun.DryRunInline when 0).
	DryRunInline int
	// DeadLetters lists and replays events that ran out of delivery
	// attempts; without it, those routes answer 501.
	DeadLetters events.DeadLetters
	// StuckAfter: see Config.StuckAfter (zero: 30 minutes).
	StuckAfter time.Duration
	// SenderMPS is the sender's ceiling (TWILIO_SENDER_MPS; 0: none): a
	// campaign rate above it is refused.
	SenderMPS int
	// Checks are the dependencies /health reports, by name.
	Checks map[string]func(context.Context) error
	Now    func() time.Time
	// Imports reads uploaded contact files and hands their batches on.
	Imports *importrun.Runner
	// UploadURLTTL is how long a signed upload URL works (zero: an hour).
	UploadURLTTL time.Duration
	// Erasure hashes numbers for erased people's kept opt-outs.
	Erasure erasure.Hasher

	healthCache healthCache
	v1Once      sync.Once
	v1Mux       *http.ServeMux
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Routes returns every route of the API.
func (s *Server) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("/api/", s.authenticated(s.v1()))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		render.ErrorMessage(w, http.StatusNotFound, "not found: the API lives under /api/v1")
	})
	return mux
}

// As serves /health and the /api/v1 routes to a caller who proved who
// they are elsewhere (the Console's signed-in admin), recorded as who
// wherever the API records its caller.
func (s *Server) As(who string) http.Handler {
	api := s.v1()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/health" {
			s.health(w, r)
			return
		}
		log := logging.FromContext(r.Context()).With("caller", who)
		ctx := context.WithValue(logging.WithLogger(r.Context(), log), callerKey{}, who)
		api.ServeHTTP(w, r.WithContext(ctx))
	})
}

// v1 is the mux of the /api/v1 routes, built once.
func (s *Server) v1() *http.ServeMux {
	s.v1Once.Do(func() { s.v1Mux = s.v1Routes() })
	return s.v1Mux
}

func (s *Server) v1Routes() *http.ServeMux {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/users", s.listUsers)
	api.HandleFunc("POST /api/v1/users", s.createUser)
	api.HandleFunc("GET /api/v1/users/{phone}", s.getUser)
	api.HandleFunc("DELETE /api/v1/users/{phone}", s.eraseUser)
	api.HandleFunc("PUT /api/v1/users/{phone}/consent", s.setConsent)
	api.HandleFunc("GET /api/v1/users/{phone}/consent/history", s.consentHistory)
	api.HandleFunc("GET /api/v1/users/{phone}/history", s.personHistory)
	api.HandleFunc("POST /api/v1/users/bulk", s.bulkImport)
	api.HandleFunc("POST /api/v1/ingest/users/bulk", s.bulkImport)
	api.HandleFunc("POST /api/v1/ingest/uploads", s.createUpload)
	api.HandleFunc("GET /api/v1/ingest/status/{id}", s.importStatus)
	api.HandleFunc("GET /api/v1/ingest/status/{id}/errors.csv", s.importErrors)
	api.HandleFunc("GET /api/v1/suppressions", s.listSuppressions)
	api.HandleFunc("POST /api/v1/suppressions", s.suppress)
	api.HandleFunc("DELETE /api/v1/suppressions/{phone}", s.unsuppress)
	api.HandleFunc("GET /api/v1/segments", s.listSegments)
	api.HandleFunc("POST /api/v1/segments", s.createSegment)
	api.HandleFunc("GET /api/v1/segments/{id}", s.getSegment)
	api.HandleFunc("PUT /api/v1/segments/{id}", s.updateSegment)
	api.HandleFunc("GET /api/v1/segments/{id}/preview", s.previewSegment)
	api.HandleFunc("POST /api/v1/segments/preview", s.previewDefinition)
	api.HandleFunc("GET /api/v1/templates", s.listTemplates)
	api.HandleFunc("POST /api/v1/templates", s.createTemplate)
	api.HandleFunc("GET /api/v1/templates/{id}", s.getTemplate)
	api.HandleFunc("PUT /api/v1/templates/{id}", s.updateTemplate)
	api.HandleFunc("POST /api/v1/templates/{id}/preview", s.previewTemplate)
	api.HandleFunc("GET /api/v1/campaigns", s.listCampaigns)
	api.HandleFunc("POST /api/v1/campaigns", s.createCampaign)
	api.HandleFunc("GET /api/v1/campaigns/{id}", s.getCampaign)
	api.HandleFunc("PUT /api/v1/campaigns/{id}", s.editCampaign)
	api.HandleFunc("POST /api/v1/campaigns/{id}/trigger", s.triggerCampaign)
	api.HandleFunc("GET /api/v1/campaigns/{id}/dry-run", s.getDryRun)
	api.HandleFunc("POST /api/v1/campaigns/{id}/pause", s.moveCampaign(s.Runner.Pause))
	api.HandleFunc("POST /api/v1/campaigns/{id}/resume", s.moveCampaign(s.Runner.Resume))
	api.HandleFunc("POST /api/v1/campaigns/{id}/cancel", s.moveCampaign(s.Runner.Cancel))
	api.HandleFunc("GET /api/v1/campaigns/{id}/history", s.campaignHistory)
	api.HandleFunc("GET /api/v1/reporting/campaigns/{id}/summary", s.campaignSummary)
	api.HandleFunc("GET /api/v1/reporting/campaigns/{id}/messages.csv", s.exportMessages)
	api.HandleFunc("GET /api/v1/reporting/messages/status", s.messageStatus)
	api.HandleFunc("GET /api/v1/messages", s.listMessages)
	api.HandleFunc("POST /api/v1/messages/{id}/resolve", s.resolveMessage)
	api.HandleFunc("GET /api/v1/monitoring/inbound", s.monitorInbound)
	api.HandleFunc("GET /api/v1/monitoring/dashboard", s.dashboard)
	api.HandleFunc("GET /api/v1/monitoring/dead-letters", s.listDeadLetters)
	api.HandleFunc("POST /api/v1/monitoring/dead-letters/{topic}/{id}/replay", s.replayDeadLetter)
	api.HandleFunc("POST /api/v1/monitoring/dead-letters/{topic}/{id}/discard", s.discardDeadLetter)
	api.HandleFunc("POST /api/v1/maintenance/republish-webhooks", s.republishWebhooks)
	api.HandleFunc("POST /api/v1/maintenance/check-campaigns", s.checkCampaigns)
	api.HandleFunc("POST /api/v1/maintenance/check-imports", s.checkImports)
	api.HandleFunc("POST /api/v1/maintenance/launch-scheduled", s.launchScheduled)
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		render.ErrorMessage(w, http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
	return api
}

// authenticated lets through the requests whose caller proves who it is
// (see caller), and names the caller in the request's log lines.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, err := s.caller(r)
		if errs.Is(err, errs.Permission) {
			render.ErrorMessage(w, http.StatusForbidden, err.Error())
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="event-stream-engine"`)
			render.ErrorMessage(w, http.StatusUnauthorized, err.Error())
			return
		}
		log := logging.FromContext(r.Context()).With("caller", who)
		ctx := context.WithValue(logging.WithLogger(r.Context(), log), callerKey{}, who)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type callerKey struct{}

// callerOf is who made the request, as authenticated put it in ctx (see
// caller): what a campaign's history records as having moved it.
func callerOf(ctx context.Context) string {
	who, _ := ctx.Value(callerKey{}).(string)
	return who
}

// IDTokenValidator checks a Google ID token's signature and expiry (and
// its audience, when one is given): *idtoken.Validator, or in tests one
// that trusts a test key (idtokentest).
type IDTokenValidator interface {
	Validate(ctx context.Context, token, audience string) (*idtoken.Payload, error)
}

// caller says who made r: "api-key" for the bearer key, or the e-mail of
// the Google identity whose ID token it carries (in Authorization, or in
// X-Serverless-Authorization when Authorization carries the key), checked
// here: signed by Google, not expired, issued by Google, for one of our
// audiences. A key sent beside it must still be the right one.
func (s *Server) caller(r *http.Request) (string, error) {
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	bearer = strings.TrimSpace(bearer)
	if s.TrustIAM {
		token, ok := jwtIn(r.Header.Get("X-Serverless-Authorization"))
		if !ok {
			if token, ok = jwtIn(bearer); ok {
				bearer = ""
			}
		}
		if !ok {
			return "", errs.E(errs.Unauthenticated, "no Google identity: send an ID token (gcloud auth print-identity-token) as Authorization: Bearer <token>")
		}
		who, err := s.identity(r.Context(), token)
		if err != nil {
			return "", err
		}
		if bearer != "" && !s.keyMatches(bearer) {
			return "", errs.E(errs.Unauthenticated, "wrong API key in Authorization (the ID token goes in X-Serverless-Authorization)")
		}
		if len(s.Admins) > 0 && !s.Admins[strings.ToLower(who)] {
			return "", errs.E(errs.Permission, "%s is not among the API's admins (API_ADMINS)", who)
		}
		return who, nil
	}
	if bearer == "" || !s.keyMatches(bearer) {
		return "", errs.E(errs.Unauthenticated, "missing or wrong API key: send Authorization: Bearer <key>")
	}
	return "api-key", nil
}

func (s *Server) keyMatches(key string) bool {
	sum := sha256.Sum256([]byte(key))
	return s.KeyHash != nil && subtle.ConstantTimeCompare(sum[:], s.KeyHash) == 1
}

// jwtIn is the JWT in h, with or without a "Bearer " prefix; ok is false
// when h holds none.
func jwtIn(h string) (string, bool) {
	h = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(h), "Bearer "))
	return h, strings.Count(h, ".") == 2
}

// signatureRemoved is what Cloud Run IAM puts in place of the signature
// of the ID token it checked, before the function sees the request.
const signatureRemoved = "SIGNATURE_REMOVED_BY_GOOGLE"

// googleIssuers are the issuers of Google's ID tokens.
var googleIssuers = []string{"accounts.google.com", "https://accounts.google.com"}

// identity checks token as a Google ID token for one of s.Audiences and
// says whose it is: its verified e-mail, else its subject.
func (s *Server) identity(ctx context.Context, token string) (string, error) {
	if s.IDTokens == nil || len(s.Audiences) == 0 {
		return "", errs.E(errs.Unauthenticated, "ID tokens are not accepted: no validator or audiences (ID_TOKEN_AUDIENCES)")
	}
	var p *idtoken.Payload
	var err error
	if s.TrustCloudRunIAM && strings.HasSuffix(token, "."+signatureRemoved) {
		// Cloud Run IAM checked the signature and removed it.
		if p, err = idtoken.ParsePayload(token); err == nil && s.now().Unix() > p.Expires {
			err = errors.New("token expired")
		}
	} else {
		// The audience is checked below, against the list.
		p, err = s.IDTokens.Validate(ctx, token, "")
	}
	if err != nil {
		return "", errs.Wrap(errs.Unauthenticated, err, "the ID token is not valid")
	}
	if !slices.Contains(googleIssuers, p.Issuer) {
		return "", errs.E(errs.Unauthenticated, "the ID token's issuer %q is not Google", p.Issuer)
	}
	if !slices.Contains(s.Audiences, p.Audience) {
		return "", errs.E(errs.Unauthenticated, "the ID token is for %q, not this service (ID_TOKEN_AUDIENCES)", p.Audience)
	}
	email, _ := p.Claims["email"].(string)
	verified, _ := p.Claims["email_verified"].(bool)
	switch {
	case email != "" && verified:
		return email, nil
	case email != "":
		return "", errs.E(errs.Unauthenticated, "the ID token's e-mail is not verified")
	case p.Subject != "":
		return p.Subject, nil
	}
	return "", errs.E(errs.Unauthenticated, "the ID token names no one")
}

// EmailSet is a list of e-mails in lower case, for API_ADMINS and
// CONSOLE_ADMINS: compared without regard to case, as Google treats them.
func EmailSet(emails []string) map[string]bool {
	set := map[string]bool{}
	for _, e := range emails {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			set[e] = true
		}
	}
	return set
}

// Caller says who made r as the API judges it (see caller): the Console
// admits the same callers, by the same rules.
func (s *Server) Caller(r *http.Request) (string, error) { return s.caller(r) }

// KeyMatches reports whether key is the API key (compared in constant
// time): the Console's sign-in form takes it.
func (s *Server) KeyMatches(key string) bool { return s.keyMatches(key) }
