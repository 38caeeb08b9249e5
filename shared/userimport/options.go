package userimport

import (
	"io"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/encoding/charmap"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/phone"
)

// Option adjusts how a Reader reads a file.
type Option func(*options)

type options struct {
	region   string // ISO 3166 alpha-2, upper case; empty: international numbers only
	encoding string // as given
	census   *Census
}

// WithDefaultRegion reads numbers without a leading + as national numbers
// of region (ISO 3166 alpha-2, such as "LK"). Without it every number must
// be international, as phone.Normalize wants. An unknown region makes the
// first Next fail with errs.Invalid.
func WithDefaultRegion(region string) Option {
	return func(o *options) { o.region = strings.ToUpper(strings.TrimSpace(region)) }
}

// WithEncoding names the file's character encoding: "utf-8" (the default),
// "windows-1252" or "iso-8859-1" (aliases cp1252, latin1 and the like are
// accepted). Any other name makes the first Next fail with errs.Invalid.
func WithEncoding(name string) Option {
	return func(o *options) { o.encoding = name }
}

// MergeDuplicates makes a second pass over a file merge the rows that share
// a number, as counted by a first pass (Reader.Census): each number comes
// out once, at the position (and Line) of its last row, with the
// attributes of all its rows, the later row winning per attribute, and the
// last consent given. Rows of other numbers are not held back; a repeated
// number's merged row is held from its first row to its last. Give both
// passes the same options, or the counts will not match (rows left
// unmatched still come out, at the end, in file order).
func MergeDuplicates(c *Census) Option {
	return func(o *options) { o.census = c }
}

// Encodings the reader can transcode from.
const (
	encUTF8        = "utf-8"
	encWindows1252 = "windows-1252"
	encISO88591    = "iso-8859-1"
)

// canonicalEncoding returns the encoding name, or "" if unknown.
func canonicalEncoding(name string) string {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8":
		return encUTF8
	case "windows-1252", "cp1252", "windows1252":
		return encWindows1252
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		return encISO88591
	}
	return ""
}

// CheckOptions reports what NewReader's first Next would refuse in opts,
// so that a caller can answer before it starts any work.
func CheckOptions(opts ...Option) error {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o.check()
}

// check refuses options the reader cannot honour.
func (o *options) check() error {
	if o.region != "" && !phonenumbers.GetSupportedRegions()[o.region] {
		return errs.WithDetails(errs.Invalid, "unknown default_region: want an ISO 3166 alpha-2 code such as LK, GB or US",
			[]errs.Detail{{Field: "default_region", Message: "is not a region with phone numbers"}})
	}
	if canonicalEncoding(o.encoding) == "" {
		return errs.WithDetails(errs.Invalid, "unknown encoding: want utf-8, windows-1252 or iso-8859-1",
			[]errs.Detail{{Field: "encoding", Message: "is not one of utf-8, windows-1252, iso-8859-1"}})
	}
	return nil
}

// decode returns r transcoded to UTF-8 as the options say. Windows-1252
// leaves five bytes undefined; the decoder turns them into U+FFFD, which
// textProblem then reports, so nothing is replaced silently.
func (o *options) decode(r io.Reader) io.Reader {
	switch canonicalEncoding(o.encoding) {
	case encWindows1252:
		return charmap.Windows1252.NewDecoder().Reader(r)
	case encISO88591:
		// As browsers do (the WHATWG encoding standard): files labelled
		// Latin-1 are nearly always Windows-1252, whose € and curly quotes
		// Latin-1 would turn into control characters without a word.
		return charmap.Windows1252.NewDecoder().Reader(r)
	}
	return r
}

// maxPhoneInput bounds a national number as phone.Normalize bounds its input.
const maxPhoneInput = 64

// normalizePhone is phone.Normalize for international numbers (so their
// E.164 form is identical); with a default region, a number without a
// leading + is read as that region's national (or international dialling)
// form. Errors are errs.Invalid and never quote the number.
func normalizePhone(raw, region string) (string, error) {
	if region == "" {
		return phone.Normalize(raw)
	}
	s := strings.TrimSpace(raw)
	if len(s) >= len("whatsapp:") && strings.EqualFold(s[:len("whatsapp:")], "whatsapp:") {
		s = strings.TrimSpace(s[len("whatsapp:"):])
	}
	if s == "" || s[0] == '+' || len(s) > maxPhoneInput {
		return phone.Normalize(raw)
	}
	digits := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			// No letters (vanity numbers) or extensions: E.164 would drop them.
			return "", errs.E(errs.Invalid, "contains %q: only digits, spaces, dashes, dots and parentheses may appear in a number", c)
		}
	}
	if digits == 0 {
		return "", errs.E(errs.Invalid, "has no digits")
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", errs.E(errs.Invalid, "is not a phone number of region %s: %v", region, err)
	}
	return phone.E164(num)
}
