// Package memevents is an in-memory events.Publisher for tests: it records
// what was published per topic and can hand it straight to subscribed
// handlers, so a unit test can run a chain of steps in one process. Its
// DeadLetters holds dead letters put there by the test.
package memevents

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
)

var _ events.Publisher = (*Publisher)(nil)

// Publisher records published messages. The topics in events.Topics exist
// from the start, as they do once deployed; others must be made with
// CreateTopic, so that a misspelt topic fails here as it would on Pub/Sub.
// It is safe for concurrent use.
type Publisher struct {
	mu       sync.Mutex
	topics   map[string][]events.Message
	handlers map[string][]func(context.Context, events.Message) error
	failures []error
	nextID   int
}

// New returns a Publisher with the topics of events.Topics.
func New() *Publisher {
	p := &Publisher{
		topics:   make(map[string][]events.Message),
		handlers: make(map[string][]func(context.Context, events.Message) error),
	}
	for _, t := range events.Topics {
		p.topics[t] = nil
	}
	return p
}

// CreateTopic makes topic exist; it is a no-op for an existing topic.
func (p *Publisher) CreateTopic(topic string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.topics[topic]; !ok {
		p.topics[topic] = nil
	}
}

// Subscribe has handle called for every message published to topic from
// now on, synchronously inside Publish. A handler's error is not returned
// to the publisher (Pub/Sub would not tell it either); see Failures.
// Nothing is redelivered.
func (p *Publisher) Subscribe(topic string, handle func(context.Context, events.Message) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handlers[topic] = append(p.handlers[topic], handle)
}

// Publish records v as JSON under topic, then delivers it to topic's
// handlers. Like pubsubevents: an unencodable v is errs.Invalid and a
// missing topic errs.Transient.
func (p *Publisher) Publish(ctx context.Context, topic string, v any) error {
	data, err := events.Encode(v)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "memevents.Publish "+topic)
	}
	return p.publish(ctx, topic, data, nil)
}

// publish records data and attributes under topic and delivers them.
func (p *Publisher) publish(ctx context.Context, topic string, data []byte, attrs map[string]string) error {
	p.mu.Lock()
	published, ok := p.topics[topic]
	if !ok {
		p.mu.Unlock()
		return errs.E(errs.Transient, "memevents.Publish: topic %q does not exist", topic)
	}
	p.nextID++
	m := events.Message{ID: strconv.Itoa(p.nextID), Data: data, Attributes: maps.Clone(attrs)}
	p.topics[topic] = append(published, m)
	handlers := slices.Clone(p.handlers[topic])
	p.mu.Unlock()

	// Outside the lock: handlers publish the next step of the chain.
	hctx := context.WithoutCancel(ctx)
	for _, h := range handlers {
		if err := h(hctx, clone(m)); err != nil {
			p.mu.Lock()
			p.failures = append(p.failures, fmt.Errorf("memevents: handler of %s, message %s: %w", topic, m.ID, err))
			p.mu.Unlock()
		}
	}
	return nil
}

// Published returns the messages published to topic, oldest first.
func (p *Publisher) Published(topic string) []events.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]events.Message, 0, len(p.topics[topic]))
	for _, m := range p.topics[topic] {
		out = append(out, clone(m))
	}
	return out
}

// Failures returns the errors subscribed handlers returned, oldest first.
func (p *Publisher) Failures() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.failures)
}

// clone keeps callers from changing what was recorded.
func clone(m events.Message) events.Message {
	m.Data = slices.Clone(m.Data)
	m.Attributes = maps.Clone(m.Attributes)
	return m
}
