package cloudtasks_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/cloudtasks"
)

// fakeTasks is a Cloud Tasks server that keeps queues and records what it
// was asked, for what the emulator cannot do (UpdateQueue) or be made to
// do (fail).
type fakeTasks struct {
	cloudtaskspb.UnimplementedCloudTasksServer
	mu      sync.Mutex
	queues  map[string]*cloudtaskspb.Queue
	updates []*cloudtaskspb.UpdateQueueRequest
	taskErr error // CreateTask's answer
	// Answers of the other calls, when set; phantom: CreateQueue answers
	// success but keeps nothing, as Cloud Tasks may for a deleted name.
	createErr, deleteErr, listErr, pauseErr error
	phantom                                 bool
}

func (f *fakeTasks) CreateQueue(_ context.Context, req *cloudtaskspb.CreateQueueRequest) (*cloudtaskspb.Queue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return nil, f.createErr
	}
	if f.phantom {
		return req.GetQueue(), nil
	}
	name := req.GetQueue().GetName()
	if _, ok := f.queues[name]; ok {
		return nil, status.Error(codes.AlreadyExists, "queue exists")
	}
	f.queues[name] = proto.Clone(req.GetQueue()).(*cloudtaskspb.Queue)
	return req.GetQueue(), nil
}

func (f *fakeTasks) GetQueue(_ context.Context, req *cloudtaskspb.GetQueueRequest) (*cloudtaskspb.Queue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q, ok := f.queues[req.GetName()]
	if !ok {
		return nil, status.Error(codes.NotFound, "no queue")
	}
	return q, nil
}

func (f *fakeTasks) UpdateQueue(_ context.Context, req *cloudtaskspb.UpdateQueueRequest) (*cloudtaskspb.Queue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, req)
	q := f.queues[req.GetQueue().GetName()]
	q.RateLimits.MaxDispatchesPerSecond = req.GetQueue().GetRateLimits().GetMaxDispatchesPerSecond()
	q.RateLimits.MaxConcurrentDispatches = req.GetQueue().GetRateLimits().GetMaxConcurrentDispatches()
	return q, nil
}

func (f *fakeTasks) CreateTask(context.Context, *cloudtaskspb.CreateTaskRequest) (*cloudtaskspb.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &cloudtaskspb.Task{}, f.taskErr
}

func (f *fakeTasks) DeleteQueue(_ context.Context, req *cloudtaskspb.DeleteQueueRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	if _, ok := f.queues[req.GetName()]; !ok {
		return nil, status.Error(codes.NotFound, "no queue")
	}
	delete(f.queues, req.GetName())
	return &emptypb.Empty{}, nil
}

func (f *fakeTasks) PauseQueue(_ context.Context, req *cloudtaskspb.PauseQueueRequest) (*cloudtaskspb.Queue, error) {
	return f.setState(req.GetName(), cloudtaskspb.Queue_PAUSED)
}

func (f *fakeTasks) ResumeQueue(_ context.Context, req *cloudtaskspb.ResumeQueueRequest) (*cloudtaskspb.Queue, error) {
	return f.setState(req.GetName(), cloudtaskspb.Queue_RUNNING)
}

func (f *fakeTasks) setState(name string, st cloudtaskspb.Queue_State) (*cloudtaskspb.Queue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pauseErr != nil {
		return nil, f.pauseErr
	}
	q, ok := f.queues[name]
	if !ok {
		return nil, status.Error(codes.NotFound, "Requested entity was not found.")
	}
	q.State = st
	return q, nil
}

func (f *fakeTasks) ListQueues(context.Context, *cloudtaskspb.ListQueuesRequest) (*cloudtaskspb.ListQueuesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &cloudtaskspb.ListQueuesResponse{}, f.listErr
}

