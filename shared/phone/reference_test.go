package phone

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
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

// referenceInputs is the differential table: every region's and non-geographic
// calling code's example numbers, as E.164, with WhatsApp's prefix, spaced,
// with the national prefix written, cut short, lengthened and with each
// digit changed (near misses exercise the patterns); random digits under
// every calling code; and malformed input.
func referenceInputs() []string {
	var examples []*phonenumbers.PhoneNumber
	for region := range phonenumbers.GetSupportedRegions() {
		for typ := phonenumbers.FIXED_LINE; typ < phonenumbers.UNKNOWN; typ++ {
			if ex := phonenumbers.GetExampleNumberForType(region, typ); ex != nil {
				examples = append(examples, ex)
			}
		}
	}
	for cc := range phonenumbers.GetSupportedGlobalNetworkCallingCodes() {
		if ex := phonenumbers.GetExampleNumberForNonGeoEntity(cc); ex != nil {
			examples = append(examples, ex)
		}
	}

	var in []string
	for _, ex := range examples {
		e164 := phonenumbers.Format(ex, phonenumbers.E164)
		cc := strconv.Itoa(int(ex.GetCountryCode()))
		nsn := e164[1+len(cc):]
		in = append(in, e164, "whatsapp:"+e164, "WhatsApp: "+e164,
			"+"+cc+" ("+nsn[:len(nsn)/2]+") "+nsn[len(nsn)/2:],
			e164[:len(e164)-1], e164+"5", e164+"55")
		region := phonenumbers.GetRegionCodeForCountryCode(int(ex.GetCountryCode()))
		if prefix := phonenumbers.GetNddPrefixForRegion(region, true); prefix != "" {
			in = append(in, "+"+cc+" "+prefix+" "+nsn, "+"+cc+prefix+nsn)
		}
		for i := range len(nsn) {
			d := nsn[i] - '0'
			for _, delta := range []byte{1, 5} {
				in = append(in, "+"+cc+nsn[:i]+string('0'+(d+delta)%10)+nsn[i+1:])
			}
		}
	}

	rng := rand.New(rand.NewPCG(6, 6))
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		for range 20 {
			b := []byte("+" + strconv.Itoa(cc))
			for range 2 + rng.IntN(14) {
				b = append(b, byte('0'+rng.IntN(10)))
			}
			in = append(in, string(b))
		}
	}

	return append(in,
		"", " ", "\t", "+", "++94771234567", "whatsapp:", "whatsapp", "WHATSAPP:+1",
		"+0", "+00", "+1", "+12", "+999", "+9", "+1 (", "+94771234567\x00", "+94771234567 ext 5",
		"+94771234567890123456", "+9477123456789012345", "+947712345678901234", "+"+strings.Repeat("9", 64),
		"+"+strings.Repeat("1 ", 40), "+\u0669\u0664", "+44 (0)20 7946 0958", "+1 1 415 523 8886",
		"+39 06 1234 5678", "+390000000", "+39 0", "+800 1234 5678", "+882 0000 0000", "+979 123456789",
		"+7 8 495 123 4567", "+54 9 11 2345 6789", "+54 011 15 2345 6789", "+52 1 55 1234 5678",
		"+36 06 1 234 5678", "+225 01 23 45 67 89", "\xff+94771234567", "+94\xff771234567",
	)
}

// TestNormalizeMatchesReference holds Normalize to the reference: the same
// number or the same error for every input in the table.
func TestNormalizeMatchesReference(t *testing.T) {
	t.Parallel()
	valid := 0
	inputs := referenceInputs()
	for _, raw := range inputs {
		got, err := Normalize(raw)
		want, wantErr := normalizeReference(raw)
		if got != want || errString(err) != errString(wantErr) {
			t.Errorf("Normalize(%q) = %q, %v; reference: %q, %v", raw, got, err, want, wantErr)
		}
		if wantErr == nil {
			valid++
		}
	}
	if valid < 2000 || len(inputs)-valid < 2000 {
		t.Errorf("%d inputs, %d valid: too few of one kind to compare", len(inputs), valid)
	}
}

// TestPatternsForEveryCallingCode compiles every calling code's patterns,
// which the table above may not all reach.
func TestPatternsForEveryCallingCode(t *testing.T) {
	t.Parallel()
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		p := patternsFor(cc)
		if len(p.regions) == 0 {
			t.Errorf("+%d: no regions", cc)
		}
		for i, r := range p.regions {
			if !r.known || r.general.pattern == nil || len(r.types) == 0 {
				t.Errorf("+%d region %d (%s): no usable metadata", cc, i, phonenumbers.GetRegionCodesForCountryCode(cc)[i])
			}
		}
	}
}

// TestNormalizeConcurrent is not parallel, so it runs before the parallel
// tests and its goroutines race to build the patterns (run it with -race).
func TestNormalizeConcurrent(t *testing.T) {
	// An eighth of the table, so eight goroutines do one table's work.
	var inputs []string
	for i, raw := range referenceInputs() {
		if i%8 == 0 {
			inputs = append(inputs, raw)
		}
	}
	want := make([]string, len(inputs))
	for i, raw := range inputs {
		got, err := normalizeReference(raw)
		want[i] = got + "|" + errString(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			// Each goroutine starts elsewhere in the table, so they build
			// different calling codes at the same time.
			for k := range inputs {
				i := (k + g*len(inputs)/8) % len(inputs)
				got, err := Normalize(inputs[i])
				if s := got + "|" + errString(err); s != want[i] {
					t.Errorf("Normalize(%q) = %s, reference %s", inputs[i], s, want[i])
				}
			}
		})
	}
	wg.Wait()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Valid answers as phonenumbers.IsValidNumber for numbers parsed in their
// region's national form, valid or broken a digit.
func TestValidMatchesTheLibrary(t *testing.T) {
	t.Parallel()
	n := 0
	for _, region := range slices.Sorted(maps.Keys(phonenumbers.GetSupportedRegions())) {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE} {
			ex := phonenumbers.GetExampleNumberForType(region, typ)
			if ex == nil {
				continue
			}
			national := phonenumbers.Format(ex, phonenumbers.NATIONAL)
			for _, s := range []string{national, national + "1", national[:len(national)-1]} {
				num, err := phonenumbers.Parse(s, region)
				if err != nil {
					continue
				}
				n++
				if got, want := Valid(num), phonenumbers.IsValidNumber(num); got != want {
					t.Errorf("%s %q: Valid = %v, IsValidNumber = %v", region, s, got, want)
				}
			}
		}
	}
	if n < 500 {
		t.Errorf("compared %d numbers: too few", n)
	}
}
