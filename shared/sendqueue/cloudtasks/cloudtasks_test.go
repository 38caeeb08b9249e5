package cloudtasks_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ctasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/cloudtasks"
	"github.com/eventstreamengine/ese/shared/sendqueue/queuetest"
)

const location = "europe-west1"

// request is one dispatch as the target saw it.
type request struct {
	at     time.Time
	method string
	header http.Header
	body   string
}

// target is the Sender stand-in: it records each dispatch and answers
// with the status fail returns for it (200 when fail is nil).
type target struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
	got  chan struct{} // a tick per dispatch
}

func newTarget(t *testing.T, fail func(n int) int) *target {
	t.Helper()
	tg := &target{got: make(chan struct{}, 100)}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.reqs = append(tg.reqs, request{at: time.Now(), method: r.Method, header: r.Header.Clone(), body: string(b)})
		n := len(tg.reqs)
		tg.mu.Unlock()
		code := http.StatusOK
		if fail != nil {
			code = fail(n)
		}
		w.WriteHeader(code)
		tg.got <- struct{}{}
	}))
	t.Cleanup(tg.Close)
	return tg
}

// wait returns the first n dispatches, failing t after timeout.
func (tg *target) wait(t *testing.T, n int, timeout time.Duration) []request {
	t.Helper()
	deadline := time.After(timeout)
	for i := 0; i < n; i++ {
		select {
		case <-tg.got:
		case <-deadline:
			t.Fatalf("got %d of %d dispatches in %v", i, n, timeout)
		}
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]request(nil), tg.reqs[:n]...)
}

