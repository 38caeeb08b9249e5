package ese

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/functions/webhooks"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
)

// BenchmarkWebhooksLocalStack sends signed inbound webhooks to the Webhooks
// function of the local stack (scripts/dev on the emulators, as Twilio's
// stand-in would post them) at 200 a second for 60 s (WEBHOOK_BENCH_RATE,
// WEBHOOK_BENCH_SECONDS), open loop, and reports p50, p99 and max latency
// and errors; beside it, in the same run and at the same pace, its floor
// (the yardstick): a bare handler that stores the same document and
// publishes one message on the same emulators, served, as the stack's
// functions are, by a process of its own; and the same function served
// inside this process (webhooks_alone). After 3 s each to warm up, each
// is offered its whole run in one go, the floor first. Every measured
// callback must be stored exactly once. Run with BENCHTIME=1x
// scripts/bench WebhooksLocalStack .
func BenchmarkWebhooksLocalStack(b *testing.B) {
	rate := envInt(b, "WEBHOOK_BENCH_RATE", 200)
	seconds := envInt(b, "WEBHOOK_BENCH_SECONDS", 60)
	const warmup = 3 // seconds, each, before measuring
	d := newDemo(b)
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, d.project)
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	floor := startFloor(b, d.project)
	// The same function built in this process, on the same emulators and
	// topic: what the local stack's process adds, beside what our code does.
	inproc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inprocHandler.ServeHTTP(w, r) }))
	defer inproc.Close()
	h, err := webhooks.Build(ctx, envconfig.MapLookuper(map[string]string{"GOOGLE_CLOUD_PROJECT": d.project, "PUBLIC_BASE_URL": inproc.URL, "TWILIO_AUTH_TOKEN": "e2etoken"}))
	if err != nil {
		b.Fatal(err)
	}
	inprocHandler = h
	type target struct {
		name, url, col, prefix string
		signed                 bool
		lat                    []time.Duration
		failed                 int
	}
	targets := []*target{
		{name: "yardstick", url: floor, col: "bench_floor", prefix: "SMfloorx"},
		{name: "webhooks", url: d.base + "/webhooks/inbound", col: "webhook_events", prefix: "inbound-SMbenchx", signed: true},
		{name: "webhooks_alone", url: inproc.URL + "/webhooks/inbound", col: "webhook_events", prefix: "inbound-SMownx", signed: true},
	}
	// Warm each up first, unmeasured, as benchmarks do: the stack builds
	// its functions on their first request and each client opens its
	// connections on its first calls (the stack's first seconds at this
	// pace were a third of the run's slowest hundredth).
	for _, t := range targets {
		sid := "SMwarm" + t.name + "x"
		offer(b, t.url, rate, warmup, func(i int) (url.Values, string) {
			form := inboundForm(sid, i)
			if !t.signed {
				return form, ""
			}
			return form, twilio.Sign("e2etoken", t.url, form)
		})
	}
	// Each is offered its whole run at once, the floor first (on a stack
	// no callbacks have yet loaded), so that what builds up over a
	// minute (push deliveries, consumer transactions, the stack's sweeps
	// every 30 s) weighs on each as it would.
	for _, t := range targets {
		sid := strings.TrimPrefix(t.prefix, "inbound-")
		t.lat, t.failed = offer(b, t.url, rate, seconds, func(i int) (url.Values, string) {
			form := inboundForm(sid, i)
			if !t.signed {
				return form, ""
			}
			return form, twilio.Sign("e2etoken", t.url, form)
		})
		storedOnce(b, fs, t.col, t.prefix, rate*seconds)
	}
	// Reported as sub-benchmarks, for benchtable's ratio.
	for _, t := range targets {
		b.Run(t.name, func(b *testing.B) { report(b, t.lat, t.failed) })
	}
}

var inprocHandler http.Handler

