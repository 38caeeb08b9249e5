// Package deliverystatus is the HandleStatus function (topic
// delivery-status): Twilio's status callbacks move messages forward.
package deliverystatus

import (
	"context"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/store"
)

func init() {
	functions.CloudEvent("HandleStatus", Handle)
}

// Handle serves the HandleStatus function.
var Handle = edge.EventFunc("HandleStatus", Build)

// Config is what HandleStatus reads from its environment.
type Config struct {
	setup.Project
	setup.StatusRetry
	setup.Events // read by edge.EventFunc
}

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	var cfg Config
	st, err := setup.LoadStore(ctx, &cfg, l)
	if err != nil {
		return nil, err
	}
	return New(st, cfg.GiveUpAfter), nil
}

// New returns the handler over st.
func New(st store.Store, giveUpAfter time.Duration) edge.Handler {
	return edge.Decoded((&deliverystatus.Applier{Store: st, GiveUpAfter: giveUpAfter}).Apply)
}
