package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"slices"

	"github.com/twilio/twilio-go/client"
)

// SignatureHeader is the header in which Twilio signs its webhooks.
const SignatureHeader = "X-Twilio-Signature"

// ValidSignature reports whether signature is Twilio's signature of a form
// POST of params to url (the full URL Twilio was configured with, query
// included). An empty auth token or signature never validates.
func ValidSignature(authToken, url string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	single := make(map[string]string, len(params))
	for k, vs := range params {
		if len(vs) != 1 {
			// twilio-go's validator holds one value per name; Twilio's
			// webhooks never repeat a name, but check such forms exactly.
			return hmac.Equal([]byte(Sign(authToken, url, params)), []byte(signature))
		}
		single[k] = vs[0]
	}
	v := client.NewRequestValidator(authToken)
	return v.Validate(url, single, signature)
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

	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(url))
	for _, k := range names {
		vs := slices.Clone(params[k])
		slices.Sort(vs)
		for _, v := range vs {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
