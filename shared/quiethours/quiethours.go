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
// window ends (the first moment sending is allowed again).
func (w Window) Quiet(t time.Time, loc *time.Location) (bool, time.Time) {
	if !w.set {
		return false, time.Time{}
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	in := false
	if w.Start < w.End {
		in = m >= w.Start && m < w.End
	} else {
		in = m >= w.Start || m < w.End
	}
	if !in {
		return false, time.Time{}
	}
	end := time.Date(lt.Year(), lt.Month(), lt.Day(), w.End/60, w.End%60, 0, 0, loc)
	if !end.After(lt) {
		end = time.Date(lt.Year(), lt.Month(), lt.Day()+1, w.End/60, w.End%60, 0, 0, loc)
	}
	return true, end
}
