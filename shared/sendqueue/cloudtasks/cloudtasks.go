// Package cloudtasks paces sends with Google Cloud Tasks: one queue per
// campaign, dispatching at the campaign's rate, each task an HTTP POST of a
// sendqueue.Payload to the Sender, named after its message so that queuing
// a message twice makes one task.
//
// Dedupe lasts as long as Cloud Tasks keeps a name: while the task waits
// and, once it ran or was deleted, for about an hour (up to a day) on Cloud
// Tasks; for the life of the process on the emulator. The message's own
// status, not the task name, is what finally stops a second send.
//
// The adapter classifies Cloud Tasks' errors itself (each driver knows its
// service): a refusal that means the deployment is misconfigured (a missing
// role or actAs, an unknown location, a queue gone from under us) is
// transient, so the work is retried rather than dropped once fixed, and is
// logged at ERROR with a hint and kept as LastProblem for Ready to report.
package cloudtasks

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	ctasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sendqueue"
)

// Limits and retry policy of every campaign queue.
const (
	MaxRate = 500 // dispatches per second; Cloud Tasks' ceiling

	// maxAttempts keeps a send retried for days (at MaxBackoff): a task
	// that ran out of attempts would leave its message unconcluded, and
	// its name cannot be reused for a while. (-1, "unlimited", is what
	// production could take, but the emulator then never retries.)
	maxAttempts = 1000
	minBackoff  = time.Second
	// MaxBackoff is the longest wait between a task's attempts, deployed.
	MaxBackoff = 5 * time.Minute
)

var (
	// Cloud Tasks' id rules: queue ids up to 100 of [A-Za-z0-9-], task ids
	// up to 500 of [A-Za-z0-9_-].
	queueIDRe = regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`)
	taskIDRe  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,500}$`)
)

// Config says where the queues live and where their tasks go.
type Config struct {
	Project  string
	Location string // such as europe-west1
	// Endpoint is the emulator's host:port (CLOUD_TASKS_EMULATOR_HOST);
	// empty for Cloud Tasks itself.
	Endpoint string
	// TargetURL is the Sender's URL, which every task POSTs to.
	TargetURL string
	// ServiceAccount, if set, is the identity of an OIDC token sent with
	// each task, so the Sender can refuse unauthenticated calls.
	ServiceAccount string
	// Audience of that token; empty means TargetURL, as Cloud Tasks does.
	Audience string
	// Now is the clock that dates problems; nil means time.Now.
	Now func() time.Time
	// NoPause makes PauseQueue and ResumeQueue do nothing: for the
	// emulator, whose pausing breaks its queue (see setPaused).
	NoPause bool
	// NoSetRate makes SetRate do nothing: for the emulator, which lacks
	// UpdateQueue (a queue keeps the rate it was created with).
	NoSetRate bool
	// MaxBackoff is the longest wait between a task's attempts, 1 s to
	// MaxBackoff; zero means MaxBackoff.
	MaxBackoff time.Duration
}

func (c Config) validate() error {
	var details []errs.Detail
	if c.Project == "" {
		details = append(details, errs.Detail{Field: "Project", Message: "required"})
	}
	if c.Location == "" {
		details = append(details, errs.Detail{Field: "Location", Message: "required"})
	}
	if c.MaxBackoff < 0 || c.MaxBackoff > MaxBackoff || (c.MaxBackoff > 0 && c.MaxBackoff < minBackoff) {
		details = append(details, errs.Detail{Field: "MaxBackoff", Message: "must be from 1s to " + MaxBackoff.String()})
	}
	if u, err := url.Parse(c.TargetURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		details = append(details, errs.Detail{Field: "TargetURL", Message: "must be an absolute http(s) URL"})
	}
	if details != nil {
		return errs.WithDetails(errs.Invalid, "cloudtasks.New: bad config", details)
	}
	return nil
}

var _ sendqueue.Queue = (*Queue)(nil)

