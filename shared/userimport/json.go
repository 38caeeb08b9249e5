package userimport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/eventstreamengine/ese/shared/errs"
)

func (r *Reader) nextJSON() (Row, error) {
	if !r.started {
		r.started = true
		r.src.allow(0)
		tok, err := r.dec.Token()
		if err == io.EOF {
			return Row{}, errs.E(errs.Invalid, "the file is empty: want a JSON array of contacts")
		}
		if err != nil {
			return Row{}, r.fatal(err, "invalid JSON at the start of the file", "the start of the file")
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return Row{}, errs.E(errs.Invalid, "a JSON file must be an array of contact objects, [{...}, ...]")
		}
	}
	n := r.index + 1
	what := fmt.Sprintf("element %d", n)
	start := r.dec.InputOffset()
	r.src.allow(start)
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil { // the closing ']', or why not
			return Row{}, r.fatal(err, fmt.Sprintf("invalid JSON after element %d", r.index), what)
		}
		r.src.allow(r.dec.InputOffset())
		if _, err := r.dec.Token(); err != io.EOF {
			if err == nil {
				return Row{}, errs.E(errs.Invalid, "unexpected data after the JSON array")
			}
			return Row{}, r.fatal(err, "invalid JSON after the array", "the data after the array")
		}
		return Row{}, io.EOF
	}
	r.index = n
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return Row{}, r.fatal(err, "invalid JSON in "+what, what)
	}
	if r.dec.InputOffset()-start > MaxRowBytes {
		return Row{}, r.fatal(errRowTooLarge, "", what)
	}
	return r.jsonElement(n, raw)
}

func (r *Reader) nextJSONL() (Row, error) {
	for {
		b, err := r.head.ReadSlice('\n')
		if err == bufio.ErrBufferFull || len(b) > MaxRowBytes+1 {
			return Row{}, errs.E(errs.Invalid, "line %d is larger than %d KiB", r.line+1, MaxRowBytes>>10)
		}
		if err != nil && err != io.EOF {
			return Row{}, fmt.Errorf("userimport.Reader: reading the file: %w", err)
		}
		if len(b) == 0 && err == io.EOF {
			return Row{}, io.EOF
		}
		r.line++
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		row, rerr := r.jsonElement(r.line, b)
		if re, ok := rerr.(*RowError); ok && r.stats.Rows == 0 && strings.HasPrefix(re.Message, "is not valid JSON") {
			// A first line that is not JSON: not a JSON Lines file at all.
			return Row{}, errs.E(errs.Invalid, "the file is not JSON Lines: line %d %s", r.line, re.Message)
		}
		return row, rerr
	}
}

// jsonElement reads one contact object, an array element or a line.
// encoding/json would turn invalid UTF-8 into U+FFFD, so the raw bytes are
// checked first.
func (r *Reader) jsonElement(n int, raw []byte) (Row, error) {
	bad := func(b []byte) bool { return !utf8.Valid(b) || (r.strict1252 && bytes.ContainsRune(b, utf8.RuneError)) }
	if bad(raw) {
		return Row{}, badTextError(n, raw, r.textProblem(string(raw)), bad)
	}
	if loneSurrogate(raw) {
		// Valid JSON, but \ud800 alone names no character: encoding/json
		// would quietly make it U+FFFD.
		return Row{}, badTextError(n, raw, "holds a \\u escape of half a UTF-16 surrogate pair, which is no character", loneSurrogate)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return Row{}, &RowError{Row: n, Message: "is not valid JSON: " + err.Error()}
	}
	if _, err := d.Token(); err != io.EOF {
		return Row{}, &RowError{Row: n, Message: "is not valid JSON: more than one value on the line"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Row{}, &RowError{Row: n, Message: "must be an object"}
	}
	return r.jsonRow(n, obj)
}

// loneSurrogate reports whether b holds a JSON escape \uD800-\uDFFF that
// is not half of a high-low pair.
func loneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escaped character, a backslash included
			continue
		}
		c, ok := hex4(b, i+2)
		if !ok {
			continue
		}
		switch {
		case c >= 0xDC00 && c <= 0xDFFF:
			return true
		case c >= 0xD800 && c <= 0xDBFF:
			if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
				return true
			}
			if lo, ok := hex4(b, i+8); !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11 // both halves
			continue
		}
		i += 5
	}
	return false
}

