package quiethours

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
)

func TestParse(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name       string
		start, end string
		want       Window
		wantErr    []errs.Detail
	}{
		{name: "none", want: Window{}},
		{name: "night_wraps_midnight", start: "22:00", end: "08:00", want: Window{Start: 22 * 60, End: 8 * 60, set: true}},
		{name: "same_day", start: "01:30", end: "05:45", want: Window{Start: 90, End: 345, set: true}},
		{name: "midnight_bounds", start: "00:00", end: "23:59", want: Window{Start: 0, End: 23*60 + 59, set: true}},
		{name: "start_only", start: "22:00", wantErr: []errs.Detail{{Field: "quiet_hours_end", Message: "is required when the other bound is set (HH:MM)"}}},
		{name: "end_only", end: "08:00", wantErr: []errs.Detail{{Field: "quiet_hours_start", Message: "is required when the other bound is set (HH:MM)"}}},
		{name: "one_digit_hour", start: "7:00", end: "08:00", wantErr: []errs.Detail{{Field: "quiet_hours_start", Message: `must be HH:MM, got "7:00"`}}},
		{name: "hour_24", start: "22:00", end: "24:00", wantErr: []errs.Detail{{Field: "quiet_hours_end", Message: `must be HH:MM, got "24:00"`}}},
		{name: "seconds", start: "22:00:00", end: "08:00", wantErr: []errs.Detail{{Field: "quiet_hours_start", Message: `must be HH:MM, got "22:00:00"`}}},
		{
			name: "both_bad", start: "10pm", end: "8am",
			wantErr: []errs.Detail{
				{Field: "quiet_hours_start", Message: `must be HH:MM, got "10pm"`},
				{Field: "quiet_hours_end", Message: `must be HH:MM, got "8am"`},
			},
		},
		{name: "empty_window", start: "08:00", end: "08:00", wantErr: []errs.Detail{{Field: "quiet_hours_end", Message: "must differ from quiet_hours_start"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.start, tc.end)
			if tc.wantErr != nil {
				if !errs.Is(err, errs.Invalid) {
					t.Fatalf("Parse = %+v, %v; want an invalid error", got, err)
				}
				if diff := cmp.Diff(tc.wantErr, errs.DetailsOf(err)); diff != "" {
					t.Errorf("details (-want, +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(Window{})); diff != "" {
				t.Errorf("Parse (-want, +got):\n%s", diff)
			}
			if got.IsZero() != (tc.start == "") {
				t.Errorf("IsZero = %v", got.IsZero())
			}
		})
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestQuiet(t *testing.T) {
	t.Parallel()

	colombo := mustLoad(t, "Asia/Colombo")
	newYork := mustLoad(t, "America/New_York")
	lordHowe := mustLoad(t, "Australia/Lord_Howe") // a 30-minute DST shift
	w := func(start, end string) Window {
		win, err := Parse(start, end)
		if err != nil {
			t.Fatal(err)
		}
		return win
	}
	night := w("22:00", "08:00")

	cases := []struct {
		name      string
		window    Window
		at        time.Time
		loc       *time.Location
		wantQuiet bool
		wantEnd   time.Time
	}{
		{name: "no_window", window: Window{}, at: time.Date(2026, 3, 10, 23, 0, 0, 0, colombo), loc: colombo},
		{name: "literal_window_without_parse_is_none", window: Window{Start: 0, End: 1439}, at: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo), loc: colombo},
		{name: "before_start", window: night, at: time.Date(2026, 3, 10, 21, 59, 59, 0, colombo), loc: colombo},
		{name: "at_start", window: night, at: time.Date(2026, 3, 10, 22, 0, 0, 0, colombo), loc: colombo, wantQuiet: true, wantEnd: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo)},
		{name: "before_midnight", window: night, at: time.Date(2026, 3, 10, 23, 59, 0, 0, colombo), loc: colombo, wantQuiet: true, wantEnd: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo)},
		{name: "after_midnight", window: night, at: time.Date(2026, 3, 11, 0, 0, 0, 0, colombo), loc: colombo, wantQuiet: true, wantEnd: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo)},
		{name: "last_second", window: night, at: time.Date(2026, 3, 11, 7, 59, 59, 0, colombo), loc: colombo, wantQuiet: true, wantEnd: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo)},
		{name: "at_end", window: night, at: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), loc: colombo},
		{name: "month_end_wraps", window: night, at: time.Date(2026, 12, 31, 23, 0, 0, 0, colombo), loc: colombo, wantQuiet: true, wantEnd: time.Date(2027, 1, 1, 8, 0, 0, 0, colombo)},
		{name: "utc_input_judged_in_zone", window: night, at: time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC), loc: colombo, wantQuiet: true, wantEnd: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo)},
		{name: "same_day_window_inside", window: w("01:00", "05:00"), at: time.Date(2026, 3, 10, 2, 0, 0, 0, colombo), loc: colombo, wantQuiet: true, wantEnd: time.Date(2026, 3, 10, 5, 0, 0, 0, colombo)},
		{name: "same_day_window_outside", window: w("01:00", "05:00"), at: time.Date(2026, 3, 10, 23, 0, 0, 0, colombo), loc: colombo},
		{
			name: "dst_spring_forward", window: night, loc: newYork,
			at:        time.Date(2026, 3, 8, 1, 30, 0, 0, newYork),                 // EST
			wantQuiet: true, wantEnd: time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), // 08:00 EDT
		},
		{
			name: "dst_spring_forward_end_in_gap", window: w("22:00", "02:30"), loc: newYork,
			at:        time.Date(2026, 3, 8, 1, 45, 0, 0, newYork),                // EST; 02:30 never happens
			wantQuiet: true, wantEnd: time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), // 03:00 EDT, when the clock jumps past 02:30
		},
		{
			name: "dst_spring_forward_end_in_gap_lord_howe", window: w("22:00", "02:15"), loc: lordHowe,
			// Lord Howe jumps from 02:00 (+10:30) to 02:30 (+11) on 2026-10-04.
			at:        time.Date(2026, 10, 3, 15, 0, 0, 0, time.UTC), // 01:30 +10:30
			wantQuiet: true, wantEnd: time.Date(2026, 10, 3, 15, 30, 0, 0, time.UTC),
		},
		{
			name: "dst_fall_back", window: night, loc: newYork,
			at:        time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC),                 // 23:00 EDT on Oct 31
			wantQuiet: true, wantEnd: time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC), // 08:00 EST
		},
		{
			name: "dst_fall_back_end_in_repeated_hour_first_pass", window: w("22:00", "01:30"), loc: newYork,
			at:        time.Date(2026, 11, 1, 5, 15, 0, 0, time.UTC),                // 01:15 EDT
			wantQuiet: true, wantEnd: time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), // 01:30 EDT
		},
		{
			name: "dst_fall_back_end_in_repeated_hour_second_pass", window: w("22:00", "01:30"), loc: newYork,
			at:        time.Date(2026, 11, 1, 6, 15, 0, 0, time.UTC),                // 01:15 EST, the clock's second time round
			wantQuiet: true, wantEnd: time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), // 01:30 EST, not a day later
		},
		{
			name: "dst_spring_forward_swallows_the_open_slot", window: w("02:30", "02:00"), loc: newYork,
			// Only 02:00-02:30 is open, and on 2026-03-08 it never happens.
			at:        time.Date(2026, 3, 7, 22, 0, 0, 0, newYork),
			wantQuiet: true, wantEnd: time.Date(2026, 3, 9, 2, 0, 0, 0, newYork),
		},
		{
			name: "half_hour_dst_shift_second_pass", window: w("22:00", "01:45"), loc: lordHowe,
			// Lord Howe falls back 30 minutes at 02:00 (+11) on 2026-04-05; 01:35 (+10:30) is the second 01:35.
			at:        time.Date(2026, 4, 4, 15, 5, 0, 0, time.UTC),
			wantQuiet: true, wantEnd: time.Date(2026, 4, 4, 15, 15, 0, 0, time.UTC),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			quiet, end := tc.window.Quiet(tc.at, tc.loc)
			if quiet != tc.wantQuiet {
				t.Fatalf("Quiet(%v) = %v, want %v", tc.at.In(tc.loc), quiet, tc.wantQuiet)
			}
			if !end.Equal(tc.wantEnd) {
				t.Errorf("Quiet(%v) ends %v, want %v", tc.at.In(tc.loc), end, tc.wantEnd.In(tc.loc))
			}
			if quiet {
				if !end.After(tc.at) {
					t.Errorf("end %v is not after %v", end, tc.at)
				}
				if end.Location() != tc.loc {
					t.Errorf("end is in %v, want %v", end.Location(), tc.loc)
				}
				if q, _ := tc.window.Quiet(end, tc.loc); q {
					t.Errorf("still quiet at the end %v", end.In(tc.loc))
				}
			}
		})
	}
}

