package campaignrun_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

const benchUsers = 10_000

// benchRun is one campaign, ready to trigger, over n people: a tenth said
// STOP, a tenth lack the {name} the template needs, the rest are queued.
type benchRun struct {
	events *memevents.Publisher
	queue  *memqueue.Queue
	runner *campaignrun.Runner
	id     string
}

func newBenchRun(b *testing.B, n int) *benchRun {
	b.Helper()
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	st := memstore.New()
	r := &benchRun{events: memevents.New(), queue: memqueue.New()}
	// Production page and batch sizes (the Runner's defaults).
	r.runner = &campaignrun.Runner{Store: st, Events: r.events, Queue: r.queue, Now: func() time.Time { return at }}
	r.events.Subscribe(events.TopicCampaignLaunch, func(ctx context.Context, m events.Message) error {
		var ev events.Launch
		if err := events.Decode(m, &ev); err != nil {
			return err
		}
		return r.runner.Launch(ctx, ev)
	})
	r.events.Subscribe(events.TopicRecipients, func(ctx context.Context, m events.Message) error {
		var ev events.Recipients
		if err := events.Decode(m, &ev); err != nil {
			return err
		}
		return r.runner.Recipients(ctx, ev)
	})
	for i := range n {
		u := user.User{
			Phone: fmt.Sprintf("+9477%07d", i), Consent: consent.OptIn,
			Attributes: map[string]any{"name": "Person", "city": "Colombo", "tier": "gold"},
			CreatedAt:  at, UpdatedAt: at, LastInboundAt: &at,
		}
		switch i % 10 {
		case 0:
			u.Consent = consent.Stop
		case 1:
			delete(u.Attributes, "name")
		}
		if err := st.CreateUser(ctx, u, consent.SourceImport, ""); err != nil {
			b.Fatal(err)
		}
	}
	def, err := segment.Parse([]byte(`{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"tier","operator":"in","value":["gold","silver"]}],"logic":"AND"}`))
	if err != nil {
		b.Fatal(err)
	}
	seg, err := st.CreateSegment(ctx, segment.Segment{Name: "Colombo gold", Definition: def})
	if err != nil {
		b.Fatal(err)
	}
	tpl, err := st.CreateTemplate(ctx, template.Template{Name: "Welcome", Content: "Hi {name}, your {tier} offer is here", Variables: []string{"name", "tier"}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := st.CreateCampaign(ctx, campaign.Campaign{Topic: "bench", TemplateID: tpl.ID, SegmentID: seg.ID, Rate: 100, Status: campaign.Draft})
	if err != nil {
		b.Fatal(err)
	}
	r.id = c.ID
	return r
}

// BenchmarkLaunchAndRecipients runs a campaign's fan-out over 10,000
// users: segment evaluation page by page, a message each, compliance, and
// a send task for each allowed one, with every event delivered at once.
// Each iteration has a fresh store, so no run sees another's messages.
func BenchmarkLaunchAndRecipients(b *testing.B) { benchLaunchAndRecipients(b, 0) }

// BenchmarkLaunchAndRecipientsFrequencyCap is the same fan-out with a
// frequency cap, which reads each batch's send ledgers too.
func BenchmarkLaunchAndRecipientsFrequencyCap(b *testing.B) { benchLaunchAndRecipients(b, 2) }

func benchLaunchAndRecipients(b *testing.B, frequencyCap int) {
	ctx := logging.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		r := newBenchRun(b, benchUsers)
		r.runner.FrequencyCap = frequencyCap
		b.StartTimer()
		if _, err := r.runner.Trigger(ctx, r.id, "api-key"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if fails := r.events.Failures(); len(fails) > 0 {
			b.Fatalf("handlers failed: %v", fails[0])
		}
		if got, want := len(r.queue.Tasks(sendqueue.QueueID(r.id, 0))), benchUsers*8/10; got != want {
			b.Fatalf("%d send tasks, want %d", got, want)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(benchUsers*b.N)/b.Elapsed().Seconds(), "users/s")
}

// BenchmarkFanout100k runs the fan-out of BenchmarkLaunchAndRecipients
// over 100,000 users, reporting the CPU time of the whole process (both
// cores, the collector included) and the heap it added at its peak, which
// the goal (1 CPU-second, 200 MB) is about, rather than wall time.
func BenchmarkFanout100k(b *testing.B) {
	const n = 100_000
	ctx := logging.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	b.ReportAllocs()
	var cpu time.Duration
	var peak uint64
	for range b.N {
		b.StopTimer()
		r := newBenchRun(b, n)
		runtime.GC()
		base := heapBytes()
		stop := sampleHeap(&peak, base)
		before := cpuTime(b)
		b.StartTimer()
		if _, err := r.runner.Trigger(ctx, r.id, "api-key"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime(b) - before
		stop()
		if fails := r.events.Failures(); len(fails) > 0 {
			b.Fatalf("handlers failed: %v", fails[0])
		}
		if got, want := len(r.queue.Tasks(sendqueue.QueueID(r.id, 0))), n*8/10; got != want {
			b.Fatalf("%d send tasks, want %d", got, want)
		}
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(peak)/(1<<20), "MB-heap")
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "users/s")
}

// cpuTime is the user and system time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapBytes is the heap held by objects, live or not yet collected.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap raises *peak to the most the heap grew above base, looking
// every millisecond until stop is called (runtime/metrics does not stop
// the world, as ReadMemStats would).
func sampleHeap(peak *uint64, base uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapBytes(); h > base {
				*peak = max(*peak, h-base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
