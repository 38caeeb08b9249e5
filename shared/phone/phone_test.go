package phone

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nyaruka/phonenumbers"

	"github.com/eventstreamengine/ese/shared/errs"
)

func TestNormalize(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name    string
		raw     string
		want    string
		wantErr string // a substring of the error; empty: no error
	}{
		{name: "e164", raw: "+94771234567", want: "+94771234567"},
		{name: "surrounding_space", raw: "  +94771234567\t", want: "+94771234567"},
		{name: "whatsapp_prefix", raw: "whatsapp:+94771234577", want: "+94771234577"},
		{name: "whatsapp_prefix_upper_case", raw: "WhatsApp:+94771234577", want: "+94771234577"},
		{name: "whatsapp_prefix_then_space", raw: "whatsapp: +94771234577", want: "+94771234577"},
		{name: "spaces", raw: "+94 77 123 4567", want: "+94771234567"},
		{name: "dashes_and_parentheses", raw: "+1 (415) 523-8886", want: "+14155238886"},
		{name: "dots", raw: "+33.6.12.34.56.78", want: "+33612345678"},
		{name: "uk_national_prefix_in_parentheses", raw: "+44 (0)20 7946 0958", want: "+442079460958"},
		{name: "italian_leading_zero_kept", raw: "+39 06 1234 5678", want: "+390612345678"},
		{name: "twilio_test_number_first", raw: "+15005550001", want: "+15005550001"},
		{name: "twilio_test_number_valid", raw: "+15005550006", want: "+15005550006"},
		{name: "twilio_test_number_last", raw: "+15005550012", want: "+15005550012"},
		{name: "twilio_sandbox_sender", raw: "whatsapp:+14155238886", want: "+14155238886"},
		{name: "short_region", raw: "+683 4002", want: "+6834002"},

		{name: "empty", raw: "", wantErr: "is empty"},
		{name: "only_prefix", raw: "whatsapp:", wantErr: "is empty"},
		{name: "missing_plus", raw: "94771234567", wantErr: "missing leading +"},
		{name: "international_dialling_prefix", raw: "0094771234567", wantErr: "missing leading +"},
		{name: "national_form", raw: "0771234567", wantErr: "no default region is assumed"},
		{name: "letters", raw: "+1-800-FLOWERS", wantErr: `contains 'F'`},
		{name: "extension", raw: "+94771234567 ext 22", wantErr: `contains 'e'`},
		{name: "plus_only", raw: "+", wantErr: "no digits"},
		{name: "twenty_digits", raw: "+94771234567890123456", wantErr: "has 20 digits; E.164 allows at most 15"},
		{name: "national_prefix_not_counted", raw: "+49 0 800 1234567890", want: "+498001234567890"},
		{name: "too_long_input", raw: "+" + strings.Repeat("1 ", 40), wantErr: "too long to be a phone number"},
		{name: "unknown_country_code", raw: "+999123456", wantErr: "unknown country calling code"},
		{name: "too_short_for_region", raw: "+9477123456", wantErr: "too short for region LK"},
		{name: "too_long_for_region", raw: "+9477123456789", wantErr: "too long for region LK"},
		{name: "invalid_for_region", raw: "+94001234567", wantErr: "not a valid number for region LK"},
		{name: "us_invalid_area_code", raw: "+11234567890", wantErr: "not a valid number for region US"},
		{name: "full_width_digits", raw: "+９４771234567", wantErr: "contains '９'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Normalize(tc.raw)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Normalize(%q) = %q, want an error containing %q", tc.raw, got, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Normalize(%q) error = %q, want it to contain %q", tc.raw, err, tc.wantErr)
				}
				if !errs.Is(err, errs.Invalid) {
					t.Errorf("Normalize(%q) error kind = %v, want invalid", tc.raw, errs.KindOf(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%q): %v", tc.raw, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Normalize(%q) (-want, +got):\n%s", tc.raw, diff)
			}
		})
	}
}

func TestNormalizeErrorNeverQuotesTheNumber(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"94771234567", "+9477123456", "+94001234567", "+999123456"} {
		_, err := Normalize(raw)
		if err == nil {
			t.Fatalf("Normalize(%q): no error", raw)
		}
		if strings.Contains(err.Error(), strings.TrimPrefix(raw, "+")) {
			t.Errorf("Normalize(%q) error %q quotes the number", raw, err)
		}
	}
}