// FuzzQuiet checks, across zones with clock changes, that a quiet moment's
// end is after it, within two days, not itself quiet, and quiet just
// before.
func FuzzQuiet(f *testing.F) {
	f.Add(int64(1772951400), 22*60, 8*60, uint8(0))    // 2026-03-08 01:30 EST
	f.Add(int64(1793510100), 22*60, 90, uint8(0))      // 2026-11-01 01:15 EST, second pass
	f.Add(int64(1775315100), 22*60, 105, uint8(2))     // Lord Howe fall back
	f.Add(int64(1791046800), 22*60, 2*60+15, uint8(2)) // Lord Howe spring forward
	zones := []string{"America/New_York", "Asia/Colombo", "Australia/Lord_Howe", "Europe/London", "America/Santiago", "UTC"}
	locs := make([]*time.Location, len(zones))
	for i, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			f.Fatal(err)
		}
		locs[i] = loc
	}
	f.Fuzz(func(t *testing.T, unix int64, start, end int, zone uint8) {
		if start < 0 || end < 0 || start >= 24*60 || end >= 24*60 || start == end {
			return
		}
		unix %= 1 << 34 // years 1970 to 2514
		if unix < 0 {
			unix = -unix
		}
		w := Window{Start: start, End: end, set: true}
		loc := locs[int(zone)%len(locs)]
		at := time.Unix(unix, 0)
		quiet, until := w.Quiet(at, loc)
		if !quiet {
			if !until.IsZero() {
				t.Fatalf("not quiet but ends %v", until)
			}
			return
		}
		switch {
		case !until.After(at):
			t.Fatalf("%v in %v: ends %v, not after", at.In(loc), loc, until)
		case until.Sub(at) > 48*time.Hour:
			t.Fatalf("%v in %v: ends %v, more than two days later", at.In(loc), loc, until)
		}
		if q, _ := w.Quiet(until, loc); q {
			t.Fatalf("%v in %v: still quiet at the end %v", at.In(loc), loc, until.In(loc))
		}
		if q, _ := w.Quiet(until.Add(-time.Second), loc); !q {
			t.Fatalf("%v in %v: not quiet just before the end %v", at.In(loc), loc, until.In(loc))
		}
	})
}

