package template

import "strings"

// Placeholder syntax: {name} or {name|default}, where name is letters,
// digits, '_' and '.', and default is any text without a brace (it stands
// in when the person has no value for name). "{{" and "}}" are a literal
// '{' and '}'. Any other brace (a '{' that starts no well-formed
// placeholder, a lone '}') is kept as text by Parse and Render, and
// reported by Validate so that a typo such as "{first name}" never reaches
// a customer.
//
// A dotted name ("address.city") is looked up as that literal key first,
// then by walking nested maps.

// token is one piece of content.
type token struct {
	kind       tokenKind
	text       string // the literal text, or the placeholder's name
	dflt       string // the placeholder's default
	hasDefault bool
	start      int // byte offset in the content
}

type tokenKind int

const (
	tokText        tokenKind = iota // literal text, escapes resolved
	tokPlaceholder                  // {name} or {name|default}
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
			if t, n := placeholderAt(content[i:]); n > 0 {
				t.start = i
				if !flush(i) || !emit(t) {
					return
				}
				i += n
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

// placeholderAt reads the placeholder at the start of s (which starts with
// '{') and its length in bytes; 0 when s starts with none.
func placeholderAt(s string) (token, int) {
	n := nameLen(s[1:])
	if n == 0 {
		return token{}, 0
	}
	end := 1 + n
	if end < len(s) && s[end] == '}' {
		return token{kind: tokPlaceholder, text: s[1:end]}, end + 1
	}
	if end >= len(s) || s[end] != '|' {
		return token{}, 0
	}
	d := strings.IndexAny(s[end+1:], "{}")
	if d < 0 || s[end+1+d] != '}' {
		return token{}, 0
	}
	return token{kind: tokPlaceholder, text: s[1:end], dflt: s[end+1 : end+1+d], hasDefault: true}, end + 1 + d + 1
}

// nameLen is the length of the placeholder name at the start of s.
func nameLen(s string) int {
	n := 0
	for n < len(s) && nameByte(s[n]) {
		n++
	}
	return n
}

func nameByte(c byte) bool {
	return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// validName reports whether s is a whole placeholder name.
func validName(s string) bool { return s != "" && nameLen(s) == len(s) }

// Placeholders returns the names of content's placeholders, each once, in
// order of first appearance.
func Placeholders(content string) []string {
	var names []string
	scan(content, func(t token) bool {
		if t.kind == tokPlaceholder && !contains(names, t.text) {
			names = append(names, t.text)
		}
		return true
	})
	return names
}

// Text is content parsed once, to be rendered for many people without
// being scanned again. The zero Text renders as "".
type Text struct {
	parts []part
	size  int      // bytes of literal text, to size the output
	names []string // placeholder names, each once, in order
}

// part is literal text, or a placeholder when name is set.
type part struct {
	lit        string
	name       string
	path       []string // name split at '.', when dotted
	dflt       string
	hasDefault bool
}

// Parse reads content. It never fails: what Validate reports as stray
// braces is kept as literal text.
func Parse(content string) Text {
	var t Text
	scan(content, func(tk token) bool {
		if tk.kind != tokPlaceholder {
			t.size += len(tk.text)
			// Adjacent literal pieces (text, an escape, a stray brace)
			// become one part.
			if n := len(t.parts); n > 0 && t.parts[n-1].name == "" {
				t.parts[n-1].lit += tk.text
			} else {
				t.parts = append(t.parts, part{lit: tk.text})
			}
			return true
		}
		p := part{name: tk.text, dflt: tk.dflt, hasDefault: tk.hasDefault}
		if strings.Contains(p.name, ".") {
			p.path = strings.Split(p.name, ".")
		}
		t.parts = append(t.parts, p)
		t.size += len(p.dflt)
		if !contains(t.names, p.name) {
			t.names = append(t.names, p.name)
		}
		return true
	})
	return t
}

// Names returns the placeholders' names, each once, in order of first
// appearance (nil when there are none). The caller must not change it.
func (t Text) Names() []string { return t.names }

// parseBinding reads a content variable's binding: an attribute name with
// an optional default, as inside a placeholder ("name" or "name|there").
func parseBinding(s string) (part, bool) {
	name, dflt, hasDefault := strings.Cut(s, "|")
	if !validName(name) || strings.ContainsAny(dflt, "{}") {
		return part{}, false
	}
	p := part{name: name, dflt: dflt, hasDefault: hasDefault}
	if strings.Contains(name, ".") {
		p.path = strings.Split(name, ".")
	}
	return p, true
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
