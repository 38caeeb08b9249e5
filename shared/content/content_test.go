package content

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func mustRules(t testing.TB, blocked, optOut string) Rules {
	t.Helper()
	r, err := ParseRules(blocked, optOut)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheck(t *testing.T) {
	t.Parallel()
	strict := mustRules(t, `["(?i)free money", "bit\\.ly/"]`, "Reply STOP")
	cases := []struct {
		name  string
		rules Rules
		m     Message
		want  Problem
	}{
		{"plain_passes_no_rules", Rules{}, Message{Body: "Hi Arjuna"}, ""},
		{"unresolved_first", strict, Message{Body: "", Missing: []string{"name"}}, Unresolved},
		{"empty", Rules{}, Message{Body: ""}, Empty},
		{"blank", Rules{}, Message{Body: " \n\t"}, Empty},
		{"limit_exactly", Rules{}, Message{Body: strings.Repeat("a", MaxLength)}, ""},
		{"one_over", Rules{}, Message{Body: strings.Repeat("a", MaxLength+1)}, TooLong},
		// Characters, not bytes: 1,600 Sinhala letters are 4,800 bytes.
		{"characters_not_bytes", Rules{}, Message{Body: strings.Repeat("ආ", MaxLength)}, ""},
		{"blocked_any_case", strict, Message{Body: "FREE Money inside! Reply STOP"}, Blocked},
		{"blocked_second_pattern", strict, Message{Body: "see bit.ly/abc. Reply STOP"}, Blocked},
		{"dot_is_literal", strict, Message{Body: "see bitxly/abc. Reply STOP"}, ""},
		{"opt_out_missing", strict, Message{Body: "Hi"}, NoOptOut},
		{"opt_out_any_case", strict, Message{Body: "Hi. reply stop to opt out"}, ""},
		{"utility_needs_no_opt_out", strict, Message{Body: "Your order shipped", Utility: true}, ""},
		{"utility_still_blocked", strict, Message{Body: "free money", Utility: true}, Blocked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.rules.Check(tc.m); got != tc.want {
				t.Errorf("Check = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, blocked, optOut string
		patterns              []string
		optOutWant            string
		err                   string // part of the error; "" for none
	}{
		{name: "unset", patterns: nil},
		{name: "blank", blocked: "  ", patterns: nil},
		{name: "empty_array", blocked: "[]", patterns: nil},
		{name: "two", blocked: `["a+", "(?i)b"]`, optOut: "  Reply STOP ", patterns: []string{"a+", "(?i)b"}, optOutWant: "Reply STOP"},
		{name: "comma_inside_a_pattern", blocked: `["a{1,3}"]`, patterns: []string{"a{1,3}"}},
		{name: "not_json", blocked: "a+,b", err: "JSON array"},
		{name: "not_strings", blocked: "[1]", err: "JSON array"},
		{name: "bad_pattern_named", blocked: `["ok", "(unclosed"]`, err: `pattern 2 ("(unclosed")`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRules(tc.blocked, tc.optOut)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseRules error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, re := range r.Blocked {
				got = append(got, re.String())
			}
			if diff := cmp.Diff(tc.patterns, got); diff != "" {
				t.Errorf("patterns (-want, +got):\n%s", diff)
			}
			if r.OptOut != tc.optOutWant {
				t.Errorf("OptOut = %q, want %q", r.OptOut, tc.optOutWant)
			}
		})
	}
}

// FuzzParseRules: any setting either parses or is refused with an error;
// parsed rules check any body without panicking.
func FuzzParseRules(f *testing.F) {
	f.Add(`["(?i)free money", "bit\\.ly/"]`, "Reply STOP", "free money")
	f.Add(`[`, "", "")
	f.Add(`["("]`, "x", "y")
	f.Fuzz(func(t *testing.T, blocked, optOut, body string) {
		r, err := ParseRules(blocked, optOut)
		if err != nil {
			return
		}
		r.Check(Message{Body: body})
	})
}

// The string search a plain pattern is given agrees with the regexp.
func TestCheck_literal_patterns_agree_with_the_regexp(t *testing.T) {
	t.Parallel()
	bodies := []string{"FREE MONEY now", "free money", "Free Money", "free  money", "freemoney", "bit.ly/x", "bitxly/x", "ÇA VA", "ça va", "Reply \u017fTOP", "free \u212aarma", "nothing here", ""}
	for _, p := range []string{`(?i)free money`, `free money`, `bit\.ly/`, `(?i)ça va`, `(?i)free\s+money`, `^free`, `(?i)reply stop`, `(?i)free karma`} {
		r := mustRules(t, `["`+strings.ReplaceAll(p, `\`, `\\`)+`"]`, "")
		re := r.Blocked[0]
		for _, b := range bodies {
			if got, want := r.Check(Message{Body: b}) == Blocked, re.MatchString(b); got != want {
				t.Errorf("pattern %q on %q: blocked %v, regexp matches %v", p, b, got, want)
			}
		}
	}
}

// FuzzFoldMatcher: the case-blind search a plain pattern or the opt-out
// wording is given agrees with the regexp engine's (?i) on any text,
// the Kelvin sign and the long s included.
func FuzzFoldMatcher(f *testing.F) {
	f.Add("Reply STOP to opt out", "reply stop")
	f.Add("Reply \u017fTOP", "reply stop")
	f.Add("Free \u212aarma", "free karma")
	f.Add("kelvin SKY", "sky")
	f.Add("ça va", "ÇA")
	f.Add("", "x")
	f.Fuzz(func(t *testing.T, s, sub string) {
		if sub == "" || !utf8.ValidString(s) || !utf8.ValidString(sub) {
			return
		}
		re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(sub))
		if got, want := foldMatcher(sub, re)(s), re.MatchString(s); got != want {
			t.Fatalf("foldMatcher(%q)(%q) = %v, regexp says %v", sub, s, got, want)
		}
	})
}
