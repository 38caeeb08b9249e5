package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
)

// Operator compares an attribute with a condition's value.
type Operator string

const (
	Equals     Operator = "equals"      // same type and value
	NotEquals  Operator = "not_equals"  // not Equals; also true when the attribute is absent
	In         Operator = "in"          // Equals one of a list
	NotIn      Operator = "not_in"      // not In; also true when the attribute is absent
	Contains   Operator = "contains"    // substring of a string, or element of a list
	StartsWith Operator = "starts_with" // string prefix
	Gt         Operator = "gt"          // numbers, strings (byte-wise) or timestamps
	Gte        Operator = "gte"
	Lt         Operator = "lt"
	Lte        Operator = "lte"
	Between    Operator = "between"     // inclusive: [low, high], two numbers or two timestamps
	Before     Operator = "before"      // a timestamp earlier than the value
	After      Operator = "after"       // a timestamp later than the value
	WithinLast Operator = "within_last" // a timestamp in the last Duration, up to now
	Exists     Operator = "exists"      // present and not null
	NotExists  Operator = "not_exists"  // absent or null
)

// operators lists every operator, in the order error messages name them.
var operators = []Operator{
	Equals, NotEquals, In, NotIn, Contains, StartsWith, Gt, Gte, Lt, Lte,
	Between, Before, After, WithinLast, Exists, NotExists,
}

// Logic joins a group's conditions.
type Logic string

const (
	And Logic = "AND"
	Or  Logic = "OR"
)

// Limits on a definition, so that parsing and matching stay cheap.
const (
	MaxDepth      = 8    // levels of nesting, the root being level 1; a not is a level
	MaxConditions = 1000 // conditions, groups and negations in the whole tree
	MaxList       = 1000 // values in one in or not_in list
)

// Built-in attributes read the person's own fields rather than their
// attributes, and shadow attributes of the same name.
const (
	AttrPhone         = "phone_number"    // E.164, text
	AttrConsent       = "consent_state"   // OPT_IN, OPT_OUT or STOP
	AttrCreatedAt     = "created_at"      // timestamp: when the person was first stored
	AttrLastInboundAt = "last_inbound_at" // timestamp: the person's latest message to us
	AttrPhoneCountry  = "phone_country"   // ISO 3166-1 region of the number, such as LK
)

// ConsentStates are the values consent_state takes.
var ConsentStates = []consent.State{consent.OptIn, consent.OptOut, consent.Stop}

// Definition selects people. It is a condition (Attribute set), a group
// (Conditions set) of nested definitions joined by Logic, or a negation
// (Not set). The zero Definition matches nobody.
//
// Its JSON is the API's definition_json, and round-trips:
//
//	{"attribute":"city","operator":"equals","value":"Colombo"}
//	{"conditions":[...],"logic":"OR"}
//	{"not":{...}}
//
// Comparisons are typed, by the type of the definition's value:
//   - a string compares with a string attribute, byte-wise and
//     case-sensitively;
//   - a number with a number attribute (any Go integer or float type)
//     numerically;
//   - a boolean with a boolean attribute;
//   - a timestamp (an RFC 3339 string in the definition, such as
//     "2026-01-31T00:00:00Z") with a timestamp attribute: a Firestore
//     timestamp (time.Time) or an RFC 3339 string, as instants.
//
// When the types differ the comparison is false: 40 never equals "40", a
// number is never compared as a string, and a string that is not a
// timestamp never compares with one. not_equals, not_in and not negate
// their comparison, so they hold there, and when the attribute is absent.
type Definition struct {
	Attribute string
	Operator  Operator
	// Value is a string, float64, bool or time.Time; a []any of those for
	// In and NotIn; a []any of two float64 or two time.Time for Between;
	// a time.Time for Before and After; a Duration for WithinLast; nil for
	// Exists and NotExists.
	Value any

	Conditions []Definition
	Logic      Logic // And when empty

	Not *Definition
}

// IsGroup reports whether d is a group of conditions.
func (d Definition) IsGroup() bool { return d.Conditions != nil }

// IsZero reports whether d is the empty definition.
func (d Definition) IsZero() bool {
	return d.Attribute == "" && d.Operator == "" && d.Value == nil && d.Conditions == nil && d.Logic == "" && d.Not == nil
}

