package gcsuploads_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"testing"

	"cloud.google.com/go/storage"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/uploads/gcsuploads"
	"github.com/eventstreamengine/ese/shared/uploads/uploadstest"
)

// The contract on the Cloud Storage emulator, each subtest on a bucket of
// its own, with a client PUTting to the signed URLs.
func TestConformance(t *testing.T) {
	emulatortest.Storage(t)
	t.Parallel()
	uploadstest.Run(t, func(t *testing.T) uploadstest.Harness {
		b, err := gcsuploads.Open(t.Context(), newBucket(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return uploadstest.Harness{Bucket: b, PutSigned: put}
	})
}

// newBucket creates a bucket no other test uses on the emulator.
func newBucket(t *testing.T) string {
	t.Helper()
	c, err := storage.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "uploadstest-" + hex.EncodeToString(suffix)
	if err := c.Bucket(name).Create(t.Context(), emulatortest.ProjectID(t), nil); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// put is a client with nothing but the URL: no credentials, no headers.
func put(ctx context.Context, url string, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT: %s %s", resp.Status, body)
	}
	return nil
}
