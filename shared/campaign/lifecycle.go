package campaign

import (
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
)

// transitions is the one table of the moves a campaign may make: from
// each status, where it may go. A concluded status goes nowhere.
var transitions = map[Status][]Status{
	Draft:     {Scheduled, Running, Cancelled},
	Scheduled: {Draft, Running, Cancelled, Failed},
	Running:   {Paused, Completed, Cancelled, Failed},
	Paused:    {Running, Cancelled, Failed},
}

// CanMove reports whether a campaign in from may move to to.
func CanMove(from, to Status) bool { return slices.Contains(transitions[from], to) }

// Statuses lists every status, in the order of a campaign's life.
var Statuses = []Status{Draft, Scheduled, Running, Paused, Completed, Cancelled, Failed}

// BySystem is who made a change the engine made itself: a completion, a
// failure, a scheduled launch, an auto-pause. The reason says which.
const BySystem = "system"

// Change is one entry of a campaign's history: who moved it from one
// status to another, when and why. The first entry, from "", is its
// creation.
type Change struct {
	From Status `json:"from"`
	To   Status `json:"to"`
	// By is who asked: the API caller as the API knows it ("api-key", or
	// the e-mail of the Google identity IAM admitted), or BySystem.
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Created records the campaign's creation, by who, as the first entry of
// its history; the store writes it with the campaign.
func (c *Campaign) Created(by string, at time.Time) {
	c.Changes = append(c.Changes, Change{To: c.Status, By: by, Reason: "created", At: at})
}

// Move changes the campaign's status to to, by who and why, as the
// transition table allows, and records the change; a move the table does
// not allow is a Conflict that says which moves there are.
func (c *Campaign) Move(to Status, by, why string, at time.Time) error {
	if !CanMove(c.Status, to) {
		if len(transitions[c.Status]) == 0 {
			return errs.E(errs.Conflict, "campaign %s is %s, which is final: it cannot become %s", c.ID, c.Status, to)
		}
		return errs.E(errs.Conflict, "campaign %s is %s and cannot become %s (from %s it may become %s)",
			c.ID, c.Status, to, c.Status, names(transitions[c.Status]))
	}
	c.Changes = append(c.Changes, Change{From: c.Status, To: to, By: by, Reason: why, At: at})
	c.Status, c.StatusReason, c.UpdatedAt = to, why, at
	if to.Concluded() {
		c.EndedAt = &at
	}
	return nil
}

// Editable reports whether a person may still change the campaign's
// fields: only before its launch.
func (s Status) Editable() bool { return s == Draft || s == Scheduled }

func names(ss []Status) string {
	out := ""
	for i, s := range ss {
		switch {
		case i == 0:
		case i == len(ss)-1:
			out += " or "
		default:
			out += ", "
		}
		out += string(s)
	}
	return out
}

// Schedule sets when the campaign launches by itself (nil: only when
// triggered), moving a draft to SCHEDULED, or a scheduled campaign back
// to DRAFT when at is nil. Only before the launch, and only for a time
// after now.
func (c *Campaign) Schedule(at *time.Time, by string, now time.Time) error {
	if !c.Status.Editable() {
		return errs.E(errs.Conflict, "campaign %s is %s: only a DRAFT or SCHEDULED campaign can be edited", c.ID, c.Status)
	}
	if at == nil {
		c.ScheduleTime = nil
		if c.Status == Scheduled {
			return c.Move(Draft, by, "schedule removed", now)
		}
		return nil
	}
	if !at.After(now) {
		return errs.WithDetails(errs.Invalid, "invalid campaign", []errs.Detail{{Field: "schedule_time", Message: "must be in the future"}})
	}
	t := at.UTC()
	c.ScheduleTime = &t
	if c.Status == Draft {
		return c.Move(Scheduled, by, "scheduled for "+t.Format(time.RFC3339), now)
	}
	c.UpdatedAt = now
	return nil
}

// Due reports whether a scheduled campaign's time has come at now.
func (c Campaign) Due(now time.Time) bool {
	return c.Status == Scheduled && c.ScheduleTime != nil && !c.ScheduleTime.After(now)
}
