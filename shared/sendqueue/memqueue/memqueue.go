// Package memqueue is an in-memory sendqueue.Queue for tests: it records
// each queue's rate and tasks, dedupes task names as Cloud Tasks does,
// keeps deleted names from being created again, and dispatches only when a
// test calls Dispatch.
package memqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sendqueue"
)

// As in package cloudtasks: Cloud Tasks' rate ceiling and id rules.
const maxRate = 500

// validName reports whether s is 1 to max letters, digits, hyphens and,
// if underscore, underscores: Cloud Tasks' queue and task ids. A loop,
// not a regexp: it runs for every task, and a regexp made it a tenth of a
// 100,000-recipient fan-out.
func validName(s string, max int, underscore bool) bool {
	if len(s) < 1 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		case c == '_' && underscore:
		default:
			return false
		}
	}
	return true
}

// Methods whose calls FailNext can make fail.
const (
	MethodEnsureQueue = "EnsureQueue"
	MethodEnqueue     = "Enqueue"
	MethodDeleteQueue = "DeleteQueue"
	MethodPauseQueue  = "PauseQueue"
	MethodResumeQueue = "ResumeQueue"
	MethodSetRate     = "SetRate"
)

var _ sendqueue.Queue = (*Queue)(nil)

type queue struct {
	rate  int
	tasks taskLog
	// names holds every task id ever made (names are never reused),
	// true while the task is not yet dispatched successfully: one map,
	// not two, as it takes every task of a fan-out.
	names  map[string]bool
	paused bool
}

// taskLog keeps tasks in enqueue order in chunks: one slice would be
// copied over and over as a fan-out of 100,000 messages grows it.
type taskLog struct{ chunks [][]sendqueue.Task }

func (l *taskLog) add(t sendqueue.Task) {
	if n := len(l.chunks); n == 0 || len(l.chunks[n-1]) == cap(l.chunks[n-1]) {
		l.chunks = append(l.chunks, make([]sendqueue.Task, 0, 1024))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, t)
}

// all returns a copy of every task, in enqueue order.
func (l *taskLog) all() []sendqueue.Task {
	var out []sendqueue.Task
	for _, c := range l.chunks {
		out = append(out, c...)
	}
	return out
}

type failure struct {
	n   int // calls left to fail; negative: all
	err error
}

// Queue is a sendqueue.Queue in memory. It is safe for concurrent use.
type Queue struct {
	mu      sync.Mutex
	queues  map[string]*queue // by queue id
	deleted map[string]int    // deletions by queue id: those names stay blocked
	fail    map[string]*failure
	down    error
}

// New returns an empty Queue.
func New() *Queue {
	return &Queue{queues: make(map[string]*queue), deleted: make(map[string]int), fail: make(map[string]*failure)}
}

// EnsureQueue creates or updates the queue with the rate. A deleted name
// is ErrNameUnavailable, as Cloud Tasks says for days after a delete.
func (q *Queue) EnsureQueue(_ context.Context, queueID string, ratePerSecond int) error {
	if ratePerSecond < 1 || ratePerSecond > maxRate {
		return errs.E(errs.Invalid, "memqueue.EnsureQueue: rate %d is not between 1 and %d a second", ratePerSecond, maxRate)
	}
	if err := validQueue(queueID); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failing(MethodEnsureQueue); err != nil {
		return err
	}
	if c, ok := q.queues[queueID]; ok {
		c.rate = ratePerSecond
		return nil
	}
	if q.deleted[queueID] > 0 {
		return errs.Wrap(errs.Conflict, sendqueue.ErrNameUnavailable, "memqueue.EnsureQueue "+queueID)
	}
	q.queues[queueID] = &queue{rate: ratePerSecond, names: make(map[string]bool)}
	return nil
}