func TestMask(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		in   string
		want string
	}{
		{name: "sri_lanka_mobile", in: "+94771234567", want: "+94*****4567"},
		{name: "us", in: "+14155238886", want: "+1******8886"},
		{name: "three_digit_country_code", in: "+353861234567", want: "+353*****4567"},
		{name: "short_national_number_shows_two", in: "+6834002", want: "+683**02"},
		{name: "whatsapp_prefix", in: "whatsapp:+94771234577", want: "+94*****4577"},
		{name: "no_plus_masked_whole", in: "94771234567", want: "***********"},
		{name: "unknown_country_code_masked_whole", in: "+999123456", want: "*********"},
		{name: "empty", in: "", want: ""},
		{name: "country_code_only", in: "+94", want: "**"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Mask(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Mask(%q) (-want, +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestMaskIn(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		in   string
		want string
	}{
		{name: "document_path", in: "gcpfirestore.ForgetSend: projects/p/databases/(default)/documents/send_ledger/+94771234567: aborted",
			want: "gcpfirestore.ForgetSend: projects/p/databases/(default)/documents/send_ledger/+94*****4567: aborted"},
		{name: "url_encoded_plus", in: "GET /users/%2B94771234567", want: "GET /users/+94*****4567"},
		{name: "several", in: "+94771234567 and +14155238886", want: "+94*****4567 and +1******8886"},
		{name: "short_numbers_kept", in: "attempt 3 of 10 after 250ms, code +123", want: "attempt 3 of 10 after 250ms, code +123"},
		{name: "none", in: "deadline exceeded", want: "deadline exceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, MaskIn(tc.in)); diff != "" {
				t.Errorf("MaskIn(%q) (-want, +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestTimezone(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		in   string
		want string
	}{
		{name: "sri_lanka", in: "+94771234567", want: "Asia/Colombo"},
		{name: "new_york", in: "+12125551234", want: "America/New_York"},
		{name: "san_francisco", in: "+14155238886", want: "America/Los_Angeles"},
		{name: "several_zones_first_sorted", in: "+447911123456", want: "Europe/Guernsey"},
		{name: "us_non_geographic_first_sorted", in: "+15005550006", want: "America/Adak"},
		{name: "non_geographic_unknown", in: "+80012345678", want: "UTC"},
		{name: "unparseable", in: "not a number", want: "UTC"},
		{name: "not_normalised", in: "+94 77 123 4567", want: "UTC"},
		{name: "no_plus", in: "94771234567", want: "UTC"},
		{name: "empty", in: "", want: "UTC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Timezone(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Timezone(%q) (-want, +got):\n%s", tc.in, diff)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"+94771234567", "whatsapp:+94771234577", "+1 (415) 523-8886", "0771234567",
		"+", "", "+999123456", "+44 (0)20 7946 0958", "WHATSAPP:  +15005550006", "+９４",
		"+7 8 495 123 4567", "+54 9 11 2345 6789", "+54 011 15 2345 6789", "+52 1 55 1234 5678", "+36 06 1 234 5678",
		"+39 06 1234 5678", "+225 01 23 45 67 89", "+1 1 415 523 8886",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Normalize(raw)
		// The compiled patterns answer as phonenumbers.IsValidNumber does.
		if want, wantErr := normalizeReference(raw); got != want || errString(err) != errString(wantErr) {
			t.Fatalf("Normalize(%q) = %q, %v; reference: %q, %v", raw, got, err, want, wantErr)
		}
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Normalize(%q) error kind = %v, want invalid", raw, errs.KindOf(err))
			}
			return
		}
		// A normalised number is a fixed point and never loses its +.
		again, err := Normalize(got)
		if err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", raw, got, got, again, err)
		}
		if !strings.HasPrefix(got, "+") || len(got) > 16 {
			t.Fatalf("Normalize(%q) = %q, not E.164", raw, got)
		}
		// libphonenumber's full parser agrees with the fast path.
		num, err := phonenumbers.Parse(got, phonenumbers.UNKNOWN_REGION)
		if err != nil || !phonenumbers.IsValidNumber(num) || phonenumbers.Format(num, phonenumbers.E164) != got {
			t.Fatalf("Normalize(%q) = %q, which libphonenumber parses as %v, %v", raw, got, num, err)
		}
		if m := Mask(got); len(m) != len(got) || strings.Count(m, "*") < (len(got)-1)/3 {
			t.Fatalf("Mask(%q) = %q hides too little", got, m)
		}
		_ = Timezone(got)
	})
}

// benchInputs are the shapes an import meets: a mobile in several
// countries, one with WhatsApp's prefix and spacing, one invalid.
var benchInputs = []struct{ name, raw string }{
	{"lk_mobile", "+94771234567"},
	{"us", "+1 415 523 8886"},
	{"gb_mobile", "+44 7911 123456"},
	{"whatsapp_spaced", "whatsapp:+94 77 123 4567"},
	{"invalid", "+94001234567"},
}

// BenchmarkNormalize runs the reference (phonenumbers.IsValidNumber per
// call) beside Normalize, so one run shows both.
func BenchmarkNormalize(b *testing.B) {
	for _, path := range []struct {
		name string
		fn   func(string) (string, error)
	}{{"reference", normalizeReference}, {"compiled", Normalize}} {
		for _, in := range benchInputs {
			b.Run(path.name+"/"+in.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_, _ = path.fn(in.raw)
				}
			})
		}
	}
}

