// Package errs gives errors a Kind, so that one decision maps to both an
// HTTP status (at the API edge) and a retry decision (at the event edge).
package errs

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error by what the caller should do about it.
type Kind int

const (
	Other           Kind = iota // unclassified: treated as transient
	Invalid                     // bad input: never retry
	NotExist                    // the named thing does not exist
	Exist                       // the thing already exists
	Conflict                    // the request conflicts with current state
	Permission                  // not allowed
	Unauthenticated             // no valid credentials
	Transient                   // try again later
	Permanent                   // will never succeed; ack and record
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotExist:
		return "not_exist"
	case Exist:
		return "exist"
	case Conflict:
		return "conflict"
	case Permission:
		return "permission"
	case Unauthenticated:
		return "unauthenticated"
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	}
	return "other"
}

// Detail says what was wrong and where: a row, a field, or both.
type Detail struct {
	Row     int    `json:"row,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error is an error with a Kind and optional details.
type Error struct {
	Kind    Kind
	Msg     string
	Details []Detail
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return e.Msg + ": " + e.Err.Error()
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Kind.String()
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an Error of kind k with a formatted message.
func E(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap gives err the kind k, keeping it in the chain.
func Wrap(k Kind, err error, msg string) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Msg: msg, Err: err}
}

// WithDetails builds an Invalid error listing what was wrong where.
func WithDetails(k Kind, msg string, details []Detail) error {
	return &Error{Kind: k, Msg: msg, Details: details}
}

// KindOf reports the kind of the first *Error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		if e.Kind == Other && e.Err != nil {
			return KindOf(e.Err)
		}
		return e.Kind
	}
	return Other
}

// Is reports whether err has kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// DetailsOf returns the details of the first *Error in err's chain.
func DetailsOf(err error) []Detail {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}

// HTTPStatus maps a kind to the status an API answers with.
func HTTPStatus(err error) int {
	switch KindOf(err) {
	case Invalid:
		return http.StatusBadRequest
	case NotExist:
		return http.StatusNotFound
	case Exist, Conflict:
		return http.StatusConflict
	case Permission:
		return http.StatusForbidden
	case Unauthenticated:
		return http.StatusUnauthorized
	case Transient:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Retry reports whether an event handler should ask for redelivery:
// transient and unclassified failures are retried, the rest are acked.
func Retry(err error) bool {
	if err == nil {
		return false
	}
	switch KindOf(err) {
	case Other, Transient:
		return true
	}
	return false
}
