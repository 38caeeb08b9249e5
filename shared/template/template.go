// Package template holds message templates and renders them with a
// person's attributes: {name} placeholders with defaults, locale variants
// chosen by the person's language, and Twilio's approved content
// templates (a content SID and its numbered variables), which WhatsApp
// requires outside the 24 hours after a person's last message.
package template

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventstreamengine/ese/shared/errs"
)

// MaxContent is the longest content, in characters, Twilio accepts for a
// WhatsApp message body.
const MaxContent = 1600

// Template is message content with {name} placeholders.
type Template struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Content string `json:"content"` // our copy of the text, always required
	// Variables are the placeholders the content uses (Normalize fills
	// them when none are given).
	Variables []string `json:"variables"`
	// ContentSID is Twilio's approved content template (HX...): a message
	// from this template is sent as it, with ContentVariables, never as a
	// body.
	ContentSID string `json:"content_sid,omitempty"`
	// ContentVariables maps Twilio's numbered variables to the attributes
	// that fill them ({"1": "name", "2": "city|Colombo"}).
	ContentVariables map[string]string `json:"content_variables,omitempty"`
	Category         Category          `json:"category,omitempty"`
	// Locales are variants by language code ("si", "pt-br"), chosen by the
	// person's language attribute; the fields above are the fallback.
	Locales   map[string]Locale `json:"locales,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Locale is a template's content in one language. It shares the
// template's variables and content variable numbering.
type Locale struct {
	Content    string `json:"content"`
	ContentSID string `json:"content_sid,omitempty"`
}

// Category is WhatsApp's category of an approved template.
type Category string

const (
	Marketing Category = "marketing"
	Utility   Category = "utility"
)

var (
	contentSID   = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)
	languageCode = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})*$`)
)

// Normalize fills Variables from the content when none are given, so that
// a template created without them lists what it needs.
func (t *Template) Normalize() {
	if len(t.Variables) == 0 {
		t.Variables = Placeholders(t.Content)
	}
}

// Validate checks the fields a person sets. Content (and each locale's)
// is required, at most MaxContent characters, its braces all placeholders
// or escapes; Variables, when given, name exactly the content's
// placeholders, and a locale uses no other. A ContentSID is HX and 32 hex
// digits; ContentVariables need one, are keyed by Twilio's variable
// numbers ("1", "2", ...) and bind every variable to an attribute, so what
// is sent says what our copy says. A template sent by content SID is so
// in every locale. Category is marketing or utility, when given.
func (t Template) Validate() error {
	var d []errs.Detail
	if strings.TrimSpace(t.Name) == "" {
		d = append(d, errs.Detail{Field: "name", Message: "is required"})
	}
	d = append(d, checkContent("content", t.Content)...)
	if len(t.Variables) > 0 {
		d = append(d, checkVariables(t.Variables, Placeholders(t.Content))...)
	}
	vars := t.Variables
	if len(vars) == 0 {
		vars = Placeholders(t.Content)
	}
	if t.ContentSID != "" && !contentSID.MatchString(t.ContentSID) {
		d = append(d, errs.Detail{Field: "content_sid", Message: `must be "HX" followed by 32 hex digits, as Twilio's Content API names an approved template`})
	}
	d = append(d, t.checkContentVariables(vars)...)
	switch t.Category {
	case "", Marketing, Utility:
	default:
		d = append(d, errs.Detail{Field: "category", Message: fmt.Sprintf("is %q; want marketing or utility", t.Category)})
	}
	langs := make([]string, 0, len(t.Locales))
	for lang := range t.Locales {
		langs = append(langs, lang)
	}
	slices.Sort(langs)
	for _, lang := range langs {
		d = append(d, t.checkLocale(lang, t.Locales[lang], vars)...)
	}
	if len(d) > 0 {
		return errs.WithDetails(errs.Invalid, "invalid template", d)
	}
	return nil
}

