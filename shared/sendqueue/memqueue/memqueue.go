// Package memqueue is an in-memory sendqueue.Queue for tests: it records
// each campaign's rate and tasks, dedupes task names as Cloud Tasks does,
// and dispatches only when a test calls Dispatch.
package memqueue

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sendqueue"
)

// As in package cloudtasks: Cloud Tasks' rate ceiling and id rules.
const maxRate = 500

var (
	queueIDRe = regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`)
	taskIDRe  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,500}$`)
)

var _ sendqueue.Queue = (*Queue)(nil)

type queue struct {
	rate    int
	tasks   []sendqueue.Task // in enqueue order
	names   map[string]bool  // every task id ever made: names are never reused
	pending map[string]bool  // task ids not yet dispatched successfully
}

// Queue is a sendqueue.Queue in memory. It is safe for concurrent use.
type Queue struct {
	mu     sync.Mutex
	queues map[string]*queue // by campaign id
	down   error
}

// New returns an empty Queue.
func New() *Queue { return &Queue{queues: make(map[string]*queue)} }

// EnsureQueue creates or updates campaignID's queue with the rate.
func (q *Queue) EnsureQueue(_ context.Context, campaignID string, ratePerSecond int) error {
	if ratePerSecond < 1 || ratePerSecond > maxRate {
		return errs.E(errs.Invalid, "memqueue.EnsureQueue: rate %d is not between 1 and %d a second", ratePerSecond, maxRate)
	}
	if err := validCampaign(campaignID); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down != nil {
		return q.down
	}
	if c, ok := q.queues[campaignID]; ok {
		c.rate = ratePerSecond
		return nil
	}
	q.queues[campaignID] = &queue{rate: ratePerSecond, names: make(map[string]bool), pending: make(map[string]bool)}
	return nil
}

// Enqueue records t unless a task for its message was ever made.
func (q *Queue) Enqueue(_ context.Context, t sendqueue.Task) (bool, error) {
	if err := validCampaign(t.CampaignID); err != nil {
		return false, err
	}
	id := t.Name()
	if t.MessageID == "" || !taskIDRe.MatchString(id) {
		return false, errs.E(errs.Invalid, "memqueue.Enqueue: message id %q cannot name a task", t.MessageID)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down != nil {
		return false, q.down
	}
	c, ok := q.queues[t.CampaignID]
	if !ok {
		return false, errs.E(errs.NotExist, "memqueue.Enqueue: no queue for campaign %q", t.CampaignID)
	}
	if c.names[id] {
		return false, nil
	}
	c.names[id] = true
	c.pending[id] = true
	c.tasks = append(c.tasks, t)
	return true, nil
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

// Rate returns campaignID's dispatch rate, 0 if it has no queue.
func (q *Queue) Rate(campaignID string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c, ok := q.queues[campaignID]; ok {
		return c.rate
	}
	return 0
}

// Tasks returns every task made for campaignID, dispatched or not, in
// enqueue order.
func (q *Queue) Tasks(campaignID string) []sendqueue.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c, ok := q.queues[campaignID]; ok {
		return slices.Clone(c.tasks)
	}
	return nil
}

// Pending returns campaignID's tasks not yet dispatched successfully, in
// enqueue order.
func (q *Queue) Pending(campaignID string) []sendqueue.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pendingLocked(campaignID)
}

func (q *Queue) pendingLocked(campaignID string) []sendqueue.Task {
	c, ok := q.queues[campaignID]
	if !ok {
		return nil
	}
	var out []sendqueue.Task
	for _, t := range c.tasks {
		if c.pending[t.Name()] {
			out = append(out, t)
		}
	}
	return out
}

// Dispatch calls send once for each of campaignID's pending tasks, in
// enqueue order, ignoring At and the rate: the test drives time. A task
// whose send fails stays pending, as Cloud Tasks would retry it; the
// failures are returned joined. send may enqueue more tasks; they wait for
// the next Dispatch.
func (q *Queue) Dispatch(ctx context.Context, campaignID string, send func(context.Context, sendqueue.Task) error) error {
	q.mu.Lock()
	tasks := q.pendingLocked(campaignID)
	q.mu.Unlock()

	var failed []error
	for _, t := range tasks {
		if err := send(ctx, t); err != nil {
			failed = append(failed, fmt.Errorf("memqueue: task %s: %w", t.Name(), err))
			continue
		}
		q.mu.Lock()
		delete(q.queues[campaignID].pending, t.Name())
		q.mu.Unlock()
	}
	return errors.Join(failed...)
}

func validCampaign(campaignID string) error {
	if campaignID == "" || !queueIDRe.MatchString(sendqueue.QueueID(campaignID)) {
		return errs.E(errs.Invalid, "memqueue: campaign id %q cannot name a queue", campaignID)
	}
	return nil
}