func BenchmarkMask(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Mask("+94771234567")
	}
}

func BenchmarkTimezone(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Timezone("+94771234567")
	}
}

// TestNormalizeAgreesWithLibphonenumber checks the fast path against the
// full parser on every region's example numbers, as written and with the
// region's national prefix after the country code.
func TestNormalizeAgreesWithLibphonenumber(t *testing.T) {
	t.Parallel()
	checked := 0
	for region := range phonenumbers.GetSupportedRegions() {
		prefix := phonenumbers.GetNddPrefixForRegion(region, true)
		for typ := phonenumbers.FIXED_LINE; typ < phonenumbers.UNKNOWN; typ++ {
			ex := phonenumbers.GetExampleNumberForType(region, typ)
			if ex == nil {
				continue
			}
			e164 := phonenumbers.Format(ex, phonenumbers.E164)
			cc := strconv.Itoa(int(ex.GetCountryCode()))
			inputs := []string{e164}
			if prefix != "" {
				inputs = append(inputs, "+"+cc+" "+prefix+" "+e164[1+len(cc):])
			}
			for _, raw := range inputs {
				got, err := Normalize(raw)
				num, perr := phonenumbers.Parse(raw, phonenumbers.UNKNOWN_REGION)
				libValid := perr == nil && phonenumbers.IsValidNumber(num)
				switch {
				case err == nil && !libValid:
					t.Errorf("%s %v: Normalize(%q) = %q, but libphonenumber finds it invalid", region, typ, raw, got)
				case err != nil && libValid:
					t.Errorf("%s %v: Normalize(%q): %v, but libphonenumber finds it valid", region, typ, raw, err)
				case err == nil && got != phonenumbers.Format(num, phonenumbers.E164):
					t.Errorf("%s %v: Normalize(%q) = %q, libphonenumber says %q", region, typ, raw, got, phonenumbers.Format(num, phonenumbers.E164))
				}
				checked++
			}
		}
	}
	if checked < 1000 {
		t.Errorf("checked only %d numbers", checked)
	}
}

func TestRegion(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		in   string
		want string
	}{
		{name: "sri_lanka", in: "+94771234567", want: "LK"},
		{name: "united_states", in: "+12125551234", want: "US"},
		{name: "canada_shares_plus_one", in: "+16135550123", want: "CA"},
		{name: "united_kingdom", in: "+442079460958", want: "GB"},
		{name: "guernsey_shares_plus_44", in: "+447911123456", want: "GG"},
		{name: "kazakhstan_shares_plus_7", in: "+77012345678", want: "KZ"},
		{name: "russia", in: "+79123456789", want: "RU"},
		{name: "india", in: "+919876543210", want: "IN"},
		{name: "shared_code_no_region_claims_it", in: "+10005550123", want: ""},
		{name: "non_geographic", in: "+80012345678", want: ""},
		{name: "unknown_calling_code", in: "+999123456", want: ""},
		{name: "not_normalised", in: "+94 77 123 4567", want: ""},
		{name: "whatsapp_prefix", in: "whatsapp:+94771234567", want: ""},
		{name: "no_plus", in: "94771234567", want: ""},
		{name: "plus_only", in: "+", want: ""},
		{name: "too_long", in: "+9477123456789012", want: ""},
		{name: "empty", in: "", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, Region(tc.in)); diff != "" {
				t.Errorf("Region(%q) (-want, +got):\n%s", tc.in, diff)
			}
		})
	}
}

// Region's fast path (one region per calling code) answers as the library
// does for every calling code.
func TestRegionAgreesWithLibphonenumber(t *testing.T) {
	t.Parallel()
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.MOBILE, phonenumbers.FIXED_LINE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.VOIP, phonenumbers.UAN,
	}
	checked := 0
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range types {
			num := phonenumbers.GetExampleNumberForType(region, typ)
			if num == nil {
				continue
			}
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			want := phonenumbers.GetRegionCodeForNumber(num)
			if want == "001" || want == phonenumbers.UNKNOWN_REGION {
				want = ""
			}
			if got := Region(e164); got != want {
				t.Errorf("Region(%q) = %q, libphonenumber says %q", e164, got, want)
			}
			checked++
		}
	}
	if checked < 500 {
		t.Errorf("checked %d example numbers, want the library's examples for every region", checked)
	}
}

func BenchmarkRegion(b *testing.B) {
	for _, tc := range []struct{ name, e164 string }{
		{"one_region_code", "+94771234567"},
		{"shared_code", "+16135550123"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if Region(tc.e164) == "" {
					b.Fatal("no region")
				}
			}
		})
	}
}
