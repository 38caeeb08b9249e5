package gcpfirestore

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
)

// A request Firestore refuses as such (a document past 1 MiB) must come
// back Invalid, so that an event edge acks it instead of retrying for
// ever; what may pass later stays retryable.
func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		want      errs.Kind
		wantRetry bool
	}{
		{"invalid_argument", status.Error(codes.InvalidArgument, "document exceeds the maximum size"), errs.Invalid, false},
		{"not_found", status.Error(codes.NotFound, "x"), errs.NotExist, false},
		{"already_exists", status.Error(codes.AlreadyExists, "x"), errs.Exist, false},
		{"unavailable", status.Error(codes.Unavailable, "x"), errs.Transient, true},
		{"aborted", status.Error(codes.Aborted, "contention"), errs.Transient, true},
		{"failed_precondition_stays_unclassified", status.Error(codes.FailedPrecondition, "index building"), errs.Other, true},
		{"ours_kept", errs.E(errs.Conflict, "job is QUEUED"), errs.Conflict, false},
		{"unknown", errors.New("boom"), errs.Other, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := classify("Op", tc.err)
			if got := errs.KindOf(err); got != tc.want {
				t.Errorf("KindOf(classify(%v)) = %v, want %v", tc.err, got, tc.want)
			}
			if got := errs.Retry(err); got != tc.wantRetry {
				t.Errorf("Retry(classify(%v)) = %v, want %v", tc.err, got, tc.wantRetry)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("classify(%v) = %v, which does not wrap it", tc.err, err)
			}
		})
	}
	if err := classify("Op", nil); err != nil {
		t.Errorf("classify(nil) = %v", err)
	}
}
