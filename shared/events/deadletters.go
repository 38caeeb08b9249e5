package events

import (
	"context"
	"time"
)

// DeadLetter is a message its push subscription gave up on after its
// delivery attempts, waiting in its topic's dead-letter subscription to be
// looked at and perhaps replayed.
type DeadLetter struct {
	Topic string // the topic it was first published to
	// ID names it in the dead-letter subscription, for Replay. Pub/Sub
	// gives the dead-lettered copy an id of its own.
	ID         string
	Data       []byte
	Attributes map[string]string // as first published
	// PublishTime is when it was first published; zero if unknown.
	PublishTime time.Time
	// DeliveryAttempts is how many deliveries failed before it was given
	// up; 0 if unknown.
	DeliveryAttempts int
	// Reason says why its handler gave it up (see Bury); empty when its
	// deliveries ran out.
	Reason string
	// OriginalID is the id it was first published with, which the
	// handler's log lines name, when it was buried; Pub/Sub's own dead
	// letters keep no trace of it.
	OriginalID string
}

// Attributes Bury adds, read back into DeadLetter's fields and never
// replayed.
const (
	AttrGaveUp         = "ese-gave-up"
	AttrFirstPublished = "ese-first-published"
	AttrOriginalID     = "ese-original-id"
)

// DeadLetters reads and replays the dead letters of the topics in Topics.
// Its payloads may hold phone numbers and message bodies: callers show
// them to admins only and never log them.
type DeadLetters interface {
	// List returns up to limit dead letters of topic (of every topic when
	// topic is empty), oldest first, and leaves them where they are. A
	// topic it does not serve is errs.Invalid. With very many waiting (a
	// thousand a topic on Pub/Sub), the oldest are found among those it
	// reads.
	List(ctx context.Context, topic string, limit int) ([]DeadLetter, error)
	// Replay publishes dead letter id of topic, with its data and
	// attributes, to topic again, then removes it from the dead letters.
	// It publishes first, so a failure in between replays it twice, which
	// every handler tolerates. An unknown topic or id is errs.NotExist.
	Replay(ctx context.Context, topic, id string) error
	// Discard removes dead letter id of topic without replaying it: a
	// message no handler will ever take. Unknown is errs.NotExist.
	Discard(ctx context.Context, topic, id string) error
	// Bury puts m, first published to topic at published, among topic's
	// dead letters with reason: what a handler does with an event it gives
	// up on, so that it is kept for replay rather than lost.
	Bury(ctx context.Context, topic string, m Message, published time.Time, reason string) error
}
