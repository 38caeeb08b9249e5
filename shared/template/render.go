package template

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/eventstreamengine/ese/shared/errs"
)

// MaxContent is the longest content, in characters, Twilio accepts for a
// WhatsApp message body.
const MaxContent = 1600

// Placeholder syntax: {name} where name is letters, digits, '_' and '.'.
// "{{" and "}}" are a literal '{' and '}'. Any other brace (a '{' that
// starts no well-formed placeholder, a lone '}') is kept as text by
// Placeholders and Render, and reported by Validate so that a typo such as
// "{first name}" never reaches a customer.
//
// A dotted name ("address.city") is looked up as that literal key first,
// then by walking nested maps.

// token is one piece of content.
type token struct {
	kind  tokenKind
	text  string // the literal text, or the placeholder's name
	start int    // byte offset in the content
}

type tokenKind int

const (
	tokText        tokenKind = iota // literal text, escapes resolved
	tokPlaceholder                  // {name}
	tokStray                        // a brace that is neither an escape nor a placeholder
)

// scan calls emit for each token of content in order; it stops early when
// emit returns false.
func scan(content string, emit func(token) bool) {
	textStart := 0
	flush := func(end int) bool {
		if end > textStart {
			return emit(token{kind: tokText, text: content[textStart:end], start: textStart})
		}
		return true
	}
	for i := 0; i < len(content); {
		c := content[i]
		if c != '{' && c != '}' {
			i++
			continue
		}
		if i+1 < len(content) && content[i+1] == c { // escaped brace
			if !flush(i) || !emit(token{kind: tokText, text: content[i : i+1], start: i}) {
				return
			}
			i += 2
			textStart = i
			continue
		}
		if c == '{' {
			if n := nameLen(content[i+1:]); n > 0 && i+1+n < len(content) && content[i+1+n] == '}' {
				if !flush(i) || !emit(token{kind: tokPlaceholder, text: content[i+1 : i+1+n], start: i}) {
					return
				}
				i += n + 2
				textStart = i
				continue
			}
		}
		if !flush(i) || !emit(token{kind: tokStray, text: content[i : i+1], start: i}) {
			return
		}
		i++
		textStart = i
	}
	flush(len(content))
}

// nameLen is the length of the placeholder name at the start of s.
func nameLen(s string) int {
	n := 0
	for n < len(s) {
		c := s[n]
		if c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			n++
			continue
		}
		break
	}
	return n
}

// Placeholders returns the names of content's {name} placeholders, each
// once, in order of first appearance.
func Placeholders(content string) []string {
	var names []string
	scan(content, func(t token) bool {
		if t.kind == tokPlaceholder && !slices.Contains(names, t.text) {
			names = append(names, t.text)
		}
		return true
	})
	return names
}

// Render substitutes vars into content and returns the names it could not
// resolve (absent, nil, or not a string, number or bool), each once, in
// order; an unresolved placeholder is left as written. Whole numbers
// render without a fraction (40, not 40.0 or 4e+01).
func Render(content string, vars map[string]any) (string, []string) {
	var (
		b       strings.Builder
		missing []string
	)
	b.Grow(len(content) + len(content)/2)
	scan(content, func(t token) bool {
		switch t.kind {
		case tokPlaceholder:
			if s, ok := format(lookup(vars, t.text)); ok {
				b.WriteString(s)
				return true
			}
			if !slices.Contains(missing, t.text) {
				missing = append(missing, t.text)
			}
			b.WriteByte('{')
			b.WriteString(t.text)
			b.WriteByte('}')
		default:
			b.WriteString(t.text)
		}
		return true
	})
	return b.String(), missing
}

// lookup finds name in vars: as a literal key, else as a path through
// nested maps.
func lookup(vars map[string]any, name string) any {
	if v, ok := vars[name]; ok || !strings.Contains(name, ".") {
		return v
	}
	var cur any = vars
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// format renders a scalar; false for nil and for values that have no
// sensible text in a message (maps, lists, NaN).
func format(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return formatFloat(v, 64)
	case float32:
		return formatFloat(float64(v), 32)
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int16:
		return strconv.FormatInt(int64(v), 10), true
	case int8:
		return strconv.FormatInt(int64(v), 10), true
	case uint:
		return strconv.FormatUint(uint64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	case uint16:
		return strconv.FormatUint(uint64(v), 10), true
	case uint8:
		return strconv.FormatUint(uint64(v), 10), true
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return formatFloat(f, 64)
		}
		return v.String(), true
	}
	return "", false
}

func formatFloat(f float64, bits int) (string, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	if f == 0 {
		return "0", true // not "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, bits), true
}

// Normalize fills Variables from the content when none are given, so that
// a template created without them lists what it needs.
func (t *Template) Normalize() {
	if len(t.Variables) == 0 {
		t.Variables = Placeholders(t.Content)
	}
}

// Validate checks the fields a person sets: a name, content of at most
// MaxContent characters whose braces are all placeholders or escapes, and,
// when Variables are given, that they name exactly the content's
// placeholders (Normalize fills them when not).
func (t Template) Validate() error {
	var d []errs.Detail
	if strings.TrimSpace(t.Name) == "" {
		d = append(d, errs.Detail{Field: "name", Message: "is required"})
	}
	switch n := utf8.RuneCountInString(t.Content); {
	case strings.TrimSpace(t.Content) == "":
		d = append(d, errs.Detail{Field: "content", Message: "is required"})
	case n > MaxContent:
		d = append(d, errs.Detail{Field: "content", Message: fmt.Sprintf("is %d characters; the limit is %d", n, MaxContent)})
	}
	stray := 0
	scan(t.Content, func(tk token) bool {
		if tk.kind == tokStray {
			stray++
			if stray <= 5 { // enough to point the way
				d = append(d, errs.Detail{Field: "content", Message: fmt.Sprintf(
					"has a %q at byte %d that is not part of a {name} placeholder; write %s for a literal brace",
					tk.text, tk.start, tk.text+tk.text)})
			}
		}
		return true
	})
	if len(t.Variables) > 0 {
		d = append(d, checkVariables(t.Variables, Placeholders(t.Content))...)
	}
	if len(d) > 0 {
		return errs.WithDetails(errs.Invalid, "invalid template", d)
	}
	return nil
}

// checkVariables reports how vars differs from the placeholders, as a set.
func checkVariables(vars, placeholders []string) []errs.Detail {
	var d []errs.Detail
	seen := make(map[string]bool, len(vars))
	for _, v := range vars {
		switch {
		case seen[v]:
			d = append(d, errs.Detail{Field: "variables", Message: fmt.Sprintf("lists %q twice", v)})
		case !slices.Contains(placeholders, v):
			d = append(d, errs.Detail{Field: "variables", Message: fmt.Sprintf("lists %q, which the content does not use", v)})
		}
		seen[v] = true
	}
	for _, p := range placeholders {
		if !seen[p] {
			d = append(d, errs.Detail{Field: "variables", Message: fmt.Sprintf("does not list %q, which the content uses", p)})
		}
	}
	return d
}
