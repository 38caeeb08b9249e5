// Package idtokentest signs Google-style ID tokens with a key of its own
// and gives an idtoken.Validator that trusts only that key, so tests of
// API_AUTH=iam check real signatures without reaching Google.
package idtokentest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// Audience is the audience Token puts in its tokens by default.
const Audience = "https://test-api.example"

// Issuer is Google's, as in the tokens Google signs.
const Issuer = "https://accounts.google.com"

// Signer signs ID tokens with its own RSA key. Its methods panic on
// what cannot fail short of a broken machine (it serves tests only).
type Signer struct {
	key *rsa.PrivateKey
	kid string
}

// New makes a signer with a fresh key.
func New() *Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	return &Signer{key: k, kid: "idtokentest"}
}

func must(err error) {
	if err != nil {
		panic("idtokentest: " + err.Error())
	}
}

// Claims are a token's claims; Token fills iss, aud, iat and exp when
// they are missing.
type Claims map[string]any

// Token is a signed RS256 JWT with claims.
func (s *Signer) Token(claims Claims) string {
	c := Claims{"iss": Issuer, "aud": Audience, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	head := s.encode(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.kid})
	body := s.encode(c)
	sum := sha256.Sum256([]byte(head + "." + body))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	must(err)
	return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Email is a token for email, verified, with the default audience.
func (s *Signer) Email(email string) string {
	return s.Token(Claims{"email": email, "email_verified": true, "sub": "1234567890"})
}

func (s *Signer) encode(v any) string {
	b, err := json.Marshal(v)
	must(err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Validator is an idtoken.Validator whose certificate fetch answers with
// this signer's public key alone.
func (s *Signer) Validator() *idtoken.Validator {
	pub := s.key.PublicKey
	certs, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	must(err)
	client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(certs)), Request: r}, nil
	})}
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(client))
	must(err)
	return v
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