// hex4 reads the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var c rune
	for _, h := range b[i : i+4] {
		c <<= 4
		switch {
		case h >= '0' && h <= '9':
			c |= rune(h - '0')
		case h >= 'a' && h <= 'f':
			c |= rune(h - 'a' + 10)
		case h >= 'A' && h <= 'F':
			c |= rune(h - 'A' + 10)
		default:
			return 0, false
		}
	}
	return c, true
}

// badTextError names the top-level key whose name or value holds bad text.
func badTextError(n int, raw []byte, problem string, bad func([]byte) bool) *RowError {
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return &RowError{Row: n, Message: problem}
	}
	for d.More() {
		before := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			break
		}
		key, _ := tok.(string)
		if bad(raw[before:d.InputOffset()]) {
			return &RowError{Row: n, Message: "has an attribute name that " + problem}
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			break
		}
		if bad(v) {
			return &RowError{Row: n, Field: key, Message: problem}
		}
	}
	return &RowError{Row: n, Message: problem}
}

func (r *Reader) jsonRow(n int, obj map[string]any) (Row, error) {
	row := Row{Line: n}
	var phoneKeys []string
	for k := range obj {
		if isPhoneName(k) {
			phoneKeys = append(phoneKeys, k)
		}
	}
	if len(phoneKeys) > 1 {
		slices.Sort(phoneKeys)
		return Row{}, &RowError{Row: n, Field: phoneKeys[1], Message: fmt.Sprintf("%q and %q both name the phone: give one", phoneKeys[0], phoneKeys[1])}
	}
	phoneKey := keyPhone
	if len(phoneKeys) == 1 {
		phoneKey = phoneKeys[0]
	}
	raw := obj[phoneKey]
	if raw == nil {
		return Row{}, &RowError{Row: n, Field: phoneKey, Message: "is required"}
	}
	s, ok := raw.(string)
	if !ok {
		return Row{}, &RowError{Row: n, Field: phoneKey, Message: "must be a string, e.g. \"+94771234567\""}
	}
	if p := r.textProblem(s); p != "" {
		return Row{}, &RowError{Row: n, Field: phoneKey, Message: p}
	}
	if strings.TrimSpace(s) == "" {
		return Row{}, &RowError{Row: n, Field: phoneKey, Message: "is required"}
	}
	if err := r.setPhone(&row, phoneKey, s); err != nil {
		return Row{}, err
	}
	consentKey := ""
	for k := range obj {
		if isConsentName(k) {
			if consentKey != "" {
				return Row{}, &RowError{Row: n, Field: k, Message: fmt.Sprintf("two consent keys, %q and %q: keep one", consentKey, k)}
			}
			consentKey = k
		}
	}
	if c := obj[consentKey]; consentKey != "" && c != nil {
		s, ok := c.(string)
		if !ok {
			return Row{}, &RowError{Row: n, Field: consentKey, Message: "must be one of OPT_IN, OPT_OUT, STOP"}
		}
		if err := setConsent(&row, s); err != nil {
			return Row{}, err
		}
	}
	for k, v := range obj {
		if k == phoneKey || (consentKey != "" && k == consentKey) || v == nil {
			continue
		}
		if p := nameProblem(k); p != "" {
			field := k
			if k == "" || len(k) > maxAttrName {
				field = "" // an empty or endless name names nothing
			}
			return Row{}, &RowError{Row: n, Field: field, Message: p}
		}
		val, err := jsonValue(v, 0, false)
		if err != nil {
			return Row{}, &RowError{Row: n, Field: k, Message: err.Error()}
		}
		if row.Attributes == nil {
			row.Attributes = make(map[string]any, len(obj))
		}
		row.Attributes[k] = val
	}
	if size := storedSize(row.Attributes); size > maxAttrBytes {
		return Row{}, &RowError{Row: n, Message: fmt.Sprintf("its attributes take %d KiB, more than the %d KiB a contact may hold", size>>10, maxAttrBytes>>10)}
	}
	return row, nil
}
