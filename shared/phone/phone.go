// Package phone normalises, masks and locates phone numbers. Every number
// the platform stores or sends to is E.164 (+<country code><number>), the
// form Twilio and WhatsApp address people by.
package phone

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/eventstreamengine/ese/shared/errs"
)

// maxInput bounds what Normalize looks at: E.164 has at most 15 digits, so
// anything much longer is rejected before libphonenumber sees it.
const maxInput = 64

// Normalize returns raw as E.164. It trims space and a "whatsapp:" prefix
// (any case) and accepts spaces, dashes, dots and parentheses between the
// digits. The number must start with +: no default region is guessed,
// because a guess would silently message the wrong country.
//
// Validation is libphonenumber's IsValidNumber for the number's region.
// Twilio's magic test numbers (+15005550001 to +15005550012) pass it, as
// +1 500 is a valid North American personal-communications prefix.
//
// Errors are errs.Invalid and never quote the number.
func Normalize(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if len(s) >= len("whatsapp:") && strings.EqualFold(s[:len("whatsapp:")], "whatsapp:") {
		s = strings.TrimSpace(s[len("whatsapp:"):])
	}
	if s == "" {
		return "", errs.E(errs.Invalid, "is empty")
	}
	if len(s) > maxInput {
		return "", errs.E(errs.Invalid, "is too long to be a phone number")
	}
	if s[0] != '+' {
		return "", errs.E(errs.Invalid, "missing leading + (give the number in international E.164 form, e.g. +14155552671; no default region is assumed)")
	}
	var b [maxInput]byte
	digits := b[:0]
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return "", errs.E(errs.Invalid, "contains %q: only digits, spaces, dashes, dots and parentheses may follow the +", r)
		}
	}
	switch {
	case len(digits) == 0:
		return "", errs.E(errs.Invalid, "has no digits after the +")
	case len(digits) > 15+4: // room for a written national prefix, which is dropped
		return "", errs.E(errs.Invalid, "has %d digits; E.164 allows at most 15", len(digits))
	}

	// Most numbers are valid as written, and then the digits after the
	// calling code are the national significant number (leading zeros
	// included, as in Italy's 06...), so the parser's regular expressions
	// are not needed. The rest (such as +44 020..., whose national prefix
	// the parser drops) are parsed in full.
	if code, n := callingCode(digits); n > 0 && len(digits) <= 15 && len(digits)-n >= 2 {
		e164 := "+" + string(digits)
		if isValid(code, e164[1+n:]) {
			return e164, nil
		}
	}
	num := &phonenumbers.PhoneNumber{}
	if err := phonenumbers.ParseToNumber("+"+string(digits), phonenumbers.UNKNOWN_REGION, num); err != nil {
		if err == phonenumbers.ErrInvalidCountryCode {
			return "", errs.E(errs.Invalid, "has an unknown country calling code")
		}
		return "", errs.E(errs.Invalid, "is not a phone number: %v", err)
	}
	return E164(num)
}

