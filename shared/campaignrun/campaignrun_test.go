package campaignrun_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

// now is 21:00 in Colombo (UTC+5:30).
var now = time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)

type fixture struct {
	store  store.Store
	events *memevents.Publisher
	queue  *memqueue.Queue
	runner *campaignrun.Runner
}

// newFixture wires a runner over fakes; events run their handlers at once,
// so a trigger runs the whole chain.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: memstore.New(), events: memevents.New(), queue: memqueue.New()}
	f.runner = &campaignrun.Runner{Store: f.store, Events: f.events, Queue: f.queue, Now: func() time.Time { return now }, PageSize: 2, BatchSize: 1}
	f.events.Subscribe(events.TopicCampaignLaunch, func(ctx context.Context, m events.Message) error {
		var ev events.Launch
		if err := events.Decode(m, &ev); err != nil {
			return err
		}
		return f.runner.Launch(ctx, ev)
	})
	f.events.Subscribe(events.TopicRecipients, func(ctx context.Context, m events.Message) error {
		var ev events.Recipients
		if err := events.Decode(m, &ev); err != nil {
			return err
		}
		return f.runner.Recipients(ctx, ev)
	})
	ctx := context.Background()
	for _, u := range []user.User{
		{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"name": "Arjuna", "city": "Colombo", "timezone": "Asia/Colombo"}},
		{Phone: "+94771234576", Consent: consent.Stop, Attributes: map[string]any{"name": "Frank", "city": "Matara"}},
		{Phone: "+94771234577", Consent: consent.OptIn, Attributes: map[string]any{"name": "Grace", "city": "Anuradhapura"}},
		{Phone: "+94771234599", Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo"}},
		{Phone: "+94772345678", Consent: consent.OptIn, Attributes: map[string]any{"name": "Priya", "city": "Kandy"}},
	} {
		u.CreatedAt, u.UpdatedAt = now, now
		if err := f.store.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) campaign(t *testing.T, quietStart, quietEnd string) campaign.Campaign {
	t.Helper()
	ctx := context.Background()
	def, err := segment.Parse([]byte(`{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"city","operator":"equals","value":"Matara"}],"logic":"OR"}`))
	if err != nil {
		t.Fatal(err)
	}
	seg, err := f.store.CreateSegment(ctx, segment.Segment{Name: "Major Cities", Definition: def, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := f.store.CreateTemplate(ctx, template.Template{Name: "Welcome", Content: "Hi {name}!", Variables: []string{"name"}, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.store.CreateCampaign(ctx, campaign.Campaign{
		Topic: "demo", TemplateID: tpl.ID, SegmentID: seg.ID, Rate: 3, Status: campaign.Draft,
		QuietStart: quietStart, QuietEnd: quietEnd, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// states maps each of c's messages to "STATUS reason".
func (f *fixture) states(t *testing.T, c campaign.Campaign) map[string]string {
	t.Helper()
	ms, err := f.store.ListMessages(context.Background(), store.MessageFilter{CampaignID: c.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range ms {
		out[m.Phone] = string(m.Status) + " " + string(m.SkipReason)
	}
	return out
}

func TestTrigger_runs_segment_compliance_and_queue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.campaign(t, "", "")
	got, err := f.runner.Trigger(context.Background(), c.ID)
	if err != nil || got.Status != campaign.Running {
		t.Fatalf("Trigger = %v, %v", got.Status, err)
	}
	if fails := f.events.Failures(); len(fails) > 0 {
		t.Fatalf("handlers failed: %v", fails)
	}
	want := map[string]string{
		"+94771234567": "QUEUED ",
		"+94771234576": "SKIPPED no_consent",
		"+94771234599": "SKIPPED unresolved_placeholders",
	}
	if diff := cmp.Diff(want, f.states(t, c)); diff != "" {
		t.Errorf("messages (-want, +got):\n%s", diff)
	}
	tasks := f.queue.Tasks(c.ID)
	if len(tasks) != 1 || tasks[0].MessageID != message.ID(c.ID, "+94771234567") || f.queue.Rate(c.ID) != 3 {
		t.Errorf("tasks %+v at rate %d; want one for +94771234567 at rate 3", tasks, f.queue.Rate(c.ID))
	}
	after, _ := f.store.GetCampaign(context.Background(), c.ID)
	if !after.FanoutDone || after.Recipients != 3 || after.Status != campaign.Running {
		t.Errorf("campaign after launch: fanout %v, recipients %d, %s; want true, 3, RUNNING", after.FanoutDone, after.Recipients, after.Status)
	}

	// Redelivered events change nothing and make no second task.
	ids := []string{message.ID(c.ID, "+94771234567"), message.ID(c.ID, "+94771234576")}
	if err := f.runner.Recipients(context.Background(), events.Recipients{CampaignID: c.ID, MessageIDs: ids}); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Launch(context.Background(), events.Launch{CampaignID: c.ID}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, f.states(t, c)); diff != "" {
		t.Errorf("messages after redelivery (-want, +got):\n%s", diff)
	}
	if n := len(f.queue.Tasks(c.ID)); n != 1 {
		t.Errorf("%d tasks after redelivery, want 1", n)
	}

	// The last send concludes: the campaign completes.
	if _, err := f.store.UpdateMessage(context.Background(), ids[0], func(m *message.Message) error {
		m.Status = message.Sent
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.CheckCompletion(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	after, _ = f.store.GetCampaign(context.Background(), c.ID)
	if after.Status != campaign.Completed || after.CompletedAt == nil {
		t.Errorf("campaign %s, want COMPLETED", after.Status)
	}
	if _, err := f.runner.Trigger(context.Background(), c.ID); !errs.Is(err, errs.Conflict) {
		t.Errorf("Trigger of a completed campaign: %v, want Conflict", err)
	}
}

func TestRecipients_quiet_hours_defer_to_window_end(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// 21:00 in Colombo falls in 20:00-08:00: deferred to 08:00 Colombo.
	c := f.campaign(t, "20:00", "08:00")
	if _, err := f.runner.Trigger(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	m, err := f.store.GetMessage(context.Background(), message.ID(c.ID, "+94771234567"))
	if err != nil {
		t.Fatal(err)
	}
	colombo, _ := time.LoadLocation("Asia/Colombo")
	want := time.Date(2026, 11, 27, 8, 0, 0, 0, colombo)
	if m.Status != message.Deferred || m.ScheduledAt == nil || !m.ScheduledAt.Equal(want) {
		t.Errorf("message %s scheduled %v; want DEFERRED to %v", m.Status, m.ScheduledAt, want)
	}
	tasks := f.queue.Tasks(c.ID)
	if len(tasks) != 1 || !tasks[0].At.Equal(want) {
		t.Errorf("tasks %+v; want one at %v", tasks, want)
	}
	after, _ := f.store.GetCampaign(context.Background(), c.ID)
	if after.Status != campaign.Running {
		t.Errorf("a deferred message must keep the campaign RUNNING, got %s", after.Status)
	}
}

func TestTrigger_missing_campaign(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.runner.Trigger(context.Background(), "nope"); !errs.Is(err, errs.NotExist) {
		t.Errorf("Trigger(nope) = %v, want NotExist", err)
	}
}
