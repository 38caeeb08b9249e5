// Package sender is the Sender function: the target of every campaign's
// Cloud Tasks queue. It sends one message per task through the provider,
// exactly once however often the task is delivered (see shared/sending).
package sender

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/render"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sendqueue"
)

func init() {
	functions.HTTP("Sender", Handle)
}

// Config is what the Sender reads from its environment.
type Config struct {
	setup.Project
	setup.Twilio
	setup.Tasks
	setup.AutoPause
	setup.FrequencyCap
	setup.SenderCeiling // a campaign it concludes or pauses frees its share
	setup.Reconcile
	// PublicBaseURL is the Webhooks function's public origin: status
	// callbacks go to its /webhooks/status.
	PublicBaseURL string `env:"PUBLIC_BASE_URL, required"`
}

// Validate checks PUBLIC_BASE_URL, and that RECONCILE_AFTER outlasts
// TWILIO_TIMEOUT.
func (c Config) Validate() error {
	return errors.Join(setup.CheckPublicBaseURL(c.PublicBaseURL), setup.CheckReconcile(c.Reconcile, c.Twilio))
}

// Handle serves the Sender function.
var Handle = edge.HTTPFunc("Sender", Build)

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
	p, err := setup.Provider(cfg.Twilio)
	if err != nil {
		return nil, err
	}
	q, err := setup.Queue(ctx, cfg.Project, cfg.Tasks, st)
	if err != nil {
		return nil, err
	}
	// The Sender pauses a failing campaign itself (and its queue), so its
	// runner publishes nothing: it settles a pause at once.
	runner := &campaignrun.Runner{Store: st, Queue: q, AutoPause: cfg.AutoPause.Settings(), SenderMPS: cfg.SenderCeiling.MPS}
	return New(&sending.Sender{
		Store: st, Provider: p, Queue: q, Campaign: runner, Failures: runner, Pauser: runner,
		StatusCallback: setup.StatusCallbackURL(cfg.PublicBaseURL),
		ReconcileAfter: cfg.Reconcile.After,
		UnknownOutcome: cfg.Reconcile.Policy(),
		FrequencyCap:   cfg.FrequencyCap.PerDay,
	}), nil
}

// New returns the handler over s. Cloud Tasks retries any answer but 2xx,
// so a task that can never succeed is answered 200 with its reason.
func New(s *sending.Sender) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			render.ErrorMessage(w, http.StatusMethodNotAllowed, "POST a send task")
			return
		}
		var p sendqueue.Payload
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&p); err != nil || p.MessageID == "" {
			logging.FromContext(r.Context()).Error("unreadable send task dropped", "error", err)
			render.JSON(w, http.StatusOK, map[string]string{"outcome": "dropped", "error": "unreadable task"})
			return
		}
		ctx := logging.WithLogger(r.Context(), logging.FromContext(r.Context()).With(
			"campaign_id", p.CampaignID, "message_id", p.MessageID,
			"task_retry", r.Header.Get("X-CloudTasks-TaskRetryCount")))
		outcome, err := s.Send(ctx, p)
		if err = edge.Decide(ctx, err); err != nil {
			render.ErrorMessage(w, http.StatusServiceUnavailable, "retry later")
			return
		}
		if outcome == "" {
			render.JSON(w, http.StatusOK, map[string]string{"outcome": "dropped"})
			return
		}
		render.JSON(w, http.StatusOK, map[string]string{"outcome": string(outcome)})
	})
}
