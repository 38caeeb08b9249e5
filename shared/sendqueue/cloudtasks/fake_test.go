package cloudtasks_test

import (
	"context"
	"net"
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
}

func (f *fakeTasks) CreateQueue(_ context.Context, req *cloudtaskspb.CreateQueueRequest) (*cloudtaskspb.Queue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
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

// newFake serves a fakeTasks and returns a Queue on it.
func newFake(t *testing.T) (*fakeTasks, *cloudtasks.Queue) {
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
	q := newQueue(t, cloudtasks.Config{Project: "p", Endpoint: l.Addr().String(), TargetURL: "http://127.0.0.1:9/"})
	return f, q
}

func TestEnsureQueueUpdate(t *testing.T) {
	t.Parallel()
	f, q := newFake(t)
	ctx := t.Context()
	name := "projects/p/locations/" + location + "/queues/campaign-c1"

	if err := q.EnsureQueue(ctx, "c1", 2); err != nil {
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
		if err := q.EnsureQueue(ctx, "c1", rate); err != nil {
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

func TestEnqueueErrorKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err         error // CreateTask's answer
		wantCreated bool
		wantErr     bool
		wantKind    errs.Kind
	}{
		{name: "created", err: nil, wantCreated: true},
		{name: "already_exists", err: status.Error(codes.AlreadyExists, "dup")},
		{name: "unavailable", err: status.Error(codes.Unavailable, "down"), wantErr: true, wantKind: errs.Transient},
		{name: "deadline_exceeded", err: status.Error(codes.DeadlineExceeded, "slow"), wantErr: true, wantKind: errs.Transient},
		{name: "resource_exhausted", err: status.Error(codes.ResourceExhausted, "quota"), wantErr: true, wantKind: errs.Transient},
		{name: "not_found", err: status.Error(codes.NotFound, "no queue"), wantErr: true, wantKind: errs.NotExist},
		{name: "recently_deleted_queue", err: status.Error(codes.FailedPrecondition, "queue deleted"), wantErr: true, wantKind: errs.Conflict},
		{name: "permission_denied", err: status.Error(codes.PermissionDenied, "no"), wantErr: true, wantKind: errs.Permission},
		{name: "invalid_argument", err: status.Error(codes.InvalidArgument, "schedule too far"), wantErr: true, wantKind: errs.Invalid},
		{name: "unknown", err: status.Error(codes.Unknown, "?"), wantErr: true, wantKind: errs.Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, q := newFake(t)
			f.mu.Lock()
			f.taskErr = tt.err
			f.mu.Unlock()
			created, err := q.Enqueue(t.Context(), sendqueue.Task{CampaignID: "c1", MessageID: "m1"})
			if created != tt.wantCreated {
				t.Errorf("created = %v, want %v", created, tt.wantCreated)
			}
			if (err != nil) != tt.wantErr || errs.KindOf(err) != tt.wantKind {
				t.Errorf("Enqueue = %v (kind %v), want error %v of kind %v", err, errs.KindOf(err), tt.wantErr, tt.wantKind)
			}
		})
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
