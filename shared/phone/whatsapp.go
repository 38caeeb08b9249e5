package phone

import (
	"strings"

	"github.com/eventstreamengine/ese/shared/errs"
)

// WhatsAppSender is who a WhatsApp sender id names. WhatsApp keeps the id a
// number had when its account was made, so for some countries the id is
// not the number people dial and we store:
//
//   - Mexico: +52 1 and ten digits, from before the 1 was dropped from
//     mobile numbers (2019); the number is +52 and the ten digits.
//   - Brazil: +55, the two-digit area code and eight digits, from before
//     the ninth digit (9) was put in front of mobile numbers; the number
//     has the 9. Mobile subscribers started with 6 to 9, landlines with 2
//     to 5, so only the former get it.
//   - Argentina: +54 9 and ten digits. libphonenumber reads that as the
//     mobile number (and Normalize keeps it), but a list may hold the same
//     person as +54 and the ten digits, its fixed-line form.
type WhatsAppSender struct {
	// ID is the sender id as +digits: the alias, kept for audit.
	ID string
	// Number is the E.164 number the id maps to (ID itself when it is a
	// valid number already).
	Number string
	// Others are further numbers the person may be stored under, after
	// Number in order of preference.
	Others []string
}

// Numbers lists Number and then Others: where to look the person up.
func (s WhatsAppSender) Numbers() []string {
	if s.Number == "" {
		return nil
	}
	return append([]string{s.Number}, s.Others...)
}

// Alias reports whether the id differs from the number it maps to.
func (s WhatsAppSender) Alias() bool { return s.ID != s.Number }

// FromWhatsApp maps a sender id, as WhatsApp (through Twilio, with or
// without its "whatsapp:" prefix) or SMS gives it, to the number the
// person is stored under (see WhatsAppSender). A valid number is kept as
// it is. The error is errs.Invalid when no valid number is found; the
// sender then still has ID when the id is a + and 1 to 15 digits, so a
// caller can keep the person's word against it.
func FromWhatsApp(id string) (WhatsAppSender, error) {
	d, ok := senderDigits(id)
	var s WhatsAppSender
	if ok {
		s.ID = "+" + d
	}
	if n, err := Normalize(id); err == nil {
		s.Number = n
		if !ok {
			s.ID = n
		}
		if rest, ar := strings.CutPrefix(n, "+549"); ar && len(rest) == 10 {
			if fixed, err := Normalize("+54" + rest); err == nil {
				s.Others = []string{fixed}
			}
		}
		return s, nil
	} else if !ok {
		return s, err
	}
	var mapped string
	switch {
	case len(d) == 13 && strings.HasPrefix(d, "521"):
		mapped = "+52" + d[3:]
	case len(d) == 12 && strings.HasPrefix(d, "55") && d[4] >= '6':
		mapped = "+55" + d[2:4] + "9" + d[4:]
	}
	if mapped != "" {
		if n, err := Normalize(mapped); err == nil {
			s.Number = n
			return s, nil
		}
	}
	return s, errs.E(errs.Invalid, "is not a number WhatsApp or SMS sends from")
}

// senderDigits is the id's digits when it is a "+" (after an optional
// "whatsapp:" prefix) and 1 to 15 digits, as Twilio sends From, with the
// separators Normalize allows between them.
func senderDigits(id string) (string, bool) {
	s := strings.TrimSpace(id)
	if len(s) >= len("whatsapp:") && strings.EqualFold(s[:len("whatsapp:")], "whatsapp:") {
		s = strings.TrimSpace(s[len("whatsapp:"):])
	}
	if !strings.HasPrefix(s, "+") || len(s) > maxInput {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	if b.Len() == 0 || b.Len() > 15 {
		return "", false
	}
	return b.String(), true
}
