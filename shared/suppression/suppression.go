// Package suppression is the global do-not-message list: numbers no
// campaign reaches, whatever their consent, until an admin removes them.
// No import, inbound START or admin consent change lifts a suppression.
package suppression

import (
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
)

// Entry is one suppressed number.
type Entry struct {
	Phone     string    `json:"phone_number"` // E.164
	Reason    string    `json:"reason"`
	By        string    `json:"by,omitempty"` // who added it, as the API knows the caller
	CreatedAt time.Time `json:"created_at"`
}

// MaxReason bounds a reason's length.
const MaxReason = 500

// Check refuses an entry without a number or with an overlong reason.
func (e Entry) Check() error {
	var d []errs.Detail
	if !strings.HasPrefix(e.Phone, "+") {
		d = append(d, errs.Detail{Field: "phone_number", Message: "must be a number in international E.164 form"})
	}
	if len(e.Reason) > MaxReason {
		d = append(d, errs.Detail{Field: "reason", Message: "must be at most 500 bytes"})
	}
	if d != nil {
		return errs.WithDetails(errs.Invalid, "invalid suppression", d)
	}
	return nil
}
