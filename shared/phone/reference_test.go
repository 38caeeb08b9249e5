package phone

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/eventstreamengine/ese/shared/errs"
)

// normalizeReference is Normalize as it was before validity was checked
// with patterns compiled here: phonenumbers.IsValidNumber on every call.
// The differential tests and benchmarks hold the new path to it.
func normalizeReference(raw string) (string, error) {
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

	if fast := referenceAsWritten(digits); fast != nil && len(digits) <= 15 && phonenumbers.IsValidNumber(fast) {
		return "+" + string(digits), nil
	}
	num := &phonenumbers.PhoneNumber{}
	if err := phonenumbers.ParseToNumber("+"+string(digits), phonenumbers.UNKNOWN_REGION, num); err != nil {
		if err == phonenumbers.ErrInvalidCountryCode {
			return "", errs.E(errs.Invalid, "has an unknown country calling code")
		}
		return "", errs.E(errs.Invalid, "is not a phone number: %v", err)
	}
	if !phonenumbers.IsValidNumber(num) {
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

// referenceAsWritten builds the number the digits spell, without libphonenumber's
// parser: most of Normalize's cost is the parser's regular expressions
// (extensions, national prefixes), which clean digits never need. Only a
// number that is valid as written takes this path; anything else (such as
// +44 020..., whose national prefix the parser drops) is parsed in full.
func referenceAsWritten(digits []byte) *phonenumbers.PhoneNumber {
	cc := callingCodeLen(digits)
	if cc == 0 {
		return nil
	}
	code, _ := strconv.Atoi(string(digits[:cc]))
	national := digits[cc:]
	if len(national) < 2 || len(national) > 17 {
		return nil
	}
	nn, err := strconv.ParseUint(string(national), 10, 64)
	if err != nil {
		return nil
	}
	c32 := int32(code)
	num := &phonenumbers.PhoneNumber{CountryCode: &c32, NationalNumber: &nn}
	// Leading zeros are part of some national numbers (Italy's 06...), and
	// libphonenumber keeps them beside the integer.
	if national[0] == '0' {
		yes := true
		num.ItalianLeadingZero = &yes
		zeros := 1
		for zeros < len(national)-1 && national[zeros] == '0' {
			zeros++
		}
		if zeros != 1 {
			z := int32(zeros)
			num.NumberOfLeadingZeros = &z
		}
	}
	return num
}
