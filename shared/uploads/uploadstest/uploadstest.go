// Package uploadstest is the contract every uploads.Bucket must keep, run
// against memuploads and against gcsuploads on the Cloud Storage
// emulator, so that the fake cannot drift from Cloud Storage.
package uploadstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/uploads"
)

// Harness is one implementation under test.
type Harness struct {
	// Bucket is the implementation under test, empty.
	Bucket uploads.Bucket
	// PutSigned PUTs data to a URL from Bucket.SignedPutURL as a client
	// would, with nothing but the URL; nil where such URLs are served by
	// nothing (memuploads), which skips that part of the contract.
	PutSigned func(ctx context.Context, url string, data []byte) error
}

// Run runs the contract. newHarness is called once per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, h Harness)
	}{
		{"write_open_stat_round_trip", testRoundTrip},
		{"write_replaces", testReplace},
		{"absent_is_not_exist", testAbsent},
		{"delete_removes_and_absent_is_fine", testDelete},
		{"failing_reader_leaves_nothing", testFailingReader},
		{"failing_reader_keeps_the_previous_object", testFailingReplace},
		{"bad_names_are_invalid", testBadNames},
		{"signed_url_expiry_is_checked", testExpiry},
		{"signed_put_stores_the_object", testSignedPut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newHarness(t))
		})
	}
}

func testRoundTrip(t *testing.T, h Harness) {
	ctx := t.Context()
	data := []byte("phone,name\n+94771234567,\"Doe, J\"\n")
	before := time.Now()
	n, err := h.Bucket.Write(ctx, uploads.APIFolder+"j1", bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(data))
	}
	if got := read(t, h.Bucket, uploads.APIFolder+"j1"); !bytes.Equal(got, data) {
		t.Errorf("Open read %q, want %q", got, data)
	}
	checkStat(t, h.Bucket, uploads.APIFolder+"j1", int64(len(data)), before)
}

func testReplace(t *testing.T, h Harness) {
	ctx := t.Context()
	name := uploads.ClientFolder + "j2"
	before := time.Now()
	for _, data := range []string{"a first, longer version\n", "second\n"} {
		if _, err := h.Bucket.Write(ctx, name, strings.NewReader(data)); err != nil {
			t.Fatalf("Write %q: %v", data, err)
		}
	}
	if got := string(read(t, h.Bucket, name)); got != "second\n" {
		t.Errorf("Open after a replace read %q, want %q", got, "second\n")
	}
	checkStat(t, h.Bucket, name, int64(len("second\n")), before)
}

func testAbsent(t *testing.T, h Harness) {
	ctx := t.Context()
	if _, err := h.Bucket.Open(ctx, "uploads/none"); !errs.Is(err, errs.NotExist) {
		t.Errorf("Open of an absent object: %v (kind %v), want %v", err, errs.KindOf(err), errs.NotExist)
	}
	if _, err := h.Bucket.Stat(ctx, "uploads/none"); !errs.Is(err, errs.NotExist) {
		t.Errorf("Stat of an absent object: %v (kind %v), want %v", err, errs.KindOf(err), errs.NotExist)
	}
}

