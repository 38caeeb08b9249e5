package memevents

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
)

var _ events.DeadLetters = (*DeadLetters)(nil)

// DeadLetters keeps the dead letters a test adds, for the topics of
// events.Topics, and replays them to its Publisher. It is safe for
// concurrent use.
type DeadLetters struct {
	pub *Publisher

	mu      sync.Mutex
	letters []events.DeadLetter
	nextID  int
}

// NewDeadLetters returns DeadLetters that replay to pub.
func NewDeadLetters(pub *Publisher) *DeadLetters { return &DeadLetters{pub: pub} }

// Add makes m a dead letter of topic, as Pub/Sub does once attempts
// deliveries of a message published at published have failed, and returns
// its id.
func (d *DeadLetters) Add(topic string, m events.Message, attempts int, published time.Time) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextID++
	id := "dl-" + strconv.Itoa(d.nextID)
	d.letters = append(d.letters, events.DeadLetter{
		Topic: topic, ID: id, Data: slices.Clone(m.Data), Attributes: maps.Clone(m.Attributes),
		PublishTime: published, DeliveryAttempts: attempts,
	})
	return id
}

// List returns up to limit dead letters of topic (every topic if empty),
// oldest first.
func (d *DeadLetters) List(_ context.Context, topic string, limit int) ([]events.DeadLetter, error) {
	if topic != "" && !slices.Contains(events.Topics, topic) {
		return nil, errs.E(errs.Invalid, "memevents.DeadLetters: no dead letters for topic %q", topic)
	}
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "memevents.DeadLetters: limit %d is below 1", limit)
	}
	d.mu.Lock()
	var out []events.DeadLetter
	for _, l := range d.letters {
		if topic == "" || l.Topic == topic {
			l.Data, l.Attributes = slices.Clone(l.Data), maps.Clone(l.Attributes)
			out = append(out, l)
		}
	}
	d.mu.Unlock()
	slices.SortStableFunc(out, func(a, b events.DeadLetter) int { return a.PublishTime.Compare(b.PublishTime) })
	return out[:min(limit, len(out))], nil
}

// Discard removes dead letter id of topic.
func (d *DeadLetters) Discard(_ context.Context, topic, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := slices.IndexFunc(d.letters, func(l events.DeadLetter) bool { return l.Topic == topic && l.ID == id })
	if i < 0 {
		return errs.E(errs.NotExist, "no dead letter %q of topic %q", id, topic)
	}
	d.letters = slices.Delete(d.letters, i, i+1)
	return nil
}

// Bury adds m to topic's dead letters with reason.
func (d *DeadLetters) Bury(_ context.Context, topic string, m events.Message, published time.Time, reason string) error {
	if !slices.Contains(events.Topics, topic) {
		return errs.E(errs.Invalid, "memevents.DeadLetters: no dead letters for topic %q", topic)
	}
	id := d.Add(topic, m, 0, published)
	d.mu.Lock()
	defer d.mu.Unlock()
	l := &d.letters[slices.IndexFunc(d.letters, func(l events.DeadLetter) bool { return l.ID == id })]
	l.Reason, l.OriginalID = reason, m.ID
	return nil
}

// Replay publishes dead letter id of topic to topic, then removes it.
func (d *DeadLetters) Replay(ctx context.Context, topic, id string) error {
	d.mu.Lock()
	i := slices.IndexFunc(d.letters, func(l events.DeadLetter) bool { return l.Topic == topic && l.ID == id })
	if i < 0 {
		d.mu.Unlock()
		return errs.E(errs.NotExist, "no dead letter %q of topic %q", id, topic)
	}
	l := d.letters[i]
	d.mu.Unlock()
	if err := d.pub.publish(ctx, topic, l.Data, l.Attributes); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.letters = slices.DeleteFunc(d.letters, func(l events.DeadLetter) bool { return l.ID == id })
	return nil
}