// Parse reads and strictly validates a definition: unknown keys, unknown
// operators, missing or ill-typed values, values a built-in attribute
// never takes, empty groups and nesting deeper than MaxDepth are
// errs.Invalid, with one errs.Detail per problem whose Field is the path
// of the bad node, such as definition_json.conditions[1].not.value.
func Parse(data []byte) (Definition, error) {
	p := parser{}
	d := p.node(data, "definition_json", 1)
	if len(p.details) > 0 {
		return Definition{}, errs.WithDetails(errs.Invalid, "invalid segment definition", p.details)
	}
	return d, nil
}

// maxDetails bounds the error list for hostile input.
const maxDetails = 20

type parser struct {
	details []errs.Detail
	nodes   int
}

func (p *parser) fail(field, format string, args ...any) {
	if len(p.details) < maxDetails {
		p.details = append(p.details, errs.Detail{Field: field, Message: fmt.Sprintf(format, args...)})
	}
}

// decodeStrict decodes one JSON value, keeping numbers exact and refusing
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("unexpected data after the value")
	}
	return nil
}

const shapes = "a condition {attribute, operator, value}, a group {conditions, logic} or a negation {not}"

func (p *parser) node(data []byte, path string, depth int) Definition {
	p.nodes++
	if p.nodes > MaxConditions {
		if p.nodes == MaxConditions+1 {
			p.fail(path, "the definition has more than %d conditions", MaxConditions)
		}
		return Definition{}
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		p.fail(path, "is required")
		return Definition{}
	}
	var raw map[string]json.RawMessage
	if err := decodeStrict(data, &raw); err != nil {
		if typeErr := (*json.UnmarshalTypeError)(nil); errors.As(err, &typeErr) {
			p.fail(path, "must be an object: %s", shapes)
		} else {
			p.fail(path, "is not valid JSON: %v", err)
		}
		return Definition{}
	}
	var kinds []string
	for _, k := range []string{"attribute", "conditions", "not"} {
		if _, ok := raw[k]; ok {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) > 1 {
		p.fail(path, "has both %s and %s: give one of %s", kinds[0], kinds[1], shapes)
		return Definition{}
	}
	if len(kinds) == 0 {
		p.fail(path, "must be %s", shapes)
		return Definition{}
	}
	switch kinds[0] {
	case "conditions":
		return p.group(raw, path, depth)
	case "not":
		return p.not(raw, path, depth)
	}
	return p.condition(raw, path)
}

func (p *parser) not(raw map[string]json.RawMessage, path string, depth int) Definition {
	for k := range raw {
		if k != "not" {
			p.fail(path+"."+k, "is not a known key of a negation (not)")
		}
	}
	if depth >= MaxDepth {
		p.fail(path+".not", "nests deeper than %d levels", MaxDepth)
		return Definition{}
	}
	inner := p.node(raw["not"], path+".not", depth+1)
	return Definition{Not: &inner}
}

func (p *parser) group(raw map[string]json.RawMessage, path string, depth int) Definition {
	for k := range raw {
		if k != "conditions" && k != "logic" {
			p.fail(path+"."+k, "is not a known key of a group (conditions, logic)")
		}
	}
	d := Definition{Logic: And}
	if l, ok := raw["logic"]; ok {
		var s string
		if err := json.Unmarshal(l, &s); err != nil {
			p.fail(path+".logic", "must be \"AND\" or \"OR\"")
		} else {
			switch Logic(s) {
			case And, Or:
				d.Logic = Logic(s)
			default:
				p.fail(path+".logic", "must be \"AND\" or \"OR\", got %q", s)
			}
		}
	}
	if depth >= MaxDepth {
		p.fail(path+".conditions", "nests deeper than %d levels", MaxDepth)
		return Definition{}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw["conditions"], &items); err != nil || items == nil {
		p.fail(path+".conditions", "must be an array of conditions")
		return Definition{}
	}
	if len(items) == 0 {
		p.fail(path+".conditions", "must not be empty")
		return Definition{}
	}
	d.Conditions = make([]Definition, 0, len(items))
	for i, item := range items {
		d.Conditions = append(d.Conditions, p.node(item, fmt.Sprintf("%s.conditions[%d]", path, i), depth+1))
	}
	return d
}

func (p *parser) condition(raw map[string]json.RawMessage, path string) Definition {
	for k := range raw {
		if k != "attribute" && k != "operator" && k != "value" {
			p.fail(path+"."+k, "is not a known key of a condition (attribute, operator, value)")
		}
	}
	var d Definition
	if err := json.Unmarshal(raw["attribute"], &d.Attribute); err != nil {
		p.fail(path+".attribute", "must be a string")
	} else if d.Attribute == "" {
		p.fail(path+".attribute", "must not be empty")
	} else if len(d.Attribute) > 256 {
		p.fail(path+".attribute", "must be at most 256 bytes")
	}

	op, ok := raw["operator"]
	if !ok {
		p.fail(path+".operator", "is required")
		return d
	}
	var s string
	if err := json.Unmarshal(op, &s); err != nil {
		p.fail(path+".operator", "must be a string")
		return d
	}
	d.Operator = Operator(s)
	kind, known := operatorValue[d.Operator]
	if !known {
		names := make([]string, len(operators))
		for i, o := range operators {
			names[i] = string(o)
		}
		p.fail(path+".operator", "unknown operator %q (want one of %s)", s, strings.Join(names, ", "))
		return d
	}

	vraw, hasValue := raw["value"]
	if kind == valueNone {
		if hasValue {
			p.fail(path+".value", "must not be given for operator %s", d.Operator)
		}
		return d
	}
	if !hasValue {
		p.fail(path+".value", "is required for operator %s", d.Operator)
		return d
	}
	var v any
	if err := decodeStrict(vraw, &v); err != nil {
		p.fail(path+".value", "is not valid JSON: %v", err)
		return d
	}
	before := len(p.details)
	d.Value = p.value(v, kind, path+".value", d.Operator)
	if len(p.details) == before {
		p.builtin(d, path)
	}
	return d
}

// The value each operator takes.
type valueKind int

const (
	valueNone     valueKind = iota // exists, not_exists
	valueScalar                    // string, number, bool or timestamp
	valueContains                  // string, number or bool (a substring is never a time)
	valueList                      // non-empty array of scalars
	valueString                    // string
	valueOrdered                   // string, number or timestamp
	valueRange                     // two numbers or two timestamps, low first
	valueTime                      // timestamp
	valueDuration                  // a span such as "30d"
)

var operatorValue = map[Operator]valueKind{
	Equals: valueScalar, NotEquals: valueScalar, Contains: valueContains,
	In: valueList, NotIn: valueList,
	StartsWith: valueString,
	Gt:         valueOrdered, Gte: valueOrdered, Lt: valueOrdered, Lte: valueOrdered,
	Between: valueRange, Before: valueTime, After: valueTime, WithinLast: valueDuration,
	Exists: valueNone, NotExists: valueNone,
}

const timestampHint = "an RFC 3339 timestamp such as 2026-01-31T00:00:00Z"

func (p *parser) value(v any, kind valueKind, path string, op Operator) any {
	switch kind {
	case valueList:
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			p.fail(path, "must be a non-empty array for operator %s", op)
			return nil
		}
		if len(list) > MaxList {
			p.fail(path, "has %d values; operator %s takes at most %d", len(list), op, MaxList)
			return nil
		}
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = p.scalar(e, fmt.Sprintf("%s[%d]", path, i), true)
		}
		return out
	case valueString:
		s, ok := v.(string)
		if !ok {
			p.fail(path, "must be a string for operator %s", op)
			return nil
		}
		return s
	case valueOrdered:
		switch v.(type) {
		case string, json.Number:
			return p.scalar(v, path, true)
		}
		p.fail(path, "must be a number, a string or a timestamp for operator %s", op)
		return nil
	case valueRange:
		return p.between(v, path)
	case valueTime:
		s, ok := v.(string)
		t, isTime := timestamp(s)
		if !ok || !isTime {
			p.fail(path, "must be %s for operator %s", timestampHint, op)
			return nil
		}
		return t
	case valueDuration:
		s, ok := v.(string)
		if !ok {
			p.fail(path, "must be a duration such as \"30d\", \"12h\" or \"90m\" for operator %s", op)
			return nil
		}
		d, err := ParseDuration(s)
		if err != nil {
			p.fail(path, "duration %q %v", s, err)
			return nil
		}
		return Duration{Text: s, D: d}
	}
	return p.scalar(v, path, kind == valueScalar)
}