// set changes the fake's answers under its lock.
func (f *fakeTasks) set(change func(*fakeTasks)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// newFake serves a fakeTasks and returns a Queue on it.
func newFake(t *testing.T) (*fakeTasks, *cloudtasks.Queue) {
	t.Helper()
	return newFakeWith(t, cloudtasks.Config{})
}

// newFakeWith is newFake with cfg's ServiceAccount and Now.
func newFakeWith(t *testing.T, cfg cloudtasks.Config) (*fakeTasks, *cloudtasks.Queue) {
	t.Helper()
	f := &fakeTasks{queues: make(map[string]*cloudtaskspb.Queue)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := grpc.NewServer()
	cloudtaskspb.RegisterCloudTasksServer(s, f)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	cfg.Project, cfg.Endpoint, cfg.TargetURL = "p", l.Addr().String(), "http://127.0.0.1:9/"
	q := newQueue(t, cfg)
	return f, q
}

func TestEnsureQueueUpdate(t *testing.T) {
	t.Parallel()
	f, q := newFake(t)
	ctx := t.Context()
	name := "projects/p/locations/" + location + "/queues/campaign-c1"

	if err := q.EnsureQueue(ctx, "campaign-c1", 2); err != nil {
		t.Fatalf("EnsureQueue(2): %v", err)
	}
	wantQueue := &cloudtaskspb.Queue{
		Name:       name,
		RateLimits: &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: 2, MaxBurstSize: 1, MaxConcurrentDispatches: 5},
		RetryConfig: &cloudtaskspb.RetryConfig{
			MaxAttempts: 1000,
			MinBackoff:  durationpb.New(time.Second),
			MaxBackoff:  durationpb.New(5 * time.Minute),
		},
	}
	f.mu.Lock()
	created := proto.Clone(f.queues[name])
	f.mu.Unlock()
	if diff := cmp.Diff(wantQueue, created, protocmp.Transform()); diff != "" {
		t.Errorf("created queue (-want, +got):\n%s", diff)
	}

	// The same rate changes nothing; another rate updates only the rate limits.
	for _, rate := range []int{2, 40, 40} {
		if err := q.EnsureQueue(ctx, "campaign-c1", rate); err != nil {
			t.Fatalf("EnsureQueue(%d): %v", rate, err)
		}
	}
	wantUpdates := []*cloudtaskspb.UpdateQueueRequest{{
		Queue: &cloudtaskspb.Queue{
			Name:       name,
			RateLimits: &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: 40, MaxBurstSize: 1, MaxConcurrentDispatches: 80},
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"rate_limits.max_dispatches_per_second", "rate_limits.max_concurrent_dispatches"}},
	}}
	f.mu.Lock()
	defer f.mu.Unlock()
	if diff := cmp.Diff(wantUpdates, f.updates, protocmp.Transform()); diff != "" {
		t.Errorf("updates (-want, +got):\n%s", diff)
	}
	for _, p := range f.updates[0].GetUpdateMask().GetPaths() {
		if _, err := fieldmaskpb.New(&cloudtaskspb.Queue{}, p); err != nil {
			t.Errorf("mask path %q: %v", p, err)
		}
	}
}

// TestEnqueueErrorKinds is the classification table: what each answer of
// Cloud Tasks makes of a task, and which are misconfigurations (retried,
// reported by LastProblem), never acked as if done.
func TestEnqueueErrorKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err         error // CreateTask's answer
		wantCreated bool
		wantErr     bool
		wantKind    errs.Kind
		wantProblem cloudtasks.ProblemKind
	}{
		{name: "created", err: nil, wantCreated: true},
		{name: "already_exists", err: status.Error(codes.AlreadyExists, "dup")},
		{name: "unavailable", err: status.Error(codes.Unavailable, "down"), wantErr: true, wantKind: errs.Transient},
		{name: "deadline_exceeded", err: status.Error(codes.DeadlineExceeded, "slow"), wantErr: true, wantKind: errs.Transient},
		{name: "resource_exhausted", err: status.Error(codes.ResourceExhausted, "quota"), wantErr: true, wantKind: errs.Transient},
		{name: "queue_not_found", err: status.Error(codes.NotFound, "Queue does not exist."), wantErr: true, wantKind: errs.Transient, wantProblem: cloudtasks.ProblemNotFound},
		{name: "recently_deleted_queue", err: status.Error(codes.FailedPrecondition, "The queue no longer exists, though a queue with this name existed recently."), wantErr: true, wantKind: errs.Transient, wantProblem: cloudtasks.ProblemPrecondition},
		{name: "permission_denied", err: status.Error(codes.PermissionDenied, `The principal lacks IAM permission "cloudtasks.tasks.create"`), wantErr: true, wantKind: errs.Transient, wantProblem: cloudtasks.ProblemPermission},
		{name: "missing_act_as", err: status.Error(codes.PermissionDenied, `The principal (user or service account) lacks IAM permission "iam.serviceAccounts.actAs" for the resource "tasks@p.iam.gserviceaccount.com"`), wantErr: true, wantKind: errs.Transient, wantProblem: cloudtasks.ProblemActAs},
		{name: "unauthenticated", err: status.Error(codes.Unauthenticated, "bad token"), wantErr: true, wantKind: errs.Transient, wantProblem: cloudtasks.ProblemUnauthenticated},
		{name: "invalid_argument", err: status.Error(codes.InvalidArgument, "schedule too far"), wantErr: true, wantKind: errs.Invalid},
		{name: "unknown", err: status.Error(codes.Unknown, "?"), wantErr: true, wantKind: errs.Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, q := newFakeWith(t, cloudtasks.Config{ServiceAccount: "tasks@p.iam.gserviceaccount.com"})
			f.set(func(f *fakeTasks) { f.taskErr = tt.err })
			created, err := q.Enqueue(t.Context(), sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "m1"})
			if created != tt.wantCreated {
				t.Errorf("created = %v, want %v", created, tt.wantCreated)
			}
			if (err != nil) != tt.wantErr || errs.KindOf(err) != tt.wantKind {
				t.Errorf("Enqueue = %v (kind %v), want error %v of kind %v", err, errs.KindOf(err), tt.wantErr, tt.wantKind)
			}
			var gotProblem cloudtasks.ProblemKind
			if p := q.LastProblem(); p != nil {
				gotProblem = p.Kind
				if !strings.Contains(p.Op, "CreateTask projects/p/locations/"+location+"/queues/campaign-c1/tasks/m1-send") || p.Hint == "" {
					t.Errorf("problem %+v, want the task named and a hint", p)
				}
			}
			if gotProblem != tt.wantProblem {
				t.Errorf("LastProblem kind %q, want %q", gotProblem, tt.wantProblem)
			}
			var p *cloudtasks.Problem
			if errors.As(err, &p) != (tt.wantProblem != "") {
				t.Errorf("Enqueue = %v: holds a Problem %v, want %v", err, p != nil, tt.wantProblem != "")
			}
		})
	}
}

