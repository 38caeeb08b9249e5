// Package recipients is the ProcessRecipients function (topic
// recipient-batch): compliance checks for a batch of a campaign's messages,
// then one paced send task each.
package recipients

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/campaignrun"
)

func init() {
	functions.CloudEvent("ProcessRecipients", Handle)
}

// Handle serves the ProcessRecipients function.
var Handle = edge.EventFunc("ProcessRecipients", Build)

// Config is what ProcessRecipients reads from its environment.
type Config struct {
	setup.RunnerConfig
	setup.FrequencyCap
}

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	var cfg Config
	return setup.RunnerStep(ctx, &cfg, l, func(r *campaignrun.Runner) edge.Handler {
		r.FrequencyCap = cfg.FrequencyCap.PerDay // cfg is loaded by now
		return New(r)
	})
}

// New returns the handler over r.
func New(r *campaignrun.Runner) edge.Handler { return edge.Decoded(r.Recipients) }
