package compliance

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/channelpolicy"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/user"
)

// TestCheckQuietHoursLondon judges a 21:00-08:00 night in a Londoner's
// zone through both 2026 clock changes.
// Instants are UTC; the comments give London's clock.
func TestCheckQuietHoursLondon(t *testing.T) {
	t.Parallel()

	london := user.User{Phone: "+447700900123", Consent: consent.OptIn, Attributes: map[string]any{"timezone": "Europe/London"}}
	night := mustWindow(t, "21:00", "08:00")
	lateStart := mustWindow(t, "01:30", "08:00")
	utc := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, time.UTC)
	}
	send := Decision{Action: Send, Body: "Hello", Zone: "Europe/London", Channel: channelpolicy.Session}
	deferTo := func(until time.Time) Decision {
		return Decision{Action: Defer, Until: until, Body: "Hello", Zone: "Europe/London", Channel: channelpolicy.Session}
	}

	cases := []struct {
		name string
		in   Input
		want Decision
	}{
		{name: "evening_before_the_window", in: Input{Quiet: night, Now: utc(1, 15, 20, 59)}, want: send},                             // 20:59 GMT
		{name: "at_start_deferred_to_next_morning", in: Input{Quiet: night, Now: utc(1, 15, 21, 0)}, want: deferTo(utc(1, 16, 8, 0))}, // 21:00 GMT
		{name: "after_midnight", in: Input{Quiet: night, Now: utc(1, 16, 0, 30)}, want: deferTo(utc(1, 16, 8, 0))},                    // 00:30 GMT
		{name: "at_end", in: Input{Quiet: night, Now: utc(1, 16, 8, 0)}, want: send},                                                  // 08:00 GMT
		// Spring forward at 01:00 GMT on 2026-03-29: the night is an hour shorter.
		{name: "spring_forward_night", in: Input{Quiet: night, Now: utc(3, 28, 23, 0)}, want: deferTo(utc(3, 29, 7, 0))},         // 23:00 GMT -> 08:00 BST
		{name: "spring_forward_after_the_jump", in: Input{Quiet: night, Now: utc(3, 29, 1, 0)}, want: deferTo(utc(3, 29, 7, 0))}, // 02:00 BST
		{name: "spring_forward_at_end", in: Input{Quiet: night, Now: utc(3, 29, 7, 0)}, want: send},                              // 08:00 BST
		// Fall back at 02:00 BST on 2026-10-25: the night is an hour longer.
		{name: "fall_back_night", in: Input{Quiet: night, Now: utc(10, 24, 22, 0)}, want: deferTo(utc(10, 25, 8, 0))},         // 23:00 BST -> 08:00 GMT
		{name: "fall_back_repeated_hour", in: Input{Quiet: night, Now: utc(10, 25, 1, 30)}, want: deferTo(utc(10, 25, 8, 0))}, // 01:30 GMT
		{name: "fall_back_at_end", in: Input{Quiet: night, Now: utc(10, 25, 8, 0)}, want: send},                               // 08:00 GMT
		// A window starting at 01:30 BST stays shut when the clock goes back to 01:00.
		{name: "fall_back_window_began_before_the_clock_went_back", in: Input{Quiet: lateStart, Now: utc(10, 25, 1, 0)}, want: deferTo(utc(10, 25, 8, 0))}, // 01:00 GMT
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.in
			in.User, in.Exists, in.Template = london, true, text("Hello")
			// They wrote an hour before: free text may go, deferred too.
			wrote := in.Now.Add(-time.Hour)
			in.User.LastInboundAt = &wrote
			if diff := cmp.Diff(tc.want, Check(in)); diff != "" {
				t.Errorf("Check at %v (-want, +got):\n%s", in.Now, diff)
			}
		})
	}
}