// TestQuietAroundClockChanges sweeps windows on a half-hour grid and
// moments every quarter hour around each 2026 clock change in a few zones.
func TestQuietAroundClockChanges(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago"} {
		loc := mustLoad(t, name)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		for range 2 {
			_, change := at.ZoneBounds()
			if change.IsZero() {
				t.Fatalf("%s: no clock change after %v", name, at)
			}
			at = change
			for start := 0; start < 24*60; start += 30 {
				for end := 0; end < 24*60; end += 30 {
					if start == end {
						continue
					}
					win := Window{Start: start, End: end, set: true}
					for m := -4 * 60; m <= 4*60; m += 15 {
						now := change.Add(time.Duration(m) * time.Minute)
						quiet, until := win.Quiet(now, loc)
						if !quiet {
							continue
						}
						// Over a day only when a clock change swallows the open slot.
						if !until.After(now) || until.Sub(now) > 48*time.Hour {
							t.Fatalf("%s %+v at %v: ends %v", name, win, now.In(loc), until.In(loc))
						}
						if q, _ := win.Quiet(until, loc); q {
							t.Fatalf("%s %+v at %v: still quiet at the end %v", name, win, now.In(loc), until.In(loc))
						}
						if q, _ := win.Quiet(until.Add(-time.Second), loc); !q {
							t.Fatalf("%s %+v at %v: not quiet just before the end %v", name, win, now.In(loc), until.In(loc))
						}
					}
				}
			}
		}
	}
}

