// Package launch is the LaunchCampaign function (topic campaign-launch):
// one page of segment evaluation per event.
package launch

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/campaignrun"
)

func init() {
	functions.CloudEvent("LaunchCampaign", Handle)
}

// Handle serves the LaunchCampaign function.
var Handle = edge.EventFunc("LaunchCampaign", Build)

// Config is what LaunchCampaign reads from its environment: it creates
// the messages, so it decides how long they are kept.
type Config struct {
	setup.RunnerConfig
	setup.MessageRetention
	// A dry run read here counts the frequency cap and warns before the
	// sender's messaging limit.
	setup.FrequencyCap
	setup.MessagingLimit
}

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	cfg := &Config{}
	return setup.RunnerStep(ctx, cfg, l, func(r *campaignrun.Runner) edge.Handler {
		r.WhatsAppTier, _ = cfg.Tier() // validated by the load
		r.FrequencyCap = cfg.PerDay
		return New(r)
	})
}

// New returns the handler over r.
func New(r *campaignrun.Runner) edge.Handler { return edge.Decoded(r.Launch) }