func TestProblemHints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err      error
		wantKind cloudtasks.ProblemKind
		wantHint string // a part of it
	}{
		{status.Error(codes.PermissionDenied, "no"), cloudtasks.ProblemPermission, "roles/cloudtasks.enqueuer"},
		{status.Error(codes.PermissionDenied, `lacks IAM permission "iam.serviceAccounts.actAs"`), cloudtasks.ProblemActAs, `roles/iam.serviceAccountUser on TASKS_SERVICE_ACCOUNT "tasks@p.iam.gserviceaccount.com"`},
		{status.Error(codes.NotFound, "Location not found"), cloudtasks.ProblemNotFound, `TASKS_LOCATION "` + location + `"`},
		{status.Error(codes.FailedPrecondition, "API not enabled"), cloudtasks.ProblemPrecondition, "Cloud Tasks API is enabled"},
	}
	for _, tt := range tests {
		t.Run(string(tt.wantKind), func(t *testing.T) {
			t.Parallel()
			f, q := newFakeWith(t, cloudtasks.Config{ServiceAccount: "tasks@p.iam.gserviceaccount.com"})
			f.set(func(f *fakeTasks) { f.listErr = tt.err })
			err := q.Ready(t.Context())
			var p *cloudtasks.Problem
			if !errs.Is(err, errs.Transient) || !errors.As(err, &p) {
				t.Fatalf("Ready = %v, want a transient Problem", err)
			}
			if p.Kind != tt.wantKind || !strings.Contains(p.Hint, tt.wantHint) || !strings.Contains(err.Error(), string(tt.wantKind)) {
				t.Errorf("Ready = %v, want kind %s with a hint holding %q", err, tt.wantKind, tt.wantHint)
			}
		})
	}
}

// Ready reports a misconfiguration met by any call for ProblemWindow,
// though ListQueues itself is allowed.
func TestReadyReportsRecentProblem(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	f, q := newFakeWith(t, cloudtasks.Config{Now: clock})
	ctx := t.Context()

	if err := q.Ready(ctx); err != nil || q.LastProblem() != nil {
		t.Fatalf("Ready = %v, LastProblem = %v before any problem; want nil, nil", err, q.LastProblem())
	}
	f.set(func(f *fakeTasks) {
		f.taskErr = status.Error(codes.PermissionDenied, `lacks IAM permission "iam.serviceAccounts.actAs"`)
	})
	if _, err := q.Enqueue(ctx, sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "m1"}); !errs.Is(err, errs.Transient) {
		t.Fatalf("Enqueue = %v, want a transient error", err)
	}
	f.set(func(f *fakeTasks) { f.taskErr = nil })
	advance(cloudtasks.ProblemWindow - time.Second)
	err := q.Ready(ctx)
	if !errs.Is(err, errs.Transient) || !strings.Contains(err.Error(), "act_as") {
		t.Errorf("Ready %v after the problem = %v, want a transient error naming act_as", cloudtasks.ProblemWindow-time.Second, err)
	}
	if p := q.LastProblem(); p == nil || p.Kind != cloudtasks.ProblemActAs || !p.At.Equal(now.Add(-(cloudtasks.ProblemWindow - time.Second))) {
		t.Errorf("LastProblem = %+v, want act_as seen at the Enqueue", p)
	}
	advance(time.Second)
	if err := q.Ready(ctx); err != nil {
		t.Errorf("Ready %v after the problem = %v, want nil", cloudtasks.ProblemWindow, err)
	}
}

