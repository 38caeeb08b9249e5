// Package campaign is a send of one template to one segment at a set rate,
// and the life it goes through.
package campaign

import (
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/quiethours"
	"github.com/eventstreamengine/ese/shared/segment"
)

// Status is where a campaign is in its life.
type Status string

const (
	Draft     Status = "DRAFT"
	Scheduled Status = "SCHEDULED"
	Running   Status = "RUNNING"
	Paused    Status = "PAUSED"
	Completed Status = "COMPLETED"
	Cancelled Status = "CANCELLED"
	Failed    Status = "FAILED"
)

// MaxRate is Cloud Tasks' ceiling on a queue's dispatches per second.
const MaxRate = 500

// Campaign is one campaign. QuietStart and QuietEnd are "HH:MM" in each
// recipient's own zone, or both empty for none.
type Campaign struct {
	ID         string    `json:"id"`
	Topic      string    `json:"topic"`
	TemplateID string    `json:"template_id"`
	SegmentID  string    `json:"segment_id"`
	Rate       int       `json:"rate_limit_per_second"`
	QuietStart string    `json:"quiet_hours_start"`
	QuietEnd   string    `json:"quiet_hours_end"`
	Status     Status    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`

	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// Recipients is known once every recipient has been written
	// (FanoutDone); until then it grows.
	Recipients int  `json:"total_recipients"`
	FanoutDone bool `json:"fanout_complete"`
	// FanoutSlices are the ranges of ids the launch reads the segment in,
	// side by side, fixed when it starts so a repeated start reads the
	// same; SlicesDone lists those read to the end.
	FanoutSlices []segment.Range `json:"-"`
	SlicesDone   []int           `json:"-"`
	// FailureReason says why a FAILED campaign stopped.
	FailureReason string `json:"failure_reason,omitempty"`

	// The campaign's send queue, kept out of the API: the generation of
	// its name (a deleted name cannot be created again for days, so a
	// blocked name is replaced by the next), when it was confirmed
	// created, and when it was released after the campaign concluded.
	QueueGeneration int        `json:"-"`
	QueueCreatedAt  *time.Time `json:"-"`
	QueueReleasedAt *time.Time `json:"-"`
}

// Concluded reports whether s is final: nothing more is sent.
func (s Status) Concluded() bool {
	switch s {
	case Completed, Cancelled, Failed:
		return true
	}
	return false
}

// Validate checks the fields a person sets.
func (c Campaign) Validate() error {
	var d []errs.Detail
	if c.Topic == "" {
		d = append(d, errs.Detail{Field: "topic", Message: "is required"})
	}
	if c.TemplateID == "" {
		d = append(d, errs.Detail{Field: "template_id", Message: "is required"})
	}
	if c.SegmentID == "" {
		d = append(d, errs.Detail{Field: "segment_id", Message: "is required"})
	}
	if c.Rate < 1 || c.Rate > MaxRate {
		d = append(d, errs.Detail{Field: "rate_limit_per_second", Message: "must be an integer from 1 to 500"})
	}
	if _, err := c.QuietHours(); err != nil {
		d = append(d, errs.DetailsOf(err)...)
	}
	if len(d) > 0 {
		return errs.WithDetails(errs.Invalid, "invalid campaign", d)
	}
	return nil
}

// QuietHours returns the campaign's window (the zero Window when none).
func (c Campaign) QuietHours() (quiethours.Window, error) {
	return quiethours.Parse(c.QuietStart, c.QuietEnd)
}

// Trigger moves a draft (or scheduled) campaign to RUNNING.
func (c *Campaign) Trigger(now time.Time) error {
	switch c.Status {
	case Draft, Scheduled:
		c.Status = Running
		c.StartedAt = &now
		c.UpdatedAt = now
		return nil
	case Running:
		return errs.E(errs.Conflict, "campaign %s is already running", c.ID)
	}
	return errs.E(errs.Conflict, "campaign %s is %s and cannot be triggered", c.ID, c.Status)
}

// Complete moves a running campaign whose every send has concluded to
// COMPLETED, and reports whether it did.
func (c *Campaign) Complete(now time.Time) bool {
	if c.Status != Running || !c.FanoutDone {
		return false
	}
	c.Status = Completed
	c.CompletedAt = &now
	c.UpdatedAt = now
	return true
}

// Fail moves a campaign that has not concluded to FAILED with reason, and
// reports whether it did (false if it had already concluded).
func (c *Campaign) Fail(now time.Time, reason string) bool {
	if c.Status.Concluded() {
		return false
	}
	c.Status = Failed
	c.FailureReason = reason
	c.UpdatedAt = now
	return true
}
