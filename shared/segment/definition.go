package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/eventstreamengine/ese/shared/errs"
)

// Operator compares an attribute with a condition's value.
type Operator string

const (
	Equals     Operator = "equals"      // same value; strings case-sensitively
	NotEquals  Operator = "not_equals"  // not Equals; also true when the attribute is absent
	In         Operator = "in"          // Equals one of a list
	NotIn      Operator = "not_in"      // not In; also true when the attribute is absent
	Contains   Operator = "contains"    // substring of a string, or element of a list
	StartsWith Operator = "starts_with" // string prefix
	Gt         Operator = "gt"          // numbers numerically, strings byte-wise
	Gte        Operator = "gte"
	Lt         Operator = "lt"
	Lte        Operator = "lte"
	Exists     Operator = "exists"     // present and not null
	NotExists  Operator = "not_exists" // absent or null
)

// Logic joins a group's conditions.
type Logic string

const (
	And Logic = "AND"
	Or  Logic = "OR"
)

// Limits on a definition, so that parsing and matching stay cheap.
const (
	MaxDepth      = 8    // levels of nesting, the root being level 1
	MaxConditions = 1000 // conditions and groups in the whole tree
)

// Reserved attribute names read the person's own fields rather than their
// attributes.
const (
	AttrPhone   = "phone_number"
	AttrConsent = "consent_state"
)

// Definition selects people. It is either a condition (Attribute set) or a
// group (Conditions set) of nested definitions joined by Logic. The zero
// Definition matches nobody.
//
// Its JSON is the API's definition_json, and round-trips unchanged:
//
//	{"attribute":"city","operator":"equals","value":"Colombo"}
//	{"conditions":[...],"logic":"OR"}
//
// Comparison rules: strings compare case-sensitively and byte-wise. A number
// in the definition compares numerically with a number attribute, or with a
// string attribute that reads as a number (CSV imports give strings), and a
// bool with "true"/"false" in any case. Values of other types never match.
type Definition struct {
	Attribute string
	Operator  Operator
	// Value is a string, float64 or bool; a []any of those for In and
	// NotIn; nil for Exists and NotExists.
	Value any

	Conditions []Definition
	Logic      Logic // And when empty
}

// IsGroup reports whether d is a group of conditions.
func (d Definition) IsGroup() bool { return d.Conditions != nil }

// IsZero reports whether d is the empty definition.
func (d Definition) IsZero() bool {
	return d.Attribute == "" && d.Operator == "" && d.Value == nil && d.Conditions == nil && d.Logic == ""
}

// Parse reads and strictly validates a definition: unknown keys, unknown
// operators, missing or ill-typed values, empty groups and nesting deeper
// than MaxDepth are errs.Invalid, with one errs.Detail per problem whose
// Field is a path such as definition_json.conditions[1].operator.
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
			p.fail(path, "must be an object: a condition {attribute, operator, value} or a group {conditions, logic}")
		} else {
			p.fail(path, "is not valid JSON: %v", err)
		}
		return Definition{}
	}
	_, hasAttr := raw["attribute"]
	_, hasConds := raw["conditions"]
	switch {
	case hasAttr && hasConds:
		p.fail(path, "is both a condition (attribute) and a group (conditions): give one")
		return Definition{}
	case hasConds:
		return p.group(raw, path, depth)
	case hasAttr:
		return p.condition(raw, path)
	}
	p.fail(path, "must be a condition {attribute, operator, value} or a group {conditions, logic}")
	return Definition{}
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
		p.fail(path+".operator", "unknown operator %q (want one of equals, not_equals, in, not_in, contains, starts_with, gt, gte, lt, lte, exists, not_exists)", s)
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
	d.Value = p.value(v, kind, path+".value", d.Operator)
	return d
}

// The value each operator takes.
type valueKind int

const (
	valueNone    valueKind = iota // exists, not_exists
	valueScalar                   // string, number or bool
	valueList                     // non-empty array of scalars
	valueString                   // string
	valueOrdered                  // string or number
)

