// Package health is what one function learns about a shared dependency
// and another reports: a misconfiguration met by the function that sends
// (a missing role, an unknown location) is recorded, so that /health,
// served by the API, can say which, and since when.
package health

import (
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
)

// Window is how long a recorded problem counts after it was last seen:
// a fixed deployment stops reporting it by itself.
const Window = 10 * time.Minute

// Problem is a misconfiguration a function met.
type Problem struct {
	Dependency string    `json:"dependency"` // such as "cloud_tasks"
	Kind       string    `json:"kind"`       // such as "permission_denied"
	Hint       string    `json:"hint"`       // what to check
	Reporter   string    `json:"reporter"`   // the function that met it
	At         time.Time `json:"at"`         // when it was last seen
}

// ID names a problem's record: one per dependency and kind, so repeats
// overwrite one record rather than pile up.
func (p Problem) ID() string { return p.Dependency + "-" + p.Kind }

// Validate checks the fields a record is named and found by.
func (p Problem) Validate() error {
	var d []errs.Detail
	if p.Dependency == "" {
		d = append(d, errs.Detail{Field: "dependency", Message: "is required"})
	}
	if p.Kind == "" {
		d = append(d, errs.Detail{Field: "kind", Message: "is required"})
	}
	if p.At.IsZero() {
		d = append(d, errs.Detail{Field: "at", Message: "is required"})
	}
	if len(d) > 0 {
		return errs.WithDetails(errs.Invalid, "invalid problem", d)
	}
	return nil
}