func testDelete(t *testing.T, h Harness) {
	ctx := t.Context()
	name := uploads.APIFolder + "j3"
	if _, err := h.Bucket.Write(ctx, name, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := h.Bucket.Delete(ctx, name); err != nil {
			t.Errorf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := h.Bucket.Stat(ctx, name); !errs.Is(err, errs.NotExist) {
		t.Errorf("Stat after Delete: %v, want %v", err, errs.NotExist)
	}
	if err := h.Bucket.Delete(ctx, "uploads/never"); err != nil {
		t.Errorf("Delete of an object never written: %v", err)
	}
}

// bigFailure is past the size a Cloud Storage client sends in one go
// (16 MiB), so the upload has begun when the reader fails.
const bigFailure = 17 << 20

func testFailingReader(t *testing.T, h Harness) {
	ctx := t.Context()
	for _, size := range []int{0, 100, bigFailure} {
		name := fmt.Sprintf("%sfail-%d", uploads.APIFolder, size)
		_, err := h.Bucket.Write(ctx, name, failAfter(size))
		if !errors.Is(err, errReader) {
			t.Errorf("Write of a reader failing after %d bytes: %v, want its error", size, err)
		}
		if o, err := h.Bucket.Stat(ctx, name); !errs.Is(err, errs.NotExist) {
			t.Errorf("after a reader failed at %d bytes: Stat = %+v, %v; want %v", size, o, err, errs.NotExist)
		}
	}
}

func testFailingReplace(t *testing.T, h Harness) {
	ctx := t.Context()
	name := uploads.APIFolder + "j4"
	if _, err := h.Bucket.Write(ctx, name, strings.NewReader("kept\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Bucket.Write(ctx, name, failAfter(100)); !errors.Is(err, errReader) {
		t.Errorf("Write of a failing reader: %v, want its error", err)
	}
	if got := string(read(t, h.Bucket, name)); got != "kept\n" {
		t.Errorf("after a failed replace, Open read %q, want %q", got, "kept\n")
	}
}

func testBadNames(t *testing.T, h Harness) {
	ctx := t.Context()
	soon := time.Now().Add(time.Hour)
	for _, name := range []string{"", strings.Repeat("x", 1025), "uploads/a\nb", "uploads/\xff"} {
		_, werr := h.Bucket.Write(ctx, name, strings.NewReader("x"))
		_, oerr := h.Bucket.Open(ctx, name)
		_, serr := h.Bucket.Stat(ctx, name)
		derr := h.Bucket.Delete(ctx, name)
		_, uerr := h.Bucket.SignedPutURL(ctx, name, soon)
		got := []errs.Kind{errs.KindOf(werr), errs.KindOf(oerr), errs.KindOf(serr), errs.KindOf(derr), errs.KindOf(uerr)}
		want := []errs.Kind{errs.Invalid, errs.Invalid, errs.Invalid, errs.Invalid, errs.Invalid}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("name %.20q: kinds of Write, Open, Stat, Delete, SignedPutURL (-want, +got):\n%s", name, diff)
		}
	}
}

func testExpiry(t *testing.T, h Harness) {
	ctx := t.Context()
	now := time.Now()
	for _, tc := range []struct {
		name    string
		expires time.Time
		invalid bool
	}{
		{"an_hour", now.Add(time.Hour), false},
		{"six_days", now.Add(6 * 24 * time.Hour), false},
		{"passed", now.Add(-time.Second), true},
		{"past_seven_days", now.Add(uploads.MaxURLLifetime + time.Hour), true},
	} {
		u, err := h.Bucket.SignedPutURL(ctx, uploads.ClientFolder+"j5", tc.expires)
		if tc.invalid && !errs.Is(err, errs.Invalid) || !tc.invalid && (err != nil || u == "") {
			t.Errorf("%s: SignedPutURL = %q, %v; want invalid %v", tc.name, u, err, tc.invalid)
		}
	}
}

func testSignedPut(t *testing.T, h Harness) {
	if h.PutSigned == nil {
		t.Skip("this bucket's signed URLs are served by nothing")
	}
	ctx := t.Context()
	name := uploads.ClientFolder + "j6"
	u, err := h.Bucket.SignedPutURL(ctx, name, time.Now().Add(15*time.Minute))
	if err != nil {
		t.Fatalf("SignedPutURL: %v", err)
	}
	data := []byte("phone\n+94771234567\n")
	before := time.Now()
	if err := h.PutSigned(ctx, u, data); err != nil {
		t.Fatalf("PUT to the signed URL: %v", err)
	}
	if got := read(t, h.Bucket, name); !bytes.Equal(got, data) {
		t.Errorf("after the PUT, Open read %q, want %q", got, data)
	}
	checkStat(t, h.Bucket, name, int64(len(data)), before)
}

// read returns all of name.
func read(t *testing.T, b uploads.Bucket, name string) []byte {
	t.Helper()
	r, err := b.Open(t.Context(), name)
	if err != nil {
		t.Fatalf("Open %s: %v", name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return data
}

// checkStat checks Stat's answer for an object written after before. The
// clocks of an emulator and of this test may differ a little.
func checkStat(t *testing.T, b uploads.Bucket, name string, size int64, before time.Time) {
	t.Helper()
	o, err := b.Stat(t.Context(), name)
	if err != nil {
		t.Fatalf("Stat %s: %v", name, err)
	}
	if diff := cmp.Diff(uploads.Object{Name: name, Size: size}, uploads.Object{Name: o.Name, Size: o.Size}); diff != "" {
		t.Errorf("Stat %s (-want, +got):\n%s", name, diff)
	}
	if o.Created.Before(before.Add(-time.Minute)) || o.Created.After(time.Now().Add(time.Minute)) || o.Created.Location() != time.UTC {
		t.Errorf("Stat %s: created %v, want a UTC time around %v", name, o.Created, before)
	}
}

var errReader = errors.New("uploadstest: the reader failed")

// failAfter yields n bytes, then errReader.
func failAfter(n int) io.Reader {
	return io.MultiReader(io.LimitReader(zeros{}, int64(n)), failing{})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errReader }
