package gcsuploads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"

	"github.com/eventstreamengine/ese/shared/errs"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	type result struct {
		Kind  errs.Kind
		Retry bool
	}
	for _, tc := range []struct {
		name string
		err  error
		want result
	}{
		{"object_not_exist", fmt.Errorf("x: %w", storage.ErrObjectNotExist), result{errs.NotExist, false}},
		{"bad_request", &googleapi.Error{Code: 400}, result{errs.Invalid, false}},
		{"precondition", &googleapi.Error{Code: 412}, result{errs.Conflict, false}},
		{"rate_limited", &googleapi.Error{Code: 429}, result{errs.Transient, true}},
		{"unavailable", fmt.Errorf("unable to sign bytes: %w", &googleapi.Error{Code: 503}), result{errs.Transient, true}},
		// A grant missing is ours to fix, not the caller's: retried.
		{"forbidden", &googleapi.Error{Code: 403}, result{errs.Other, true}},
		{"unauthenticated", &googleapi.Error{Code: 401}, result{errs.Other, true}},
		{"deadline", context.DeadlineExceeded, result{errs.Transient, true}},
		{"cut_off", io.ErrUnexpectedEOF, result{errs.Transient, true}},
		{"refused", &url.Error{Op: "Put", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, result{errs.Transient, true}},
		{"unknown", errors.New("boom"), result{errs.Other, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := classify("Op", "uploads/j", tc.err)
			got := result{errs.KindOf(err), errs.Retry(err)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("classify(%v) (-want, +got):\n%s", tc.err, diff)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("classify(%v) = %v, which no longer wraps it", tc.err, err)
			}
		})
	}
}
