// Package uploads keeps the files users upload (contact imports) in a
// bucket: written by the API, or put by a client through a signed URL, and
// read back as often as their import needs.
package uploads

import (
	"context"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventstreamengine/ese/shared/errs"
)

// Folders of the bucket. Only ClientFolder's arrivals are notified: the
// API's own writes are read by the request that wrote them.
const (
	ClientFolder = "uploads/" // put by clients through signed URLs
	APIFolder    = "direct/"  // written by the API from a request's body
)

// Object describes a stored file.
type Object struct {
	Name    string
	Size    int64
	Created time.Time
}

// Bucket is where uploads are kept. Names are slash-separated paths.
type Bucket interface {
	// Write stores what r yields as name, replacing any object of that
	// name, and returns its size; nothing is stored if r fails.
	Write(ctx context.Context, name string, r io.Reader) (int64, error)
	// Open reads name; errs.NotExist when absent.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Stat describes name; errs.NotExist when absent.
	Stat(ctx context.Context, name string) (Object, error)
	// Delete removes name; deleting what is absent is no error.
	Delete(ctx context.Context, name string) error
	// SignedPutURL returns a URL through which a client may PUT the
	// object name, until expires, without credentials of its own and
	// without any header the URL does not name (no Content-Type). expires
	// is in the future and at most MaxURLLifetime away, else errs.Invalid.
	SignedPutURL(ctx context.Context, name string, expires time.Time) (string, error)
}

// MaxURLLifetime is the longest a signed URL may work: Cloud Storage's
// limit for V4 signatures.
const MaxURLLifetime = 7 * 24 * time.Hour

// CheckName refuses what Cloud Storage does not take as an object name
// (errs.Invalid): empty, over 1,024 bytes, not UTF-8, or holding a
// carriage return or line feed. Every Bucket checks it, so the fake
// refuses what the cloud would.
func CheckName(name string) error {
	switch {
	case name == "" || len(name) > 1024:
		return errs.E(errs.Invalid, "uploads: object name %.64q: want 1 to 1,024 bytes", name)
	case !utf8.ValidString(name) || strings.ContainsAny(name, "\r\n"):
		return errs.E(errs.Invalid, "uploads: object name %.64q: want UTF-8 without line breaks", name)
	}
	return nil
}

// CheckExpiry refuses a signed URL's expiry that has passed at now or is
// more than MaxURLLifetime after it (errs.Invalid).
func CheckExpiry(expires, now time.Time) error {
	if !expires.After(now) || expires.Sub(now) > MaxURLLifetime {
		return errs.E(errs.Invalid, "uploads: a signed URL expiring at %s: want a time within %s of now", expires.UTC().Format(time.RFC3339), MaxURLLifetime)
	}
	return nil
}
