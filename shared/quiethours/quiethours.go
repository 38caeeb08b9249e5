// Package quiethours decides whether a moment falls in a recipient's quiet
// hours, in their own time zone, and when the window ends.
package quiethours

import (
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
)

// Window is a daily span of local time in which nothing is sent. Start and
// End are minutes after midnight; a window may wrap past midnight. The zero
// Window is "no quiet hours".
type Window struct {
	Start, End int
	set        bool
}

// Parse reads "HH:MM" bounds; both empty means no quiet hours.
func Parse(start, end string) (Window, error) {
	if start == "" && end == "" {
		return Window{}, nil
	}
	var d []errs.Detail
	s, err := clock(start)
	if err != nil {
		d = append(d, errs.Detail{Field: "quiet_hours_start", Message: err.Error()})
	}
	e, err := clock(end)
	if err != nil {
		d = append(d, errs.Detail{Field: "quiet_hours_end", Message: err.Error()})
	}
	if len(d) > 0 {
		return Window{}, errs.WithDetails(errs.Invalid, "invalid quiet hours", d)
	}
	if s == e {
		return Window{}, errs.WithDetails(errs.Invalid, "invalid quiet hours",
			[]errs.Detail{{Field: "quiet_hours_end", Message: "must differ from quiet_hours_start"}})
	}
	return Window{Start: s, End: e, set: true}, nil
}

func clock(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("is required when the other bound is set (HH:MM)")
	}
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("must be HH:MM, got %q", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// IsZero reports whether the window is "no quiet hours".
func (w Window) IsZero() bool { return !w.set }

// Quiet reports whether t falls in the window in loc, and if so when the
// window ends (the first moment sending is allowed again). A window that
// has begun lasts until the clock reads its end, even if the clock is
// turned back meanwhile; a reading that comes twice is quiet both times.
func (w Window) Quiet(t time.Time, loc *time.Location) (bool, time.Time) {
	if !w.set {
		return false, time.Time{}
	}
	lt := t.In(loc)
	if !w.quiet(lt) {
		return false, time.Time{}
	}
	return true, w.end(lt, loc)
}

// quiet reports whether the window holds at lt: its clock reading is in
// the window, or the window had begun when the clock was turned back and
// the clock has not yet read the window's end. Without the second, a
// window starting in a repeated hour (01:30 on a fall-back night) would
// reopen for up to an hour after it began.
func (w Window) quiet(lt time.Time) bool {
	if w.in(lt) {
		return true
	}
	change, _ := lt.ZoneBounds()
	if change.IsZero() {
		return false
	}
	before := change.Add(-time.Second)
	_, offBefore := before.Zone()
	_, offAfter := change.Zone()
	if offBefore <= offAfter || !w.in(before) {
		return false
	}
	// Minutes after the change at which the clock first reads End.
	toEnd := (w.End - (change.Hour()*60 + change.Minute()) + 24*60) % (24 * 60)
	return lt.Before(change.Add(time.Duration(toEnd) * time.Minute))
}

// in reports whether the local clock reading of lt is in the window.
func (w Window) in(lt time.Time) bool {
	m := lt.Hour()*60 + lt.Minute()
	if w.Start < w.End {
		return m >= w.Start && m < w.End
	}
	return m >= w.Start || m < w.End
}

// end returns the first moment after t at which the clock reads w.End, or
// has just jumped past it, and the window is over. Clock changes make
// time.Date alone wrong both ways: a reading skipped when clocks go
// forward (02:30 on a spring-forward night) comes back as a moment before
// t, and a reading repeated when they go back (01:30 on a fall-back night)
// has two moments, of which time.Date gives either. Either way a window
// ending then could hold a message for a day instead of minutes.
func (w Window) end(t time.Time, loc *time.Location) time.Time {
	var best time.Time
	consider := func(c time.Time) {
		if c.After(t) && !w.quiet(c) && (best.IsZero() || c.Before(best)) {
			best = c
		}
	}
	for day := range 7 { // one or two days always do; the bound is for safety
		d := time.Date(t.Year(), t.Month(), t.Day()+day, w.End/60, w.End%60, 0, 0, loc)
		if !reads(d, w.End) {
			// Skipped: the window ends when the clock jumps over it.
			consider(transitionNear(d))
		} else {
			consider(d)
			_, before := d.Add(-3 * time.Hour).Zone()
			_, after := d.Add(3 * time.Hour).Zone()
			if delta := time.Duration(before-after) * time.Second; delta > 0 {
				// Clocks went back near d: the reading may come twice.
				for _, c := range []time.Time{d.Add(-delta), d.Add(delta)} {
					if reads(c, w.End) {
						consider(c)
					}
				}
			}
		}
		if !best.IsZero() {
			return best
		}
	}
	return time.Date(t.Year(), t.Month(), t.Day()+1, w.End/60, w.End%60, 0, 0, loc)
}

// reads reports whether t's clock shows minutes after midnight.
func reads(t time.Time, minutes int) bool { return t.Hour()*60+t.Minute() == minutes }

// transitionNear returns the clock change next to t, which time.Date put
// on one side or the other of a skipped reading.
func transitionNear(t time.Time) time.Time {
	start, end := t.ZoneBounds()
	if !start.IsZero() && t.Sub(start) < 3*time.Hour {
		return start
	}
	if !end.IsZero() {
		return end
	}
	return t
}