// Queue is a sendqueue.Queue on Cloud Tasks. It is safe for concurrent use.
type Queue struct {
	client *ctasks.Client
	cfg    Config
	parent string // projects/P/locations/L

	mu      sync.Mutex
	problem *Problem                  // the last misconfiguration seen
	logged  map[ProblemKind]time.Time // when each kind was last logged
	report  func(context.Context, *Problem)
}

// ReportProblems has q hand each misconfiguration it logs (at most once a
// minute per kind) to report too, so that another process can tell of it;
// call it before use.
func (q *Queue) ReportProblems(report func(context.Context, *Problem)) { q.report = report }

// New connects to Cloud Tasks, or to the emulator at cfg.Endpoint without
// credentials. Close the Queue when done.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var opts []option.ClientOption
	if cfg.Endpoint != "" {
		opts = append(opts,
			option.WithEndpoint(cfg.Endpoint),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		)
	}
	client, err := ctasks.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudtasks.NewClient: %w", err)
	}
	return &Queue{client: client, cfg: cfg, parent: "projects/" + cfg.Project + "/locations/" + cfg.Location}, nil
}

// Close releases the connection.
func (q *Queue) Close() error { return q.client.Close() }

// EnsureQueue creates the queue dispatching ratePerSecond tasks a second
// (1 to MaxRate), or, if it exists with another rate, updates the rate,
// and confirms with GetQueue that it exists: a name deleted less than
// about 3 days ago may appear to be created and is not. Such a name is
// sendqueue.ErrNameUnavailable. Call it once per launch, not per batch:
// Cloud Tasks has a small per-minute quota of queue creates and updates.
// The emulator cannot update a queue: there a changed rate is an
// errs.Permanent error and the old rate stays.
func (q *Queue) EnsureQueue(ctx context.Context, queueID string, ratePerSecond int) error {
	if ratePerSecond < 1 || ratePerSecond > MaxRate {
		return errs.E(errs.Invalid, "cloudtasks.EnsureQueue: rate %d is not between 1 and %d a second", ratePerSecond, MaxRate)
	}
	name, err := q.queueName(queueID)
	if err != nil {
		return err
	}
	want := &cloudtaskspb.Queue{
		Name:       name,
		RateLimits: q.rateLimits(ratePerSecond),
		RetryConfig: &cloudtaskspb.RetryConfig{
			MaxAttempts: maxAttempts,
			MinBackoff:  durationpb.New(minBackoff),
			MaxBackoff:  durationpb.New(cmp.Or(q.cfg.MaxBackoff, MaxBackoff)),
		},
	}
	_, err = q.client.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: q.parent, Queue: want})
	switch {
	case err == nil:
		return q.confirm(ctx, name)
	case status.Code(err) == codes.FailedPrecondition && strings.Contains(status.Convert(err).Message(), "recently"):
		// "The queue cannot be created because a queue with this name
		// existed too recently."
		return errs.Wrap(errs.Conflict, fmt.Errorf("%w: %v", sendqueue.ErrNameUnavailable, err), "cloudtasks.CreateQueue "+name)
	case status.Code(err) != codes.AlreadyExists:
		return q.classify(ctx, "CreateQueue "+name, err)
	}

	got, err := q.getQueue(ctx, name)
	if err != nil {
		return err
	}
	return q.updateRate(ctx, name, got, want.RateLimits)
}

// updateRate gives the queue got the rate limits want, if it has others:
// queue updates count against a small per-minute quota.
func (q *Queue) updateRate(ctx context.Context, name string, got *cloudtaskspb.Queue, want *cloudtaskspb.RateLimits) error {
	if got.GetRateLimits().GetMaxDispatchesPerSecond() == want.MaxDispatchesPerSecond &&
		got.GetRateLimits().GetMaxConcurrentDispatches() == want.MaxConcurrentDispatches {
		return nil
	}
	_, err := q.client.UpdateQueue(ctx, &cloudtaskspb.UpdateQueueRequest{
		Queue: &cloudtaskspb.Queue{Name: name, RateLimits: want},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{
			"rate_limits.max_dispatches_per_second",
			"rate_limits.max_concurrent_dispatches",
		}},
	})
	if err != nil {
		return q.classify(ctx, "UpdateQueue "+name, err)
	}
	return nil
}

