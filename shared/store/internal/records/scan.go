package records

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
)

// FieldValue is what a user's document holds at a filter's field: the
// stored built-ins (consent_state, created_at, last_inbound_at), else the
// attribute; false when the document has no such field.
func FieldValue(u user.User, attr string) (any, bool) {
	switch attr {
	case segment.AttrConsent:
		return string(u.Consent), true
	case segment.AttrCreatedAt:
		return u.CreatedAt, true
	case segment.AttrLastInboundAt:
		if u.LastInboundAt == nil {
			return nil, false
		}
		return *u.LastInboundAt, true
	}
	v, ok := u.Attributes[attr]
	return v, ok
}

// StoredField reports whether a filter's attribute is one of the user's
// own stored fields rather than an attribute.
func StoredField(attr string) bool {
	switch attr {
	case segment.AttrConsent, segment.AttrCreatedAt, segment.AttrLastInboundAt:
		return true
	}
	return false
}

// CheckRange refuses an id range whose bounds cannot name a document, as
// a Firestore query's bounds must.
func CheckRange(r segment.Range) error {
	for _, b := range []string{r.From, r.To} {
		if b != "" && !ValidID(b) {
			return errs.E(errs.Invalid, "id range bound %.40q cannot name a user", b)
		}
	}
	return nil
}

// CheckScan refuses a UserScan both stores would refuse, and returns the
// field its range filters are on ("" for none): a limit of at least 1,
// range bounds that name documents, filters with an attribute, a known
// operator and a value Firestore compares (string, number, bool, time),
// at most one in (1 to MaxIn values) and ranges on at most one field.
func CheckScan(q store.UserScan) (string, error) {
	if q.Limit < 1 {
		return "", errs.E(errs.Invalid, "scan: limit must be at least 1")
	}
	if err := CheckRange(q.IDs); err != nil {
		return "", err
	}
	rangeField, ins := "", 0
	for _, f := range q.Filters {
		if f.Attribute == "" {
			return "", errs.E(errs.Invalid, "scan: a filter has no attribute")
		}
		switch f.Op {
		case segment.FilterEq:
			if !filterValue(f.Value) {
				return "", errs.E(errs.Invalid, "scan: filter on %s: value %T is not a string, number, bool or time", f.Attribute, f.Value)
			}
		case segment.FilterIn:
			ins++
			vs, ok := f.Value.([]any)
			if !ok || len(vs) == 0 || len(vs) > MaxIn || ins > 1 {
				return "", errs.E(errs.Invalid, "scan: filter on %s: one in filter, of 1 to %d values", f.Attribute, MaxIn)
			}
			for _, v := range vs {
				if !filterValue(v) {
					return "", errs.E(errs.Invalid, "scan: filter on %s: value %T is not a string, number, bool or time", f.Attribute, v)
				}
			}
		case segment.FilterGte, segment.FilterLte:
			if rangeField != "" && rangeField != f.Attribute {
				return "", errs.E(errs.Invalid, "scan: range filters on %s and %s: one field at most", rangeField, f.Attribute)
			}
			rangeField = f.Attribute
			if !filterValue(f.Value) {
				return "", errs.E(errs.Invalid, "scan: filter on %s: value %T is not a string, number, bool or time", f.Attribute, f.Value)
			}
		default:
			return "", errs.E(errs.Invalid, "scan: filter on %s: unknown operator %q", f.Attribute, f.Op)
		}
	}
	return rangeField, nil
}

func filterValue(v any) bool {
	switch v.(type) {
	case string, bool, time.Time, float64, int64, int:
		return true
	}
	return false
}

// A scan's cursor is the last user's phone, and with a range filter the
// value of the range field before it, so that the next page starts after
// both (the order the query reads in).
type cursor struct {
	Type  string          `json:"t,omitempty"` // s, n, b, t; empty without a key
	Value json.RawMessage `json:"v,omitempty"`
	Phone string          `json:"p"`
}

// EncodeCursor returns the cursor after phone, whose range field held key
// (nil without a range filter).
func EncodeCursor(key any, phone string) string {
	c := cursor{Phone: phone}
	var v any
	switch k := key.(type) {
	case nil:
	case string:
		c.Type, v = "s", k
	case bool:
		c.Type, v = "b", k
	case time.Time:
		c.Type, v = "t", Time(k).Format(time.RFC3339Nano)
	case int64:
		c.Type, v = "i", k
	case float64:
		c.Type, v = "n", k
	}
	if c.Type != "" {
		c.Value, _ = json.Marshal(v)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads EncodeCursor's cursor; Invalid when it is not one,
// or when it has a key and withKey is false or the reverse.
func DecodeCursor(s string, withKey bool) (key any, phone string, err error) {
	bad := errs.E(errs.Invalid, "scan: cursor %.40q is not one a scan of this shape returned", s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, "", bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Phone == "" || (c.Type != "") != withKey {
		return nil, "", bad
	}
	switch c.Type {
	case "":
		return nil, c.Phone, nil
	case "s":
		var v string
		err = json.Unmarshal(c.Value, &v)
		key = v
	case "b":
		var v bool
		err = json.Unmarshal(c.Value, &v)
		key = v
	case "i":
		var v int64
		err = json.Unmarshal(c.Value, &v)
		key = v
	case "n":
		var v float64
		err = json.Unmarshal(c.Value, &v)
		key = v
	case "t":
		var v string
		if err = json.Unmarshal(c.Value, &v); err == nil {
			var t time.Time
			t, err = time.Parse(time.RFC3339Nano, v)
			key = Time(t)
		}
	default:
		return nil, "", bad
	}
	if err != nil {
		return nil, "", bad
	}
	return key, c.Phone, nil
}

// PassesAll reports whether u passes every filter (see Passes).
func PassesAll(u user.User, fs []segment.Filter) bool {
	for _, f := range fs {
		if !Passes(u, f) {
			return false
		}
	}
	return true
}

// Passes reads f as Firestore does: values of another type never pass,
// numbers compare across integer and float, an absent field never passes.
// memstore filters with it, and so does the Firestore store for the
// filters no index of its own serves.
func Passes(u user.User, f segment.Filter) bool {
	got, ok := FieldValue(u, f.Attribute)
	if !ok {
		return false
	}
	switch f.Op {
	case segment.FilterEq:
		c, ok := compareValues(got, f.Value)
		return ok && c == 0
	case segment.FilterIn:
		vs, _ := f.Value.([]any)
		for _, v := range vs {
			if c, ok := compareValues(got, v); ok && c == 0 {
				return true
			}
		}
		return false
	case segment.FilterGte:
		c, ok := compareValues(got, f.Value)
		return ok && c >= 0
	case segment.FilterLte:
		c, ok := compareValues(got, f.Value)
		return ok && c <= 0
	}
	return false
}

// compareValues orders two values of one Firestore type (number, string,
// bool, timestamp); false for values of different types or others.
func compareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return cmp.Compare(x, y), ok
	case bool:
		y, ok := b.(bool)
		switch {
		case !ok:
			return 0, false
		case x == y:
			return 0, true
		case y:
			return -1, true
		}
		return 1, true
	case time.Time:
		y, ok := b.(time.Time)
		return x.Compare(y), ok
	}
	x, ok1 := number(a)
	y, ok2 := number(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return cmp.Compare(x, y), true
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case int:
		return float64(n), true
	}
	return 0, false
}
