package segment

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventstreamengine/ese/shared/consent"
)

// FilterOp is how a Filter compares.
type FilterOp string

const (
	FilterEq  FilterOp = "=="
	FilterIn  FilterOp = "in"
	FilterGte FilterOp = ">="
	FilterLte FilterOp = "<="
)

// Filter is a condition a store applies while it reads people, by
// Firestore's rules: a value of another type never passes (40 is not
// "40"), numbers compare across integer and float types, and an absent
// field never passes.
type Filter struct {
	// Attribute is a built-in stored on the person (consent_state,
	// created_at, last_inbound_at) or an attribute's name.
	Attribute string
	Op        FilterOp
	// Value is a string, float64, bool or time.Time; a []any of those
	// for FilterIn.
	Value any
}

// Plan is what a store can do of a definition while it reads: every person
// the definition matches has a phone in IDs and passes every filter, so a
// store may read only those. The definition is still matched on each
// person read; a plan only saves reads.
type Plan struct {
	IDs     Range
	Filters []Filter
}

// MaxFilterIn is the most values a FilterIn takes (Firestore's limit on
// an in filter).
const MaxFilterIn = 30

// Plan picks, among the conditions every match must meet (the lone
// condition, or those of a top-level AND, nested ANDs included):
//   - phone_number starts_with (or equals) as the range of ids;
//   - consent_state equals or in (not_equals and not_in as the states they
//     leave);
//   - then either equals or in on attributes with string, number or bool
//     values, or, when there are none, one range on created_at or
//     last_inbound_at (before, after, between, within_last, the orders,
//     equals): what a document store serves from single-field indexes, or
//     a composite beside consent_state. Ranges on attributes, timestamps
//     held as text, contains and the negations are matched in memory.
//
// At most one in list is planned (Firestore's limit on disjunctions), an
// attribute's before consent_state's. Time bounds are widened to the
// microsecond, the stores' precision, and made inclusive: a plan may let
// through people the definition then refuses, never the reverse.
func (d Definition) Plan(now time.Time) Plan {
	var conds []*Definition
	d.conjuncts(&conds)
	var (
		p        Plan
		states   []consent.State // nil: no consent condition
		attrEqs  []Filter
		rng      *timeRange
		rangeFor string
	)
	for _, c := range conds {
		switch c.Attribute {
		case AttrPhone:
			if s, ok := c.Value.(string); ok && (c.Operator == StartsWith || c.Operator == Equals) {
				p.IDs = p.IDs.Intersect(PrefixRange(s))
			}
		case AttrConsent:
			if allowed, ok := consentStates(c); ok {
				if states == nil {
					states = allowed
				} else {
					states = slices.DeleteFunc(states, func(s consent.State) bool { return !slices.Contains(allowed, s) })
				}
			}
		case AttrCreatedAt, AttrLastInboundAt:
			if rangeFor != "" && rangeFor != c.Attribute {
				continue
			}
			if lo, hi, ok := timeBounds(c, now); ok {
				if rng == nil {
					rng, rangeFor = &timeRange{}, c.Attribute
				}
				rng.narrow(lo, hi)
			}
		case AttrPhoneCountry:
			// Derived from the phone, not stored: matched in memory.
		default:
			if f, ok := attributeFilter(c); ok {
				attrEqs = append(attrEqs, f)
			}
		}
	}

	ins := 0
	for _, f := range attrEqs {
		if f.Op == FilterIn {
			if ins > 0 {
				continue
			}
			ins++
		}
		p.Filters = append(p.Filters, f)
	}
	switch {
	case len(states) == 1:
		p.Filters = append([]Filter{{Attribute: AttrConsent, Op: FilterEq, Value: string(states[0])}}, p.Filters...)
	case len(states) > 1 && len(states) < len(ConsentStates) && ins == 0:
		vs := make([]any, len(states))
		for i, s := range states {
			vs[i] = string(s)
		}
		p.Filters = append([]Filter{{Attribute: AttrConsent, Op: FilterIn, Value: vs}}, p.Filters...)
	}
	if len(attrEqs) == 0 && rng != nil {
		if !rng.lo.IsZero() {
			p.Filters = append(p.Filters, Filter{Attribute: rangeFor, Op: FilterGte, Value: rng.lo.UTC().Truncate(time.Microsecond)})
		}
		if !rng.hi.IsZero() {
			hi := rng.hi.UTC()
			if t := hi.Truncate(time.Microsecond); !t.Equal(hi) {
				hi = t.Add(time.Microsecond)
			}
			p.Filters = append(p.Filters, Filter{Attribute: rangeFor, Op: FilterLte, Value: hi})
		}
	}
	return p
}

