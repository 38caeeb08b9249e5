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
	"github.com/eventstreamengine/ese/shared/events"
)

func init() {
	functions.CloudEvent("LaunchCampaign", Handle)
}

// Config is what LaunchCampaign reads from its environment.
type Config struct {
	setup.Project
	setup.Tasks
}

var handler = &edge.Lazy[edge.Handler]{Build: func(ctx context.Context) (edge.Handler, error) {
	return Build(ctx, nil)
}}

// Handle serves the LaunchCampaign function.
var Handle = edge.Event("LaunchCampaign", handler)

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	r, err := setup.Runner(ctx, l)
	if err != nil {
		return nil, err
	}
	return New(r), nil
}

// New returns the handler over r.
func New(r *campaignrun.Runner) edge.Handler {
	return func(ctx context.Context, m events.Message) error {
		var ev events.Launch
		if err := events.Decode(m, &ev); err != nil {
			return err
		}
		return r.Launch(ctx, ev)
	}
}