// A misconfiguration is handed to the reporter as often as it is logged:
// once a minute per kind, however many tasks meet it.
func TestReportProblems_once_a_minute_per_kind(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f, q := newFakeWith(t, cloudtasks.Config{Now: clock})
	var reported []cloudtasks.ProblemKind
	q.ReportProblems(func(_ context.Context, p *cloudtasks.Problem) { reported = append(reported, p.Kind) })
	enqueue := func() {
		_, _ = q.Enqueue(t.Context(), sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "m1"})
	}
	f.set(func(f *fakeTasks) { f.taskErr = status.Error(codes.PermissionDenied, "denied") })
	for range 5 {
		enqueue()
	}
	f.set(func(f *fakeTasks) {
		f.taskErr = status.Error(codes.PermissionDenied, `lacks "iam.serviceAccounts.actAs"`)
	})
	enqueue()
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	enqueue()
	want := []cloudtasks.ProblemKind{cloudtasks.ProblemPermission, cloudtasks.ProblemActAs, cloudtasks.ProblemActAs}
	if diff := cmp.Diff(want, reported); diff != "" {
		t.Errorf("reported (-want, +got):\n%s", diff)
	}
}

func TestEnsureQueueErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		change        func(*fakeTasks)
		wantKind      errs.Kind
		wantNameTaken bool
		wantProblem   cloudtasks.ProblemKind
	}{
		{
			name: "name_deleted_recently",
			change: func(f *fakeTasks) {
				f.createErr = status.Error(codes.FailedPrecondition, "The queue cannot be created because a queue with this name existed too recently.")
			},
			wantKind:      errs.Conflict,
			wantNameTaken: true,
		},
		{
			// Created, says Cloud Tasks; GetQueue says otherwise.
			name:          "create_appears_to_succeed",
			change:        func(f *fakeTasks) { f.phantom = true },
			wantKind:      errs.Conflict,
			wantNameTaken: true,
		},
		{
			name:        "permission_denied",
			change:      func(f *fakeTasks) { f.createErr = status.Error(codes.PermissionDenied, "no") },
			wantKind:    errs.Transient,
			wantProblem: cloudtasks.ProblemPermission,
		},
		{
			name:        "unknown_location",
			change:      func(f *fakeTasks) { f.createErr = status.Error(codes.NotFound, "location") },
			wantKind:    errs.Transient,
			wantProblem: cloudtasks.ProblemNotFound,
		},
		{
			name:        "other_precondition",
			change:      func(f *fakeTasks) { f.createErr = status.Error(codes.FailedPrecondition, "API disabled") },
			wantKind:    errs.Transient,
			wantProblem: cloudtasks.ProblemPrecondition,
		},
		{
			name:     "invalid",
			change:   func(f *fakeTasks) { f.createErr = status.Error(codes.InvalidArgument, "bad name") },
			wantKind: errs.Invalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, q := newFake(t)
			f.set(tt.change)
			err := q.EnsureQueue(t.Context(), "campaign-c1", 2)
			if errs.KindOf(err) != tt.wantKind || errors.Is(err, sendqueue.ErrNameUnavailable) != tt.wantNameTaken {
				t.Errorf("EnsureQueue = %v (kind %v), want kind %v, name unavailable %v", err, errs.KindOf(err), tt.wantKind, tt.wantNameTaken)
			}
			var got cloudtasks.ProblemKind
			if p := q.LastProblem(); p != nil {
				got = p.Kind
			}
			if got != tt.wantProblem {
				t.Errorf("LastProblem kind %q, want %q", got, tt.wantProblem)
			}
		})
	}
}

