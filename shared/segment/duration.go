package segment

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a within_last span, kept as written ("30d") so that a
// definition reads back as it was given.
type Duration struct {
	Text string
	D    time.Duration
}

// MaxDuration bounds within_last: longer spans are surely mistakes, and
// the bound keeps every cut-off a representable time.
const MaxDuration = 100 * 365 * 24 * time.Hour

// The units a duration may use, largest first.
var durationUnits = []struct {
	unit byte
	d    time.Duration
}{
	{'w', 7 * 24 * time.Hour},
	{'d', 24 * time.Hour},
	{'h', time.Hour},
	{'m', time.Minute},
}

// ParseDuration reads a span such as "30d", "12h", "90m", "2w" or
// "1d12h": whole numbers, each with a unit (w weeks, d days, h hours, m
// minutes), largest unit first and none twice, more than zero in all and
// at most MaxDuration. Go's time.ParseDuration has no days, and a segment
// is mostly about days.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("is empty")
	}
	var total time.Duration
	next := 0 // index into durationUnits of the largest unit still allowed
	for i := 0; i < len(s); {
		start := i
		var n int64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int64(s[i]-'0')
			if n > int64(MaxDuration/time.Minute) {
				return 0, fmt.Errorf("is longer than %d days", MaxDuration/(24*time.Hour))
			}
			i++
		}
		if i == start {
			return 0, fmt.Errorf("must be whole numbers each followed by a unit (w, d, h, m), such as 30d or 1d12h")
		}
		if i == len(s) {
			return 0, fmt.Errorf("%s has no unit (w, d, h or m)", s[start:])
		}
		u := -1
		for j := next; j < len(durationUnits); j++ {
			if durationUnits[j].unit == s[i] {
				u = j
				break
			}
		}
		if u < 0 {
			for j := range durationUnits[:next] {
				if durationUnits[j].unit == s[i] {
					return 0, fmt.Errorf("unit %c comes after a smaller one or twice: give the largest first, such as 1d12h", s[i])
				}
			}
			return 0, fmt.Errorf("unknown unit %q (want w, d, h or m)", s[i])
		}
		i++
		next = u + 1
		if n > int64(MaxDuration/durationUnits[u].d) {
			return 0, fmt.Errorf("is longer than %d days", MaxDuration/(24*time.Hour))
		}
		total += time.Duration(n) * durationUnits[u].d
		if total > MaxDuration {
			return 0, fmt.Errorf("is longer than %d days", MaxDuration/(24*time.Hour))
		}
	}
	if total <= 0 {
		return 0, fmt.Errorf("must be more than zero")
	}
	return total, nil
}

// MarshalJSON writes the span as it was written.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.Text) }
