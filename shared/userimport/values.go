package userimport

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits that keep every accepted row storable in one Firestore document
// (1 MiB, fields nested at most 20 deep). The store writes attributes as a
// map value under "attributes" (never through field paths), so names may
// hold '.', '[' or '/'; Firestore itself refuses only empty names and
// reserves __x__.
const (
	// maxNesting bounds maps and arrays inside one attribute value: the
	// document's "attributes" map and the attribute take the other two of
	// Firestore's 20 levels.
	maxNesting = 18
	// maxAttrBytes bounds a row's attributes as Firestore sizes them,
	// leaving room under 1 MiB for the user's other fields.
	maxAttrBytes = 900 << 10
)

// excelHint ends the message for text that is not UTF-8.
const excelHint = "if the file was saved by Excel or another Windows program, upload it again with encoding=windows-1252"

// textProblem says what is wrong with a decoded text field, or "".
func (r *Reader) textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8: " + excelHint
	}
	if r.strict1252 && strings.ContainsRune(s, utf8.RuneError) {
		return "holds a byte that windows-1252 does not define (0x81, 0x8D, 0x8F, 0x90 or 0x9D): is the encoding right?"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte"
	}
	return ""
}

// nameProblem says why Firestore would refuse or reserve an attribute (or
// nested key) name, or "".
func nameProblem(k string) string {
	switch {
	case k == "":
		return "has an attribute with an empty name"
	case len(k) > maxAttrName:
		return fmt.Sprintf("has an attribute name longer than %d bytes", maxAttrName)
	case len(k) >= 4 && strings.HasPrefix(k, "__") && strings.HasSuffix(k, "__"):
		return "names an attribute like __x__, which Firestore reserves"
	}
	return ""
}

// csvValue types a CSV cell: integers and decimals (no sign but '-', no
// exponent, no leading zero) become int64 or float64, true and false (any
// case) booleans; anything else, such as a postcode 01234 or +9477...,
// stays text.
func csvValue(s string) any {
	switch len(s) {
	case 0:
		return s
	case 4:
		if strings.EqualFold(s, "true") {
			return true
		}
	case 5:
		if strings.EqualFold(s, "false") {
			return false
		}
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	intEnd := i
	for intEnd < len(s) && s[intEnd] >= '0' && s[intEnd] <= '9' {
		intEnd++
	}
	switch {
	case intEnd == i: // no digits before the point
		return s
	case s[i] == '0' && intEnd-i > 1: // a leading zero: a code, not a number
		return s
	case intEnd == len(s):
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		return s // too big for an integer: an id, kept exact
	case s[intEnd] != '.' || intEnd+1 == len(s):
		return s
	}
	for j := intEnd + 1; j < len(s); j++ {
		if s[j] < '0' || s[j] > '9' {
			return s
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return s
	}
	return f
}

// jsonValue turns json.Numbers into int64 when whole and in range, else
// float64, all the way down, and refuses what Firestore cannot store:
// reserved or empty keys, nesting past maxNesting, arrays directly in
// arrays.
func jsonValue(v any, depth int, inArray bool) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i, nil
		}
		if !strings.ContainsAny(string(v), ".eE") {
			// A whole number past int64 (an account or card number): kept
			// exactly, as text, as CSV keeps it, never rounded to a float.
			return string(v), nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is out of range", v)
		}
		return f, nil
	case map[string]any:
		if depth >= maxNesting {
			return nil, fmt.Errorf("nests objects and arrays more than %d deep", maxNesting)
		}
		for k, e := range v {
			if p := nameProblem(k); p != "" {
				return nil, fmt.Errorf("%s (key %q inside it)", p, truncate(k))
			}
			c, err := jsonValue(e, depth+1, false)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
	case []any:
		if inArray {
			return nil, fmt.Errorf("holds an array directly inside an array, which Firestore cannot store")
		}
		if depth >= maxNesting {
			return nil, fmt.Errorf("nests objects and arrays more than %d deep", maxNesting)
		}
		for i, e := range v {
			c, err := jsonValue(e, depth+1, true)
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
	}
	return v, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// FitsContact reports whether attrs fit the attributes of one contact
// (a Firestore document holds 1 MiB; the rest is the contact's own).
func FitsContact(attrs map[string]any) bool { return storedSize(attrs) <= maxAttrBytes }

// storedSize is the size Firestore counts for attributes (its documented
// storage-size rules: a string is its bytes plus one, a number 8, a name
// its bytes plus one).
func storedSize(attrs map[string]any) int {
	n := 0
	for k, v := range attrs {
		n += len(k) + 1 + valueSize(v)
	}
	return n
}

func valueSize(v any) int {
	switch v := v.(type) {
	case string:
		return len(v) + 1
	case bool, nil:
		return 1
	case map[string]any:
		return storedSize(v)
	case []any:
		n := 0
		for _, e := range v {
			n += valueSize(e)
		}
		return n
	}
	return 8
}