func (p *parser) between(v any, path string) any {
	list, ok := v.([]any)
	if !ok || len(list) != 2 {
		p.fail(path, "must be an array of two numbers or two timestamps, low first, for operator between")
		return nil
	}
	lo, hi := p.scalar(list[0], path+"[0]", true), p.scalar(list[1], path+"[1]", true)
	if lo == nil || hi == nil {
		return nil
	}
	switch l := lo.(type) {
	case float64:
		if h, ok := hi.(float64); ok {
			if l > h {
				p.fail(path, "low %v is above high %v", l, h)
				return nil
			}
			return []any{l, h}
		}
	case time.Time:
		if h, ok := hi.(time.Time); ok {
			if l.After(h) {
				p.fail(path, "low %s is after high %s", l.Format(time.RFC3339Nano), h.Format(time.RFC3339Nano))
				return nil
			}
			return []any{l, h}
		}
	}
	p.fail(path, "must be two numbers or two timestamps (%s), low first, for operator between", timestampHint)
	return nil
}

// scalar reads a string, number or bool; with timeOK, a string that is an
// RFC 3339 timestamp becomes a time.Time.
func (p *parser) scalar(v any, path string, timeOK bool) any {
	switch v := v.(type) {
	case string:
		if timeOK {
			if t, ok := timestamp(v); ok {
				return t
			}
		}
		return v
	case bool:
		return v
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			p.fail(path, "number %s is out of range", v)
			return nil
		}
		return f
	case nil:
		p.fail(path, "must not be null (use exists or not_exists)")
		return nil
	}
	p.fail(path, "must be a string, number or boolean")
	return nil
}

