package phone

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
)

func TestFromWhatsApp(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name    string
		id      string
		want    WhatsAppSender
		wantErr bool
	}{
		// A valid number is its own id.
		{name: "lk_mobile", id: "whatsapp:+94771234567", want: WhatsAppSender{ID: "+94771234567", Number: "+94771234567"}},
		{name: "sms_without_channel", id: "+14155238886", want: WhatsAppSender{ID: "+14155238886", Number: "+14155238886"}},
		{name: "mx_dialled_form", id: "whatsapp:+525512345678", want: WhatsAppSender{ID: "+525512345678", Number: "+525512345678"}},
		{name: "br_with_ninth_digit", id: "whatsapp:+5511987654321", want: WhatsAppSender{ID: "+5511987654321", Number: "+5511987654321"}},
		{name: "br_landline", id: "whatsapp:+551134567890", want: WhatsAppSender{ID: "+551134567890", Number: "+551134567890"}},

		// Mexico: WhatsApp keeps the 1 dropped from mobile numbers in 2019.
		{name: "mx_cdmx_with_1", id: "whatsapp:+5215512345678", want: WhatsAppSender{ID: "+5215512345678", Number: "+525512345678"}},
		{name: "mx_guadalajara_with_1", id: "whatsapp:+5213312345678", want: WhatsAppSender{ID: "+5213312345678", Number: "+523312345678"}},
		{name: "mx_monterrey_with_1_upper_case", id: "WhatsApp:+5218112345678", want: WhatsAppSender{ID: "+5218112345678", Number: "+528112345678"}},

		// Brazil: ids made before the ninth digit lack it.
		{name: "br_belo_horizonte_8_digits", id: "whatsapp:+553187654321", want: WhatsAppSender{ID: "+553187654321", Number: "+5531987654321"}},
		{name: "br_recife_8_digits_starting_9", id: "whatsapp:+558199887766", want: WhatsAppSender{ID: "+558199887766", Number: "+5581999887766"}},
		{name: "br_sao_paulo_8_digits_starting_6", id: "whatsapp:+551161234567", want: WhatsAppSender{ID: "+551161234567", Number: "+5511961234567"}},

		// Argentina: +54 9 is the mobile number; a list may hold the
		// fixed-line form without the 9.
		{name: "ar_buenos_aires", id: "whatsapp:+5491123456789", want: WhatsAppSender{ID: "+5491123456789", Number: "+5491123456789", Others: []string{"+541123456789"}}},
		{name: "ar_cordoba", id: "whatsapp:+5493514567890", want: WhatsAppSender{ID: "+5493514567890", Number: "+5493514567890", Others: []string{"+543514567890"}}},
		{name: "ar_fixed_line", id: "+541123456789", want: WhatsAppSender{ID: "+541123456789", Number: "+541123456789"}},

		// Ids no rule maps keep their +digits for the caller.
		{name: "br_8_digits_starting_1_is_no_number", id: "whatsapp:+553117654321", want: WhatsAppSender{ID: "+553117654321"}, wantErr: true},
		{name: "mx_with_1_too_short", id: "whatsapp:+521551234567", want: WhatsAppSender{ID: "+521551234567"}, wantErr: true},
		{name: "unknown_country", id: "whatsapp:+999123456", want: WhatsAppSender{ID: "+999123456"}, wantErr: true},
		{name: "sixteen_digits", id: "whatsapp:+5215512345678901", wantErr: true},
		{name: "letters", id: "whatsapp:+52155ABC", wantErr: true},
		{name: "no_plus", id: "whatsapp:5215512345678", wantErr: true},
		{name: "empty", id: "", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromWhatsApp(tc.id)
			if (err != nil) != tc.wantErr {
				t.Fatalf("FromWhatsApp error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errs.Is(err, errs.Invalid) {
				t.Errorf("FromWhatsApp error kind = %v, want invalid", errs.KindOf(err))
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("FromWhatsApp(%q) (-want +got):\n%s", tc.id, d)
			}
		})
	}
}

func TestWhatsAppSenderNumbers(t *testing.T) {
	t.Parallel()
	s, err := FromWhatsApp("whatsapp:+5491123456789")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"+5491123456789", "+541123456789"}, s.Numbers()); d != "" {
		t.Errorf("Numbers (-want +got):\n%s", d)
	}
	if s.Alias() {
		t.Errorf("Alias() = true for an id that is its number")
	}
	if mx, _ := FromWhatsApp("whatsapp:+5215512345678"); !mx.Alias() {
		t.Errorf("Alias() = false for a Mexican id with the 1")
	}
	if none := (WhatsAppSender{ID: "+999123456"}); none.Numbers() != nil {
		t.Errorf("Numbers() = %v without a number, want nil", none.Numbers())
	}
}

func FuzzFromWhatsApp(f *testing.F) {
	for _, s := range []string{
		"whatsapp:+5215512345678", "whatsapp:+553187654321", "whatsapp:+5491123456789", "+94771234567",
		"whatsapp:+553117654321", "whatsapp:+52 1 55 1234 5678", "+55 (11) 6123-4567", "whatsapp:+", "",
		"+44 (0)20 7946 0958", "whatsapp:+999123456",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		s, err := FromWhatsApp(id)
		if err != nil {
			if !errs.Is(err, errs.Invalid) || s.Number != "" || s.Others != nil {
				t.Fatalf("FromWhatsApp(%q) = %+v, %v: a failure is Invalid and names no number", id, s, err)
			}
		} else if s.ID == "" {
			t.Fatalf("FromWhatsApp(%q) = %+v without an id", id, s)
		}
		// The id is + and 1 to 15 digits; every number is a normalised one.
		if s.ID != "" && (!strings.HasPrefix(s.ID, "+") || len(s.ID) < 2 || len(s.ID) > 16 || strings.Trim(s.ID[1:], "0123456789") != "") {
			t.Fatalf("FromWhatsApp(%q).ID = %q, not + and 1 to 15 digits", id, s.ID)
		}
		for _, n := range s.Numbers() {
			if got, err := Normalize(n); err != nil || got != n {
				t.Fatalf("FromWhatsApp(%q) gave %q, which Normalize reads as %q, %v", id, n, got, err)
			}
		}
		// A number Normalize accepts maps to itself.
		if n, err := Normalize(id); err == nil && s.Number != n {
			t.Fatalf("FromWhatsApp(%q).Number = %q, Normalize = %q", id, s.Number, n)
		}
	})
}
