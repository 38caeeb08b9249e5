package segment

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/user"
)

// Match reports whether u is in the segment at now, which within_last
// counts back from. u's attributes come from JSON or Firestore, so numbers
// may be any Go integer or float type and timestamps time.Time or RFC 3339
// strings; the built-in names (AttrPhone and the rest) read u's own fields.
func (d Definition) Match(u user.User, now time.Time) bool {
	return d.match(&u, now)
}

func (d *Definition) match(u *user.User, now time.Time) bool {
	switch {
	case d.Not != nil:
		return !d.Not.match(u, now)
	case d.IsGroup():
		if len(d.Conditions) == 0 {
			return false // an empty group selects nobody, never everybody
		}
		if d.Logic == Or {
			for i := range d.Conditions {
				if d.Conditions[i].match(u, now) {
					return true
				}
			}
			return false
		}
		for i := range d.Conditions {
			if !d.Conditions[i].match(u, now) {
				return false
			}
		}
		return true
	case d.Attribute == "":
		return false
	}
	got := read(u, d.Attribute)
	return d.compare(&got, now)
}

// kind is the type of an attribute's value, as comparisons see it.
type kind uint8

const (
	absent kind = iota // missing or null
	text
	number
	boolean
	instant // a time.Time (an RFC 3339 string is text until a timestamp asks)
	list
	other // maps and anything else: only exists sees them
)

// value is an attribute read without boxing: the built-ins and the
// millions of reads of one evaluation allocate nothing.
type value struct {
	kind kind
	s    string
	f    float64
	b    bool
	t    time.Time
	list []any
}

func read(u *user.User, attr string) value {
	switch attr {
	case AttrPhone:
		return textValue(u.Phone)
	case AttrConsent:
		return textValue(string(u.Consent))
	case AttrCreatedAt:
		if u.CreatedAt.IsZero() {
			return value{}
		}
		return value{kind: instant, t: u.CreatedAt}
	case AttrLastInboundAt:
		if u.LastInboundAt == nil {
			return value{}
		}
		return value{kind: instant, t: *u.LastInboundAt}
	case AttrPhoneCountry:
		return textValue(phone.Region(u.Phone))
	}
	v, ok := u.Attributes[attr]
	if !ok {
		return value{}
	}
	return valueOf(v)
}

// textValue is a built-in text field: empty is absent.
func textValue(s string) value {
	if s == "" {
		return value{}
	}
	return value{kind: text, s: s}
}

func valueOf(v any) value {
	switch x := v.(type) {
	case nil:
		return value{}
	case string:
		return value{kind: text, s: x}
	case bool:
		return value{kind: boolean, b: x}
	case time.Time:
		return value{kind: instant, t: x}
	case *time.Time:
		if x == nil {
			return value{}
		}
		return value{kind: instant, t: *x}
	case []any:
		return value{kind: list, list: x}
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return value{kind: list, list: l}
	}
	if f, ok := toNumber(v); ok {
		return value{kind: number, f: f}
	}
	return value{kind: other}
}

// toNumber reads any Go number type (and json.Number) as a float64; NaN
// is no number.
func toNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float32:
		return float64(n), !math.IsNaN(float64(n))
	case int32:
		return float64(n), true
	case int16:
		return float64(n), true
	case int8:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint8:
		return float64(n), true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}

// asTime reads an instant, or text holding an RFC 3339 timestamp.
func (v *value) asTime() (time.Time, bool) {
	switch v.kind {
	case instant:
		return v.t, true
	case text:
		return timestamp(v.s)
	}
	return time.Time{}, false
}

func (d *Definition) compare(got *value, now time.Time) bool {
	present := got.kind != absent
	switch d.Operator {
	case Exists:
		return present
	case NotExists:
		return !present
	case NotEquals:
		return !present || !equal(got, d.Value)
	case NotIn:
		return !present || !inList(got, d.Value)
	}
	if !present {
		return false
	}
	switch d.Operator {
	case Equals:
		return equal(got, d.Value)
	case In:
		return inList(got, d.Value)
	case Contains:
		return contains(got, d.Value)
	case StartsWith:
		prefix, ok := d.Value.(string)
		return ok && got.kind == text && strings.HasPrefix(got.s, prefix)
	case Gt, Gte, Lt, Lte:
		c, ok := order(got, d.Value)
		if !ok {
			return false
		}
		switch d.Operator {
		case Gt:
			return c > 0
		case Gte:
			return c >= 0
		case Lt:
			return c < 0
		}
		return c <= 0
	case Between:
		r, ok := d.Value.([]any)
		if !ok || len(r) != 2 {
			return false
		}
		lo, ok1 := order(got, r[0])
		hi, ok2 := order(got, r[1])
		return ok1 && ok2 && lo >= 0 && hi <= 0
	case Before, After:
		w, ok := d.Value.(time.Time)
		t, isTime := got.asTime()
		if !ok || !isTime {
			return false
		}
		if d.Operator == Before {
			return t.Before(w)
		}
		return t.After(w)
	case WithinLast:
		w, ok := d.Value.(Duration)
		t, isTime := got.asTime()
		return ok && isTime && !t.After(now) && !t.Before(now.Add(-w.D))
	}
	return false
}

func inList(got *value, l any) bool {
	vs, ok := l.([]any)
	if !ok {
		return false
	}
	for _, v := range vs {
		if equal(got, v) {
			return true
		}
	}
	return false
}

func contains(got *value, want any) bool {
	switch got.kind {
	case text:
		w, ok := want.(string)
		return ok && strings.Contains(got.s, w)
	case list:
		for _, e := range got.list {
			if ev := valueOf(e); equal(&ev, want) {
				return true
			}
		}
	}
	return false
}

// equal compares an attribute with a definition value (string, float64,
// bool or time.Time) under the typed rules in Definition's comment.
func equal(got *value, want any) bool {
	switch w := want.(type) {
	case string:
		return got.kind == text && got.s == w
	case bool:
		return got.kind == boolean && got.b == w
	case time.Time:
		t, ok := got.asTime()
		return ok && t.Equal(w)
	}
	wf, ok := toNumber(want)
	return ok && got.kind == number && got.f == wf
}

// order compares an attribute with a definition value: -1, 0 or +1, and
// false when their types differ.
func order(got *value, want any) (int, bool) {
	switch w := want.(type) {
	case string:
		if got.kind != text {
			return 0, false
		}
		return strings.Compare(got.s, w), true
	case time.Time:
		t, ok := got.asTime()
		if !ok {
			return 0, false
		}
		return t.Compare(w), true
	}
	wf, ok := toNumber(want)
	if !ok || got.kind != number {
		return 0, false
	}
	switch {
	case got.f < wf:
		return -1, true
	case got.f > wf:
		return 1, true
	}
	return 0, true
}
