package campaignrun_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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

// benchRun is one campaign, ready to trigger, over benchUsers people: a
// tenth said STOP, a tenth lack the {name} the template needs, the rest
// are queued.
type benchRun struct {
	events *memevents.Publisher
	queue  *memqueue.Queue
	runner *campaignrun.Runner
	id     string
}

func newBenchRun(b *testing.B) *benchRun {
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
	for i := range benchUsers {
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
		r := newBenchRun(b)
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
