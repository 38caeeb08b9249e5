package gcsuploads

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
)

// Signing says who signs the URLs SignedPutURL makes.
type Signing struct {
	// GoogleAccessID is the signer's service account e-mail; empty lets
	// the storage library detect it.
	GoogleAccessID string
	// SignBytes signs with that account's key (RSA-SHA256); nil lets the
	// library sign: with a key file's private key, else through the IAM
	// Credentials signBlob API as GoogleAccessID.
	SignBytes func([]byte) ([]byte, error)
	// Insecure makes http:// URLs, for an emulator without TLS.
	Insecure bool
}

// DeployedSigning leaves everything to the storage library. On Cloud
// Functions there is no key file: BucketHandle.SignedURL takes the
// function's service account from the metadata server and signs through
// signBlob, which needs roles/iam.serviceAccountTokenCreator on that
// account (infra/fn_api.tf).
func DeployedSigning() Signing { return Signing{} }

// EmulatorAccessID is the signer named in URLs signed for the emulator.
const EmulatorAccessID = "emulator-signer@local.invalid"

// EmulatorSigning signs for the emulator at host (STORAGE_EMULATOR_HOST),
// where there is no service account: with a throwaway key made once per
// process, as EmulatorAccessID. The emulator does not check signatures,
// only that the URL names one; it serves plain HTTP unless host says
// https://. The URL's host is the emulator's: the library takes it from
// the client's endpoint, which STORAGE_EMULATOR_HOST sets.
func EmulatorSigning(host string) (Signing, error) {
	key, err := throwawayKey()
	if err != nil {
		return Signing{}, fmt.Errorf("gcsuploads: a signing key for the emulator: %w", err)
	}
	return Signing{
		GoogleAccessID: EmulatorAccessID,
		SignBytes:      SignWith(key),
		Insecure:       !strings.HasPrefix(host, "https://"),
	}, nil
}

var throwawayKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

// SignWith signs as V4 signing requires (RSA PKCS #1 v1.5 over SHA-256)
// with key.
func SignWith(key *rsa.PrivateKey) func([]byte) ([]byte, error) {
	return func(b []byte) ([]byte, error) {
		sum := sha256.Sum256(b)
		return rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	}
}