// Enqueue records t unless a task for its message was ever made in its
// queue.
func (q *Queue) Enqueue(_ context.Context, t sendqueue.Task) (bool, error) {
	if err := validQueue(t.Queue); err != nil {
		return false, err
	}
	id := t.Name()
	if t.MessageID == "" || !validName(id, 500, true) {
		return false, errs.E(errs.Invalid, "memqueue.Enqueue: message id %q cannot name a task", t.MessageID)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failing(MethodEnqueue); err != nil {
		return false, err
	}
	c, ok := q.queues[t.Queue]
	if !ok {
		return false, errs.E(errs.Transient, "memqueue.Enqueue: no queue %q", t.Queue)
	}
	if _, made := c.names[id]; made {
		return false, nil
	}
	c.names[id] = true
	c.tasks.add(t)
	return true, nil
}

// DeleteQueue drops the queue and its tasks, and blocks its name.
func (q *Queue) DeleteQueue(_ context.Context, queueID string) error {
	if err := validQueue(queueID); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failing(MethodDeleteQueue); err != nil {
		return err
	}
	if _, ok := q.queues[queueID]; ok {
		delete(q.queues, queueID)
		q.deleted[queueID]++
	}
	return nil
}

// PauseQueue stops Dispatch dispatching the queue's tasks.
func (q *Queue) PauseQueue(_ context.Context, queueID string) error {
	return q.setPaused(MethodPauseQueue, queueID, true)
}

// ResumeQueue lets Dispatch dispatch the queue's tasks again.
func (q *Queue) ResumeQueue(_ context.Context, queueID string) error {
	return q.setPaused(MethodResumeQueue, queueID, false)
}

func (q *Queue) setPaused(method, queueID string, paused bool) error {
	if err := validQueue(queueID); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failing(method); err != nil {
		return err
	}
	if c, ok := q.queues[queueID]; ok {
		c.paused = paused
	}
	return nil
}

// SetRate changes the queue's rate, if it exists.
func (q *Queue) SetRate(_ context.Context, queueID string, ratePerSecond int) error {
	if ratePerSecond < 1 || ratePerSecond > maxRate {
		return errs.E(errs.Invalid, "memqueue.SetRate: rate %d is not between 1 and %d a second", ratePerSecond, maxRate)
	}
	if err := validQueue(queueID); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failing(MethodSetRate); err != nil {
		return err
	}
	if c, ok := q.queues[queueID]; ok {
		c.rate = ratePerSecond
	}
	return nil
}

// Paused reports whether the queue exists and is paused.
func (q *Queue) Paused(queueID string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	c, ok := q.queues[queueID]
	return ok && c.paused
}

// Ready returns the error set by SetDown, if any.
func (q *Queue) Ready(context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.down
}

// SetDown makes every call fail with err (nil to recover), to test how
// callers handle an unavailable queue.
func (q *Queue) SetDown(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.down = err
}

// FailNext makes the next n calls of method (MethodEnsureQueue, ...) fail
// with err; n < 0 makes every call fail until FailNext(method, 0, nil).
func (q *Queue) FailNext(method string, n int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fail[method] = &failure{n: n, err: err}
}

func (q *Queue) failing(method string) error {
	if q.down != nil {
		return q.down
	}
	f := q.fail[method]
	if f == nil || f.n == 0 {
		return nil
	}
	if f.n > 0 {
		f.n--
	}
	return f.err
}

// Exists reports whether the queue exists.
func (q *Queue) Exists(queueID string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.queues[queueID]
	return ok
}

// Deletions returns how many times the queue was deleted while it existed.
func (q *Queue) Deletions(queueID string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.deleted[queueID]
}

// Rate returns the queue's dispatch rate, 0 if there is no such queue.
func (q *Queue) Rate(queueID string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c, ok := q.queues[queueID]; ok {
		return c.rate
	}
	return 0
}

// Tasks returns every task made in the queue, dispatched or not, in
// enqueue order.
func (q *Queue) Tasks(queueID string) []sendqueue.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c, ok := q.queues[queueID]; ok {
		return c.tasks.all()
	}
	return nil
}

// Pending returns the queue's tasks not yet dispatched successfully, in
// enqueue order.
func (q *Queue) Pending(queueID string) []sendqueue.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pendingLocked(queueID)
}

func (q *Queue) pendingLocked(queueID string) []sendqueue.Task {
	c, ok := q.queues[queueID]
	if !ok {
		return nil
	}
	var out []sendqueue.Task
	for _, t := range c.tasks.all() {
		if c.names[t.Name()] {
			out = append(out, t)
		}
	}
	return out
}

// Dispatch calls send once for each of the queue's pending tasks, in
// enqueue order, ignoring At and the rate: the test drives time. A paused
// queue dispatches nothing. A task
// whose send fails stays pending, as Cloud Tasks would retry it; the
// failures are returned joined. send may enqueue more tasks; they wait for
// the next Dispatch. send may delete the queue.
func (q *Queue) Dispatch(ctx context.Context, queueID string, send func(context.Context, sendqueue.Task) error) error {
	q.mu.Lock()
	var tasks []sendqueue.Task
	if c, ok := q.queues[queueID]; ok && !c.paused {
		tasks = q.pendingLocked(queueID)
	}
	q.mu.Unlock()

	var failed []error
	for _, t := range tasks {
		if err := send(ctx, t); err != nil {
			failed = append(failed, fmt.Errorf("memqueue: task %s: %w", t.Name(), err))
			continue
		}
		q.mu.Lock()
		if c, ok := q.queues[queueID]; ok {
			c.names[t.Name()] = false
		}
		q.mu.Unlock()
	}
	return errors.Join(failed...)
}

func validQueue(queueID string) error {
	if !sendqueue.IsCampaignQueue(queueID) || !validName(queueID, 100, false) {
		return errs.E(errs.Invalid, "memqueue: %q cannot name a campaign queue", queueID)
	}
	return nil
}
