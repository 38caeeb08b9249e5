// Package console is the Console function: the operator's web console,
// server-rendered pages at /, /users, /segments, /templates, /campaigns and
// /monitoring. It reads and acts through the API's own handlers, in
// process (api.Server.As), so every rule, validation error and recorded
// caller is the API's; it only renders them as HTML.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/api"
	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/store"
)

func init() {
	functions.HTTP("Console", Handle)
}

// Config is what the Console reads: the API's settings (it builds an API
// server from the same environment and acts through it), and its session.
type Config struct {
	api.Config
	// SessionKey signs the session cookie and its CSRF tokens: 32 bytes
	// or more, hex or base64 (deployed: from Secret Manager). Unset, it is
	// derived from the API key, which suits one local machine.
	SessionKey string `env:"CONSOLE_SESSION_KEY"`
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration `env:"CONSOLE_SESSION_TTL, default=12h"`
	// Admins are the e-mails admitted with API_AUTH=iam; empty admits
	// every identity IAM let through (the invoker role is the allow list).
	Admins []string `env:"CONSOLE_ADMINS"`
	// StorageEmulator (STORAGE_EMULATOR_HOST) is where signed upload URLs
	// point locally; the page may PUT files there.
	StorageEmulator string `env:"STORAGE_EMULATOR_HOST"`
}

// Validate checks the session key (api.Config checks its own).
func (c Config) Validate() error {
	if c.SessionKey != "" {
		if _, err := c.sessionKey(); err != nil {
			return err
		}
	} else if c.Auth == api.AuthIAM {
		return errors.New("API_AUTH=iam needs CONSOLE_SESSION_KEY (32 random bytes, hex or base64)")
	}
	if c.SessionTTL < time.Minute {
		return fmt.Errorf("CONSOLE_SESSION_TTL=%s: want a minute or more", c.SessionTTL)
	}
	return nil
}

// sessionKey decodes SessionKey, or derives one from the API key.
func (c Config) sessionKey() ([]byte, error) {
	if c.SessionKey == "" {
		m := hmac.New(sha256.New, []byte("ese-console-session"))
		m.Write([]byte(c.APIKey + "|" + c.APIKeySHA256))
		return m.Sum(nil), nil
	}
	for _, dec := range []func(string) ([]byte, error){hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawURLEncoding.DecodeString} {
		if k, err := dec(c.SessionKey); err == nil && len(k) >= 32 {
			return k, nil
		}
	}
	return nil, errors.New("CONSOLE_SESSION_KEY must be at least 32 bytes, hex or base64")
}

// Handle serves the Console function.
var Handle = edge.HTTPFunc("Console", Build)

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (http.Handler, error) {
	var cfg Config
	if err := setup.Load(ctx, &cfg, l); err != nil {
		return nil, err
	}
	key, _ := cfg.sessionKey() // checked by Validate
	a, err := api.New(ctx, l)
	if err != nil {
		return nil, fmt.Errorf("api.New: %w", err)
	}
	s := &Server{API: a, Store: a.Store, SessionKey: key, SessionTTL: cfg.SessionTTL, Admins: api.EmailSet(cfg.Admins), IAM: cfg.Auth == api.AuthIAM,
		StorageHost: cfg.StorageEmulator, CloudRun: cfg.KService != ""}
	return s.Routes(), nil
}

