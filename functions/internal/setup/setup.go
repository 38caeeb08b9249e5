// Package setup builds what the functions need from the environment: the
// configuration each reads, and the store, publisher, send queue and
// provider clients it asks for. Tests pass a map instead of the process
// environment.
package setup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/compute/metadata"
	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
	"github.com/eventstreamengine/ese/shared/sendqueue/cloudtasks"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store/gcpfirestore"
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

// Twilio configures the provider.
type Twilio struct {
	AccountSID string `env:"TWILIO_ACCOUNT_SID, required"`
	AuthToken  string `env:"TWILIO_AUTH_TOKEN, required"`
	From       string `env:"TWILIO_FROM, default=whatsapp:+14155238886"`
	APIURL     string `env:"TWILIO_API_URL"`
}

// Load fills cfg (a pointer to a struct with env tags) from l, or from the
// process environment when l is nil.
func Load(ctx context.Context, cfg any, l envconfig.Lookuper) error {
	if l == nil {
		l = envconfig.OsLookuper()
	}
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: l}); err != nil {
		return fmt.Errorf("setup.Load: %w", err)
	}
	return nil
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
	return gcpfirestore.New(c), nil
}

// PubSub opens a Pub/Sub client (the emulator when PUBSUB_EMULATOR_HOST
// is set) and a publisher on it.
func PubSub(ctx context.Context, p Project) (*pubsub.Client, *pubsubevents.Publisher, error) {
	id, err := p.ProjectID(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := pubsub.NewClient(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("setup.PubSub: %w", err)
	}
	return c, pubsubevents.New(c), nil
}

// Queue opens the Cloud Tasks send queues.
func Queue(ctx context.Context, p Project, t Tasks) (*cloudtasks.Queue, error) {
	if t.Emulator == "" && t.ServiceAccount == "" {
		return nil, errors.New("setup.Queue: TASKS_SERVICE_ACCOUNT is required when CLOUD_TASKS_EMULATOR_HOST is unset: the Sender accepts only tasks carrying its OIDC token")
	}
	id, err := p.ProjectID(ctx)
	if err != nil {
		return nil, err
	}
	q, err := cloudtasks.New(ctx, cloudtasks.Config{
		Project: id, Location: t.Location, Endpoint: t.Emulator,
		TargetURL: t.SenderURL, ServiceAccount: t.ServiceAccount, Audience: cmp.Or(t.Audience, t.SenderURL),
	})
	if err != nil {
		return nil, fmt.Errorf("setup.Queue: %w", err)
	}
	return q, nil
}

// Provider builds the Twilio provider.
func Provider(t Twilio) (*twilio.Provider, error) {
	p, err := twilio.New(twilio.Config{AccountSID: t.AccountSID, AuthToken: t.AuthToken, From: t.From, APIURL: t.APIURL})
	if err != nil {
		return nil, fmt.Errorf("setup.Provider: %w", err)
	}
	return p, nil
}

// RunnerConfig is what a campaign step reads from its environment.
type RunnerConfig struct {
	Project
	Tasks
}

// Runner builds a campaign runner over Firestore, Pub/Sub and Cloud Tasks.
func Runner(ctx context.Context, l envconfig.Lookuper) (_ *campaignrun.Runner, err error) {
	var opened Opened
	defer opened.CloseIf(&err)
	var cfg RunnerConfig
	st, err := LoadStore(ctx, &cfg, l)
	if err != nil {
		return nil, err
	}
	opened.Add(st.Close)
	psc, pub, err := PubSub(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	opened.Add(psc.Close)
	q, err := Queue(ctx, cfg.Project, cfg.Tasks)
	if err != nil {
		return nil, err
	}
	return &campaignrun.Runner{Store: st, Events: pub, Queue: q, QueueCreateTimeout: cfg.QueueCreateTimeout}, nil
}

// RunnerStep builds a campaign step: step picks the Runner method the
// function runs (LaunchCampaign and ProcessRecipients differ only there).
func RunnerStep[H any](ctx context.Context, l envconfig.Lookuper, step func(*campaignrun.Runner) H) (H, error) {
	r, err := Runner(ctx, l)
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