// SetRate updates the queue's rate (UpdateQueue, when it differs); a
// queue not there is left so. With Config.NoSetRate (the emulator, which
// lacks UpdateQueue) it does nothing: there a queue keeps the rate it was
// created with.
func (q *Queue) SetRate(ctx context.Context, queueID string, ratePerSecond int) error {
	if ratePerSecond < 1 || ratePerSecond > MaxRate {
		return errs.E(errs.Invalid, "cloudtasks.SetRate: rate %d is not between 1 and %d a second", ratePerSecond, MaxRate)
	}
	name, err := q.queueName(queueID)
	if err != nil || q.cfg.NoSetRate {
		return err
	}
	got, err := q.client.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: name})
	if status.Code(err) == codes.NotFound {
		return nil
	}
	if err != nil {
		return q.classify(ctx, "GetQueue "+name, err)
	}
	return q.updateRate(ctx, name, got, q.rateLimits(ratePerSecond))
}

// confirmWaits space the reads that confirm a create: a new queue may take
// a moment to be readable, and giving up on its name too soon would leave
// it behind while the campaign moves on to the next name.
var confirmWaits = []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond}

// confirm reads a queue just created until it is there.
func (q *Queue) confirm(ctx context.Context, name string) error {
	var err error
	for _, wait := range confirmWaits {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return errs.Wrap(errs.Transient, ctx.Err(), "cloudtasks.GetQueue "+name)
		}
		if _, err = q.getQueue(ctx, name); !errors.Is(err, sendqueue.ErrNameUnavailable) {
			return err
		}
	}
	return err
}

// getQueue reads a queue just created or found existing: not found then
// means its name is in the tombstone window of a deleted queue.
func (q *Queue) getQueue(ctx context.Context, name string) (*cloudtaskspb.Queue, error) {
	got, err := q.client.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: name})
	if status.Code(err) == codes.NotFound {
		return nil, errs.Wrap(errs.Conflict, fmt.Errorf("%w: %v", sendqueue.ErrNameUnavailable, err), "cloudtasks.GetQueue "+name)
	}
	if err != nil {
		return nil, q.classify(ctx, "GetQueue "+name, err)
	}
	return got, nil
}

// DeleteQueue deletes the queue and every task in it. A queue not found
// (never made, or deleted already) counts as deleted.
func (q *Queue) DeleteQueue(ctx context.Context, queueID string) error {
	name, err := q.queueName(queueID)
	if err != nil {
		return err
	}
	err = q.client.DeleteQueue(ctx, &cloudtaskspb.DeleteQueueRequest{Name: name})
	if err == nil || status.Code(err) == codes.NotFound {
		return nil
	}
	return q.classify(ctx, "DeleteQueue "+name, err)
}

// PauseQueue stops the queue dispatching; its tasks wait for ResumeQueue.
func (q *Queue) PauseQueue(ctx context.Context, queueID string) error {
	return q.setPaused(ctx, queueID, true)
}

// ResumeQueue lets a paused queue dispatch again.
func (q *Queue) ResumeQueue(ctx context.Context, queueID string) error {
	return q.setPaused(ctx, queueID, false)
}

// setPaused pauses or resumes the queue; a queue not there is left so.
//
// The emulator (aertje v1.2.0) lacks UpdateQueue (see EnsureQueue) and
// has PauseQueue and ResumeQueue, but they break its queue: a pause leaves
// a stop signal behind that ends the workers a resume starts, after which
// a second pause or a DeleteQueue blocks for ever; and either call on a
// queue it does not hold dereferences nil and kills the emulator. So with
// Config.NoPause (set for the emulator) both do nothing, and a paused
// campaign's tasks reach the Sender, which holds their messages.
func (q *Queue) setPaused(ctx context.Context, queueID string, pause bool) error {
	name, err := q.queueName(queueID)
	if err != nil || q.cfg.NoPause {
		return err
	}
	op := "PauseQueue "
	if pause {
		_, err = q.client.PauseQueue(ctx, &cloudtaskspb.PauseQueueRequest{Name: name})
	} else {
		op = "ResumeQueue "
		_, err = q.client.ResumeQueue(ctx, &cloudtaskspb.ResumeQueueRequest{Name: name})
	}
	if err == nil || status.Code(err) == codes.NotFound {
		return nil
	}
	return q.classify(ctx, op+name, err)
}