// checkContent checks one content: present, not too long, no stray brace.
func checkContent(field, content string) []errs.Detail {
	var d []errs.Detail
	switch n := utf8.RuneCountInString(content); {
	case strings.TrimSpace(content) == "":
		d = append(d, errs.Detail{Field: field, Message: "is required"})
	case n > MaxContent:
		d = append(d, errs.Detail{Field: field, Message: fmt.Sprintf("is %d characters; the limit is %d", n, MaxContent)})
	}
	stray := 0
	scan(content, func(tk token) bool {
		if tk.kind == tokStray {
			stray++
			if stray <= 5 { // enough to point the way
				d = append(d, errs.Detail{Field: field, Message: fmt.Sprintf(
					"has a %q at byte %d that is not part of a {name} or {name|default} placeholder; write %s for a literal brace",
					tk.text, tk.start, tk.text+tk.text)})
			}
		}
		return true
	})
	return d
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

func (t Template) checkContentVariables(vars []string) []errs.Detail {
	const field = "content_variables"
	if t.ContentSID == "" {
		if len(t.ContentVariables) > 0 {
			return []errs.Detail{{Field: field, Message: "needs content_sid: they fill the variables of Twilio's approved template"}}
		}
		return nil
	}
	var d []errs.Detail
	keys := make([]string, 0, len(t.ContentVariables))
	for k := range t.ContentVariables {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	bound := map[string]bool{}
	for _, k := range keys {
		if !VariableKey(k) {
			d = append(d, errs.Detail{Field: field, Message: fmt.Sprintf(`has the key %q; keys are Twilio's variable numbers, positive integers written as strings such as "1"`, k)})
			continue
		}
		p, ok := parseBinding(t.ContentVariables[k])
		switch {
		case !ok:
			d = append(d, errs.Detail{Field: field + "." + k, Message: fmt.Sprintf(
				"is %q; want an attribute name (letters, digits, '_' and '.'), with an optional |default", t.ContentVariables[k])})
		case !slices.Contains(vars, p.name):
			d = append(d, errs.Detail{Field: field + "." + k, Message: fmt.Sprintf("names %q, which the content does not use", p.name)})
		default:
			bound[p.name] = true
		}
	}
	for _, v := range vars {
		if !bound[v] {
			d = append(d, errs.Detail{Field: field, Message: fmt.Sprintf("binds no variable to %q, which the content uses: the message sent would not say what the content says", v)})
		}
	}
	return d
}

// VariableKey reports whether k names one of Twilio's numbered content
// variables: a positive integer, written without sign or leading zero.
func VariableKey(k string) bool {
	n, err := strconv.Atoi(k)
	return err == nil && n > 0 && strconv.Itoa(n) == k
}

func (t Template) checkLocale(lang string, l Locale, vars []string) []errs.Detail {
	field := "locales." + lang
	if !languageCode.MatchString(lang) {
		return []errs.Detail{{Field: "locales", Message: fmt.Sprintf("has the key %q; want a lower-case language code such as si, ta or pt-br", lang)}}
	}
	d := checkContent(field+".content", l.Content)
	for _, p := range Placeholders(l.Content) {
		if !slices.Contains(vars, p) {
			d = append(d, errs.Detail{Field: field + ".content", Message: fmt.Sprintf("uses %q, which the template's variables do not list", p)})
		}
	}
	switch {
	case l.ContentSID != "" && !contentSID.MatchString(l.ContentSID):
		d = append(d, errs.Detail{Field: field + ".content_sid", Message: `must be "HX" followed by 32 hex digits`})
	case l.ContentSID == "" && t.ContentSID != "":
		d = append(d, errs.Detail{Field: field + ".content_sid", Message: "is required: the template is sent by content_sid, and so is every locale"})
	case l.ContentSID != "" && t.ContentSID == "":
		d = append(d, errs.Detail{Field: field + ".content_sid", Message: "needs the template's own content_sid: a template is sent by content SID in every locale or in none"})
	}
	return d
}
