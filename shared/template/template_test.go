package template

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
)

// The seed's two templates.
const (
	seedWelcome   = "Hi {name}! Welcome from {city}. Thanks for joining our service! Reply STOP to opt out."
	seedPromotion = "Hello {name}! Special offer for {city} residents. Limited time only! Reply STOP to unsubscribe."
)

// sid is a well-formed content SID.
const sid = "HX0123456789abcdef0123456789abcdef"

func TestPlaceholders(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name    string
		content string
		want    []string
	}{
		{name: "seed_welcome", content: seedWelcome, want: []string{"name", "city"}},
		{name: "seed_promotion", content: seedPromotion, want: []string{"name", "city"}},
		{name: "none", content: "Reply STOP to opt out.", want: nil},
		{name: "empty", content: "", want: nil},
		{name: "unique_in_first_order", content: "{b} {a} {b} {c} {a}", want: []string{"b", "a", "c"}},
		{name: "digits_underscore_dot", content: "{first_name} {address.city} {code2}", want: []string{"first_name", "address.city", "code2"}},
		{name: "adjacent", content: "{a}{b}", want: []string{"a", "b"}},
		{name: "escaped_braces_are_literal", content: "{{name}} and {{ {real} }}", want: []string{"real"}},
		{name: "triple_brace", content: "{{{name}}}", want: []string{"name"}},
		{name: "space_is_not_a_name", content: "{first name} { name } {}", want: nil},
		{name: "unicode_is_not_a_name", content: "{naïve} {名前}", want: nil},
		{name: "unclosed", content: "Hi {name", want: nil},
		{name: "lone_closing", content: "Hi name} :-}", want: nil},
		{name: "default", content: "Hi {name|there}", want: []string{"name"}},
		{name: "default_with_spaces_and_bar", content: "{name|dear friend|you} {city|}", want: []string{"name", "city"}},
		{name: "same_name_with_and_without_default", content: "{name|there} {name}", want: []string{"name"}},
		{name: "unclosed_default", content: "Hi {name|there", want: nil},
		{name: "brace_in_default", content: "Hi {name|{x}}", want: []string{"x"}},
		{name: "bar_without_name", content: "{|there}", want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Placeholders(tc.content)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Placeholders(%q) (-want, +got):\n%s", tc.content, diff)
			}
		})
	}
}