// E164 is a parsed number in E.164 form when it is valid (see Valid);
// otherwise an errs.Invalid error saying why, never quoting the number.
func E164(num *phonenumbers.PhoneNumber) (string, error) {
	if !Valid(num) {
		region := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
		switch phonenumbers.IsPossibleNumberWithReason(num) {
		case phonenumbers.TOO_SHORT:
			return "", errs.E(errs.Invalid, "is too short for region %s", region)
		case phonenumbers.TOO_LONG:
			return "", errs.E(errs.Invalid, "is too long for region %s", region)
		}
		return "", errs.E(errs.Invalid, "is not a valid number for region %s", region)
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if len(e164) > 16 {
		return "", errs.E(errs.Invalid, "has %d digits; E.164 allows at most 15", len(e164)-1)
	}
	return e164, nil
}

// Mask hides a number for logs and screens. It keeps the + and the country
// calling code, and the last 4 digits (the last 2 when the national number
// has 6 digits or fewer, so that at least as many are hidden as shown);
// every other digit becomes one '*', keeping the length:
// +94771234567 → +94*****4567. Input that does not start with + and a known
// country code is masked whole.
func Mask(e164 string) string {
	s := strings.TrimSpace(e164)
	if len(s) >= len("whatsapp:") && strings.EqualFold(s[:len("whatsapp:")], "whatsapp:") {
		s = strings.TrimSpace(s[len("whatsapp:"):])
	}
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	cc := 0
	if strings.HasPrefix(s, "+") {
		cc = callingCodeLen(digits)
	}
	national := len(digits) - cc
	if cc == 0 || national <= 0 {
		return strings.Repeat("*", len(digits))
	}
	show := 4
	if national <= 6 {
		show = 2
	}
	if show > national/2 {
		show = national / 2
	}
	var b strings.Builder
	b.Grow(1 + len(digits))
	b.WriteByte('+')
	b.Write(digits[:cc])
	for range national - show {
		b.WriteByte('*')
	}
	b.Write(digits[len(digits)-show:])
	return b.String()
}

// callingCodeLen returns how many leading digits are the country calling
// code, or 0 if none is known.
func callingCodeLen(digits []byte) int {
	_, n := callingCode(digits)
	return n
}

// callingCode returns the country calling code the digits start with and
// its length, or 0, 0 if none is known. Calling codes are prefix-free, so
// the first length that names a region is the one.
func callingCode(digits []byte) (code, n int) {
	for n = 1; n <= 3 && n < len(digits); n++ {
		code = code*10 + int(digits[n-1]-'0')
		if code == 0 {
			return 0, 0
		}
		if phonenumbers.GetRegionCodeForCountryCode(code) != phonenumbers.UNKNOWN_REGION {
			return code, n
		}
	}
	return 0, 0
}

// Timezone returns the IANA zone libphonenumber places the number in, for
// quiet hours when a person has not set their own. When the number's prefix
// spans several zones (a mobile range, a non-geographic number) the
// alphabetically first is chosen, so the answer never changes between
// calls; "UTC" when the number is unknown or not E.164.
func Timezone(e164 string) string {
	if len(e164) < 2 || len(e164) > 16 || e164[0] != '+' {
		return "UTC"
	}
	for i := 1; i < len(e164); i++ {
		if e164[i] < '0' || e164[i] > '9' {
			return "UTC"
		}
	}
	// The prefix table is keyed by E.164 digits, so a normalised number
	// needs no parsing.
	zones, err := phonenumbers.GetTimezonesForPrefix(e164)
	if err != nil {
		return "UTC"
	}
	best := ""
	for _, z := range zones {
		if z == phonenumbers.UNKNOWN_TIMEZONE || z == "" {
			continue
		}
		if best == "" || z < best {
			best = z
		}
	}
	if best == "" {
		return "UTC"
	}
	return best
}

// Region returns the ISO 3166-1 region libphonenumber places an E.164
// number in ("LK" for +94771234567), as phonenumbers.GetRegionCodeForNumber
// does, or "" when it places it nowhere: not E.164, an unknown or
// non-geographic calling code, or a calling code several regions share
// (+1, +7, +44) none of which claims the number. Segments ask this of
// every person, so it reads the compiled patterns Normalize uses.
func Region(e164 string) string {
	if len(e164) < 3 || len(e164) > 16 || e164[0] != '+' {
		return ""
	}
	var b [15]byte
	digits := b[:0]
	for i := 1; i < len(e164); i++ {
		c := e164[i]
		if c < '0' || c > '9' {
			return ""
		}
		digits = append(digits, c)
	}
	code, n := callingCode(digits)
	if n == 0 {
		return ""
	}
	return geographic(patternsFor(code).region(e164[1+n:]))
}

// geographic drops libphonenumber's codes for no region ("ZZ") and for
// non-geographic numbers ("001").
func geographic(region string) string {
	if region == phonenumbers.UNKNOWN_REGION || region == "001" || len(region) != 2 {
		return ""
	}
	return region
}

// inText finds the numbers in a text such as a store's error, whose
// document paths name people (users/{phone}, send_ledger/{phone}); the +
// may come URL-encoded.
var inText = regexp.MustCompile(`(?:\+|%2[Bb])[0-9]{7,15}`)

// MaskIn masks every number in s (see Mask), so that an error can be
// logged or kept without a whole number in it.
func MaskIn(s string) string {
	return inText.ReplaceAllStringFunc(s, func(n string) string {
		if !strings.HasPrefix(n, "+") {
			n = "+" + n[3:] // %2B: masked as the number it is
		}
		return Mask(n)
	})
}