func TestDeleteQueue(t *testing.T) {
	t.Parallel()
	f, q := newFake(t)
	ctx := t.Context()
	if err := q.EnsureQueue(ctx, "campaign-c1", 2); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	for i := range 2 { // the second finds nothing: deleted all the same
		if err := q.DeleteQueue(ctx, "campaign-c1"); err != nil {
			t.Errorf("DeleteQueue %d = %v, want nil", i, err)
		}
	}
	f.set(func(f *fakeTasks) { f.deleteErr = status.Error(codes.PermissionDenied, "no") })
	err := q.DeleteQueue(ctx, "campaign-c1")
	if p := q.LastProblem(); !errs.Is(err, errs.Transient) || p == nil || p.Kind != cloudtasks.ProblemPermission {
		t.Errorf("DeleteQueue refused = %v, problem %+v; want transient, permission_denied", err, p)
	}
}

func TestReadyUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	q := newQueue(t, cloudtasks.Config{Project: "p", Endpoint: addr, TargetURL: "http://127.0.0.1:9/"})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := q.Ready(ctx); !errs.Is(err, errs.Transient) {
		t.Errorf("Ready = %v (kind %v), want a transient error", err, errs.KindOf(err))
	}
}

// On Cloud Tasks itself (the fake: the emulator's pausing is broken, see
// setPaused) a pause and a resume reach the service; a queue not there
// is left so, and a refusal is classified like any other.
func TestPauseAndResumeQueue(t *testing.T) {
	t.Parallel()
	f, q := newFake(t)
	ctx := t.Context()
	name := "projects/p/locations/" + location + "/queues/campaign-c1"
	if err := q.EnsureQueue(ctx, "campaign-c1", 2); err != nil {
		t.Fatal(err)
	}
	state := func() cloudtaskspb.Queue_State {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.queues[name].GetState()
	}
	var got []cloudtaskspb.Queue_State
	for _, op := range []func(context.Context, string) error{q.PauseQueue, q.PauseQueue, q.ResumeQueue} {
		if err := op(ctx, "campaign-c1"); err != nil {
			t.Fatalf("pause or resume: %v", err)
		}
		got = append(got, state())
	}
	want := []cloudtaskspb.Queue_State{cloudtaskspb.Queue_PAUSED, cloudtaskspb.Queue_PAUSED, cloudtaskspb.Queue_RUNNING}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queue states (-want, +got):\n%s", diff)
	}
	if err := q.PauseQueue(ctx, "campaign-gone"); err != nil {
		t.Errorf("PauseQueue of a queue not there: %v, want nil", err)
	}
	f.set(func(f *fakeTasks) { f.pauseErr = status.Error(codes.PermissionDenied, "no") })
	if err := q.ResumeQueue(ctx, "campaign-c1"); !errs.Is(err, errs.Transient) {
		t.Errorf("ResumeQueue refused: %v, want Transient (a misconfiguration to fix, then retry)", err)
	}
}

// On Cloud Tasks itself (the fake: the emulator lacks UpdateQueue)
// SetRate updates only the rate limits, and only when they differ; a
// queue not there is left so; NoSetRate changes nothing.
func TestSetRate(t *testing.T) {
	t.Parallel()
	f, q := newFake(t)
	ctx := t.Context()
	name := "projects/p/locations/" + location + "/queues/campaign-c1"
	if err := q.EnsureQueue(ctx, "campaign-c1", 40); err != nil {
		t.Fatal(err)
	}
	for _, rate := range []int{40, 10, 10} {
		if err := q.SetRate(ctx, "campaign-c1", rate); err != nil {
			t.Fatalf("SetRate(%d): %v", rate, err)
		}
	}
	if err := q.SetRate(ctx, "campaign-gone", 10); err != nil {
		t.Errorf("SetRate of a queue not there: %v, want nil", err)
	}
	want := []*cloudtaskspb.UpdateQueueRequest{{
		Queue: &cloudtaskspb.Queue{
			Name:       name,
			RateLimits: &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: 10, MaxBurstSize: 1, MaxConcurrentDispatches: 20},
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"rate_limits.max_dispatches_per_second", "rate_limits.max_concurrent_dispatches"}},
	}}
	f.mu.Lock()
	got := f.updates
	f.mu.Unlock()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("updates (-want, +got):\n%s", diff)
	}

	f2, fixed := newFakeWith(t, cloudtasks.Config{NoSetRate: true})
	if err := fixed.EnsureQueue(ctx, "campaign-c1", 40); err != nil {
		t.Fatal(err)
	}
	if err := fixed.SetRate(ctx, "campaign-c1", 10); err != nil {
		t.Errorf("SetRate with NoSetRate: %v, want nil", err)
	}
	f2.mu.Lock()
	defer f2.mu.Unlock()
	if len(f2.updates) != 0 {
		t.Errorf("NoSetRate: %d updates, want none", len(f2.updates))
	}
}
