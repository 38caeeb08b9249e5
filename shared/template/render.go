package template

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Lookup returns a person's value for a placeholder's name (nil when they
// have none). Rendering calls it only for the names the content uses.
type Lookup func(name string) any

// Map looks names up in vars.
func Map(vars map[string]any) Lookup {
	return func(name string) any { return vars[name] }
}

// Render substitutes the person's values into t. An unresolved placeholder
// (absent, nil, or not a string, number or bool) takes its default when it
// has one (as does an empty string), else it is left as written; missing
// and defaulted name those placeholders, each once, in order. Whole
// numbers render without a fraction (40, not 40.0 or 4e+01).
func (t Text) Render(vars Lookup) (text string, missing, defaulted []string) {
	var b strings.Builder
	b.Grow(t.size + 16*len(t.names))
	var f fill
	t.write(&b, vars, &f)
	return b.String(), f.missing, f.defaulted
}

// fill gathers what a rendering could not fill from the person's values.
type fill struct {
	missing, defaulted []string
}

func (f *fill) add(list *[]string, name string) {
	if !contains(*list, name) {
		*list = append(*list, name)
	}
}

func (t Text) write(b *strings.Builder, vars Lookup, f *fill) {
	for i := range t.parts {
		p := &t.parts[i]
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		s, ok := p.resolve(vars, f)
		if ok {
			b.WriteString(s)
			continue
		}
		b.WriteByte('{') // only a placeholder without a default is missing
		b.WriteString(p.name)
		b.WriteByte('}')
	}
}

// resolve is p's text for the person: their value, else p's default
// (recorded in f), else false (recorded as missing).
func (p *part) resolve(vars Lookup, f *fill) (string, bool) {
	s, ok := format(p.lookup(vars))
	switch {
	case ok && (s != "" || !p.hasDefault):
		return s, true
	case p.hasDefault:
		f.add(&f.defaulted, p.name)
		return p.dflt, true
	}
	f.add(&f.missing, p.name)
	return "", false
}

// resolveVariable is resolve for one of Twilio's content variables:
// WhatsApp refuses a blank parameter (Twilio's 63028), so a blank value
// counts as none, and a blank default as no default.
func (p *part) resolveVariable(vars Lookup, f *fill) (string, bool) {
	s, ok := format(p.lookup(vars))
	switch {
	case ok && strings.TrimSpace(s) != "":
		return s, true
	case p.hasDefault && strings.TrimSpace(p.dflt) != "":
		f.add(&f.defaulted, p.name)
		return p.dflt, true
	}
	f.add(&f.missing, p.name)
	return "", false
}

// lookup finds p's value: its name as a literal key, else a dotted name as
// a path through nested maps.
func (p *part) lookup(vars Lookup) any {
	if vars == nil {
		return nil
	}
	v := vars(p.name)
	if v != nil || p.path == nil {
		return v
	}
	cur := vars(p.path[0])
	for _, k := range p.path[1:] {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
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

// Compiled is a template made ready to render: its content and each
// locale's parsed once, its content variables bound. It is safe for
// concurrent use.
type Compiled struct {
	utility bool
	def     variant
	locales map[string]*variant // by lower-case language code
}

// variant is the default content or one locale's.
type variant struct {
	locale     string // "" for the default
	text       Text
	contentSID string
	bindings   []binding // in Twilio's variable order
}

// binding is one of Twilio's numbered content variables and the attribute
// that fills it.
type binding struct {
	key string
	part
}

// Compile prepares t for rendering. It does not validate t: a template is
// validated when it is stored.
func Compile(t Template) *Compiled {
	c := &Compiled{utility: t.Category == Utility}
	bindings := compileBindings(t.ContentVariables)
	c.def = variant{text: Parse(t.Content), contentSID: t.ContentSID, bindings: bindings}
	if len(t.Locales) > 0 {
		c.locales = make(map[string]*variant, len(t.Locales))
		for lang, l := range t.Locales {
			key := normalLanguage(lang)
			c.locales[key] = &variant{locale: lang, text: Parse(l.Content), contentSID: l.ContentSID, bindings: bindings}
		}
	}
	return c
}

func compileBindings(vars map[string]string) []binding {
	if len(vars) == 0 {
		return nil
	}
	out := make([]binding, 0, len(vars))
	for k, v := range vars {
		p, ok := parseBinding(v)
		if !ok {
			// Validate refuses it; rendered as missing so it is never sent.
			p = part{name: v}
		}
		out = append(out, binding{key: k, part: p})
	}
	sortBindings(out)
	return out
}

// sortBindings orders Twilio's variables by number ("2" before "10").
func sortBindings(bs []binding) {
	less := func(a, b string) bool {
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return a < b
	}
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && less(bs[j].key, bs[j-1].key); j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}

// Utility reports whether the template is in WhatsApp's utility
// category (transactional: no opt-out wording).
func (c *Compiled) Utility() bool { return c.utility }

// Rendered is a template rendered for one person.
type Rendered struct {
	// Locale is the locale variant chosen by the person's language; ""
	// for the template's default content.
	Locale string
	// Body is the content rendered: what is sent when there is no
	// ContentSID, else our own copy of what the approved template says.
	Body string
	// ContentSID and ContentVariables, when set, are what is sent instead
	// of Body: Twilio's approved template and its numbered variables.
	ContentSID       string
	ContentVariables map[string]string
	// Missing names the placeholders and content variables left unfilled
	// (no value and no default); Defaulted those that took their default.
	Missing, Defaulted []string
}

// Render renders the variant for language (a person's language
// attribute: "si", "pt-BR"; its base language "pt" when no variant has the
// whole code; the default content when neither) with the person's values.
func (c *Compiled) Render(language string, vars Lookup) Rendered {
	v := c.pick(language)
	var b strings.Builder
	b.Grow(v.text.size + 16*len(v.text.names))
	var f fill
	v.text.write(&b, vars, &f)
	r := Rendered{Locale: v.locale, Body: b.String(), ContentSID: v.contentSID}
	if v.contentSID != "" && len(v.bindings) > 0 {
		r.ContentVariables = make(map[string]string, len(v.bindings))
		for i := range v.bindings {
			bd := &v.bindings[i]
			if s, ok := bd.resolveVariable(vars, &f); ok {
				r.ContentVariables[bd.key] = s
			}
		}
	}
	r.Missing, r.Defaulted = f.missing, f.defaulted
	return r
}

func (c *Compiled) pick(language string) *variant {
	if len(c.locales) == 0 || language == "" {
		return &c.def
	}
	key := normalLanguage(language)
	if v, ok := c.locales[key]; ok {
		return v
	}
	if i := strings.IndexByte(key, '-'); i > 0 {
		if v, ok := c.locales[key[:i]]; ok {
			return v
		}
	}
	return &c.def
}

// normalLanguage reads a language code the way locale keys are written:
// lower case, '-' between parts ("pt_BR" and "PT-br" are "pt-br").
func normalLanguage(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '_' || (c >= 'A' && c <= 'Z') {
			return strings.ReplaceAll(strings.ToLower(s), "_", "-")
		}
	}
	return s
}
