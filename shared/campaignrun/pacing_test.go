package campaignrun

import (
	"strings"
	"testing"
)

// A dry run warns when a campaign's sends take over an hour at its rate:
// its counts are judged at the start.
func TestPacingWarning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		rate, sends int
		want        string // part of the warning; "" for none
	}{
		{"nothing_to_send", 10, 0, ""},
		{"an_hour_exactly", 1, 3600, ""},
		{"over_an_hour", 1, 3601, "about 1h0m0s"},
		{"a_day_at_ten", 10, 864000, "about 24h0m0s"},
		{"fast_enough", 500, 1_000_000, ""},
		{"no_rate", 0, 10, ""},
	} {
		got := pacingWarning(tc.rate, tc.sends)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: pacingWarning(%d, %d) = %q, want one containing %q", tc.name, tc.rate, tc.sends, got, tc.want)
		}
	}
}
