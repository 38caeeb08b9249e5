package twilio_test

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/eventstreamengine/ese/shared/sms/twilio"
)

// Twilio's own example (twilio-go's request_validator_test.go).
const (
	exampleURL       = "https://mycompany.com/myapp.php?foo=1&bar=2"
	exampleToken     = "12345"
	exampleSignature = "vOEb5UThFn24KEfnOFLQY2AE5FY="
)

func exampleParams() url.Values {
	return url.Values{
		"Digits":                {"1234"},
		"CallSid":               {"CA1234567890ABCDE"},
		"To":                    {"+18005551212"},
		"Caller":                {"+14158675309"},
		"From":                  {"+14158675309"},
		"ReasonConferenceEnded": {"test"},
		"Reason":                {"Participant"},
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	if got, want := twilio.Sign(exampleToken, exampleURL, exampleParams()), exampleSignature; got != want {
		t.Errorf("Sign() = %q, want %q", got, want)
	}
}

func TestValidSignature(t *testing.T) {
	t.Parallel()
	with := func(edit func(url.Values)) url.Values {
		p := exampleParams()
		edit(p)
		return p
	}
	repeated := url.Values{"MediaUrl": {"b", "a"}, "Body": {"hi"}}
	tests := []struct {
		name      string
		token     string
		url       string
		params    url.Values
		signature string
		want      bool
	}{
		{name: "valid", token: exampleToken, url: exampleURL, params: exampleParams(), signature: exampleSignature, want: true},
		{name: "valid_with_port_added", token: exampleToken, url: "https://mycompany.com:443/myapp.php?foo=1&bar=2", params: exampleParams(), signature: exampleSignature, want: true},
		{name: "tampered_value", token: exampleToken, url: exampleURL, params: with(func(p url.Values) { p.Set("Digits", "1235") }), signature: exampleSignature},
		{name: "added_param", token: exampleToken, url: exampleURL, params: with(func(p url.Values) { p.Set("Body", "STOP") }), signature: exampleSignature},
		{name: "removed_param", token: exampleToken, url: exampleURL, params: with(func(p url.Values) { p.Del("To") }), signature: exampleSignature},
		{name: "other_url", token: exampleToken, url: "https://mycompany.com/myapp.php?foo=1&bar=3", params: exampleParams(), signature: exampleSignature},
		{name: "wrong_token", token: "54321", url: exampleURL, params: exampleParams(), signature: exampleSignature},
		{name: "missing_signature", token: exampleToken, url: exampleURL, params: exampleParams(), signature: ""},
		{name: "empty_token", token: "", url: exampleURL, params: exampleParams(), signature: twilio.Sign("", exampleURL, exampleParams())},
		{name: "garbage_signature", token: exampleToken, url: exampleURL, params: exampleParams(), signature: "not base64!"},
		{name: "repeated_name", token: exampleToken, url: exampleURL, params: repeated, signature: twilio.Sign(exampleToken, exampleURL, repeated), want: true},
		{name: "repeated_name_tampered", token: exampleToken, url: exampleURL, params: url.Values{"MediaUrl": {"b", "c"}, "Body": {"hi"}}, signature: twilio.Sign(exampleToken, exampleURL, repeated)},
		{name: "no_params", token: exampleToken, url: exampleURL, params: nil, signature: twilio.Sign(exampleToken, exampleURL, nil), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := twilio.ValidSignature(tt.token, tt.url, tt.params, tt.signature); got != tt.want {
				t.Errorf("ValidSignature() = %t, want %t", got, tt.want)
			}
		})
	}
}

// FuzzSignature checks that what Sign computes, ValidSignature (and so
// twilio-go's validator) accepts, and that a changed value is refused.
func FuzzSignature(f *testing.F) {
	f.Add(exampleToken, exampleURL, "Body", "STOP", "From", "whatsapp:+94771234577")
	f.Add("t", "http://localhost:8080/webhooks/inbound", "", "", "a", "b")
	f.Add("tok", "http://[::1]:80/x?y=z", "Z", "1", "a", "ü")
	f.Fuzz(func(t *testing.T, token, u, k1, v1, k2, v2 string) {
		params := url.Values{}
		params.Set(k1, v1)
		params.Set(k2, v2)
		sig := twilio.Sign(token, u, params)

		single := make(map[string]string)
		for k := range params {
			single[k] = params.Get(k)
		}
		v := client.NewRequestValidator(token)
		if !v.Validate(u, single, sig) {
			t.Fatalf("twilio-go refuses Sign(%q, %q, %v) = %q", token, u, params, sig)
		}
		if got := twilio.ValidSignature(token, u, params, sig); got != (token != "") {
			t.Fatalf("ValidSignature() = %t for Sign's own signature", got)
		}
		tampered := url.Values{}
		for k, vs := range params {
			tampered[k] = vs
		}
		tampered.Set(k1, v1+"x")
		if tampered.Get(k1) == params.Get(k1) { // k1 == k2 and v2 == v1+"x"
			return
		}
		if twilio.ValidSignature(token, u, tampered, sig) {
			t.Fatalf("ValidSignature() accepts a tampered value")
		}
	})
}

// FuzzSignaturePortForms checks that ValidSignature, which computes the
// other port form only on a mismatch, accepts exactly what twilio-go's
// validator (which always computes both) accepts: a signature of the URL
// with its default port added or removed.
func FuzzSignaturePortForms(f *testing.F) {
	f.Add("tok", "https://hooks.example.com/webhooks/inbound", "https://hooks.example.com:443/webhooks/inbound", "Body", "STOP")
	f.Add("tok", "https://hooks.example.com:443/webhooks/inbound", "https://hooks.example.com/webhooks/inbound", "Body", "STOP")
	f.Add("tok", "http://localhost:8080/webhooks/inbound", "http://localhost/webhooks/inbound", "a", "b")
	f.Add("tok", "http://localhost/webhooks/inbound", "http://localhost:80/webhooks/inbound", "a", "b")
	f.Add("tok", "https://a.example/x", "https://b.example/x", "a", "b")
	f.Fuzz(func(t *testing.T, token, checked, signedFor, k, v string) {
		if token == "" || strings.Contains(checked, "[") {
			return // twilio-go cuts an IPv6 host at its first colon; Twilio never calls one
		}
		params := url.Values{k: {v}}
		sig := twilio.Sign(token, signedFor, params)
		validator := client.NewRequestValidator(token)
		want := validator.Validate(checked, map[string]string{k: v}, sig)
		if got := twilio.ValidSignature(token, checked, params, sig); got != want {
			t.Fatalf("ValidSignature(%q) of a signature for %q = %t, twilio-go says %t", checked, signedFor, got, want)
		}
	})
}

// TestValidSignature_tokens_at_once: the HMACs kept between signatures
// are keyed with their token, so callbacks checked at once under two
// tokens (one account's rotation, or two accounts) are each checked with
// their own.
func TestValidSignature_tokens_at_once(t *testing.T) {
	tokens := []string{"12345", "67890"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				params := url.Values{"MessageSid": {fmt.Sprintf("SM%d-%d", g, i)}}
				own, other := tokens[(g+i)%2], tokens[(g+i+1)%2]
				sig := twilio.Sign(own, exampleURL, params)
				if !twilio.ValidSignature(own, exampleURL, params, sig) {
					t.Errorf("signature under its own token refused")
					return
				}
				if twilio.ValidSignature(other, exampleURL, params, sig) {
					t.Errorf("signature accepted under the other token")
					return
				}
			}
		})
	}
	wg.Wait()
}
