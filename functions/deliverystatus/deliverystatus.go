// Package deliverystatus is the HandleStatus function (topic
// delivery-status): it reads each stored Twilio status callback into a
// deliverystatus.Callback, which moves its message forward.
package deliverystatus

import (
	"context"
	"fmt"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/functions/internal/twilioform"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/webhook"
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
	setup.MarketingOptOut
	setup.AutoPause
	setup.Events // read by edge.EventFunc
}

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (_ edge.Handler, err error) {
	var opened setup.Opened
	defer opened.CloseIf(&err)
	var cfg Config
	st, err := setup.LoadStore(ctx, &cfg, l)
	if err != nil {
		return nil, err
	}
	opened.Add(st.Close)
	// A rate-limited send's new attempt is asked for through
	// recipient-batch, as is an auto-pause's settle.
	psc, pub, err := setup.PubSub(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	opened.Add(psc.Close)
	return Over(&deliverystatus.Applier{Store: st, GiveUpAfter: cfg.GiveUpAfter,
		Failures: setup.FailureWatchWith(cfg.AutoPause, st, pub), Retries: setup.Retries(st, pub),
		MarketingOptOutCodes: cfg.MarketingOptOut.Codes}), nil
}

// New returns the handler over st; failures, if not nil, is told of each
// message a callback fails; marketingOptOut are the error codes that say
// the person stopped marketing messages (MARKETING_OPT_OUT_CODES). A
// rate-limited send is FAILED at once: Over takes an Applier with Retries.
func New(st store.Store, giveUpAfter time.Duration, failures deliverystatus.FailureWatch, marketingOptOut ...string) edge.Handler {
	return Over(&deliverystatus.Applier{Store: st, GiveUpAfter: giveUpAfter, Failures: failures, MarketingOptOutCodes: marketingOptOut})
}

// Over returns the handler applying statuses through a.
func Over(a *deliverystatus.Applier) edge.Handler {
	return edge.Decoded(func(ctx context.Context, e webhook.Event) error {
		if e.Unstored {
			// The Webhooks function's store refused it: stored here, for
			// the audit trail, before it is applied; trimmed when the
			// store refuses it whole as Invalid, and applied unstored when
			// refused even so (a permanent error would ack it unapplied).
			e.Unstored, e.Published = false, true
			rec := e
			_, _, err := twilioform.StoreTrimmed(&rec, func(e webhook.Event) (webhook.Event, bool, error) { return a.Store.RecordWebhook(ctx, e) }, func(err error) {
				logging.FromContext(ctx).Warn("HandleStatus: the store refused the callback; storing it trimmed", "message_sid", e.MessageSID, "error", err)
			})
			switch {
			case errs.Is(err, errs.Invalid):
				logging.FromContext(ctx).Error("HandleStatus: the store refused the callback even trimmed; applied unstored", "message_sid", e.MessageSID, "error", err)
			case err != nil:
				return fmt.Errorf("HandleStatus: record: %w", err)
			}
		}
		return a.Apply(ctx, twilioform.Status(e))
	})
}
