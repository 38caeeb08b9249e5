package erasure

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
)

func TestHasher(t *testing.T) {
	t.Parallel()
	if _, err := NewHasher([]byte("too short")); !errs.Is(err, errs.Invalid) {
		t.Errorf("NewHasher(9 bytes) = %v, want Invalid", err)
	}
	a, _ := NewHasher([]byte(strings.Repeat("a", 32)))
	b, _ := NewHasher([]byte(strings.Repeat("b", 32)))
	const p = "+94771234567"
	again, _ := NewHasher([]byte(strings.Repeat("a", 32)))
	if a.Of(p) != again.Of(p) {
		t.Error("one key hashes one number two ways")
	}
	if a.Of(p) == b.Of(p) {
		t.Error("two keys give one hash: the key does not key it")
	}
	if a.Of(p) == a.Of("+94771234568") {
		t.Error("two numbers give one hash")
	}
	if got := a.Of(p); len(got) != 64 || strings.Contains(got, "771234567") {
		t.Errorf("Of = %q, want 64 hex digits that do not hold the number", got)
	}
}

func TestWhatsAppIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, number string
		want         []string
	}{
		{"sri_lanka", "+94771234567", []string{"+94771234567"}},
		{"mexico_old_1", "+525512345678", []string{"+525512345678", "+5215512345678"}},
		{"brazil_without_ninth_digit", "+5531987654321", []string{"+5531987654321", "+553187654321"}},
		{"argentina_fixed_form_of_a_mobile", "+541123456789", []string{"+541123456789", "+5491123456789"}},
		{"argentina_mobile", "+5491123456789", []string{"+5491123456789"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, WhatsAppIDs(tc.number)); diff != "" {
				t.Errorf("WhatsAppIDs(%s) (-want, +got):\n%s", tc.number, diff)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		r         Record
		optedOut  bool
		returning consent.State
		expires   bool
	}{
		{"stop", Record{Consent: consent.Stop}, true, consent.Stop, false},
		{"opt_out", Record{Consent: consent.OptOut}, true, consent.OptOut, false},
		{"suppressed_only", Record{Suppressed: true}, true, consent.OptOut, false},
		{"stop_and_suppressed", Record{Consent: consent.Stop, Suppressed: true}, true, consent.Stop, false},
		{"marketing_only", Record{MarketingOptOut: true}, false, consent.OptOut, false},
		{"nothing", Record{}, false, consent.OptOut, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.r.OptedOut(); got != tc.optedOut {
				t.Errorf("OptedOut = %v, want %v", got, tc.optedOut)
			}
			if got := tc.r.Returning(); got != tc.returning {
				t.Errorf("Returning = %s, want %s", got, tc.returning)
			}
			r := tc.r
			r.ErasedAt = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			want := time.Time{}
			if tc.expires {
				want = r.ErasedAt.Add(ErasedOnlyKeep)
			}
			if got := r.ExpiresAt(); !got.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v", got, want)
			}
		})
	}
}

// TestCanonical: the forms phone.FromWhatsApp takes for one person hash
// as one, so a record kept under either is found by the other.
func TestCanonical(t *testing.T) {
	t.Parallel()
	h, _ := NewHasher([]byte(strings.Repeat("k", 32)))
	tests := []struct {
		name, a, b string
		same       bool
	}{
		{"argentine_mobile_and_fixed_form", "+5491123456789", "+541123456789", true},
		{"sri_lankan", "+94771234567", "+94771234567", true},
		{"two_argentines", "+5491123456789", "+541123456780", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := h.Of(tc.a) == h.Of(tc.b); got != tc.same {
				t.Errorf("Of(%s) == Of(%s) is %v, want %v", tc.a, tc.b, got, tc.same)
			}
			if got := h.Marker(tc.a) == h.Marker(tc.b); got != tc.same {
				t.Errorf("Marker(%s) == Marker(%s) is %v, want %v", tc.a, tc.b, got, tc.same)
			}
		})
	}
	if got := Canonical("+5491123456789"); got != "+541123456789" {
		t.Errorf("Canonical(+54 9 11…) = %s, want the fixed-line form", got)
	}
}
