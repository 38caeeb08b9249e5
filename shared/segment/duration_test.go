package segment

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	cases := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "30d", want: 30 * day},
		{in: "12h", want: 12 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "2w", want: 14 * day},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "1w2d3h4m", want: 9*day + 3*time.Hour + 4*time.Minute},
		{in: "007d", want: 7 * day},
		{in: "0d1m", want: time.Minute},
		{in: "36500d", want: MaxDuration},
		{in: "", wantErr: "is empty"},
		{in: "30", wantErr: "30 has no unit (w, d, h or m)"},
		{in: "d", wantErr: "must be whole numbers each followed by a unit (w, d, h, m), such as 30d or 1d12h"},
		{in: "1.5d", wantErr: "unknown unit '.' (want w, d, h or m)"},
		{in: "-1d", wantErr: "must be whole numbers each followed by a unit (w, d, h, m), such as 30d or 1d12h"},
		{in: "30s", wantErr: "unknown unit 's' (want w, d, h or m)"},
		{in: "30D", wantErr: "unknown unit 'D' (want w, d, h or m)"},
		{in: "1 d", wantErr: "unknown unit ' ' (want w, d, h or m)"},
		{in: "12h1d", wantErr: "unit d comes after a smaller one or twice: give the largest first, such as 1d12h"},
		{in: "1d1d", wantErr: "unit d comes after a smaller one or twice: give the largest first, such as 1d12h"},
		{in: "0d", wantErr: "must be more than zero"},
		{in: "0w0m", wantErr: "must be more than zero"},
		{in: "36501d", wantErr: "is longer than 36500 days"},
		{in: "5300w", wantErr: "is longer than 36500 days"},
		{in: "99999999999999999999m", wantErr: "is longer than 36500 days"},
		{in: "30110000d", wantErr: "is longer than 36500 days"}, // would overflow
		{in: "52560000m", want: MaxDuration},
		{in: "52560001m", wantErr: "is longer than 36500 days"},
		{in: "36499d1441m", wantErr: "is longer than 36500 days"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tc.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Fatalf("ParseDuration(%q) error (-want, +got):\n%s", tc.in, diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseDuration(%q) (-want, +got):\n%s", tc.in, diff)
			}
		})
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30d", "12h", "90m", "1w2d3h4m", "", "0d", "36500d", "1d1d", "9999999999w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("ParseDuration(%q) = %v with error %v", s, d, err)
			}
			return
		}
		if d <= 0 || d > MaxDuration || d%time.Minute != 0 {
			t.Fatalf("ParseDuration(%q) = %v, want whole minutes in (0, %v]", s, d, MaxDuration)
		}
	})
}
