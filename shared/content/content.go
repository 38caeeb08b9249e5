// Package content is the content step of compliance: a rendered message
// is sent only when it is not empty, every placeholder and content
// variable is filled, it fits Twilio's limit for a body, it matches none
// of the operator's blocked patterns, and, when the operator asks for it,
// it tells the person how to opt out.
package content

import (
	"encoding/json"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// MaxLength is Twilio's limit for a message body, in characters.
const MaxLength = 1600

// Problem is why a message fails the content step; the zero Problem is
// none.
type Problem string

const (
	Empty      Problem = "content_empty"
	Unresolved Problem = "unresolved_placeholders" // the seed's reason, kept
	TooLong    Problem = "content_too_long"
	Blocked    Problem = "content_blocked"
	NoOptOut   Problem = "opt_out_missing"
)

// Rules are the operator's content rules. The zero Rules block nothing
// beyond what Twilio refuses.
type Rules struct {
	// Blocked are patterns no message may match (RE2, as Go's regexp).
	Blocked []*regexp.Regexp
	// match are Blocked as ParseRules prepared them: a pattern that is
	// plain words (with or without (?i)) is searched for as a string,
	// about thirty times faster than the regexp engine folds case.
	match []func(string) bool
	// OptOut, when set, is wording every marketing message must contain
	// (compared without regard to case), such as "Reply STOP".
	OptOut string
	// optOut is OptOut's search, set by ParseRules.
	optOut func(string) bool
}

// ParseRules reads the rules from their settings: blocked, a JSON array of
// patterns ("" for none), and the opt-out wording ("" for none). The error
// names the pattern that does not compile.
func ParseRules(blocked, optOut string) (Rules, error) {
	r := Rules{OptOut: strings.TrimSpace(optOut)}
	if r.OptOut != "" {
		r.optOut = foldMatcher(r.OptOut, regexp.MustCompile(`(?i)`+regexp.QuoteMeta(r.OptOut)))
	}
	if strings.TrimSpace(blocked) == "" {
		return r, nil
	}
	var patterns []string
	if err := json.Unmarshal([]byte(blocked), &patterns); err != nil {
		return Rules{}, fmt.Errorf(`want a JSON array of patterns, such as ["(?i)free money", "bit\\.ly/"]: %w`, err)
	}
	for i, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return Rules{}, fmt.Errorf("pattern %d (%q): %w", i+1, p, err)
		}
		r.Blocked = append(r.Blocked, re)
		r.match = append(r.match, matcher(p, re))
	}
	return r, nil
}

// Message is what the step looks at.
type Message struct {
	Body string
	// Missing names the placeholders and content variables rendering left
	// unfilled.
	Missing []string
	// Utility marks a transactional template (WhatsApp's utility
	// category): it carries no opt-out wording.
	Utility bool
}

// Check returns the first problem with m, or "" when it may be sent.
func (r Rules) Check(m Message) Problem {
	switch {
	case len(m.Missing) > 0:
		return Unresolved
	case strings.TrimSpace(m.Body) == "":
		return Empty
	case len(m.Body) > MaxLength && utf8.RuneCountInString(m.Body) > MaxLength:
		return TooLong
	}
	if r.match != nil {
		for _, match := range r.match {
			if match(m.Body) {
				return Blocked
			}
		}
	} else {
		for _, re := range r.Blocked {
			if re.MatchString(m.Body) {
				return Blocked
			}
		}
	}
	if r.OptOut != "" && !m.Utility && !r.saysOptOut(m.Body) {
		return NoOptOut
	}
	return ""
}

func (r Rules) saysOptOut(body string) bool {
	if r.optOut != nil {
		return r.optOut(body)
	}
	return strings.Contains(strings.ToLower(body), strings.ToLower(r.OptOut))
}

// matcher is how pattern p (compiled as re) is looked for: a literal by a
// string search, anything else by re.
func matcher(p string, re *regexp.Regexp) func(string) bool {
	parsed, err := syntax.Parse(p, syntax.Perl)
	if err == nil && parsed.Op == syntax.OpLiteral {
		lit := string(parsed.Rune)
		if parsed.Flags&syntax.FoldCase != 0 {
			return foldMatcher(lit, re)
		}
		return func(s string) bool { return strings.Contains(s, lit) }
	}
	return re.MatchString
}

// foldMatcher looks for lit without regard to case: by containsFold where
// that is exact, else by re (lit under (?i)). containsFold compares byte
// windows as long as lit, so it is exact for an ASCII lit against ASCII
// text, and against any text when lit has no k or s: only the Kelvin sign
// and the long s fold to ASCII letters, and they are longer than theirs.
func foldMatcher(lit string, re *regexp.Regexp) func(string) bool {
	if !ascii(lit) {
		return re.MatchString
	}
	if !strings.ContainsAny(lit, "kKsS") {
		return func(s string) bool { return containsFold(s, lit) }
	}
	return func(s string) bool {
		if ascii(s) {
			return containsFold(s, lit)
		}
		return re.MatchString(s)
	}
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// containsFold reports whether s contains sub under Unicode case folding,
// without lowering (and so copying) the whole message.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	// An ASCII letter first: only where s has it in either case can sub
	// start (other letters fold to no ASCII byte but K and S, whose
	// Kelvin and long-s forms are left to EqualFold's slow path below).
	c := sub[0]
	lo, up := c|0x20, c&^0x20
	if lo >= 'a' && lo <= 'z' && lo != 'k' && lo != 's' {
		for i := 0; i+len(sub) <= len(s); i++ {
			if (s[i] == lo || s[i] == up) && strings.EqualFold(s[i:i+len(sub)], sub) {
				return true
			}
		}
		return false
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