// Server serves the Console.
type Server struct {
	// API is the API's server: the Console acts as its signed-in admin.
	API *api.Server
	// Store is read directly only where the API has no read to offer
	// (the users search, the message series of the charts).
	Store      store.Store
	SessionKey []byte
	SessionTTL time.Duration
	// IAM admits the Google identity whose ID token the API checked;
	// Admins (lower-case e-mails), when not empty, narrows it.
	IAM    bool
	Admins map[string]bool
	// StorageHost is STORAGE_EMULATOR_HOST: large files go there locally.
	StorageHost string
	// CloudRun (K_SERVICE set): a client's address is the X-Forwarded-For
	// hop Cloud Run's front end appends; elsewhere, the connection's.
	CloudRun bool
	Now      func() time.Time

	charts  seriesCache
	signIns *signInGuard
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Routes returns every page of the Console. A page's path never begins
// with /api/, /webhooks/, /events/ or /tasks/, which the other functions
// serve on the one local origin.
func (s *Server) Routes() http.Handler {
	if s.signIns == nil {
		s.signIns = newSignInGuard()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles()))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.signedIn(s.logout))
	mux.HandleFunc("GET /{$}", s.signedIn(s.dashboard))
	mux.HandleFunc("GET /users", s.signedIn(s.users))
	mux.HandleFunc("POST /users", s.signedIn(s.createUser))
	mux.HandleFunc("POST /users/import", s.limitImport(s.signedIn(s.importUsers)))
	mux.HandleFunc("POST /users/upload-url", s.signedIn(s.uploadURL))
	mux.HandleFunc("GET /imports/{id}", s.signedIn(s.importPage))
	mux.HandleFunc("GET /imports/{id}/errors.csv", s.signedIn(s.importErrors))
	mux.HandleFunc("GET /users/{phone}", s.signedIn(s.userPage))
	mux.HandleFunc("GET /users/{phone}/confirm", s.signedIn(s.confirmUser))
	mux.HandleFunc("POST /users/{phone}/consent", s.signedIn(s.setConsent))
	mux.HandleFunc("POST /users/{phone}/erase", s.signedIn(s.eraseUser))
	mux.HandleFunc("GET /segments", s.signedIn(s.segments))
	mux.HandleFunc("POST /segments", s.signedIn(s.createSegment))
	mux.HandleFunc("POST /segments/count", s.signedIn(s.countSegment))
	mux.HandleFunc("GET /segments/{id}", s.signedIn(s.segmentPage))
	mux.HandleFunc("POST /segments/{id}", s.signedIn(s.updateSegment))
	mux.HandleFunc("GET /templates", s.signedIn(s.templates))
	mux.HandleFunc("POST /templates", s.signedIn(s.createTemplate))
	mux.HandleFunc("GET /templates/{id}", s.signedIn(s.templatePage))
	mux.HandleFunc("POST /templates/{id}", s.signedIn(s.updateTemplate))
	mux.HandleFunc("POST /templates/{id}/preview", s.signedIn(s.previewTemplate))
	mux.HandleFunc("GET /campaigns", s.signedIn(s.campaigns))
	mux.HandleFunc("POST /campaigns", s.signedIn(s.createCampaign))
	mux.HandleFunc("GET /campaigns/{id}", s.signedIn(s.campaignPage))
	mux.HandleFunc("GET /campaigns/{id}/confirm", s.signedIn(s.confirmCampaign))
	mux.HandleFunc("POST /campaigns/{id}/edit", s.signedIn(s.editCampaign))
	mux.HandleFunc("POST /campaigns/{id}/{action}", s.signedIn(s.moveCampaign))
	mux.HandleFunc("GET /campaigns/{id}/messages.csv", s.signedIn(s.exportMessages))
	mux.HandleFunc("GET /campaigns/{id}/messages/{mid}/confirm", s.signedIn(s.confirmResolve))
	mux.HandleFunc("POST /campaigns/{id}/messages/{mid}/resolve", s.signedIn(s.resolveMessage))
	mux.HandleFunc("GET /monitoring", s.signedIn(s.monitoring))
	mux.HandleFunc("GET /monitoring/dead-letters/{topic}/{id}/confirm", s.signedIn(s.confirmDeadLetter))
	mux.HandleFunc("POST /monitoring/dead-letters/{topic}/{id}/{action}", s.signedIn(s.deadLetter))
	mux.HandleFunc("POST /suppressions", s.signedIn(s.suppress))
	mux.HandleFunc("GET /suppressions/{phone}/confirm", s.signedIn(s.confirmUnsuppress))
	mux.HandleFunc("POST /suppressions/{phone}/lift", s.signedIn(s.unsuppress))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.notFound(w, r)
	})
	return securityHeaders(mux, s.uploadOrigin())
}

// uploadOrigin is where the browser PUTs large files: the storage
// emulator locally, else Cloud Storage.
func (s *Server) uploadOrigin() string {
	if s.StorageHost != "" {
		if strings.HasPrefix(s.StorageHost, "http://") || strings.HasPrefix(s.StorageHost, "https://") {
			return strings.TrimSuffix(s.StorageHost, "/")
		}
		return "http://" + s.StorageHost
	}
	return "https://storage.googleapis.com"
}

// securityHeaders sets what every page needs: no framing, no sniffing,
// and a policy that runs only the Console's own scripts and styles, and
// connects only to itself and the uploads bucket.
func securityHeaders(next http.Handler, uploads string) http.Handler {
	csp := "default-src 'self'; connect-src 'self' " + uploads + "; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
