package recipients_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/recipients"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

type fixture struct {
	store  *memstore.Store
	queue  *memqueue.Queue
	runner *campaignrun.Runner
	c      campaign.Campaign
	ids    []string // the campaign's PENDING messages
}

// newFixture is a running campaign with a pending message to an opted-in
// person and one to a person who said STOP.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: memstore.New(), queue: memqueue.New()}
	f.runner = &campaignrun.Runner{Store: f.store, Events: memevents.New(), Queue: f.queue, Now: func() time.Time { return now }}
	tpl, err := f.store.CreateTemplate(ctx, template.Template{Name: "T", Content: "Hi {name}!", Variables: []string{"name"}})
	if err != nil {
		t.Fatal(err)
	}
	f.c, err = f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: tpl.ID, SegmentID: "s", Rate: 5, Status: campaign.Running, StartedAt: &now})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.queue.EnsureQueue(ctx, sendqueue.QueueID(f.c.ID, 0), f.c.Rate); err != nil {
		t.Fatal(err)
	}
	var ms []message.Message
	for _, u := range []user.User{
		{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"name": "Arjuna"}},
		{Phone: "+94771234569", Consent: consent.Stop, Attributes: map[string]any{"name": "Frank"}},
	} {
		u.LastInboundAt = &now
		if err := f.store.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
		m := message.Message{ID: message.ID(f.c.ID, u.Phone), CampaignID: f.c.ID, Phone: u.Phone, Status: message.Pending, CreatedAt: now, UpdatedAt: now}
		ms = append(ms, m)
		f.ids = append(f.ids, m.ID)
	}
	if _, err := f.store.CreateMessages(ctx, ms); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestProcessRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	data, err := json.Marshal(events.Recipients{CampaignID: f.c.ID, MessageIDs: f.ids})
	if err != nil {
		t.Fatal(err)
	}
	h := recipients.New(f.runner)
	for i := range 2 { // the second is Pub/Sub's redelivery
		if err := h(ctx, events.Message{ID: "1", Data: data}); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	ms, err := f.store.GetMessages(ctx, f.ids)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		Status message.Status
		Reason message.SkipReason
		Body   string
	}
	var got []outcome
	for _, m := range ms {
		got = append(got, outcome{m.Status, m.SkipReason, m.Body})
	}
	want := []outcome{{message.Queued, "", "Hi Arjuna!"}, {message.Skipped, message.SkipNoConsent, ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want, +got):\n%s", diff)
	}
	wantTasks := []sendqueue.Task{{Queue: sendqueue.QueueID(f.c.ID, 0), CampaignID: f.c.ID, MessageID: f.ids[0]}}
	if diff := cmp.Diff(wantTasks, f.queue.Tasks(sendqueue.QueueID(f.c.ID, 0))); diff != "" {
		t.Errorf("send tasks after two deliveries (-want, +got):\n%s", diff)
	}
}

func TestProcessRecipients_errors_not_retried(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		data string
	}{
		{"malformed_payload", `{"campaign_id":"x","message_ids":[`},
		{"wrong_type", `{"campaign_id":"x","message_ids":"m1"}`},
		{"unknown_campaign", `{"campaign_id":"nope","message_ids":["m1"]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			err := recipients.New(f.runner)(context.Background(), events.Message{ID: "1", Data: []byte(tc.data)})
			if err == nil || errs.Retry(err) {
				t.Errorf("handler = %v (retry %v), want an error not to retry", err, errs.Retry(err))
			}
			if n := len(f.queue.Tasks(sendqueue.QueueID(f.c.ID, 0))); n != 0 {
				t.Errorf("made %d send tasks", n)
			}
		})
	}
}
