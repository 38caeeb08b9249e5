package setup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/emulators/twilio/twiliotest"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sms"
)

// The provider setup.Provider builds gives up on a call after
// TWILIO_TIMEOUT, not the 15 s default: the Sender's RECONCILE_AFTER is
// bounded by it, so the two must agree.
func TestProvider_uses_TWILIO_TIMEOUT(t *testing.T) {
	t.Parallel()
	apiURL := twiliotest.Hanging(t)
	env := maps(good)
	env["TWILIO_API_URL"], env["TWILIO_TIMEOUT"] = apiURL, "100ms"
	var tw setup.Twilio
	if err := setup.Load(t.Context(), &tw, envconfig.MapLookuper(env)); err != nil {
		t.Fatal(err)
	}
	p, err := setup.Provider(tw)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Send(t.Context(), sms.Request{To: "+94771234577", Body: "Hi"})
	if !errs.Is(err, errs.Transient) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send() error = %v, want a transient deadline error", err)
	}
	// Far below the 15 s default, so the test fails if the setting is lost.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Send() took %v, want about TWILIO_TIMEOUT (100ms)", took)
	}
}
