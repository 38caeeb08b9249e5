package channelpolicy

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := at.Add(-d); return &t }
	cases := []struct {
		name        string
		contentSID  bool
		lastInbound *time.Time
		want        Channel
		ok          bool
	}{
		{"template_never_wrote", true, nil, Template, true},
		{"template_inside_window", true, ago(time.Hour), Template, true},
		{"template_long_ago", true, ago(30 * 24 * time.Hour), Template, true},
		{"free_text_never_wrote", false, nil, "", false},
		{"free_text_an_hour_after", false, ago(time.Hour), Session, true},
		{"free_text_a_second_before_close", false, ago(Window - time.Second), Session, true},
		{"free_text_at_close", false, ago(Window), "", false},
		{"free_text_after_close", false, ago(Window + time.Minute), "", false},
		// A message stamped a little after our clock (another instance,
		// Twilio's time) still opens the window.
		{"free_text_wrote_just_after", false, ago(-time.Second), Session, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Decide(tc.contentSID, tc.lastInbound, at)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Decide = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
