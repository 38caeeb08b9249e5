package launch_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/functions/launch"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

type fixture struct {
	store  *memstore.Store
	events *memevents.Publisher
	queue  *memqueue.Queue
	runner *campaignrun.Runner
	c      campaign.Campaign
}

// newFixture is a running campaign to people in Colombo, over fakes whose
// events are only recorded: the test sees what one Launch does.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: memstore.New(), events: memevents.New(), queue: memqueue.New()}
	f.runner = &campaignrun.Runner{Store: f.store, Events: f.events, Queue: f.queue, Now: func() time.Time { return now }}
	for _, u := range []user.User{
		{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo"}},
		{Phone: "+94771234568", Consent: consent.OptIn, Attributes: map[string]any{"city": "Kandy"}},
		{Phone: "+94771234569", Consent: consent.Stop, Attributes: map[string]any{"city": "Colombo"}},
	} {
		u.LastInboundAt = &now
		if err := f.store.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	def, err := segment.Parse([]byte(`{"attribute":"city","operator":"equals","value":"Colombo"}`))
	if err != nil {
		t.Fatal(err)
	}
	seg, err := f.store.CreateSegment(ctx, segment.Segment{Name: "Colombo", Definition: def})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := f.store.CreateTemplate(ctx, template.Template{Name: "T", Content: "Hi"})
	if err != nil {
		t.Fatal(err)
	}
	f.c, err = f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: tpl.ID, SegmentID: seg.ID, Rate: 5, Status: campaign.Running, StartedAt: &now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func launchMessage(t *testing.T, ev events.Launch) events.Message {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return events.Message{ID: "1", Data: data}
}

func TestLaunchCampaign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	// The first event makes the queue and hands out the slices: one, as
	// three people fit in a page.
	if err := launch.New(f.runner)(ctx, launchMessage(t, events.Launch{CampaignID: f.c.ID})); err != nil {
		t.Fatalf("handler: %v", err)
	}
	var launches []events.Launch
	for _, m := range f.events.Published(events.TopicCampaignLaunch) {
		var ev events.Launch
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		launches = append(launches, ev)
	}
	wantLaunches := []events.Launch{{CampaignID: f.c.ID, Slice: &events.LaunchSlice{Index: 0}}}
	if diff := cmp.Diff(wantLaunches, launches); diff != "" {
		t.Fatalf("launches handed on (-want, +got):\n%s", diff)
	}
	if err := launch.New(f.runner)(ctx, launchMessage(t, launches[0])); err != nil {
		t.Fatalf("handler: %v", err)
	}
	// Both people in Colombo are recipients, the one who said STOP too:
	// compliance (the next step) skips them with a reason.
	ms, err := f.store.ListMessages(ctx, store.MessageFilter{CampaignID: f.c.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]message.Status{}
	for _, m := range ms {
		got[m.Phone] = m.Status
	}
	want := map[string]message.Status{"+94771234567": message.Pending, "+94771234569": message.Pending}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want, +got):\n%s", diff)
	}
	var batches []events.Recipients
	for _, m := range f.events.Published(events.TopicRecipients) {
		var b events.Recipients
		if err := json.Unmarshal(m.Data, &b); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	wantBatches := []events.Recipients{{CampaignID: f.c.ID, MessageIDs: []string{
		message.ID(f.c.ID, "+94771234567"), message.ID(f.c.ID, "+94771234569"),
	}}}
	if diff := cmp.Diff(wantBatches, batches); diff != "" {
		t.Errorf("recipient batches (-want, +got):\n%s", diff)
	}
	after, err := f.store.GetCampaign(ctx, f.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.FanoutDone || after.Recipients != 2 || f.queue.Rate(sendqueue.QueueID(f.c.ID, 0)) != 5 {
		t.Errorf("after the only page: fanout %v, recipients %d, queue rate %d; want true, 2, 5", after.FanoutDone, after.Recipients, f.queue.Rate(sendqueue.QueueID(f.c.ID, 0)))
	}
}

func TestLaunchCampaign_errors_not_retried(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		data string
	}{
		{"malformed_payload", `{"campaign_id":`},
		{"wrong_type", `{"campaign_id":7}`},
		{"unknown_campaign", `{"campaign_id":"nope"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			err := launch.New(f.runner)(context.Background(), events.Message{ID: "1", Data: []byte(tc.data)})
			if err == nil || errs.Retry(err) {
				t.Errorf("handler = %v (retry %v), want an error not to retry", err, errs.Retry(err))
			}
			if n := len(f.events.Published(events.TopicRecipients)); n != 0 {
				t.Errorf("published %d recipient batches", n)
			}
		})
	}
}

// The campaign steps' Cloud Tasks settings: the Sender's URL always, and
// outside the emulator the tasks' service account, named when missing.
func TestBuild_tasks_configuration(t *testing.T) {
	t.Parallel()
	emulatortest.Firestore(t)
	emulatortest.PubSub(t)
	tasks := emulatortest.CloudTasks(t)
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": emulatortest.ProjectID(t), "SENDER_URL": "http://127.0.0.1:9/tasks/send"}
	tests := []struct {
		name    string
		env     map[string]string // over base; "" removes
		wantErr string            // a part of the error; empty: builds
	}{
		{name: "emulator", env: map[string]string{"CLOUD_TASKS_EMULATOR_HOST": tasks}},
		{name: "emulator_with_audience", env: map[string]string{"CLOUD_TASKS_EMULATOR_HOST": tasks, "TASKS_SERVICE_ACCOUNT": "tasks@p.iam.gserviceaccount.com", "TASKS_AUDIENCE": "https://sender.example"}},
		{name: "no_sender_url", env: map[string]string{"CLOUD_TASKS_EMULATOR_HOST": tasks, "SENDER_URL": ""}, wantErr: "SENDER_URL"},
		{name: "no_service_account_outside_the_emulator", wantErr: "TASKS_SERVICE_ACCOUNT is required when CLOUD_TASKS_EMULATOR_HOST is unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := maps.Clone(base)
			for k, v := range tt.env {
				if v == "" {
					delete(env, k)
					continue
				}
				env[k] = v
			}
			_, err := launch.Build(t.Context(), envconfig.MapLookuper(env))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Build = %v, want an error holding %q", err, tt.wantErr)
			}
		})
	}
}