// inboundForm is the i-th inbound callback as Twilio posts it, from one of
// 5,000 people.
func inboundForm(prefix string, i int) url.Values {
	return url.Values{
		"From": {fmt.Sprintf("whatsapp:+9477%07d", 5000000+i%5000)}, "To": {"whatsapp:+14155238886"},
		"Body": {"Thanks, see you then"}, "MessageSid": {prefix + strconv.Itoa(i)}, "SmsMessageSid": {prefix + strconv.Itoa(i)},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "MessageType": {"text"}, "ApiVersion": {"2010-04-01"},
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "WaId": {fmt.Sprintf("9477%07d", 5000000+i%5000)}, "ProfileName": {"Bench"},
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

// offer posts form(i) for i < rate*seconds to target, each at its time
// (open loop), and returns each answer's latency and how many failed.
func offer(b *testing.B, target string, rate, seconds int, form func(i int) (url.Values, string)) ([]time.Duration, int) {
	n := rate * seconds
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
	defer client.CloseIdleConnections()
	bodies := make([]string, n)
	sigs := make([]string, n)
	for i := range n {
		f, sig := form(i)
		bodies[i], sigs[i] = f.Encode(), sig
	}
	lat := make([]time.Duration, n)
	var mu sync.Mutex
	failed := 0
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		if w := time.Until(start.Add(time.Duration(i) * interval)); w > 0 {
			time.Sleep(w)
		}
		sent := time.Now()
		wg.Go(func() {
			req, _ := http.NewRequest("POST", target, strings.NewReader(bodies[i]))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if sigs[i] != "" {
				req.Header.Set(twilio.SignatureHeader, sigs[i])
			}
			resp, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			lat[i] = time.Since(sent)
			if err != nil || resp.StatusCode != http.StatusOK {
				mu.Lock()
				failed++
				if failed <= 3 {
					b.Logf("request %d: %v %v", i, err, resp)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat, failed
}

func report(b *testing.B, lat []time.Duration, failed int) {
	lat = slices.Clone(lat)
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(failed), "errors")
}

// storedOnce checks that each of the n callbacks named prefix0..prefix(n-1)
// has its document in col, and that col holds no other with the prefix.
func storedOnce(b *testing.B, fs *firestore.Client, col, prefix string, n int) {
	ctx := context.Background()
	var missing []*firestore.DocumentRef
	for i := range n {
		missing = append(missing, fs.Collection(col).Doc(prefix+strconv.Itoa(i)))
	}
	// A callback the store was too slow for was answered and handed on
	// unstored (webhooks.DefaultRecordBudget): its consumer stores it, a
	// moment later.
	late := 0
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(2 * time.Second) {
		var still []*firestore.DocumentRef
		for start := 0; start < len(missing); start += 300 {
			snaps, err := fs.GetAll(ctx, missing[start:min(start+300, len(missing))])
			if err != nil {
				b.Fatal(err)
			}
			for _, s := range snaps {
				if !s.Exists() {
					still = append(still, s.Ref)
				}
			}
		}
		if late == 0 {
			late = len(still)
		}
		missing = still
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if late > 0 {
		b.Logf("%s %s: %d of %d stored after the answer, by their consumer (handed on unstored)", col, prefix, late-len(missing), n)
	}
	q := fs.Collection(col).Where(firestore.DocumentID, ">=", fs.Collection(col).Doc(prefix)).
		Where(firestore.DocumentID, "<", fs.Collection(col).Doc(prefix+"~"))
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var out struct {
		N int64 `firestore:"n"`
	}
	if err := res.DataTo(&out); err != nil {
		b.Fatal(err)
	}
	count := out.N
	if len(missing) != 0 || int(count) != n {
		b.Errorf("%s: %d of %d callbacks not stored, %d stored in all; want each stored exactly once", col, len(missing), n, count)
	}
}

// startFloor serves the yardstick in a process of its own (this test
// binary again, running TestWebhookBenchFloor) on the stack's emulators,
// and returns its URL.
func startFloor(b *testing.B, project string) string {
	ctx := context.Background()
	psc, err := pubsub.NewClient(ctx, project)
	if err != nil {
		b.Fatal(err)
	}
	defer psc.Close()
	if _, err := psc.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/bench-floor"}); err != nil && status.Code(err) != codes.AlreadyExists {
		b.Fatal(err)
	}
	addr := "127.0.0.1:" + freePort(b)
	cmd := exec.Command(os.Args[0], "-test.run=^TestWebhookBenchFloor$")
	cmd.Env = append(os.Environ(), floorAddrEnv+"="+addr, "GOOGLE_CLOUD_PROJECT="+project)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Killed with this process, should go test kill it before Cleanup.
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			b.Fatalf("the floor's process did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// floorAddrEnv, set, has TestWebhookBenchFloor serve the floor there.
const floorAddrEnv = "ESE_WEBHOOK_BENCH_FLOOR"

// TestWebhookBenchFloor is BenchmarkWebhooksLocalStack's floor, when the
// benchmark runs this binary for it (ESE_WEBHOOK_BENCH_FLOOR): a bare
// net/http handler that stores the form's MessageSid as one document and
// publishes one message, and nothing else, until the benchmark kills it.
// Run any other way, it skips.
func TestWebhookBenchFloor(t *testing.T) {
	addr := os.Getenv(floorAddrEnv)
	if addr == "" {
		t.Skip("the webhook benchmark's floor: run by BenchmarkWebhooksLocalStack")
	}
	ctx := context.Background()
	project := os.Getenv("GOOGLE_CLOUD_PROJECT")
	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	psc, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	topic := "projects/" + project + "/topics/bench-floor"
	// Published as the Webhooks function publishes: no batching delay.
	pub := pubsubevents.New(psc, pubsubevents.WithDelay(500*time.Microsecond))
	err = http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The document a callback's record is: its form as a map, and
		// the fields the store queries.
		sid := r.PostForm.Get("MessageSid")
		params := make(map[string]string, len(r.PostForm))
		for k := range r.PostForm {
			params[k] = r.PostForm.Get(k)
		}
		doc := map[string]any{"kind": "inbound", "message_sid": sid, "status": "", "params": params, "received_at": time.Now(), "published": true}
		if _, err := fs.Collection("bench_floor").Doc(sid).Create(r.Context(), doc); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := pub.Publish(r.Context(), topic, map[string]string{"sid": sid}); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Fatal(err)
}