// timestamp reads an RFC 3339 timestamp. The cheap shape check first
// keeps ordinary strings (and Match's attributes) off the parser.
func timestamp(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || (s[10] != 'T' && s[10] != 't') {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// builtin refuses what a built-in attribute can never match: a timestamp
// compared as text, text compared as a timestamp, an unknown consent
// state or region.
func (p *parser) builtin(d Definition, path string) {
	var values []any
	switch v := d.Value.(type) {
	case nil:
		return
	case []any:
		values = v
	default:
		values = []any{v}
	}
	at := func(i int) string {
		if _, list := d.Value.([]any); list {
			return fmt.Sprintf("%s.value[%d]", path, i)
		}
		return path + ".value"
	}
	switch d.Attribute {
	case AttrCreatedAt, AttrLastInboundAt:
		if d.Operator == Contains || d.Operator == StartsWith {
			p.fail(path+".operator", "%s is a timestamp: compare it with before, after, between, within_last or another order", d.Attribute)
			return
		}
		for i, v := range values {
			switch v.(type) {
			case time.Time, Duration:
			default:
				p.fail(at(i), "%s is a timestamp: compare it with %s", d.Attribute, timestampHint)
				return
			}
		}
	case AttrPhone, AttrConsent, AttrPhoneCountry:
		switch d.Operator {
		case Between, Before, After, WithinLast:
			p.fail(path+".operator", "%s is text: %s compares timestamps", d.Attribute, d.Operator)
			return
		}
		for i, v := range values {
			s, ok := v.(string)
			if !ok {
				p.fail(at(i), "%s is text: give a string", d.Attribute)
				return
			}
			if d.Operator != Equals && d.Operator != NotEquals && d.Operator != In && d.Operator != NotIn {
				continue
			}
			switch d.Attribute {
			case AttrConsent:
				if !consent.State(s).Valid() {
					p.fail(at(i), "unknown consent state %q (want OPT_IN, OPT_OUT or STOP)", s)
					return
				}
			case AttrPhoneCountry:
				if !phonenumbers.GetSupportedRegions()[s] {
					p.fail(at(i), "%q is not a region code (ISO 3166-1 alpha-2 in capitals, such as LK)", s)
					return
				}
			}
		}
	}
}

// UnmarshalJSON parses with Parse; JSON null leaves d unchanged.
func (d *Definition) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	parsed, err := Parse(data)
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}

// The wire shapes, in key order.
type (
	wireCondition struct {
		Attribute string   `json:"attribute"`
		Operator  Operator `json:"operator"`
		Value     any      `json:"value,omitempty"`
	}
	wireGroup struct {
		Conditions []Definition `json:"conditions"`
		Logic      Logic        `json:"logic"`
	}
	wireNot struct {
		Not Definition `json:"not"`
	}
)

// MarshalJSON writes the definition_json shape; a group always carries its
// logic, timestamps are RFC 3339 in the offset they were given, and the
// zero Definition is null.
func (d Definition) MarshalJSON() ([]byte, error) {
	switch {
	case d.Not != nil:
		return json.Marshal(wireNot{Not: *d.Not})
	case d.IsGroup():
		l := d.Logic
		if l == "" {
			l = And
		}
		return json.Marshal(wireGroup{Conditions: d.Conditions, Logic: l})
	case d.IsZero():
		return []byte("null"), nil
	}
	return json.Marshal(wireCondition{Attribute: d.Attribute, Operator: d.Operator, Value: d.Value})
}
