// Package gcsuploads is the Cloud Storage uploads.Bucket (the emulator
// when STORAGE_EMULATOR_HOST is set, which the storage library reads
// itself).
package gcsuploads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/grpckind"
	"github.com/eventstreamengine/ese/shared/uploads"
)

// Bucket is one Cloud Storage bucket.
type Bucket struct {
	client  *storage.Client
	bucket  *storage.BucketHandle
	signing Signing
	now     func() time.Time
}

var _ uploads.Bucket = (*Bucket)(nil)

// Open opens bucket with the default credentials, signing URLs as
// DeployedSigning does, or, with STORAGE_EMULATOR_HOST set, on the
// emulator with EmulatorSigning.
func Open(ctx context.Context, bucket string) (*Bucket, error) {
	c, err := storage.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcsuploads.Open: %w", err)
	}
	signing := DeployedSigning()
	if host := os.Getenv(EnvEmulator); host != "" {
		if signing, err = EmulatorSigning(host); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("gcsuploads.Open: %w", err)
		}
	}
	return New(c, bucket, signing), nil
}

// EnvEmulator names the variable that points the storage library at an
// emulator.
const EnvEmulator = "STORAGE_EMULATOR_HOST"

// New returns bucket through c, signing URLs as s says. Close closes c.
func New(c *storage.Client, bucket string, s Signing) *Bucket {
	return &Bucket{client: c, bucket: c.Bucket(bucket), signing: s, now: time.Now}
}

// Close closes the client.
func (b *Bucket) Close() error { return b.client.Close() }

// Write implements uploads.Bucket. A failing r cancels the upload, so no
// object (nor a part of one) is stored, and a previous one stays.
func (b *Bucket) Write(ctx context.Context, name string, r io.Reader) (int64, error) {
	if err := uploads.CheckName(name); err != nil {
		return 0, err
	}
	// Cancelling the writer's context is what aborts an upload: Close
	// would finalize whatever was written so far.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Without a precondition the library does not retry the upload: a
	// retry after a lost answer would replace the object, which the API's
	// role (object creator) refuses. A transient failure comes back as
	// such, and the caller tries again under a new name.
	w := b.bucket.Object(name).NewWriter(wctx)
	src := &watchedReader{r: r}
	n, err := io.Copy(w, src)
	if err != nil {
		cancel()
		_ = w.Close()
		if src.err != nil {
			// The reader's own error, with its kind (a client's body cut
			// off is not Cloud Storage's fault).
			return 0, fmt.Errorf("gcsuploads.Write %s: reading: %w", name, src.err)
		}
		return 0, classify("Write", name, err)
	}
	if err := w.Close(); err != nil {
		return 0, classify("Write", name, err)
	}
	return n, nil
}

// watchedReader keeps r's error apart from the writer's.
type watchedReader struct {
	r   io.Reader
	err error
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && err != io.EOF {
		w.err = err
	}
	return n, err
}

// Open implements uploads.Bucket. The reader reads while ctx lasts.
func (b *Bucket) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := uploads.CheckName(name); err != nil {
		return nil, err
	}
	r, err := b.bucket.Object(name).NewReader(ctx)
	if err != nil {
		return nil, classify("Open", name, err)
	}
	return &classifiedReader{r: r, name: name}, nil
}

// classifiedReader gives the errors met while reading their kind: a
// connection lost half-way through a file is worth another try.
type classifiedReader struct {
	r    *storage.Reader
	name string
}

func (c *classifiedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = classify("Open", c.name, err)
	}
	return n, err
}

func (c *classifiedReader) Close() error { return c.r.Close() }

// Stat implements uploads.Bucket.
func (b *Bucket) Stat(ctx context.Context, name string) (uploads.Object, error) {
	if err := uploads.CheckName(name); err != nil {
		return uploads.Object{}, err
	}
	a, err := b.bucket.Object(name).Attrs(ctx)
	if err != nil {
		return uploads.Object{}, classify("Stat", name, err)
	}
	return uploads.Object{Name: a.Name, Size: a.Size, Created: a.Created.UTC()}, nil
}

// Delete implements uploads.Bucket.
func (b *Bucket) Delete(ctx context.Context, name string) error {
	if err := uploads.CheckName(name); err != nil {
		return err
	}
	err := b.bucket.Object(name).Delete(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	return classify("Delete", name, err)
}

// SignedPutURL implements uploads.Bucket with a V4-signed URL. The PUT it
// allows names no Content-Type, so any client (curl -T, a browser's
// fetch) may use it as given. It acts with the signer's permissions:
// deployed, the API may create objects but not replace them
// (infra/fn_api.tf), so a second PUT of a stored file is refused.
func (b *Bucket) SignedPutURL(ctx context.Context, name string, expires time.Time) (string, error) {
	if err := uploads.CheckName(name); err != nil {
		return "", err
	}
	if err := uploads.CheckExpiry(expires, b.now()); err != nil {
		return "", err
	}
	// With no GoogleAccessID and no SignBytes, BucketHandle.SignedURL
	// detects both: a key file's, else the metadata server's service
	// account, signing through IAM signBlob.
	u, err := b.bucket.SignedURL(name, &storage.SignedURLOptions{
		Scheme:         storage.SigningSchemeV4,
		Method:         http.MethodPut,
		Expires:        expires,
		GoogleAccessID: b.signing.GoogleAccessID,
		SignBytes:      b.signing.SignBytes,
		Insecure:       b.signing.Insecure,
	})
	if err != nil {
		return "", classify("SignedPutURL", name, err)
	}
	return u, nil
}

// classify gives err the kind its caller decides on: NotExist for a
// missing object, Invalid for a request Cloud Storage refuses as such
// (never retried), Conflict for a failed precondition, Transient for what
// may pass (5xx, 429, timeouts, a dropped connection). Permission and
// authentication failures stay unclassified, so retried: they come from
// our own configuration (a missing grant), which an operator can fix
// while the event waits, and are no fault of the API's caller.
func classify(op, name string, err error) error {
	if err == nil {
		return nil
	}
	msg := "gcsuploads." + op + " " + name
	if errors.Is(err, storage.ErrObjectNotExist) {
		return errs.Wrap(errs.NotExist, err, msg)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch {
		case ge.Code == http.StatusBadRequest:
			return errs.Wrap(errs.Invalid, err, msg)
		case ge.Code == http.StatusPreconditionFailed || ge.Code == http.StatusConflict:
			return errs.Wrap(errs.Conflict, err, msg)
		case ge.Code == http.StatusRequestTimeout || ge.Code == http.StatusTooManyRequests || ge.Code >= 500:
			return errs.Wrap(errs.Transient, err, msg)
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	if k := grpckind.Of(err); k == errs.Transient || k == errs.Invalid || k == errs.NotExist {
		return errs.Wrap(k, err, msg)
	}
	if storage.ShouldRetry(err) {
		return errs.Wrap(errs.Transient, err, msg)
	}
	return fmt.Errorf("%s: %w", msg, err)
}
