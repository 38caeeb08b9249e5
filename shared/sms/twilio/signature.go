package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
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
	want, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(want) != sha1.Size {
		return false
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	slices.Sort(names)
	if hmac.Equal(mac(authToken, rawURL, names, params), want) {
		return true
	}
	other := otherPortForm(rawURL)
	return other != "" && hmac.Equal(mac(authToken, other, names, params), want)
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
	return base64.StdEncoding.EncodeToString(mac(authToken, url, names, params))
}

// signBufs are the buffers mac writes what it signs into, one HMAC write
// per signature without a new buffer each time.
var signBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// mac is the HMAC Sign encodes, over names (sorted).
func mac(authToken, url string, names []string, params url.Values) []byte {
	h := hmac.New(sha1.New, []byte(authToken))
	bp := signBufs.Get().(*[]byte)
	buf := append((*bp)[:0], url...)
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
	h.Write(buf)
	*bp = buf
	signBufs.Put(bp)
	return h.Sum(make([]byte, 0, sha1.Size))
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
