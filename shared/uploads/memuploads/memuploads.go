// Package memuploads is an in-memory uploads.Bucket for unit tests and
// benchmarks. Its signed URLs are not served: a test puts what a client
// would with Put.
package memuploads

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/uploads"
)

// Bucket keeps objects in a map.
type Bucket struct {
	mu      sync.Mutex
	objects map[string]stored
	now     func() time.Time
}

type stored struct {
	data    []byte
	created time.Time
}

var _ uploads.Bucket = (*Bucket)(nil)

// New returns an empty bucket.
func New() *Bucket { return &Bucket{objects: map[string]stored{}, now: time.Now} }

// Write implements uploads.Bucket.
func (b *Bucket) Write(ctx context.Context, name string, r io.Reader) (int64, error) {
	if err := uploads.CheckName(name); err != nil {
		return 0, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, fmt.Errorf("memuploads.Write %s: %w", name, err)
	}
	b.Put(name, data)
	return int64(len(data)), nil
}

// Put stores data as name, as a client's PUT to a signed URL would.
func (b *Bucket) Put(name string, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[name] = stored{data: bytes.Clone(data), created: b.now().UTC()}
}

// Open implements uploads.Bucket.
func (b *Bucket) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := uploads.CheckName(name); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[name]
	if !ok {
		return nil, errs.E(errs.NotExist, "memuploads.Open: no object %s", name)
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Stat implements uploads.Bucket.
func (b *Bucket) Stat(ctx context.Context, name string) (uploads.Object, error) {
	if err := uploads.CheckName(name); err != nil {
		return uploads.Object{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[name]
	if !ok {
		return uploads.Object{}, errs.E(errs.NotExist, "memuploads.Stat: no object %s", name)
	}
	return uploads.Object{Name: name, Size: int64(len(o.data)), Created: o.created}, nil
}

// Delete implements uploads.Bucket.
func (b *Bucket) Delete(ctx context.Context, name string) error {
	if err := uploads.CheckName(name); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.objects, name)
	return nil
}

// SignedPutURL implements uploads.Bucket with a URL that names the object
// and expiry but is served by nothing.
func (b *Bucket) SignedPutURL(ctx context.Context, name string, expires time.Time) (string, error) {
	if err := uploads.CheckName(name); err != nil {
		return "", err
	}
	if err := uploads.CheckExpiry(expires, b.now()); err != nil {
		return "", err
	}
	q := url.Values{"expires": {expires.UTC().Format(time.RFC3339)}}
	return "https://memuploads.invalid/" + url.PathEscape(name) + "?" + q.Encode(), nil
}
