// Package twiliotest serves the Twilio stand-in for one test and builds
// the real twilio-go provider pointed at it: the pair every test of code
// that sends needs.
package twiliotest

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
)

// The stand-in's credentials and sender.
const (
	AccountSID = "AC0123456789abcdef0123456789abcdef"
	AuthToken  = "testtoken"
	From       = "whatsapp:+14155238886"
)

// Start serves a stand-in until tb ends and returns it with a provider
// talking to it. Status callbacks wait an hour: a test that wants them
// builds its own stand-in.
func Start(tb testing.TB) (*standin.Server, *twilio.Provider) {
	tb.Helper()
	si := standin.New(standin.Config{AccountSID: AccountSID, AuthToken: AuthToken, StatusStep: time.Hour,
		Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(si)
	tb.Cleanup(func() { srv.Close(); si.Close() })
	p, err := twilio.New(twilio.Config{AccountSID: AccountSID, AuthToken: AuthToken, From: From, APIURL: srv.URL})
	if err != nil {
		tb.Fatalf("twilio.New: %v", err)
	}
	return si, p
}

// Hanging serves, until tb ends, an API that never answers: each request
// waits until its client gives up. For tests of a client's timeout.
func Hanging(tb testing.TB) string {
	hang := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	tb.Cleanup(func() {
		close(hang)
		ts.Close()
	})
	return ts.URL
}