// rateLimits holds a queue to rate.
func (q *Queue) rateLimits(rate int) *cloudtaskspb.RateLimits {
	r := &cloudtaskspb.RateLimits{
		MaxDispatchesPerSecond: float64(rate),
		// Room for each send to take up to two seconds at full rate.
		MaxConcurrentDispatches: int32(max(2*rate, 5)),
	}
	if q.cfg.Endpoint != "" {
		// The emulator's token bucket holds MaxBurstSize (default 100) and
		// starts full, so a new queue would send its first 100 tasks at
		// once. Cloud Tasks sizes the bucket from the rate itself (the field
		// is output only there), so it is not sent to it.
		r.MaxBurstSize = 1
	}
	return r
}

// Enqueue creates t's task: a POST of its sendqueue.Payload to the target,
// dispatched at t.At if set. A task of the same name already there, or
// there recently, is reported as created false. A queue not there is a
// transient misconfiguration (ProblemNotFound): it was ensured before any
// task was made.
func (q *Queue) Enqueue(ctx context.Context, t sendqueue.Task) (bool, error) {
	queue, err := q.queueName(t.Queue)
	if err != nil {
		return false, err
	}
	taskID := t.Name()
	if t.MessageID == "" || !taskIDRe.MatchString(taskID) {
		return false, errs.E(errs.Invalid, "cloudtasks.Enqueue: message id %q cannot name a task", t.MessageID)
	}
	body, err := json.Marshal(sendqueue.Payload{CampaignID: t.CampaignID, MessageID: t.MessageID})
	if err != nil {
		return false, errs.Wrap(errs.Invalid, err, "cloudtasks.Enqueue")
	}
	req := &cloudtaskspb.HttpRequest{
		Url:        q.cfg.TargetURL,
		HttpMethod: cloudtaskspb.HttpMethod_POST,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       body,
	}
	if q.cfg.ServiceAccount != "" {
		req.AuthorizationHeader = &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{
			ServiceAccountEmail: q.cfg.ServiceAccount,
			Audience:            q.cfg.Audience,
		}}
	}
	task := &cloudtaskspb.Task{
		Name:        queue + "/tasks/" + taskID,
		MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: req},
	}
	if !t.At.IsZero() {
		task.ScheduleTime = timestamppb.New(t.At)
	}
	_, err = q.client.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: task})
	switch {
	case err == nil:
		return true, nil
	case status.Code(err) == codes.AlreadyExists:
		return false, nil
	}
	return false, q.classify(ctx, "CreateTask "+task.Name, err)
}

// Ready lists at most one queue, a cheap call that needs the service up
// and the caller allowed, and fails with the misconfiguration seen in the
// last ProblemWindow, if any, so that /health says which.
func (q *Queue) Ready(ctx context.Context) error {
	it := q.client.ListQueues(ctx, &cloudtaskspb.ListQueuesRequest{Parent: q.parent, PageSize: 1})
	if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
		return q.classify(ctx, "ListQueues "+q.parent, err)
	}
	if p := q.LastProblem(); p != nil && q.now().Sub(p.At) < ProblemWindow {
		return errs.Wrap(errs.Transient, p, "cloudtasks.Ready")
	}
	return nil
}

func (q *Queue) queueName(queueID string) (string, error) {
	if !sendqueue.IsCampaignQueue(queueID) || !queueIDRe.MatchString(queueID) {
		return "", errs.E(errs.Invalid, "cloudtasks: %q cannot name a campaign queue", queueID)
	}
	return q.parent + "/queues/" + queueID, nil
}

func (q *Queue) now() time.Time {
	if q.cfg.Now != nil {
		return q.cfg.Now()
	}
	return time.Now()
}
