package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"hash"
	"net"
	"net/url"
	"slices"
	"sync"
)

// SignatureHeader is the header in which Twilio signs its webhooks.
const SignatureHeader = "X-Twilio-Signature"

// ValidSignature reports whether signature is Twilio's signature of a form
// POST of params to url (the full URL Twilio was configured with, query
// included). An empty auth token or signature never validates.
//
// Like twilio-go's validator it accepts the URL with its default port
// added or removed (Twilio's signing is not consistent about it), but it
// computes the HMAC for the URL as given first, which is the form Twilio
// signs when it was given the same URL, and the other form only on a
// mismatch: one HMAC per genuine request instead of two.
func ValidSignature(authToken, rawURL string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	// Decoded into arrays on the stack: a callback checked costs no
	// allocation here but the sorted names.
	var want [sha1.Size + 1]byte // base64's DecodedLen of 28 bytes
	var got [sha1.Size]byte
	if len(signature) != 28 { // base64 of a SHA-1 sum
		return false
	}
	if n, err := base64.StdEncoding.Decode(want[:], []byte(signature)); err != nil || n != sha1.Size {
		return false
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	slices.Sort(names)
	if hmac.Equal(mac(got[:0], authToken, rawURL, names, params), want[:sha1.Size]) {
		return true
	}
	other := otherPortForm(rawURL)
	return other != "" && hmac.Equal(mac(got[:0], authToken, other, names, params), want[:sha1.Size])
}

// Sign computes Twilio's signature of a form POST of params to url:
// base64(HMAC-SHA1(authToken, url + name1 + value1 + name2 + value2 ...))
// with the names in byte order (and a repeated name's values in byte order).
func Sign(authToken, url string, params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	slices.Sort(names)
	return base64.StdEncoding.EncodeToString(mac(nil, authToken, url, names, params))
}

// signer is an HMAC-SHA1 keyed with token, and the buffer what it signs
// is written into: kept in signers for the next signature under the same
// token, so a webhook checked makes neither again.
type signer struct {
	token string
	h     hash.Hash
	buf   []byte
}

var signers sync.Pool

// mac appends to dst the HMAC Sign encodes, over names (sorted).
func mac(dst []byte, authToken, url string, names []string, params url.Values) []byte {
	s, _ := signers.Get().(*signer)
	if s == nil || s.token != authToken {
		s = &signer{token: authToken, h: hmac.New(sha1.New, []byte(authToken)), buf: make([]byte, 0, 2048)}
	} else {
		s.h.Reset()
	}
	buf := append(s.buf[:0], url...)
	for _, k := range names {
		vs := params[k]
		if len(vs) > 1 {
			vs = slices.Clone(vs)
			slices.Sort(vs)
		}
		for _, v := range vs {
			buf = append(buf, k...)
			buf = append(buf, v...)
		}
	}
	s.h.Write(buf)
	dst = s.h.Sum(dst)
	if cap(buf) <= 64<<10 { // a huge form's buffer is not kept
		s.buf = buf
		signers.Put(s)
	}
	return dst
}

// otherPortForm is rawURL with its scheme's default port added when it
// has no port, or its port removed when it has one (as twilio-go's
// validator tries both); "" when rawURL does not parse.
func otherPortForm(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Port() != "" {
		u.Host = u.Hostname()
		if ip := net.ParseIP(u.Host); ip != nil && ip.To4() == nil {
			u.Host = "[" + u.Host + "]"
		}
		return u.String()
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	u.Host = net.JoinHostPort(u.Hostname(), port)
	return u.String()
}
