package grpckind

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
)

func TestOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want errs.Kind
	}{
		{"not_found", status.Error(codes.NotFound, "x"), errs.NotExist},
		{"already_exists", status.Error(codes.AlreadyExists, "x"), errs.Exist},
		{"invalid", status.Error(codes.InvalidArgument, "x"), errs.Invalid},
		{"precondition", status.Error(codes.FailedPrecondition, "x"), errs.Conflict},
		{"unimplemented", status.Error(codes.Unimplemented, "x"), errs.Permanent},
		{"unavailable", status.Error(codes.Unavailable, "x"), errs.Transient},
		{"quota", status.Error(codes.ResourceExhausted, "x"), errs.Transient},
		{"wrapped_unavailable", fmt.Errorf("op: %w", status.Error(codes.Unavailable, "x")), errs.Transient},
		{"context_deadline", context.DeadlineExceeded, errs.Transient},
		{"unknown", errors.New("boom"), errs.Other},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Of(tc.err); got != tc.want {
				t.Errorf("Of(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
