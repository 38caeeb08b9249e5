// Package uploads keeps the files users upload (contact imports) in a
// bucket: written by the API, or put by a client through a signed URL, and
// read back as often as their import needs.
package uploads

import (
	"context"
	"io"
	"time"
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
	// object name once, until expires, without credentials of its own.
	SignedPutURL(ctx context.Context, name string, expires time.Time) (string, error)
}
