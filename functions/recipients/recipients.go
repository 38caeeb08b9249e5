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
	"github.com/eventstreamengine/ese/shared/events"
)

func init() {
	functions.CloudEvent("ProcessRecipients", Handle)
}

// Config is what ProcessRecipients reads from its environment.
type Config struct {
	setup.Project
	setup.Tasks
}

var handler = &edge.Lazy[edge.Handler]{Build: func(ctx context.Context) (edge.Handler, error) {
	return Build(ctx, nil)
}}

// Handle serves the ProcessRecipients function.
var Handle = edge.Event("ProcessRecipients", handler)

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
		var ev events.Recipients
		if err := events.Decode(m, &ev); err != nil {
			return err
		}
		return r.Recipients(ctx, ev)
	}
}