// conjuncts collects the conditions every match must meet.
func (d *Definition) conjuncts(out *[]*Definition) {
	switch {
	case d.Not != nil:
	case d.IsGroup():
		if d.Logic == Or && len(d.Conditions) != 1 {
			return
		}
		for i := range d.Conditions {
			d.Conditions[i].conjuncts(out)
		}
	case d.Attribute != "":
		*out = append(*out, d)
	}
}

// consentStates returns the states a consent_state condition allows.
func consentStates(c *Definition) ([]consent.State, bool) {
	var listed []consent.State
	switch v := c.Value.(type) {
	case string:
		listed = []consent.State{consent.State(v)}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			listed = append(listed, consent.State(s))
		}
	}
	switch c.Operator {
	case Equals, In:
		var out []consent.State
		for _, s := range ConsentStates {
			if slices.Contains(listed, s) {
				out = append(out, s)
			}
		}
		return out, true
	case NotEquals, NotIn:
		var out []consent.State
		for _, s := range ConsentStates {
			if !slices.Contains(listed, s) {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
}

// attributeFilter is an equals or in on an attribute whose values
// Firestore compares as Match does.
func attributeFilter(c *Definition) (Filter, bool) {
	plain := func(v any) bool {
		switch v.(type) {
		case string, float64, bool:
			return true
		}
		return false
	}
	switch c.Operator {
	case Equals:
		if plain(c.Value) {
			return Filter{Attribute: c.Attribute, Op: FilterEq, Value: c.Value}, true
		}
	case In:
		vs, ok := c.Value.([]any)
		if !ok || len(vs) > MaxFilterIn || !allOf(vs, plain) {
			return Filter{}, false
		}
		return Filter{Attribute: c.Attribute, Op: FilterIn, Value: slices.Clone(vs)}, true
	}
	return Filter{}, false
}

func allOf(vs []any, ok func(any) bool) bool {
	for _, v := range vs {
		if !ok(v) {
			return false
		}
	}
	return true
}

// timeBounds is the inclusive span a condition on a stored timestamp
// allows; a zero bound is open.
func timeBounds(c *Definition, now time.Time) (lo, hi time.Time, ok bool) {
	switch c.Operator {
	case Gt, Gte, After:
		lo, ok = c.Value.(time.Time)
	case Lt, Lte, Before:
		hi, ok = c.Value.(time.Time)
	case Equals:
		lo, ok = c.Value.(time.Time)
		hi = lo
	case Between:
		if r, isRange := c.Value.([]any); isRange && len(r) == 2 {
			var ok2 bool
			lo, ok = r[0].(time.Time)
			hi, ok2 = r[1].(time.Time)
			ok = ok && ok2
		}
	case WithinLast:
		var w Duration
		w, ok = c.Value.(Duration)
		lo, hi = now.Add(-w.D), now
	}
	return lo, hi, ok
}

type timeRange struct{ lo, hi time.Time }

func (r *timeRange) narrow(lo, hi time.Time) {
	if !lo.IsZero() && (r.lo.IsZero() || lo.After(r.lo)) {
		r.lo = lo
	}
	if !hi.IsZero() && (r.hi.IsZero() || hi.Before(r.hi)) {
		r.hi = hi
	}
}

// PrefixRange is the range of ids that start with prefix. A bound that
// cannot name a document (see validBound) is left open, which only
// widens the range.
func PrefixRange(prefix string) Range {
	if prefix == "" {
		return Range{}
	}
	r := Range{From: prefix, To: successor(prefix)}
	if !validBound(r.From) {
		r.From = ""
	}
	if !validBound(r.To) {
		r.To = ""
	}
	return r
}

// successor is the least string greater than every string with prefix p,
// or "" when there is none.
func successor(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// validBound reports whether s can name a Firestore document, as a range
// bound in a query must: not empty, no slash, not "." or "..", not
// __reserved__, at most 1,500 bytes, valid UTF-8.
func validBound(s string) bool {
	switch {
	case s == "", s == ".", s == "..", len(s) > 1500, strings.Contains(s, "/"), !utf8.ValidString(s):
		return false
	case len(s) >= 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__"):
		return false
	}
	return true
}