func newQueue(t *testing.T, cfg cloudtasks.Config) *cloudtasks.Queue {
	t.Helper()
	if cfg.Endpoint == "" {
		cfg.Endpoint = emulatortest.CloudTasks(t)
	}
	if cfg.Project == "" {
		cfg.Project = emulatortest.ProjectID(t)
	}
	cfg.Location = location
	q, err := cloudtasks.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("cloudtasks.New: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// adminClient is a raw client on the emulator, to look at queues and tasks.
func adminClient(t *testing.T) *ctasks.Client {
	t.Helper()
	c, err := ctasks.NewClient(context.Background(),
		option.WithEndpoint(emulatortest.CloudTasks(t)),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatalf("cloudtasks.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type harness struct {
	q       *cloudtasks.Queue
	admin   *ctasks.Client
	project string
}

func (h *harness) Queue() sendqueue.Queue { return h.q }

func (h *harness) queueName(queueID string) string {
	return "projects/" + h.project + "/locations/" + location + "/queues/" + queueID
}

func (h *harness) Rate(t *testing.T, queueID string) int {
	t.Helper()
	q, err := h.admin.GetQueue(t.Context(), &cloudtaskspb.GetQueueRequest{Name: h.queueName(queueID)})
	if err != nil {
		t.Fatalf("GetQueue: %v", err)
	}
	return int(q.GetRateLimits().GetMaxDispatchesPerSecond())
}

// Paused reads the queue's state; the emulator's queues are never paused
// (NoPause, as setup configures them), so a pause is not known there.
func (h *harness) Paused(t *testing.T, queueID string) (bool, bool) {
	t.Helper()
	q, err := h.admin.GetQueue(t.Context(), &cloudtaskspb.GetQueueRequest{Name: h.queueName(queueID)})
	if err != nil {
		t.Fatalf("GetQueue: %v", err)
	}
	return q.GetState() == cloudtaskspb.Queue_PAUSED, false
}

// SetsRates: the emulator lacks UpdateQueue (NoSetRate, as setup
// configures it); TestSetRate covers the update on a fake server.
func (h *harness) SetsRates() bool { return false }

func (h *harness) Pending(t *testing.T, queueID string) []sendqueue.Task {
	t.Helper()
	var out []sendqueue.Task
	it := h.admin.ListTasks(t.Context(), &cloudtaskspb.ListTasksRequest{Parent: h.queueName(queueID), ResponseView: cloudtaskspb.Task_FULL})
	for {
		task, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatalf("ListTasks: %v", err)
		}
		var p sendqueue.Payload
		if err := json.Unmarshal(task.GetHttpRequest().GetBody(), &p); err != nil {
			t.Fatalf("task %s body: %v", task.GetName(), err)
		}
		id := task.GetName()[strings.LastIndex(task.GetName(), "/")+1:]
		out = append(out, sendqueue.Task{
			Queue:      queueID,
			CampaignID: p.CampaignID,
			MessageID:  strings.TrimSuffix(id, "-send"),
			At:         task.GetScheduleTime().AsTime(),
		})
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T) queuetest.Harness {
		project := emulatortest.ProjectID(t)
		tg := newTarget(t, nil)
		return &harness{
			q:       newQueue(t, cloudtasks.Config{Project: project, TargetURL: tg.URL + "/tasks/send", NoPause: true, NoSetRate: true}),
			admin:   adminClient(t),
			project: project,
		}
	})
}

func enqueue(t *testing.T, q *cloudtasks.Queue, task sendqueue.Task) {
	t.Helper()
	created, err := q.Enqueue(t.Context(), task)
	if err != nil || !created {
		t.Fatalf("Enqueue(%+v) = %v, %v; want true, nil", task, created, err)
	}
}

// A rate-2 queue sends its first task at once and then one every half
// second, not a burst. On the emulator a queue left idle sends up to three
// at once first: one token held by its dispatcher, one in its one-token
// bucket (MaxBurstSize 1), one held by its blocked refill; with the default
// bucket of 100 it would be 102.
func TestPacing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		idle      time.Duration // between EnsureQueue and the first Enqueue
		maxAtOnce int
	}{
		// The emulator's token generator can hold one token while the
		// bucket is full, so a loaded machine may see two at once even
		// on a fresh queue; the default burst of 100 would send all six.
		{name: "fresh_queue", idle: 0, maxAtOnce: 2},
		{name: "idle_queue", idle: 1500 * time.Millisecond, maxAtOnce: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, nil)
			q := newQueue(t, cloudtasks.Config{TargetURL: tg.URL})
			if err := q.EnsureQueue(t.Context(), "campaign-paced", 2); err != nil {
				t.Fatalf("EnsureQueue: %v", err)
			}
			time.Sleep(tt.idle)
			const n = 6
			start := time.Now()
			for i := range n {
				enqueue(t, q, sendqueue.Task{Queue: "campaign-paced", CampaignID: "paced", MessageID: "m" + strconv.Itoa(i)})
			}
			reqs := tg.wait(t, n, 20*time.Second)

			var gaps []time.Duration
			for i := 1; i < n; i++ {
				gaps = append(gaps, reqs[i].at.Sub(reqs[i-1].at).Round(time.Millisecond))
			}
			first, span := reqs[0].at.Sub(start), reqs[n-1].at.Sub(reqs[0].at)
			t.Logf("first after %v; gaps %v; span %v", first.Round(time.Millisecond), gaps, span.Round(time.Millisecond))
			if first > time.Second {
				t.Errorf("first task dispatched after %v, want at once", first)
			}
			// The first maxAtOnce may go together; every later one waits its turn.
			for i, g := range gaps[tt.maxAtOnce-1:] {
				if g < 300*time.Millisecond {
					t.Errorf("gap before dispatch %d is %v, want about 500ms", i+tt.maxAtOnce+1, g)
				}
			}
			if want := time.Duration(n-tt.maxAtOnce) * 400 * time.Millisecond; span < want {
				t.Errorf("%d tasks took %v, want at least %v at 2 a second", n, span, want)
			}
		})
	}
}

