// Package grpckind gives a Google Cloud client's gRPC error the errs kind
// its caller decides on, so that every adapter retries the same failures.
package grpckind

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
)

// Of classifies err: Transient for what may pass later (unavailable,
// deadline, quota, aborted, internal, cancelled), Conflict for a failed
// precondition, Permanent for an unimplemented call, Other when unknown.
func Of(err error) errs.Kind {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Transient
	}
	switch status.Code(err) {
	case codes.NotFound:
		return errs.NotExist
	case codes.AlreadyExists:
		return errs.Exist
	case codes.InvalidArgument, codes.OutOfRange:
		return errs.Invalid
	case codes.FailedPrecondition:
		return errs.Conflict
	case codes.PermissionDenied:
		return errs.Permission
	case codes.Unauthenticated:
		return errs.Unauthenticated
	case codes.Unimplemented:
		return errs.Permanent
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted,
		codes.Aborted, codes.Internal, codes.Canceled:
		return errs.Transient
	}
	return errs.Other
}
