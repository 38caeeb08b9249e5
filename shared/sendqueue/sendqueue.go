// Package sendqueue paces a campaign's sends: each campaign has its own
// queue whose dispatch rate is the campaign's rate, holding one task per
// message, named after the message so that queuing twice makes one task.
package sendqueue

import (
	"context"
	"strconv"
	"time"
)

// Task is one send to dispatch to the sender.
type Task struct {
	CampaignID string
	MessageID  string
	At         time.Time // zero: as soon as the rate allows
	// Generation tells apart a later task for the same message (one the
	// sender defers past quiet hours it ran into); zero for the first.
	Generation int64
}

// Name is the task's deterministic name.
func (t Task) Name() string {
	if t.Generation == 0 {
		return TaskID(t.MessageID)
	}
	return TaskID(t.MessageID) + "-" + strconv.FormatInt(t.Generation, 10)
}

// Queue is the port to Cloud Tasks.
type Queue interface {
	// EnsureQueue creates the campaign's queue, or updates its rate; safe
	// to call again.
	EnsureQueue(ctx context.Context, campaignID string, ratePerSecond int) error
	// Enqueue adds t. A task already made for the same message is not
	// made again: Enqueue returns nil and reports created false.
	Enqueue(ctx context.Context, t Task) (created bool, err error)
	// Ready reports whether the service answers.
	Ready(ctx context.Context) error
}

// QueueID is the campaign's queue name: unique per campaign.
func QueueID(campaignID string) string { return "campaign-" + campaignID }

// TaskID is the deterministic name of a message's task. Message ids start
// with a hash, so task names spread evenly as Cloud Tasks advises.
func TaskID(messageID string) string { return messageID + "-send" }

// Payload is the body of a send task.
type Payload struct {
	CampaignID string `json:"campaign_id"`
	MessageID  string `json:"message_id"`
}
