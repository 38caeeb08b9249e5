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
	"strings"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
	"github.com/eventstreamengine/ese/shared/render"
	"github.com/eventstreamengine/ese/shared/store"
)

func init() {
	functions.HTTP("API", Handle)
}

// Config is what the API reads from its environment.
type Config struct {
	setup.Project
	setup.Tasks
	setup.Twilio
	// APIKey is the bearer key in clear (local use); production sets
	// APIKeySHA256, the hex SHA-256 of the key, from a secret.
	APIKey       string `env:"API_KEY"`
	APIKeySHA256 string `env:"API_KEY_SHA256"`
	// Subscriptions /health requires; empty means "<topic>-push" for
	// every topic.
	Subscriptions []string `env:"PUBSUB_SUBSCRIPTIONS"`
}

// keyHash returns the SHA-256 the bearer key must hash to.
func (c Config) keyHash() ([]byte, error) {
	switch {
	case c.APIKeySHA256 != "":
		h, err := hex.DecodeString(c.APIKeySHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, errors.New("api: API_KEY_SHA256 must be 64 hex digits")
		}
		return h, nil
	case c.APIKey != "":
		h := sha256.Sum256([]byte(c.APIKey))
		return h[:], nil
	}
	return nil, errors.New("api: set API_KEY or API_KEY_SHA256")
}

// Handle serves the API function.
var Handle = edge.HTTPFunc("API", Build)

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (_ http.Handler, err error) {
	var opened setup.Opened
	defer opened.CloseIf(&err)
	var cfg Config
	if err := setup.Load(ctx, &cfg, l); err != nil {
		return nil, err
	}
	hash, err := cfg.keyHash()
	if err != nil {
		return nil, err
	}
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
	q, err := setup.Queue(ctx, cfg.Project, cfg.Tasks)
	if err != nil {
		return nil, err
	}
	opened.Add(q.Close)
	prov, err := setup.Provider(cfg.Twilio)
	if err != nil {
		return nil, err
	}
	subs := cfg.Subscriptions
	if len(subs) == 0 {
		for _, t := range events.Topics {
			subs = append(subs, events.PushSubscription(t))
		}
	}
	s := &Server{
		KeyHash: hash, Store: st, Events: pub,
		Runner:      &campaignrun.Runner{Store: st, Events: pub, Queue: q},
		DeadLetters: pubsubevents.NewDeadLetters(psc, events.Topics),
		Checks: map[string]func(context.Context) error{
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
			"cloud_tasks": q.Ready,
			"twilio":      prov.Ready,
		},
	}
	return s.Routes(), nil
}

// Server serves the API.
type Server struct {
	KeyHash []byte
	Store   store.Store
	Events  events.Publisher
	Runner  *campaignrun.Runner
	// DeadLetters lists and replays events that ran out of delivery
	// attempts; without it, those routes answer 501.
	DeadLetters events.DeadLetters
	// Checks are the dependencies /health reports, by name.
	Checks map[string]func(context.Context) error
	Now    func() time.Time
	// ImportBatchSize is how many rows one import event carries.
	ImportBatchSize int

	healthCache healthCache
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Routes returns every route of the API.
func (s *Server) Routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/users", s.listUsers)
	api.HandleFunc("POST /api/v1/users", s.createUser)
	api.HandleFunc("GET /api/v1/users/{phone}", s.getUser)
	api.HandleFunc("PUT /api/v1/users/{phone}/consent", s.setConsent)
	api.HandleFunc("GET /api/v1/users/{phone}/consent/history", s.consentHistory)
	api.HandleFunc("POST /api/v1/users/bulk", s.bulkImport)
	api.HandleFunc("POST /api/v1/ingest/users/bulk", s.bulkImport)
	api.HandleFunc("GET /api/v1/ingest/status/{id}", s.importStatus)
	api.HandleFunc("GET /api/v1/segments", s.listSegments)
	api.HandleFunc("POST /api/v1/segments", s.createSegment)
	api.HandleFunc("GET /api/v1/segments/{id}", s.getSegment)
	api.HandleFunc("GET /api/v1/segments/{id}/preview", s.previewSegment)
	api.HandleFunc("GET /api/v1/templates", s.listTemplates)
	api.HandleFunc("POST /api/v1/templates", s.createTemplate)
	api.HandleFunc("GET /api/v1/templates/{id}", s.getTemplate)
	api.HandleFunc("GET /api/v1/campaigns", s.listCampaigns)
	api.HandleFunc("POST /api/v1/campaigns", s.createCampaign)
	api.HandleFunc("GET /api/v1/campaigns/{id}", s.getCampaign)
	api.HandleFunc("POST /api/v1/campaigns/{id}/trigger", s.triggerCampaign)
	api.HandleFunc("GET /api/v1/reporting/campaigns/{id}/summary", s.campaignSummary)
	api.HandleFunc("GET /api/v1/reporting/messages/status", s.messageStatus)
	api.HandleFunc("GET /api/v1/monitoring/inbound", s.monitorInbound)
	api.HandleFunc("GET /api/v1/monitoring/dashboard", s.dashboard)
	api.HandleFunc("GET /api/v1/monitoring/dead-letters", s.listDeadLetters)
	api.HandleFunc("POST /api/v1/monitoring/dead-letters/{topic}/{id}/replay", s.replayDeadLetter)
	api.HandleFunc("POST /api/v1/maintenance/republish-webhooks", s.republishWebhooks)
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		render.ErrorMessage(w, http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("/api/", s.authenticated(api))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		render.ErrorMessage(w, http.StatusNotFound, "not found: the API lives under /api/v1")
	})
	return mux
}

// authenticated lets through requests bearing the key.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
		if !ok || subtle.ConstantTimeCompare(sum[:], s.KeyHash) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="event-stream-engine"`)
			render.ErrorMessage(w, http.StatusUnauthorized, "missing or wrong API key: send Authorization: Bearer <key>")
			return
		}
		next.ServeHTTP(w, r)
	})
}