var operatorValue = map[Operator]valueKind{
	Equals: valueScalar, NotEquals: valueScalar, Contains: valueScalar,
	In: valueList, NotIn: valueList,
	StartsWith: valueString,
	Gt:         valueOrdered, Gte: valueOrdered, Lt: valueOrdered, Lte: valueOrdered,
	Exists: valueNone, NotExists: valueNone,
}

func (p *parser) value(v any, kind valueKind, path string, op Operator) any {
	switch kind {
	case valueList:
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			p.fail(path, "must be a non-empty array for operator %s", op)
			return nil
		}
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = p.scalar(e, fmt.Sprintf("%s[%d]", path, i))
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
			return p.scalar(v, path)
		}
		p.fail(path, "must be a number or a string for operator %s", op)
		return nil
	}
	return p.scalar(v, path)
}

func (p *parser) scalar(v any, path string) any {
	switch v := v.(type) {
	case string, bool:
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
)

// MarshalJSON writes the definition_json shape; a group always carries its
// logic, and the zero Definition is null.
func (d Definition) MarshalJSON() ([]byte, error) {
	switch {
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

// Match reports whether a person is in the segment. attrs come from JSON or
// Firestore, so numbers may be any Go integer or float type; the reserved
// names phone_number and consent_state read phone and consent instead.
func (d Definition) Match(phone, consent string, attrs map[string]any) bool {
	if d.IsGroup() {
		if len(d.Conditions) == 0 {
			return false // an empty group selects nobody, never everybody
		}
		if d.Logic == Or {
			for _, c := range d.Conditions {
				if c.Match(phone, consent, attrs) {
					return true
				}
			}
			return false
		}
		for _, c := range d.Conditions {
			if !c.Match(phone, consent, attrs) {
				return false
			}
		}
		return true
	}
	if d.Attribute == "" {
		return false
	}
	var (
		got     any
		present bool
	)
	switch d.Attribute {
	case AttrPhone:
		got, present = phone, phone != ""
	case AttrConsent:
		got, present = consent, consent != ""
	default:
		got, present = attrs[d.Attribute]
		present = present && got != nil
	}
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
		s, ok1 := got.(string)
		prefix, ok2 := d.Value.(string)
		return ok1 && ok2 && strings.HasPrefix(s, prefix)
	case Gt, Gte, Lt, Lte:
		c, ok := compare(got, d.Value)
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
	}
	return false
}

func inList(got, list any) bool {
	l, ok := list.([]any)
	if !ok {
		return false
	}
	for _, v := range l {
		if equal(got, v) {
			return true
		}
	}
	return false
}

func contains(got, want any) bool {
	switch g := got.(type) {
	case string:
		w, ok := want.(string)
		return ok && strings.Contains(g, w)
	case []any:
		for _, e := range g {
			if equal(e, want) {
				return true
			}
		}
	case []string:
		w, ok := want.(string)
		if !ok {
			return false
		}
		for _, e := range g {
			if e == w {
				return true
			}
		}
	}
	return false
}

// equal compares an attribute with a definition value (string, float64 or
// bool) under the rules in Definition's comment.
func equal(got, want any) bool {
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		return ok && g == w
	case bool:
		switch g := got.(type) {
		case bool:
			return g == w
		case string:
			return strings.EqualFold(g, strconv.FormatBool(w))
		}
		return false
	default:
		wf, ok := number(want)
		if !ok {
			return false
		}
		gf, ok := numberish(got)
		return ok && gf == wf
	}
}

// compare orders an attribute against a definition value: -1, 0 or +1,
// and false when they are not comparable.
func compare(got, want any) (int, bool) {
	if w, ok := want.(string); ok {
		g, ok := got.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(g, w), true
	}
	wf, ok := number(want)
	if !ok {
		return 0, false
	}
	gf, ok := numberish(got)
	if !ok {
		return 0, false
	}
	switch {
	case gf < wf:
		return -1, true
	case gf > wf:
		return 1, true
	}
	return 0, true
}

// number reads any Go number type (and json.Number) as a float64.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case float32:
		return float64(n), !math.IsNaN(float64(n))
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
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
		return f, err == nil
	}
	return 0, false
}

// numberish is number, also reading strings that hold a finite number.
func numberish(v any) (float64, bool) {
	if s, ok := v.(string); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false
		}
		return f, true
	}
	return number(v)
}
