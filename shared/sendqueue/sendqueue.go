// Package sendqueue paces a campaign's sends: each campaign has its own
// queue whose dispatch rate is the campaign's rate, holding one task per
// message, named after the message so that queuing twice makes one task.
// A campaign's queue is deleted once the campaign has concluded: a region
// holds only about 1,000 queues.
package sendqueue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Task is one send to dispatch to the sender.
type Task struct {
	// Queue is the id of the campaign's queue (QueueID).
	Queue      string
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

// Queue is the port to Cloud Tasks. Queue ids start with QueuePrefix.
type Queue interface {
	// EnsureQueue creates the queue, or updates its rate; safe to call
	// again. It returns only once the queue is confirmed to exist. A name
	// deleted recently cannot be created again: that is ErrNameUnavailable,
	// and the caller moves on to another name.
	EnsureQueue(ctx context.Context, queueID string, ratePerSecond int) error
	// Enqueue adds t. A task already made for the same message is not
	// made again: Enqueue returns nil and reports created false. A queue
	// that is not there is a transient error: the queue was ensured before
	// any task was made, so its absence is a fault to fix, not a reason to
	// drop the send.
	Enqueue(ctx context.Context, t Task) (created bool, err error)
	// DeleteQueue deletes the queue and its tasks; a queue that is not
	// there counts as deleted (nil).
	DeleteQueue(ctx context.Context, queueID string) error
	// PauseQueue stops the queue dispatching: its tasks wait, and new ones
	// may still be added. ResumeQueue lets it dispatch again. Both may be
	// repeated; a queue that is not there needs neither (nil).
	PauseQueue(ctx context.Context, queueID string) error
	ResumeQueue(ctx context.Context, queueID string) error
	// SetRate changes the queue's dispatch rate (its share of the
	// sender's ceiling); a queue that is not there needs none (nil). An
	// implementation that cannot change rates (cloudtasks on the emulator)
	// does nothing: there a queue keeps the rate it was created with.
	SetRate(ctx context.Context, queueID string, ratePerSecond int) error
	// Ready reports whether the service answers and is usable.
	Ready(ctx context.Context) error
}

// ErrNameUnavailable is in the chain of EnsureQueue's error when the name
// belonged to a queue deleted too recently to be created again (up to 3
// days on Cloud Tasks).
var ErrNameUnavailable = errors.New("sendqueue: a queue of this name was deleted too recently to create it again")

// QueuePrefix starts every queue id: the permission to manage queues is
// granted on this prefix alone.
const QueuePrefix = "campaign-"

// QueueID is the id of a campaign's queue of the given generation:
// "campaign-<id>" first, then "campaign-<id>-<generation>" for each name
// found blocked.
func QueueID(campaignID string, generation int) string {
	if generation == 0 {
		return QueuePrefix + campaignID
	}
	return QueuePrefix + campaignID + "-" + strconv.Itoa(generation)
}

// IsCampaignQueue reports whether queueID is a campaign queue id.
func IsCampaignQueue(queueID string) bool {
	return strings.HasPrefix(queueID, QueuePrefix) && len(queueID) > len(QueuePrefix)
}

// TaskID is the deterministic name of a message's task. Message ids start
// with a hash, so task names spread evenly as Cloud Tasks advises.
func TaskID(messageID string) string { return messageID + "-send" }

// Payload is the body of a send task.
type Payload struct {
	CampaignID string `json:"campaign_id"`
	MessageID  string `json:"message_id"`
}
