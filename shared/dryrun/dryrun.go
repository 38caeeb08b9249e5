// Package dryrun is the result of a campaign's dry run: every compliance
// step run for every person its segment selects, nothing sent and nothing
// changed, counted the way the campaign's summary counts a real run.
package dryrun

import (
	"time"

	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/phone"
)

// Status is where a dry run is.
type Status string

const (
	Running Status = "running" // read in the background; ask again
	Done    Status = "done"
	Failed  Status = "failed" // Error says why
)

// SamplePerStep is how many blocked people a result names for each step.
const SamplePerStep = 5

// Blocked is one person a step would refuse, their number masked.
type Blocked struct {
	Phone  string `json:"phone_number"`
	Step   string `json:"step"`
	Reason string `json:"reason"`
}

// Result is what a dry run found.
type Result struct {
	DryRun     bool   `json:"dry_run"` // always true: says what this is
	CampaignID string `json:"campaign_id"`
	// RunID names the run: a later dry run of the same campaign replaces
	// this one, and a background read finishes only its own.
	RunID      string `json:"run_id"`
	Status     Status `json:"status"`
	Recipients int    `json:"recipients"`
	SendNow    int    `json:"send_now"`
	Deferred   int    `json:"deferred"` // to the end of their quiet hours
	// Blocked counts the people each step would refuse (every step named);
	// BlockedByReason the same by the reason a message would carry.
	Blocked         map[string]int `json:"blocked"`
	BlockedByReason map[string]int `json:"blocked_by_reason"`
	// Channels counts how the messages would go: "template" or "session".
	Channels map[string]int `json:"channels"`
	Sample   []Blocked      `json:"sample"`
	// NewConversations counts the people the launch would start a
	// business-initiated conversation with (an approved template to
	// someone not messaged in the 24 hours before): what WhatsApp's
	// messaging limit counts.
	NewConversations int `json:"new_conversations"`
	// Warnings say what would go wrong that no step refuses, such as
	// passing the sender's WhatsApp messaging limit.
	Warnings []string `json:"warnings"`
	Error    string   `json:"error,omitempty"`
	// JudgedAt is the moment the steps are judged at: the start, or a
	// scheduled campaign's schedule_time when that is later.
	JudgedAt    time.Time  `json:"judged_at"`
	StartedAt   time.Time  `json:"started_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// Read is how many people the read has looked at so far; Next is
	// where it goes on (a person's id: kept by the store, never shown).
	Read int    `json:"read"`
	Next string `json:"-"`
}

// New starts a result for the campaign's run runID at, judged at judged.
func New(campaignID, runID string, at, judged time.Time) Result {
	r := Result{
		DryRun: true, CampaignID: campaignID, RunID: runID, Status: Running,
		Blocked: compliance.BlockedBy(nil), BlockedByReason: map[string]int{}, Channels: map[string]int{},
		Sample: []Blocked{}, Warnings: []string{}, JudgedAt: judged, StartedAt: at, UpdatedAt: at,
	}
	return r
}

// Add counts the decision for the person at phoneNumber.
func (r *Result) Add(phoneNumber string, d compliance.Decision) {
	r.Recipients++
	switch d.Action {
	case compliance.Send:
		r.SendNow++
		r.Channels[string(d.Channel)]++
	case compliance.Defer:
		r.Deferred++
		r.Channels[string(d.Channel)]++
	case compliance.Skip:
		step := string(compliance.StepOf(d.Reason))
		if step == "" { // no step's reason: counted under itself
			step = string(d.Reason)
		}
		r.Blocked[step]++
		r.BlockedByReason[string(d.Reason)]++
		if r.sampled(step) < SamplePerStep {
			r.Sample = append(r.Sample, Blocked{Phone: phone.Mask(phoneNumber), Step: step, Reason: string(d.Reason)})
		}
	}
}

func (r *Result) sampled(step string) int {
	n := 0
	for _, b := range r.Sample {
		if b.Step == step {
			n++
		}
	}
	return n
}

// Finish marks the result done at.
func (r *Result) Finish(at time.Time) {
	r.Status, r.CompletedAt, r.UpdatedAt, r.Next = Done, &at, at, ""
}

// Fail marks the result failed at, saying why.
func (r *Result) Fail(at time.Time, why string) {
	r.Status, r.Error, r.CompletedAt, r.UpdatedAt, r.Next = Failed, why, &at, at, ""
}