// What the Sender gets: a JSON POST of the payload, with Cloud Tasks'
// headers naming the task and counting retries; a failed dispatch is
// retried after MinBackoff (1 s).
func TestDispatchRequest(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	q := newQueue(t, cloudtasks.Config{TargetURL: tg.URL + "/tasks/send"})
	if err := q.EnsureQueue(t.Context(), "campaign-c1", 5); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	enqueue(t, q, sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "c1-0a1b"})
	reqs := tg.wait(t, 2, 20*time.Second)

	type seen struct {
		Method, ContentType, UserAgent, Queue, Task, Retry string
		Payload                                            sendqueue.Payload
	}
	var got []seen
	for _, r := range reqs {
		var p sendqueue.Payload
		if err := json.Unmarshal([]byte(r.body), &p); err != nil {
			t.Fatalf("body %q: %v", r.body, err)
		}
		got = append(got, seen{
			Method:      r.method,
			ContentType: r.header.Get("Content-Type"),
			UserAgent:   r.header.Get("User-Agent"),
			Queue:       r.header.Get("X-CloudTasks-QueueName"),
			Task:        r.header.Get("X-CloudTasks-TaskName"),
			Retry:       r.header.Get("X-CloudTasks-TaskRetryCount"),
			Payload:     p,
		})
	}
	want := []seen{
		{"POST", "application/json", "Google-Cloud-Tasks", "campaign-c1", "c1-0a1b-send", "0", sendqueue.Payload{CampaignID: "c1", MessageID: "c1-0a1b"}},
		{"POST", "application/json", "Google-Cloud-Tasks", "campaign-c1", "c1-0a1b-send", "1", sendqueue.Payload{CampaignID: "c1", MessageID: "c1-0a1b"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dispatches (-want, +got):\n%s", diff)
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 900*time.Millisecond {
		t.Errorf("retry after %v, want the 1 s minimum backoff", gap)
	}
	if r := reqs[0].header.Get("Authorization"); r != "" {
		t.Errorf("Authorization = %q without a service account, want none", r)
	}
}

// A queue is made with the MaxBackoff asked for (locally 10 s, so that a
// task retried many times still comes back within a test's patience:
// the emulator caps its doubling backoff with it), and with MaxBackoff
// when none is.
func TestMaxBackoff(t *testing.T) {
	t.Parallel()
	h := &harness{admin: adminClient(t), project: emulatortest.ProjectID(t)}
	for _, tt := range []struct {
		queue string
		given time.Duration
		want  time.Duration
	}{
		{"campaign-b1", 2 * time.Second, 2 * time.Second},
		{"campaign-b2", 0, cloudtasks.MaxBackoff},
	} {
		q := newQueue(t, cloudtasks.Config{Project: h.project, TargetURL: "http://127.0.0.1:9/tasks/send", MaxBackoff: tt.given})
		if err := q.EnsureQueue(t.Context(), tt.queue, 5); err != nil {
			t.Fatalf("EnsureQueue: %v", err)
		}
		got, err := h.admin.GetQueue(t.Context(), &cloudtaskspb.GetQueueRequest{Name: h.queueName(tt.queue)})
		if err != nil {
			t.Fatalf("GetQueue: %v", err)
		}
		if b := got.GetRetryConfig().GetMaxBackoff().AsDuration(); b != tt.want {
			t.Errorf("queue made with MaxBackoff %v: its max backoff is %v, want %v", tt.given, b, tt.want)
		}
	}
}

func TestOIDCToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		audience string
		wantAud  func(targetURL string) string
	}{
		{name: "default_audience_is_target", wantAud: func(u string) string { return u }},
		{name: "explicit_audience", audience: "https://sender.example", wantAud: func(string) string { return "https://sender.example" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, nil)
			url := tg.URL + "/tasks/send"
			q := newQueue(t, cloudtasks.Config{TargetURL: url, ServiceAccount: "tasks@p.iam.gserviceaccount.com", Audience: tt.audience})
			if err := q.EnsureQueue(t.Context(), "campaign-c1", 5); err != nil {
				t.Fatalf("EnsureQueue: %v", err)
			}
			enqueue(t, q, sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "m1"})
			r := tg.wait(t, 1, 20*time.Second)[0]

			token, ok := strings.CutPrefix(r.header.Get("Authorization"), "Bearer ")
			parts := strings.Split(token, ".")
			if !ok || len(parts) != 3 {
				t.Fatalf("Authorization = %q, want a bearer JWT", r.header.Get("Authorization"))
			}
			raw, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatalf("JWT claims: %v", err)
			}
			var claims struct {
				Email string `json:"email"`
				Aud   string `json:"aud"`
			}
			if err := json.Unmarshal(raw, &claims); err != nil {
				t.Fatalf("JWT claims %s: %v", raw, err)
			}
			if claims.Email != "tasks@p.iam.gserviceaccount.com" || claims.Aud != tt.wantAud(url) {
				t.Errorf("claims = %+v, want email tasks@p.iam.gserviceaccount.com, aud %s", claims, tt.wantAud(url))
			}
		})
	}
}

func TestScheduleTime(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, nil)
	q := newQueue(t, cloudtasks.Config{TargetURL: tg.URL})
	if err := q.EnsureQueue(t.Context(), "campaign-c1", 10); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	at := time.Now().Add(1500 * time.Millisecond)
	enqueue(t, q, sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "later", At: at})
	enqueue(t, q, sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "now"})
	reqs := tg.wait(t, 2, 20*time.Second)

	if !strings.Contains(reqs[0].body, `"now"`) {
		t.Errorf("first dispatch %s, want the unscheduled task", reqs[0].body)
	}
	if early := at.Sub(reqs[1].at); early > 50*time.Millisecond {
		t.Errorf("scheduled task dispatched %v early", early)
	}
	if late := reqs[1].at.Sub(at); late > 2*time.Second {
		t.Errorf("scheduled task dispatched %v late", late)
	}
}

