package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// The store's cursor names the last person of a page (its phone number,
// in base64 JSON), so the users list's links carry cursors sealed with
// AES-GCM: a whole number never reaches browser history or Cloud Run's
// request logs, and a cursor altered, or sealed by another console, is
// refused.

// cursorAEAD is AES-256-GCM under a key derived from the session key.
func (s *Server) cursorAEAD() (cipher.AEAD, error) {
	m := hmac.New(sha256.New, s.SessionKey)
	m.Write([]byte("ese-console-users-cursor"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealCursor is the store's cursor c as a link carries it.
func (s *Server) sealCursor(c string) (string, error) {
	aead, err := s.cursorAEAD()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(c), nil)), nil
}

// errCursor is a cursor that is not one this console sealed.
var errCursor = errors.New("the page's link is damaged or from another console")

// openCursor is the store's cursor a link's sealed cursor holds.
func (s *Server) openCursor(sealed string) (string, error) {
	aead, err := s.cursorAEAD()
	if err != nil {
		return "", err
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < aead.NonceSize() {
		return "", errCursor
	}
	c, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], nil)
	if err != nil {
		return "", errCursor
	}
	return string(c), nil
}
