// Package campaign is a send of one template to one segment at a set rate,
// and the life it goes through.
package campaign

import (
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/quiethours"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/template"
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

// FanoutStart keys, in HeldPages, a fan-out held before its slices were
// cut.
const FanoutStart = -1

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
	// EndedAt is when it reached a final status (COMPLETED, CANCELLED,
	// FAILED): the end of its run in the summary.
	EndedAt *time.Time `json:"ended_at,omitempty"`
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

	// ScheduleTime, when set on a SCHEDULED campaign, is when it launches.
	ScheduleTime *time.Time `json:"schedule_time"`
	// StatusReason is why the campaign is in its status, as the last
	// change said (a pause's reason, the auto-pause's failure rate).
	StatusReason string `json:"status_reason,omitempty"`
	// Template and Segment are the launch's snapshots: what the fan-out
	// and the sends use, so that editing either later never changes a
	// running campaign. Nil until the launch.
	Template *template.Template `json:"template_snapshot,omitempty"`
	Segment  *segment.Segment   `json:"segment_snapshot,omitempty"`

	// Changes are the status changes made since the campaign was read
	// (Move appends them); the store writes them to the campaign's
	// history in the same transaction, and hands the campaign back
	// without them.
	Changes []Change `json:"-"`
	// Resumes counts the resumes: the task generation of the held
	// messages each resume queues again (Cloud Tasks would take a task of
	// an earlier name for a duplicate).
	Resumes int `json:"-"`
	// HeldPages are the fan-out pages a pause held back, for the resume
	// to ask for again: for each slice (by its index in FanoutSlices) the
	// page after this id ("" for its first), or, for a fan-out a pause
	// caught before it began, FanoutStart.
	HeldPages map[int]string `json:"-"`
	// Unsettled says a pause, resume or cancel has messages or a queue
	// left to move (see campaignrun.Runner.Settle); false once done.
	Unsettled bool `json:"-"`

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

// End is when the campaign's run ended: EndedAt; for one that ended
// before EndedAt was recorded, CompletedAt, or its last update when it
// is final; nil while it may still send.
func (c Campaign) End() *time.Time {
	switch {
	case c.EndedAt != nil:
		return c.EndedAt
	case c.CompletedAt != nil:
		return c.CompletedAt
	case c.Status.Concluded():
		at := c.UpdatedAt
		return &at
	}
	return nil
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

// Trigger moves a draft (or scheduled) campaign to RUNNING, by who and
// why.
func (c *Campaign) Trigger(now time.Time, by, why string) error {
	switch c.Status {
	case Running:
		return errs.E(errs.Conflict, "campaign %s is already running", c.ID)
	case Paused:
		return errs.E(errs.Conflict, "campaign %s is paused: resume it instead", c.ID)
	}
	if err := c.Move(Running, by, why, now); err != nil {
		return err
	}
	c.StartedAt = &now
	return nil
}

// Complete moves a running campaign whose every send has concluded to
// COMPLETED, and reports whether it did.
func (c *Campaign) Complete(now time.Time) bool {
	if c.Status != Running || !c.FanoutDone {
		return false
	}
	if c.Move(Completed, BySystem, "every message concluded", now) != nil {
		return false
	}
	c.CompletedAt = &now
	return true
}

// Fail moves a campaign to FAILED with reason, and reports whether it did
// (false if it had concluded or cannot fail from where it is).
func (c *Campaign) Fail(now time.Time, reason string) bool {
	if c.Move(Failed, BySystem, reason, now) != nil {
		return false
	}
	c.FailureReason = reason
	return true
}
