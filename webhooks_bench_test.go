package ese

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
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
// publishes one message on the same emulators. The two take turns in
// slices of 10 s, so that a machine whose load moves during the run
// weighs on both alike. Every callback must be stored exactly once. Run
// with BENCHTIME=1x scripts/bench WebhooksLocalStack .
func BenchmarkWebhooksLocalStack(b *testing.B) {
	rate := envInt(b, "WEBHOOK_BENCH_RATE", 200)
	seconds := envInt(b, "WEBHOOK_BENCH_SECONDS", 60)
	d := newDemo(b)
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, d.project)
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	floor := newFloor(b, d.project, fs)
	// The same function built in this process, on the same emulators and
	// topic: what the local stack's process adds, beside what our code does.
	inproc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inprocHandler.ServeHTTP(w, r) }))
	defer inproc.Close()
	h, err := webhooks.Build(ctx, envconfig.MapLookuper(map[string]string{"GOOGLE_CLOUD_PROJECT": d.project, "PUBLIC_BASE_URL": inproc.URL, "TWILIO_AUTH_TOKEN": "e2etoken"}))
	if err != nil {
		b.Fatal(err)
	}
	inprocHandler = h
	const slice = 10
	var hooks, bare, own []time.Duration
	var hooksFailed, bareFailed, ownFailed int
	for part := 0; part*slice < seconds; part++ {
		secs := min(slice, seconds-part*slice)
		prefix := fmt.Sprintf("SMbench%dx", part)
		lat, failed := offer(b, d.base+"/webhooks/inbound", rate, secs, func(i int) (url.Values, string) {
			form := inboundForm(prefix, i)
			return form, twilio.Sign("e2etoken", d.base+"/webhooks/inbound", form)
		})
		hooks, hooksFailed = append(hooks, lat...), hooksFailed+failed
		storedOnce(b, fs, "webhook_events", "inbound-"+prefix, rate*secs)

		prefix = fmt.Sprintf("SMfloor%dx", part)
		lat, failed = offer(b, floor.URL, rate, secs, func(i int) (url.Values, string) {
			return inboundForm(prefix, i), ""
		})
		bare, bareFailed = append(bare, lat...), bareFailed+failed
		storedOnce(b, fs, "bench_floor", prefix, rate*secs)

		prefix = fmt.Sprintf("SMown%dx", part)
		lat, failed = offer(b, inproc.URL+"/webhooks/inbound", rate, secs, func(i int) (url.Values, string) {
			form := inboundForm(prefix, i)
			return form, twilio.Sign("e2etoken", inproc.URL+"/webhooks/inbound", form)
		})
		own, ownFailed = append(own, lat...), ownFailed+failed
		storedOnce(b, fs, "webhook_events", "inbound-"+prefix, rate*secs)
	}
	// Reported as two sub-benchmarks, for benchtable's ratio.
	b.Run("webhooks", func(b *testing.B) { report(b, hooks, hooksFailed) })
	b.Run("yardstick", func(b *testing.B) { report(b, bare, bareFailed) })
	b.Run("webhooks_alone", func(b *testing.B) { report(b, own, ownFailed) })
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
	refs := make([]*firestore.DocumentRef, n)
	for i := range n {
		refs[i] = fs.Collection(col).Doc(prefix + strconv.Itoa(i))
	}
	missing := 0
	for start := 0; start < n; start += 300 {
		snaps, err := fs.GetAll(ctx, refs[start:min(start+300, n)])
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range snaps {
			if !s.Exists() {
				missing++
			}
		}
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
	if missing != 0 || int(count) != n {
		b.Errorf("%s: %d of %d callbacks not stored, %d stored in all; want each stored exactly once", col, missing, n, count)
	}
}

// floor is the yardstick: a bare net/http handler that stores the form's
// MessageSid as one document and publishes one message, and nothing else.
func newFloor(b *testing.B, project string, fs *firestore.Client) *httptest.Server {
	ctx := context.Background()
	psc, err := pubsub.NewClient(ctx, project)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { psc.Close() })
	topic := "projects/" + project + "/topics/bench-floor"
	if _, err := psc.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		b.Fatal(err)
	}
	// Published as the Webhooks function publishes: no batching delay.
	pub := pubsubevents.New(psc, pubsubevents.WithDelay(500*time.Microsecond))
	b.Cleanup(pub.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	b.Cleanup(srv.Close)
	return srv
}
