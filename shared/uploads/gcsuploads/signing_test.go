package gcsuploads_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/eventstreamengine/ese/shared/uploads/gcsuploads"
)

const signer = "fn-api@my-project.iam.gserviceaccount.com"

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// offline is a bucket on a client that never dials: signing is local.
func offline(t *testing.T, endpoint string, s gcsuploads.Signing) *gcsuploads.Bucket {
	t.Helper()
	// The endpoint overrides STORAGE_EMULATOR_HOST, which scripts/test sets.
	c, err := storage.NewClient(t.Context(), option.WithoutAuthentication(), option.WithEndpoint(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	b := gcsuploads.New(c, "ese-uploads", s)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// A signed URL is checked here as Cloud Storage checks it, from the URL
// alone and Google's V4 specification, not from the library's code: a
// request PUT there by a client that sends no header but Host is
// accepted until it expires.
func TestSignedPutURL_verifies_as_v4(t *testing.T) {
	t.Parallel()
	key := testKey()
	b := offline(t, "https://storage.googleapis.com/storage/v1/", gcsuploads.Signing{GoogleAccessID: signer, SignBytes: gcsuploads.SignWith(key)})
	for _, tc := range []struct {
		name   string
		object string
		ttl    time.Duration
	}{
		{name: "an_upload", object: "uploads/Zx81kQ", ttl: time.Hour},
		{name: "characters_to_escape", object: "uploads/a b+c~d_e.f%ü", ttl: 15 * time.Minute},
		{name: "longest_lifetime", object: "uploads/j", ttl: 7 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			expires := time.Now().Add(tc.ttl).Truncate(time.Second)
			raw, err := b.SignedPutURL(t.Context(), tc.object, expires)
			if err != nil {
				t.Fatalf("SignedPutURL: %v", err)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			date, err := time.Parse("20060102T150405Z", q.Get("X-Goog-Date"))
			if err != nil {
				t.Fatalf("X-Goog-Date %q: %v", q.Get("X-Goog-Date"), err)
			}
			got := map[string]string{
				"scheme": u.Scheme, "host": u.Host, "path": u.Path,
				"algorithm":      q.Get("X-Goog-Algorithm"),
				"credential":     q.Get("X-Goog-Credential"),
				"signed_headers": q.Get("X-Goog-SignedHeaders"),
			}
			want := map[string]string{
				"scheme": "https", "host": "storage.googleapis.com", "path": "/ese-uploads/" + tc.object,
				"algorithm": "GOOG4-RSA-SHA256",
				// Credential scope: date, location, service, request type.
				"credential": signer + "/" + date.Format("20060102") + "/auto/storage/goog4_request",
				// Host alone: the client needs no Content-Type.
				"signed_headers": "host",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("URL %s (-want, +got):\n%s", raw, diff)
			}
			// X-Goog-Date and X-Goog-Expires are whole seconds, each cut
			// down from the moment of signing.
			secs, err := strconv.Atoi(q.Get("X-Goog-Expires"))
			if end := date.Add(time.Duration(secs) * time.Second); err != nil || end.After(expires) || end.Before(expires.Add(-2*time.Second)) {
				t.Errorf("X-Goog-Date %s + X-Goog-Expires %q = %s, want %s", date, q.Get("X-Goog-Expires"), end, expires)
			}
			if err := verifyV4(raw, "PUT", &key.PublicKey); err != nil {
				t.Errorf("PUT %s: %v", raw, err)
			}
			// The check is real: the URL allows nothing but that PUT.
			if err := verifyV4(raw, "GET", &key.PublicKey); err == nil {
				t.Errorf("GET %s verifies too", raw)
			}
			if err := verifyV4(strings.Replace(raw, "ese-uploads/", "ese-uploads/x", 1), "PUT", &key.PublicKey); err == nil {
				t.Errorf("a PUT to another object verifies too")
			}
		})
	}
}

// On the emulator the URL reaches the emulator over plain HTTP, signed
// with a key no one checks.
func TestEmulatorSigning(t *testing.T) {
	t.Parallel()
	s, err := gcsuploads.EmulatorSigning("127.0.0.1:4443")
	if err != nil {
		t.Fatal(err)
	}
	b := offline(t, "http://127.0.0.1:4443/storage/v1/", s)
	raw, err := b.SignedPutURL(t.Context(), "uploads/j1", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatalf("SignedPutURL: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{u.Scheme, u.Host, u.Path, strings.Split(u.Query().Get("X-Goog-Credential"), "/")[0]}
	want := []string{"http", "127.0.0.1:4443", "/ese-uploads/uploads/j1", gcsuploads.EmulatorAccessID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("URL %s: scheme, host, path, signer (-want, +got):\n%s", raw, diff)
	}
	if s, _ := gcsuploads.EmulatorSigning("https://127.0.0.1:4443"); s.Insecure {
		t.Error("EmulatorSigning(https://…) signs http:// URLs")
	}
}

// verifyV4 checks that rawURL authorizes method as Cloud Storage checks a
// V4 signature: it rebuilds the canonical request and the string to sign
// from the URL (https://cloud.google.com/storage/docs/authentication/canonical-requests,
// …/signatures#string-to-sign) and verifies X-Goog-Signature, RSA with
// SHA-256, against pub. Only a host header is expected among the signed
// ones: a client sends nothing else.
func verifyV4(rawURL, method string, pub *rsa.PublicKey) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	q := u.Query()
	sig, err := hex.DecodeString(q.Get("X-Goog-Signature"))
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("X-Goog-Signature %q is not hex", q.Get("X-Goog-Signature"))
	}
	if q.Get("X-Goog-SignedHeaders") != "host" {
		return fmt.Errorf("signed headers %q, want host alone", q.Get("X-Goog-SignedHeaders"))
	}
	q.Del("X-Goog-Signature")
	var params []string
	for name, values := range q {
		for _, v := range values {
			params = append(params, uriEncode(name, false)+"="+uriEncode(v, false))
		}
	}
	slices.Sort(params)
	canonical := strings.Join([]string{
		method,
		uriEncode(u.Path, true),
		strings.Join(params, "&"),
		"host:" + u.Host + "\n", // each canonical header ends its line
		"host",
		"UNSIGNED-PAYLOAD",
	}, "\n")
	cred := strings.SplitN(q.Get("X-Goog-Credential"), "/", 2)
	if len(cred) != 2 {
		return fmt.Errorf("X-Goog-Credential %q has no scope", q.Get("X-Goog-Credential"))
	}
	sum := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{q.Get("X-Goog-Algorithm"), q.Get("X-Goog-Date"), cred[1], hex.EncodeToString(sum[:])}, "\n")
	digest := sha256.Sum256([]byte(toSign))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
}

// uriEncode percent-encodes every byte but A–Z, a–z, 0–9, '-', '.', '_'
// and '~' (and '/' in a path), in upper-case hex, as V4 signing asks.
func uriEncode(s string, path bool) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~', path && c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