// The emulator keeps a task's name for as long as it runs: queuing a
// message again after its task ran makes nothing. (Cloud Tasks keeps it
// about an hour.)
func TestDedupeAfterDispatch(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, nil)
	q := newQueue(t, cloudtasks.Config{TargetURL: tg.URL})
	if err := q.EnsureQueue(t.Context(), "campaign-c1", 10); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	task := sendqueue.Task{Queue: "campaign-c1", CampaignID: "c1", MessageID: "m1"}
	enqueue(t, q, task)
	tg.wait(t, 1, 20*time.Second)
	time.Sleep(100 * time.Millisecond) // let the emulator mark it done

	created, err := q.Enqueue(t.Context(), task)
	if created || err != nil {
		t.Errorf("Enqueue after dispatch = %v, %v; want false, nil", created, err)
	}
	select {
	case <-tg.got:
		t.Error("the task ran twice")
	case <-time.After(500 * time.Millisecond):
	}
}

// The emulator does not implement UpdateQueue: a changed rate fails as
// permanent and leaves the queue as it was. TestEnsureQueueUpdate covers
// the update on a fake server.
func TestEnsureQueueRateChangeOnEmulator(t *testing.T) {
	t.Parallel()
	project := emulatortest.ProjectID(t)
	h := &harness{q: newQueue(t, cloudtasks.Config{Project: project, TargetURL: "http://127.0.0.1:9/"}), admin: adminClient(t), project: project}
	ctx := t.Context()
	if err := h.q.EnsureQueue(ctx, "campaign-c1", 2); err != nil {
		t.Fatalf("EnsureQueue(2): %v", err)
	}
	if err := h.q.EnsureQueue(ctx, "campaign-c1", 2); err != nil {
		t.Errorf("EnsureQueue(2) again: %v", err)
	}
	if err := h.q.EnsureQueue(ctx, "campaign-c1", 3); !errs.Is(err, errs.Permanent) {
		t.Errorf("EnsureQueue(3) = %v, want a permanent error (UpdateQueue unimplemented)", err)
	}
	if got := h.Rate(t, "campaign-c1"); got != 2 {
		t.Errorf("rate = %d, want 2", got)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	ok := cloudtasks.Config{Project: "p", Location: "l", Endpoint: "127.0.0.1:9", TargetURL: "http://127.0.0.1:8080/tasks/send"}
	tests := []struct {
		name   string
		change func(*cloudtasks.Config)
	}{
		{name: "no_project", change: func(c *cloudtasks.Config) { c.Project = "" }},
		{name: "no_location", change: func(c *cloudtasks.Config) { c.Location = "" }},
		{name: "no_target", change: func(c *cloudtasks.Config) { c.TargetURL = "" }},
		{name: "relative_target", change: func(c *cloudtasks.Config) { c.TargetURL = "/tasks/send" }},
		{name: "not_http_target", change: func(c *cloudtasks.Config) { c.TargetURL = "ftp://host/x" }},
		{name: "backoff_under_a_second", change: func(c *cloudtasks.Config) { c.MaxBackoff = time.Millisecond }},
		{name: "backoff_over_the_deployed", change: func(c *cloudtasks.Config) { c.MaxBackoff = time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.change(&cfg)
			q, err := cloudtasks.New(t.Context(), cfg)
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("New = %v, want an invalid error", err)
			}
			if q != nil {
				_ = q.Close()
			}
		})
	}
	q, err := cloudtasks.New(t.Context(), ok)
	if err != nil {
		t.Fatalf("New(%+v): %v", ok, err)
	}
	_ = q.Close()
}

// BenchmarkEnqueue measures concurrent task creation, as a recipients
// batch does it; the tasks wait an hour so dispatch does not interfere.
func BenchmarkEnqueue(b *testing.B) {
	project := emulatortest.ProjectID(b)
	q, err := cloudtasks.New(context.Background(), cloudtasks.Config{
		Project: project, Location: location, Endpoint: emulatortest.CloudTasks(b), TargetURL: "http://127.0.0.1:9/",
	})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	if err := q.EnsureQueue(context.Background(), "campaign-bench", 500); err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(time.Hour)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "m" + strconv.FormatInt(n.Add(1), 10)
			if _, err := q.Enqueue(context.Background(), sendqueue.Task{Queue: "campaign-bench", CampaignID: "bench", MessageID: id, At: at}); err != nil {
				b.Error(err)
			}
		}
	})
}