func TestText_Render(t *testing.T) {
	t.Parallel()

	arjuna := map[string]any{"name": "Arjuna Silva", "city": "Colombo", "phone_number": "+94771234567"}
	cases := []struct {
		name          string
		content       string
		vars          map[string]any
		want          string
		wantMissing   []string
		wantDefaulted []string
	}{
		{
			name:    "seed_welcome",
			content: seedWelcome,
			vars:    arjuna,
			want:    "Hi Arjuna Silva! Welcome from Colombo. Thanks for joining our service! Reply STOP to opt out.",
		},
		{
			name:    "seed_promotion",
			content: seedPromotion,
			vars:    arjuna,
			want:    "Hello Arjuna Silva! Special offer for Colombo residents. Limited time only! Reply STOP to unsubscribe.",
		},
		{
			name:        "missing_left_as_written",
			content:     "Hi {name}, {city} {city}",
			vars:        map[string]any{"name": "Frank"},
			want:        "Hi Frank, {city} {city}",
			wantMissing: []string{"city"},
		},
		{
			name:        "nil_is_missing",
			content:     "Hi {name}",
			vars:        map[string]any{"name": nil},
			want:        "Hi {name}",
			wantMissing: []string{"name"},
		},
		{
			name:        "nil_vars",
			content:     "Hi {name} and {age}",
			want:        "Hi {name} and {age}",
			wantMissing: []string{"name", "age"},
		},
		{
			name:        "composite_values_are_missing",
			content:     "{m}{l}",
			vars:        map[string]any{"m": map[string]any{"a": 1}, "l": []any{1}},
			want:        "{m}{l}",
			wantMissing: []string{"m", "l"},
		},
		{
			name:    "empty_string_resolves",
			content: "Hi {name}!",
			vars:    map[string]any{"name": ""},
			want:    "Hi !",
		},
		{
			name:    "numbers",
			content: "{f} {g} {h} {big} {i} {i64} {u8} {f32} {neg} {num} {numf}",
			vars: map[string]any{
				"f": float64(40), "g": 2.5, "h": 0.1, "big": 1e21, "i": 7, "i64": int64(-3),
				"u8": uint8(255), "f32": float32(1.5), "neg": math.Copysign(0, -1), "num": json.Number("12"), "numf": json.Number("1.50"),
			},
			want: "40 2.5 0.1 1000000000000000000000 7 -3 255 1.5 0 12 1.5",
		},
		{
			name:        "nan_is_missing",
			content:     "{x}",
			vars:        map[string]any{"x": math.NaN()},
			want:        "{x}",
			wantMissing: []string{"x"},
		},
		{
			name:    "bool",
			content: "vip={vip}",
			vars:    map[string]any{"vip": true},
			want:    "vip=true",
		},
		{
			name:    "escapes",
			content: "{{name}} is {name} }} {{",
			vars:    map[string]any{"name": "Grace"},
			want:    "{name} is Grace } {",
		},
		{
			name:    "stray_braces_kept",
			content: "Hi {first name} :-} {",
			vars:    map[string]any{"first": "x"},
			want:    "Hi {first name} :-} {",
		},
		{
			name:    "value_with_braces_not_expanded",
			content: "{a}",
			vars:    map[string]any{"a": "{b}", "b": "no"},
			want:    "{b}",
		},
		{
			name:    "dotted_literal_key",
			content: "{address.city}",
			vars:    map[string]any{"address.city": "Kandy", "address": map[string]any{"city": "Galle"}},
			want:    "Kandy",
		},
		{
			name:    "dotted_nested_path",
			content: "{address.city}",
			vars:    map[string]any{"address": map[string]any{"city": "Galle"}},
			want:    "Galle",
		},
		{
			name:        "dotted_path_through_scalar",
			content:     "{address.city.x}",
			vars:        map[string]any{"address": map[string]any{"city": "Galle"}},
			want:        "{address.city.x}",
			wantMissing: []string{"address.city.x"},
		},
		{
			name:    "unicode_text",
			content: "ආයුබෝවන් {name} 👋",
			vars:    map[string]any{"name": "Priya"},
			want:    "ආයුබෝවන් Priya 👋",
		},
		{
			name:          "default_when_absent",
			content:       "Hi {name|there}!",
			want:          "Hi there!",
			wantDefaulted: []string{"name"},
		},
		{
			name:    "value_over_default",
			content: "Hi {name|there}!",
			vars:    map[string]any{"name": "Priya"},
			want:    "Hi Priya!",
		},
		{
			name:          "default_for_empty_string",
			content:       "Hi {name|there}!",
			vars:          map[string]any{"name": ""},
			want:          "Hi there!",
			wantDefaulted: []string{"name"},
		},
		{
			name:          "default_for_composite",
			content:       "{m|none}",
			vars:          map[string]any{"m": map[string]any{}},
			want:          "none",
			wantDefaulted: []string{"m"},
		},
		{
			name:          "empty_default",
			content:       "Hi{name|}!",
			want:          "Hi!",
			wantDefaulted: []string{"name"},
		},
		{
			name:          "default_keeps_spaces_and_bars",
			content:       "Hi {name| dear friend | you}!",
			want:          "Hi  dear friend | you!",
			wantDefaulted: []string{"name"},
		},
		{
			name:          "one_use_defaulted_another_missing",
			content:       "{name|there} {name}",
			want:          "there {name}",
			wantMissing:   []string{"name"},
			wantDefaulted: []string{"name"},
		},
		{
			name:          "dotted_default",
			content:       "{address.city|your city}",
			vars:          map[string]any{"address": map[string]any{}},
			want:          "your city",
			wantDefaulted: []string{"address.city"},
		},
		{
			name:    "brace_in_default_is_not_a_default",
			content: "{name|{x}}",
			vars:    map[string]any{"x": "X"},
			want:    "{name|X}",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, missing, defaulted := Parse(tc.content).Render(Map(tc.vars))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Render text (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantMissing, missing); diff != "" {
				t.Errorf("Render missing (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDefaulted, defaulted); diff != "" {
				t.Errorf("Render defaulted (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestText_zero_renders_empty(t *testing.T) {
	t.Parallel()
	got, missing, defaulted := Text{}.Render(nil)
	if got != "" || missing != nil || defaulted != nil {
		t.Errorf("Text{}.Render = %q, %q, %q; want empty", got, missing, defaulted)
	}
}

// multilingual is a template with a content SID, two locales and a
// default in its content variables.
var multilingual = Template{
	Name:             "Welcome",
	Content:          "Hi {name}! Welcome from {city|Sri Lanka}.",
	Variables:        []string{"name", "city"},
	ContentSID:       sid,
	ContentVariables: map[string]string{"1": "name", "2": "city|Sri Lanka"},
	Category:         Marketing,
	Locales: map[string]Locale{
		"si":    {Content: "ආයුබෝවන් {name}! {city|ලංකාව}", ContentSID: "HX11111111111111111111111111111111"},
		"pt-br": {Content: "Olá {name}!", ContentSID: "HX22222222222222222222222222222222"},
	},
}

func TestCompiled_Render(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name     string
		tpl      Template
		language string
		vars     map[string]any
		want     Rendered
	}{
		{
			name: "body_only",
			tpl:  Template{Content: seedWelcome},
			vars: map[string]any{"name": "Arjuna", "city": "Colombo"},
			want: Rendered{Body: "Hi Arjuna! Welcome from Colombo. Thanks for joining our service! Reply STOP to opt out."},
		},
		{
			name: "content_sid_and_variables",
			tpl:  multilingual,
			vars: map[string]any{"name": "Arjuna", "city": "Colombo"},
			want: Rendered{
				Body: "Hi Arjuna! Welcome from Colombo.", ContentSID: sid,
				ContentVariables: map[string]string{"1": "Arjuna", "2": "Colombo"},
			},
		},
		{
			name: "content_variable_default",
			tpl:  multilingual,
			vars: map[string]any{"name": "Arjuna"},
			want: Rendered{
				Body: "Hi Arjuna! Welcome from Sri Lanka.", ContentSID: sid,
				ContentVariables: map[string]string{"1": "Arjuna", "2": "Sri Lanka"},
				Defaulted:        []string{"city"},
			},
		},
		{
			name: "content_variable_missing",
			tpl:  multilingual,
			vars: map[string]any{"city": "Galle"},
			want: Rendered{
				Body: "Hi {name}! Welcome from Galle.", ContentSID: sid,
				ContentVariables: map[string]string{"2": "Galle"},
				Missing:          []string{"name"},
			},
		},
		{
			// WhatsApp refuses a blank parameter (63028): a blank value is
			// no value, for a content variable.
			name: "content_variable_blank",
			tpl:  multilingual,
			vars: map[string]any{"name": " ", "city": ""},
			want: Rendered{
				Body: "Hi  ! Welcome from Sri Lanka.", ContentSID: sid,
				ContentVariables: map[string]string{"2": "Sri Lanka"},
				Missing:          []string{"name"}, Defaulted: []string{"city"},
			},
		},
		{
			name:     "locale_by_language",
			tpl:      multilingual,
			language: "si",
			vars:     map[string]any{"name": "Arjuna"},
			want: Rendered{
				Locale: "si", Body: "ආයුබෝවන් Arjuna! ලංකාව", ContentSID: "HX11111111111111111111111111111111",
				ContentVariables: map[string]string{"1": "Arjuna", "2": "Sri Lanka"},
				Defaulted:        []string{"city"},
			},
		},
		{
			name:     "language_case_and_underscore",
			tpl:      multilingual,
			language: " PT_br ",
			vars:     map[string]any{"name": "Ana", "city": "Recife"},
			want: Rendered{
				Locale: "pt-br", Body: "Olá Ana!", ContentSID: "HX22222222222222222222222222222222",
				ContentVariables: map[string]string{"1": "Ana", "2": "Recife"},
			},
		},
		{
			name:     "region_falls_back_to_base_language",
			tpl:      multilingual,
			language: "si-LK",
			vars:     map[string]any{"name": "Nimal", "city": "Kandy"},
			want: Rendered{
				Locale: "si", Body: "ආයුබෝවන් Nimal! Kandy", ContentSID: "HX11111111111111111111111111111111",
				ContentVariables: map[string]string{"1": "Nimal", "2": "Kandy"},
			},
		},
		{
			name:     "unknown_language_falls_back_to_default",
			tpl:      multilingual,
			language: "ta",
			vars:     map[string]any{"name": "Kumar", "city": "Jaffna"},
			want: Rendered{
				Body: "Hi Kumar! Welcome from Jaffna.", ContentSID: sid,
				ContentVariables: map[string]string{"1": "Kumar", "2": "Jaffna"},
			},
		},
		{
			name:     "base_language_does_not_match_a_regional_locale",
			tpl:      multilingual,
			language: "pt",
			vars:     map[string]any{"name": "Ana", "city": "Porto"},
			want: Rendered{
				Body: "Hi Ana! Welcome from Porto.", ContentSID: sid,
				ContentVariables: map[string]string{"1": "Ana", "2": "Porto"},
			},
		},
		{
			name: "variables_in_number_order",
			tpl: Template{
				Content: "{a}{b}{c}", ContentSID: sid,
				ContentVariables: map[string]string{"10": "c", "2": "b", "1": "a"},
			},
			vars: map[string]any{"a": "A", "b": 2, "c": true},
			want: Rendered{
				Body: "A2true", ContentSID: sid,
				ContentVariables: map[string]string{"1": "A", "2": "2", "10": "true"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Compile(tc.tpl).Render(tc.language, Map(tc.vars))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Render(%q) (-want, +got):\n%s", tc.language, diff)
			}
		})
	}
}

// A compiled template does not share state between renders: it serves
// every recipient of a batch at once.
func TestCompiled_Render_concurrent(t *testing.T) {
	t.Parallel()
	c := Compile(multilingual)
	done := make(chan Rendered)
	for i := range 8 {
		go func() {
			done <- c.Render([]string{"si", "", "pt-br", "en"}[i%4], Map(map[string]any{"name": i}))
		}()
	}
	for range 8 {
		if r := <-done; r.ContentSID == "" || r.Body == "" {
			t.Errorf("Render = %+v", r)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		in   Template
		want []string
	}{
		{name: "fills_when_empty", in: Template{Content: seedWelcome}, want: []string{"name", "city"}},
		{name: "fills_when_empty_slice", in: Template{Content: seedWelcome, Variables: []string{}}, want: []string{"name", "city"}},
		{name: "keeps_given", in: Template{Content: seedWelcome, Variables: []string{"city", "name"}}, want: []string{"city", "name"}},
		{name: "no_placeholders", in: Template{Content: "Hello"}, want: nil},
		{name: "defaults", in: Template{Content: "Hi {name|there} from {city}"}, want: []string{"name", "city"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.in
			got.Normalize()
			if diff := cmp.Diff(tc.want, got.Variables); diff != "" {
				t.Errorf("Variables (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()

	withSID := func(vars map[string]string) Template {
		return Template{Name: "n", Content: seedWelcome, ContentSID: sid, ContentVariables: vars}
	}
	cases := []struct {
		name string
		in   Template
		want []errs.Detail // nil: valid
	}{
		{name: "seed_welcome", in: Template{Name: "Welcome Message", Content: seedWelcome, Variables: []string{"name", "city"}}},
		{name: "variables_any_order", in: Template{Name: "City Promotion", Content: seedPromotion, Variables: []string{"city", "name"}}},
		{name: "variables_omitted", in: Template{Name: "n", Content: seedWelcome}},
		{name: "escaped_braces", in: Template{Name: "n", Content: "Use {{code}} literally, {name}", Variables: []string{"name"}}},
		{name: "at_limit", in: Template{Name: "n", Content: strings.Repeat("é", MaxContent)}},
		{name: "defaults", in: Template{Name: "n", Content: "Hi {name|there}, {name}", Variables: []string{"name"}}},
		{name: "multilingual", in: multilingual},
		{name: "content_sid_without_variables", in: Template{Name: "n", Content: "Your order has shipped.", ContentSID: sid, Category: Utility}},
		{name: "content_sid_upper_case_hex", in: Template{Name: "n", Content: "Hi", ContentSID: "HX0123456789ABCDEF0123456789ABCDEF"}},
		{name: "binding_with_default", in: withSID(map[string]string{"1": "name|there", "2": "city"})},
		{name: "one_attribute_bound_twice", in: withSID(map[string]string{"1": "name", "2": "city", "3": "name"})},
		{
			name: "name_and_content_required",
			in:   Template{Name: "  ", Content: " \n"},
			want: []errs.Detail{{Field: "name", Message: "is required"}, {Field: "content", Message: "is required"}},
		},
		{
			name: "content_required_with_content_sid",
			in:   Template{Name: "n", ContentSID: sid},
			want: []errs.Detail{{Field: "content", Message: "is required"}},
		},
		{
			name: "too_long",
			in:   Template{Name: "n", Content: strings.Repeat("é", MaxContent+1)},
			want: []errs.Detail{{Field: "content", Message: "is 1601 characters; the limit is 1600"}},
		},
		{
			name: "variables_mismatch",
			in:   Template{Name: "n", Content: seedWelcome, Variables: []string{"name", "age", "name"}},
			want: []errs.Detail{
				{Field: "variables", Message: `lists "age", which the content does not use`},
				{Field: "variables", Message: `lists "name" twice`},
				{Field: "variables", Message: `does not list "city", which the content uses`},
			},
		},
		{
			name: "stray_braces",
			in:   Template{Name: "n", Content: "Hi {first name} :-} {name|"},
			want: []errs.Detail{
				{Field: "content", Message: `has a "{" at byte 3 that is not part of a {name} or {name|default} placeholder; write {{ for a literal brace`},
				{Field: "content", Message: `has a "}" at byte 14 that is not part of a {name} or {name|default} placeholder; write }} for a literal brace`},
				{Field: "content", Message: `has a "}" at byte 18 that is not part of a {name} or {name|default} placeholder; write }} for a literal brace`},
				{Field: "content", Message: `has a "{" at byte 20 that is not part of a {name} or {name|default} placeholder; write {{ for a literal brace`},
			},
		},
		{
			name: "bad_content_sid",
			in:   Template{Name: "n", Content: "Hi", ContentSID: "HX123"},
			want: []errs.Detail{{Field: "content_sid", Message: `must be "HX" followed by 32 hex digits, as Twilio's Content API names an approved template`}},
		},
		{
			name: "message_sid_is_not_a_content_sid",
			in:   Template{Name: "n", Content: "Hi", ContentSID: "SM0123456789abcdef0123456789abcdef"},
			want: []errs.Detail{{Field: "content_sid", Message: `must be "HX" followed by 32 hex digits, as Twilio's Content API names an approved template`}},
		},
		{
			name: "content_variables_need_content_sid",
			in:   Template{Name: "n", Content: "Hi {name}", ContentVariables: map[string]string{"1": "name"}},
			want: []errs.Detail{{Field: "content_variables", Message: "needs content_sid: they fill the variables of Twilio's approved template"}},
		},
		{
			name: "content_variable_keys",
			in:   withSID(map[string]string{"1": "name", "2": "city", "0": "name", "01": "name", "-1": "name", "+3": "name", "x": "name", "": "name", "1.5": "name"}),
			want: []errs.Detail{
				{Field: "content_variables", Message: `has the key ""; keys are Twilio's variable numbers, positive integers written as strings such as "1"`},
				{Field: "content_variables", Message: `has the key "0"; keys are Twilio's variable numbers, positive integers written as strings such as "1"`},
				{Field: "content_variables", Message: `has the key "x"; keys are Twilio's variable numbers, positive integers written as strings such as "1"`},
				{Field: "content_variables", Message: `has the key "+3"; keys are Twilio's variable numbers, positive integers written as strings such as "1"`},
				{Field: "content_variables", Message: `has the key "-1"; keys are Twilio's variable numbers, positive integers written as strings such as "1"`},
				{Field: "content_variables", Message: `has the key "01"; keys are Twilio's variable numbers, positive integers written as strings such as "1"`},
				{Field: "content_variables", Message: `has the key "1.5"; keys are Twilio's variable numbers, positive integers written as strings such as "1"`},
			},
		},
		{
			name: "content_variable_values",
			in:   withSID(map[string]string{"1": "name", "2": "city", "3": "first name", "4": "age", "5": "", "6": "name|{x}"}),
			want: []errs.Detail{
				{Field: "content_variables.3", Message: `is "first name"; want an attribute name (letters, digits, '_' and '.'), with an optional |default`},
				{Field: "content_variables.4", Message: `names "age", which the content does not use`},
				{Field: "content_variables.5", Message: `is ""; want an attribute name (letters, digits, '_' and '.'), with an optional |default`},
				{Field: "content_variables.6", Message: `is "name|{x}"; want an attribute name (letters, digits, '_' and '.'), with an optional |default`},
			},
		},
		{
			name: "content_variables_bind_every_variable",
			in:   withSID(map[string]string{"1": "name"}),
			want: []errs.Detail{{Field: "content_variables", Message: `binds no variable to "city", which the content uses: the message sent would not say what the content says`}},
		},
		{
			name: "bad_category",
			in:   Template{Name: "n", Content: "Hi", Category: "authentication"},
			want: []errs.Detail{{Field: "category", Message: `is "authentication"; want marketing or utility`}},
		},
		{
			name: "locales",
			in: Template{Name: "n", Content: "Hi {name}", ContentSID: sid, ContentVariables: map[string]string{"1": "name"}, Locales: map[string]Locale{
				"si":    {Content: "{name} {city}", ContentSID: "HX1"},
				"ta":    {Content: " ", ContentSID: sid},
				"en-GB": {Content: "Hi", ContentSID: sid},
				"de":    {Content: "Hallo {name"},
			}},
			want: []errs.Detail{
				{Field: "locales.de.content", Message: `has a "{" at byte 6 that is not part of a {name} or {name|default} placeholder; write {{ for a literal brace`},
				{Field: "locales.de.content_sid", Message: "is required: the template is sent by content_sid, and so is every locale"},
				{Field: "locales", Message: `has the key "en-GB"; want a lower-case language code such as si, ta or pt-br`},
				{Field: "locales.si.content", Message: `uses "city", which the template's variables do not list`},
				{Field: "locales.si.content_sid", Message: `must be "HX" followed by 32 hex digits`},
				{Field: "locales.ta.content", Message: "is required"},
			},
		},
		{
			name: "locale_content_sid_needs_the_templates",
			in:   Template{Name: "n", Content: "Hi", Locales: map[string]Locale{"si": {Content: "ආයුබෝවන්", ContentSID: sid}}},
			want: []errs.Detail{{Field: "locales.si.content_sid", Message: "needs the template's own content_sid: a template is sent by content SID in every locale or in none"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.in.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v %+v", err, errs.DetailsOf(err))
				}
				return
			}
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Validate = %v, want an invalid error", err)
			}
			if diff := cmp.Diff(tc.want, errs.DetailsOf(err)); diff != "" {
				t.Errorf("details (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestVariableKey(t *testing.T) {
	t.Parallel()
	for k, want := range map[string]bool{
		"1": true, "2": true, "10": true, "99": true,
		"": false, "0": false, "00": false, "01": false, "-1": false, "+1": false, " 1": false, "1 ": false, "1e2": false, "x": false, "١": false,
	} {
		if got := VariableKey(k); got != want {
			t.Errorf("VariableKey(%q) = %v, want %v", k, got, want)
		}
	}
}

// FuzzParse checks the placeholder parser on any content: names are well
// formed and unique, rendering with every name given only removes braces
// and defaults, missing names are placeholders in their order, and
// Validate never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		seedWelcome, "", "{", "}", "{{", "}}", "{{{a}}}", "{a.b}", "{a}{b}{a}", "{ }", "{\xff}",
		"{a|}", "{a|b}", "{a|b|c}", "{a|{b}}", "{a|", "{|a}", "{a|b}}", "{{a|b}", "{a.|x}", "{a|\xff}",
	} {
		f.Add(s)
	}
	vars := map[string]any{"a": "A", "name": "{name}", "b": map[string]any{"c": 1.5}}
	f.Fuzz(func(t *testing.T, content string) {
		text := Parse(content)
		names := text.Names()
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] || !validName(n) {
				t.Fatalf("Parse(%q).Names() = %q: bad or repeated name %q", content, names, n)
			}
			seen[n] = true
		}
		// With every placeholder resolved to its own name, rendering only
		// strips braces and defaults: nothing is missing or invented.
		self := make(map[string]any, len(names))
		for _, n := range names {
			self[n] = n
		}
		out, missing, defaulted := text.Render(Map(self))
		if len(missing) != 0 || len(defaulted) != 0 {
			t.Fatalf("Render(%q) with every name given: missing %q, defaulted %q", content, missing, defaulted)
		}
		if len(out) > len(content) {
			t.Fatalf("Render(%q) = %q grew", content, out)
		}
		// With nothing given, a placeholder is its default or missing, and
		// the text never holds more than the content does.
		out, missing, defaulted = text.Render(nil)
		for _, m := range append(missing, defaulted...) {
			if !seen[m] {
				t.Fatalf("Render(%q) reports %q, not a placeholder %q", content, m, names)
			}
		}
		if len(out) > len(content) {
			t.Fatalf("Render(%q, nil) = %q grew", content, out)
		}
		if utf8.ValidString(content) && !utf8.ValidString(out) {
			t.Fatalf("Render(%q) = %q is not UTF-8", content, out)
		}
		// Missing names are a subset of the placeholders, in their order.
		_, missing, _ = text.Render(Map(vars))
		j := 0
		for _, m := range missing {
			for j < len(names) && names[j] != m {
				j++
			}
			if j == len(names) {
				t.Fatalf("Render(%q) missing %q not in placeholder order %q", content, missing, names)
			}
		}
		_ = Template{Name: "n", Content: content, Locales: map[string]Locale{"si": {Content: content}}}.Validate()
	})
}

// FuzzBinding checks the parser of a content variable's binding: what it
// accepts renders to the value given, or to its default.
func FuzzBinding(f *testing.F) {
	for _, s := range []string{"name", "name|there", "a.b|", "|x", "name|{", "first name", "", "n|a|b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := parseBinding(s)
		if !ok {
			return
		}
		if !validName(p.name) {
			t.Fatalf("parseBinding(%q) accepted the name %q", s, p.name)
		}
		c := Compile(Template{Content: "x", ContentSID: sid, ContentVariables: map[string]string{"1": s}})
		r := c.Render("", Map(map[string]any{p.name: "V"}))
		if r.ContentVariables["1"] != "V" {
			t.Fatalf("binding %q with its value given = %q", s, r.ContentVariables["1"])
		}
		r = c.Render("", nil)
		// A blank default is none: WhatsApp refuses a blank parameter.
		usable := p.hasDefault && strings.TrimSpace(p.dflt) != ""
		if usable != (r.ContentVariables["1"] == p.dflt && len(r.Missing) == 0) {
			t.Fatalf("binding %q with nothing given = %+v", s, r)
		}
	})
}

// FuzzValidate checks that a template Validate accepts renders without
// surprises: every placeholder of every locale is a variable.
func FuzzValidate(f *testing.F) {
	f.Add(seedWelcome, "ආයුබෝවන් {name}", "name", "city")
	f.Add("Hi {name|there}", "{name}", "name", "")
	f.Add("{a}{b}", "{c}", "a", "b")
	f.Fuzz(func(t *testing.T, content, si, v1, v2 string) {
		tpl := Template{Name: "n", Content: content, ContentSID: sid,
			ContentVariables: map[string]string{"1": v1, "2": v2},
			Locales:          map[string]Locale{"si": {Content: si, ContentSID: sid}}}
		if tpl.Validate() != nil {
			return
		}
		vars := map[string]any{}
		for _, n := range Placeholders(content) {
			vars[n] = "x"
		}
		for _, lang := range []string{"", "si"} {
			r := Compile(tpl).Render(lang, Map(vars))
			if len(r.Missing) > 0 {
				t.Fatalf("valid template %+v, every variable given, language %q: missing %q", tpl, lang, r.Missing)
			}
			if len(r.ContentVariables) != 2 {
				t.Fatalf("valid template %+v: content variables %q", tpl, r.ContentVariables)
			}
		}
	})
}

func BenchmarkRender(b *testing.B) {
	vars := map[string]any{"name": "Arjuna Silva", "city": "Colombo", "age": float64(40)}
	want := "Hi Arjuna Silva! Welcome from Colombo. Thanks for joining our service! Reply STOP to opt out."
	// compiled: parsed once, as a campaign does for each batch.
	b.Run("compiled", func(b *testing.B) {
		c := Compile(Template{Content: seedWelcome})
		lookup := Map(vars)
		b.ReportAllocs()
		for b.Loop() {
			if r := c.Render("", lookup); r.Body != want {
				b.Fatal(r)
			}
		}
	})
	// content_sid: the same, sent as Twilio's approved template, in the
	// person's language.
	b.Run("content_sid", func(b *testing.B) {
		c := Compile(multilingual)
		lookup := Map(vars)
		b.ReportAllocs()
		for b.Loop() {
			if r := c.Render("si", lookup); len(r.ContentVariables) != 2 {
				b.Fatal(r)
			}
		}
	})
	// parse_each_call: scanning the content for every person, as before.
	b.Run("parse_each_call", func(b *testing.B) {
		lookup := Map(vars)
		b.ReportAllocs()
		for b.Loop() {
			if got, _, _ := Parse(seedWelcome).Render(lookup); got != want {
				b.Fatal(got)
			}
		}
	})
	// yardstick: the standard library's replacer, built per person as
	// their values differ.
	b.Run("yardstick", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := strings.NewReplacer("{name}", vars["name"].(string), "{city}", vars["city"].(string))
			if got := r.Replace(seedWelcome); got != want {
				b.Fatal(got)
			}
		}
	})
}

func BenchmarkPlaceholders(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Placeholders(seedWelcome)
	}
}
