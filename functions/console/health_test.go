package console

import (
	"context"
	"strings"
	"testing"
)

// TestDashboardTwilioUnchecked: the dashboard's dependencies are the
// API's /health with the Console's settings; without Twilio's (as
// deployed) it says Twilio is not checked, rather than leave it out
// silently.
func TestDashboardTwilioUnchecked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		twilioChecked bool
		wantNote      bool
	}{
		{name: "without_twilio_settings", twilioChecked: false, wantNote: true},
		{name: "with_twilio_settings", twilioChecked: true, wantNote: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tc.twilioChecked {
				f.s.API.Checks["twilio"] = func(context.Context) error { return nil }
			}
			f.signIn()
			body := bodyOf(t, f.do("GET", "/", nil))
			if got := strings.Contains(body, `id="twilio-unchecked"`); got != tc.wantNote {
				t.Errorf("the note that Twilio is not checked: %v, want %v", got, tc.wantNote)
			}
			if got := strings.Contains(body, "<li>twilio: "); got != tc.twilioChecked {
				t.Errorf("twilio listed: %v, want %v", got, tc.twilioChecked)
			}
		})
	}
}
