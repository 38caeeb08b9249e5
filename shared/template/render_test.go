package template

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
)

// The seed's two templates.
const (
	seedWelcome   = "Hi {name}! Welcome from {city}. Thanks for joining our service! Reply STOP to opt out."
	seedPromotion = "Hello {name}! Special offer for {city} residents. Limited time only! Reply STOP to unsubscribe."
)

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

func TestRender(t *testing.T) {
	t.Parallel()

	arjuna := map[string]any{"name": "Arjuna Silva", "city": "Colombo", "phone_number": "+94771234567"}
	cases := []struct {
		name        string
		content     string
		vars        map[string]any
		want        string
		wantMissing []string
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, missing := Render(tc.content, tc.vars)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Render text (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantMissing, missing); diff != "" {
				t.Errorf("Render missing (-want, +got):\n%s", diff)
			}
		})
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
		{
			name: "name_and_content_required",
			in:   Template{Name: "  ", Content: " \n"},
			want: []errs.Detail{{Field: "name", Message: "is required"}, {Field: "content", Message: "is required"}},
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
			in:   Template{Name: "n", Content: "Hi {first name} :-}"},
			want: []errs.Detail{
				{Field: "content", Message: `has a "{" at byte 3 that is not part of a {name} placeholder; write {{ for a literal brace`},
				{Field: "content", Message: `has a "}" at byte 14 that is not part of a {name} placeholder; write }} for a literal brace`},
				{Field: "content", Message: `has a "}" at byte 18 that is not part of a {name} placeholder; write }} for a literal brace`},
			},
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

func FuzzRender(f *testing.F) {
	for _, s := range []string{seedWelcome, "", "{", "}", "{{", "}}", "{{{a}}}", "{a.b}", "{a}{b}{a}", "{ }", "{\xff}"} {
		f.Add(s)
	}
	vars := map[string]any{"a": "A", "name": "{name}", "b": map[string]any{"c": 1.5}}
	f.Fuzz(func(t *testing.T, content string) {
		names := Placeholders(content)
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] || n == "" || nameLen(n) != len(n) {
				t.Fatalf("Placeholders(%q) = %q: bad or repeated name %q", content, names, n)
			}
			seen[n] = true
		}
		// With every placeholder resolved to its own name, rendering only
		// strips braces: nothing is missing and no text is invented.
		self := make(map[string]any, len(names))
		for _, n := range names {
			self[n] = n
		}
		out, missing := Render(content, self)
		if len(missing) != 0 {
			t.Fatalf("Render(%q) with every name given misses %q", content, missing)
		}
		if len(out) > len(content) {
			t.Fatalf("Render(%q) = %q grew", content, out)
		}
		// Missing names are a subset of the placeholders, in their order.
		_, missing = Render(content, vars)
		j := 0
		for _, m := range missing {
			for j < len(names) && names[j] != m {
				j++
			}
			if j == len(names) {
				t.Fatalf("Render(%q) missing %q not in placeholder order %q", content, missing, names)
			}
		}
		_ = Template{Name: "n", Content: content}.Validate()
	})
}

func BenchmarkRender(b *testing.B) {
	vars := map[string]any{"name": "Arjuna Silva", "city": "Colombo", "age": float64(40)}
	b.ReportAllocs()
	for b.Loop() {
		if _, missing := Render(seedWelcome, vars); missing != nil {
			b.Fatal(missing)
		}
	}
}

func BenchmarkPlaceholders(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Placeholders(seedWelcome)
	}
}