// TestQuietOvernightAcrossClockChanges follows a 21:00-08:00 night, and
// windows with an edge in the skipped or the repeated hour, through both
// 2026 clock changes in New York and London. Instants are UTC; the
// comments give the local clock.
func TestQuietOvernightAcrossClockChanges(t *testing.T) {
	t.Parallel()

	utc := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, time.UTC)
	}
	type result struct {
		Quiet bool
		Until time.Time
	}
	cases := []struct {
		name       string
		zone       string
		start, end string
		at         time.Time
		want       result
	}{
		// An ordinary night in New York (EST, UTC-5).
		{name: "ny_before_start", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(1, 15, 1, 59), want: result{}},                                       // 20:59
		{name: "ny_at_start", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(1, 15, 2, 0), want: result{true, utc(1, 15, 13, 0)}},                     // 21:00 -> 08:00 next morning
		{name: "ny_before_midnight", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(1, 15, 4, 59), want: result{true, utc(1, 15, 13, 0)}},             // 23:59
		{name: "ny_after_midnight", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(1, 15, 5, 0), want: result{true, utc(1, 15, 13, 0)}},               // 00:00
		{name: "ny_last_minute", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(1, 15, 12, 59), want: result{true, utc(1, 15, 13, 0)}},                // 07:59
		{name: "ny_at_end", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(1, 15, 13, 0), want: result{}},                                             // 08:00
		{name: "ny_midday", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(1, 15, 17, 0), want: result{}},                                             // 12:00
		{name: "ny_month_end_next_morning", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(2, 1, 3, 0), want: result{true, utc(2, 1, 13, 0)}},         // Jan 31 22:00 -> Feb 1 08:00
		{name: "ny_year_end_next_morning", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(12, 31, 2, 30), want: result{true, utc(12, 31, 13, 0)}},     // Dec 30 21:30 -> Dec 31 08:00
		{name: "ny_same_day_window_on_the_day", zone: "America/New_York", start: "12:00", end: "14:00", at: utc(1, 15, 17, 30), want: result{true, utc(1, 15, 19, 0)}}, // 12:30 -> 14:00

		// New York springs forward at 02:00 EST (07:00Z) on 2026-03-08: 02:00-02:59 never happens.
		{name: "ny_spring_night_starts", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(3, 8, 2, 0), want: result{true, utc(3, 8, 12, 0)}},        // 21:00 EST -> 08:00 EDT
		{name: "ny_spring_before_jump", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(3, 8, 6, 59), want: result{true, utc(3, 8, 12, 0)}},        // 01:59 EST
		{name: "ny_spring_after_jump", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(3, 8, 7, 0), want: result{true, utc(3, 8, 12, 0)}},          // 03:00 EDT
		{name: "ny_spring_at_end", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(3, 8, 12, 0), want: result{}},                                   // 08:00 EDT
		{name: "ny_spring_start_skipped_before", zone: "America/New_York", start: "02:30", end: "08:00", at: utc(3, 8, 6, 59), want: result{}},                     // 01:59 EST
		{name: "ny_spring_start_skipped_after", zone: "America/New_York", start: "02:30", end: "08:00", at: utc(3, 8, 7, 0), want: result{true, utc(3, 8, 12, 0)}}, // 03:00 EDT: the jump passed 02:30
		{name: "ny_spring_end_skipped", zone: "America/New_York", start: "21:00", end: "02:30", at: utc(3, 8, 6, 45), want: result{true, utc(3, 8, 7, 0)}},         // 01:45 EST -> the jump to 03:00 EDT
		{name: "ny_spring_end_skipped_after", zone: "America/New_York", start: "21:00", end: "02:30", at: utc(3, 8, 7, 0), want: result{}},                         // 03:00 EDT

		// New York falls back at 02:00 EDT (06:00Z) on 2026-11-01: 01:00-01:59 happens twice.
		{name: "ny_fall_night_starts", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(11, 1, 1, 0), want: result{true, utc(11, 1, 13, 0)}},           // Oct 31 21:00 EDT -> 08:00 EST
		{name: "ny_fall_first_pass", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(11, 1, 5, 30), want: result{true, utc(11, 1, 13, 0)}},            // 01:30 EDT
		{name: "ny_fall_second_pass", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(11, 1, 6, 30), want: result{true, utc(11, 1, 13, 0)}},           // 01:30 EST
		{name: "ny_fall_last_minute", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(11, 1, 12, 59), want: result{true, utc(11, 1, 13, 0)}},          // 07:59 EST
		{name: "ny_fall_at_end", zone: "America/New_York", start: "21:00", end: "08:00", at: utc(11, 1, 13, 0), want: result{}},                                       // 08:00 EST
		{name: "ny_fall_start_repeated_before", zone: "America/New_York", start: "01:30", end: "08:00", at: utc(11, 1, 5, 29), want: result{}},                        // 01:29 EDT
		{name: "ny_fall_start_repeated_begins", zone: "America/New_York", start: "01:30", end: "08:00", at: utc(11, 1, 5, 30), want: result{true, utc(11, 1, 13, 0)}}, // 01:30 EDT
		// The clock goes back to 01:00 after the window began: it stays quiet.
		{name: "ny_fall_start_repeated_clock_back", zone: "America/New_York", start: "01:30", end: "08:00", at: utc(11, 1, 6, 0), want: result{true, utc(11, 1, 13, 0)}},   // 01:00 EST
		{name: "ny_fall_start_repeated_second_pass", zone: "America/New_York", start: "01:30", end: "08:00", at: utc(11, 1, 6, 29), want: result{true, utc(11, 1, 13, 0)}}, // 01:29 EST
		{name: "ny_fall_end_repeated_first_pass", zone: "America/New_York", start: "21:00", end: "01:30", at: utc(11, 1, 5, 15), want: result{true, utc(11, 1, 5, 30)}},    // 01:15 EDT -> 01:30 EDT
		{name: "ny_fall_end_repeated_between", zone: "America/New_York", start: "21:00", end: "01:30", at: utc(11, 1, 5, 45), want: result{}},                              // 01:45 EDT
		// The clock reads inside the window again: quiet again, to its second 01:30.
		{name: "ny_fall_end_repeated_second_pass", zone: "America/New_York", start: "21:00", end: "01:30", at: utc(11, 1, 6, 15), want: result{true, utc(11, 1, 6, 30)}}, // 01:15 EST -> 01:30 EST

		// London springs forward at 01:00 GMT (01:00Z) on 2026-03-29: 01:00-01:59 never happens.
		{name: "london_spring_night", zone: "Europe/London", start: "21:00", end: "08:00", at: utc(3, 28, 21, 0), want: result{true, utc(3, 29, 7, 0)}},              // 21:00 GMT -> 08:00 BST
		{name: "london_spring_at_end", zone: "Europe/London", start: "21:00", end: "08:00", at: utc(3, 29, 7, 0), want: result{}},                                    // 08:00 BST
		{name: "london_spring_start_skipped_before", zone: "Europe/London", start: "01:30", end: "08:00", at: utc(3, 29, 0, 59), want: result{}},                     // 00:59 GMT
		{name: "london_spring_start_skipped_after", zone: "Europe/London", start: "01:30", end: "08:00", at: utc(3, 29, 1, 0), want: result{true, utc(3, 29, 7, 0)}}, // 02:00 BST
		{name: "london_spring_end_skipped", zone: "Europe/London", start: "21:00", end: "01:30", at: utc(3, 29, 0, 45), want: result{true, utc(3, 29, 1, 0)}},        // 00:45 GMT -> the jump to 02:00 BST

		// London falls back at 02:00 BST (01:00Z) on 2026-10-25: 01:00-01:59 happens twice.
		{name: "london_fall_night", zone: "Europe/London", start: "21:00", end: "08:00", at: utc(10, 24, 20, 0), want: result{true, utc(10, 25, 8, 0)}},                     // 21:00 BST -> 08:00 GMT
		{name: "london_fall_second_pass", zone: "Europe/London", start: "21:00", end: "08:00", at: utc(10, 25, 1, 30), want: result{true, utc(10, 25, 8, 0)}},               // 01:30 GMT
		{name: "london_fall_at_end", zone: "Europe/London", start: "21:00", end: "08:00", at: utc(10, 25, 8, 0), want: result{}},                                            // 08:00 GMT
		{name: "london_fall_start_repeated_begins", zone: "Europe/London", start: "01:30", end: "08:00", at: utc(10, 25, 0, 30), want: result{true, utc(10, 25, 8, 0)}},     // 01:30 BST
		{name: "london_fall_start_repeated_clock_back", zone: "Europe/London", start: "01:30", end: "08:00", at: utc(10, 25, 1, 0), want: result{true, utc(10, 25, 8, 0)}},  // 01:00 GMT
		{name: "london_fall_end_repeated_first_pass", zone: "Europe/London", start: "21:00", end: "01:30", at: utc(10, 25, 0, 15), want: result{true, utc(10, 25, 0, 30)}},  // 01:15 BST -> 01:30 BST
		{name: "london_fall_end_repeated_between", zone: "Europe/London", start: "21:00", end: "01:30", at: utc(10, 25, 0, 45), want: result{}},                             // 01:45 BST
		{name: "london_fall_end_repeated_second_pass", zone: "Europe/London", start: "21:00", end: "01:30", at: utc(10, 25, 1, 15), want: result{true, utc(10, 25, 1, 30)}}, // 01:15 GMT -> 01:30 GMT
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loc := mustLoad(t, tc.zone)
			w, err := Parse(tc.start, tc.end)
			if err != nil {
				t.Fatal(err)
			}
			var got result
			got.Quiet, got.Until = w.Quiet(tc.at, loc)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Quiet(%v) in %s (-want, +got):\n%s", tc.at.In(loc), tc.zone, diff)
			}
		})
	}
}
