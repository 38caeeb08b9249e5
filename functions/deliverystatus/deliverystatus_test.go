package deliverystatus_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/deliverystatus"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	shared "github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// published is a status callback as the Webhooks function publishes it.
func published(t *testing.T, sid, status string, at time.Time) events.Message {
	t.Helper()
	data, err := json.Marshal(events.Webhook{
		ID: webhook.EventID(webhook.Status, sid, status), Kind: webhook.Status, MessageSID: sid, Status: status,
		Params:     map[string]string{"MessageSid": sid, "MessageStatus": status},
		ReceivedAt: at, Published: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return events.Message{ID: "1", Data: data}
}

func TestHandleStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sentAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	deliveredAt := sentAt.Add(2 * time.Second)
	st := memstore.New()
	m := message.Message{ID: "m1-c1", CampaignID: "c1", Phone: "+94771234567", Status: message.Sent,
		ProviderSID: "SM1", CreatedAt: sentAt, UpdatedAt: sentAt, SentAt: &sentAt}
	if _, err := st.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	h := deliverystatus.New(st, 15*time.Minute, nil)
	if err := h(ctx, published(t, "SM1", "delivered", deliveredAt)); err != nil {
		t.Fatalf("handler: %v", err)
	}
	got, err := st.GetMessage(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := m
	want.Status, want.DeliveredAt, want.UpdatedAt = message.Delivered, &deliveredAt, deliveredAt
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("message (-want, +got):\n%s", diff)
	}
}

func TestHandleStatus_retry_decisions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		msg       func(t *testing.T) events.Message
		wantErr   bool
		wantRetry bool
	}{
		// The sender may record the sid after the callback arrives.
		{"unknown_sid_recent_is_retried", func(t *testing.T) events.Message {
			return published(t, "SMx", "delivered", time.Now().Add(-time.Minute))
		}, true, true},
		// The giveUpAfter given to New bounds those retries.
		{"unknown_sid_old_is_dropped", func(t *testing.T) events.Message {
			return published(t, "SMx", "delivered", time.Now().Add(-16*time.Minute))
		}, false, false},
		{"malformed_payload_is_not_retried", func(*testing.T) events.Message {
			return events.Message{ID: "1", Data: []byte(`{"message_sid":`)}
		}, true, false},
		{"wrong_type_is_not_retried", func(*testing.T) events.Message {
			return events.Message{ID: "1", Data: []byte(`{"received_at":"yesterday"}`)}
		}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := deliverystatus.New(memstore.New(), 15*time.Minute, nil)(context.Background(), tc.msg(t))
			if (err != nil) != tc.wantErr || errs.Retry(err) != tc.wantRetry {
				t.Errorf("handler = %v (retry %v); want error %v, retry %v", err, errs.Retry(err), tc.wantErr, tc.wantRetry)
			}
		})
	}
}

// watch records the campaigns it is asked to check.
type watch struct{ checked []string }

func (w *watch) CheckFailures(_ context.Context, campaignID string) error {
	w.checked = append(w.checked, campaignID)
	return nil
}

// A failed callback asks for the campaign's failure rate; its redelivery
// and other statuses do not.
func TestHandleStatus_failed_checks_failures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sentAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	st := memstore.New()
	var ms []message.Message
	for _, sid := range []string{"SM1", "SM2"} {
		ms = append(ms, message.Message{ID: sid + "-c1", CampaignID: "c1", Phone: "+9477123456" + sid[2:], Status: message.Sent,
			ProviderSID: sid, CreatedAt: sentAt, UpdatedAt: sentAt, SentAt: &sentAt})
	}
	if _, err := st.CreateMessages(ctx, ms); err != nil {
		t.Fatal(err)
	}
	w := &watch{}
	h := deliverystatus.New(st, 15*time.Minute, w)
	for _, e := range []events.Message{
		published(t, "SM1", "failed", sentAt.Add(time.Second)),
		published(t, "SM1", "failed", sentAt.Add(time.Second)),
		published(t, "SM2", "delivered", sentAt.Add(time.Second)),
	} {
		if err := h(ctx, e); err != nil {
			t.Fatalf("handler: %v", err)
		}
	}
	if diff := cmp.Diff([]string{"c1"}, w.checked); diff != "" {
		t.Errorf("campaigns checked (-want, +got):\n%s", diff)
	}
}

// A failed callback with 63018, read at the edge as the provider's rate
// limit, gives the message a new attempt and asks for its task through
// recipient-batch; 63049 fails it for good.
func TestHandleStatus_rate_limited_is_tried_again(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code       string
		wantStatus message.Status
		wantAsked  int
	}{
		{"63018", message.Deferred, 1},
		{"63049", message.Failed, 0},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, pub := memstore.New(), memevents.New()
			c, err := st.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
			if err != nil {
				t.Fatal(err)
			}
			sentAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
			m := message.Message{ID: message.ID(c.ID, "+94771234567"), CampaignID: c.ID, Phone: "+94771234567", Status: message.Sent,
				ProviderSID: "SM1", CreatedAt: sentAt, UpdatedAt: sentAt, SentAt: &sentAt, ClaimedAt: &sentAt}
			if _, err := st.CreateMessages(ctx, []message.Message{m}); err != nil {
				t.Fatal(err)
			}
			h := deliverystatus.Over(&shared.Applier{Store: st, GiveUpAfter: time.Minute, Retries: &campaignrun.Runner{Store: st, Events: pub}})
			ev := published(t, "SM1", "failed", sentAt.Add(time.Second))
			var w events.Webhook
			if err := json.Unmarshal(ev.Data, &w); err != nil {
				t.Fatal(err)
			}
			w.Params["ErrorCode"] = tc.code
			if ev.Data, err = json.Marshal(w); err != nil {
				t.Fatal(err)
			}
			if err := h(ctx, ev); err != nil {
				t.Fatalf("handler: %v", err)
			}
			got, err := st.GetMessage(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			asked := pub.Published(events.TopicRecipients)
			if got.Status != tc.wantStatus || len(asked) != tc.wantAsked {
				t.Errorf("message %s with %d retask requests, want %s and %d", got.Status, len(asked), tc.wantStatus, tc.wantAsked)
			}
		})
	}
}

// A status the Webhooks function handed on unstored (Firestore refused
// it) is stored here, marked handed on, before it is applied; once
// however often it comes.
func TestHandleStatus_stores_an_unstored_callback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sentAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	st := memstore.New()
	m := message.Message{ID: "m1-c1", CampaignID: "c1", Phone: "+94771234567", Status: message.Sent,
		ProviderSID: "SM1", CreatedAt: sentAt, UpdatedAt: sentAt, SentAt: &sentAt}
	if _, err := st.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	e := events.Webhook{
		ID: webhook.EventID(webhook.Status, "SM1", "delivered"), Kind: webhook.Status, MessageSID: "SM1", Status: "delivered",
		Params: map[string]string{"MessageSid": "SM1", "MessageStatus": "delivered"}, ReceivedAt: sentAt.Add(time.Second), Unstored: true,
	}
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	h := deliverystatus.New(st, 15*time.Minute, nil)
	for range 2 {
		if err := h(ctx, events.Message{ID: "1", Data: data}); err != nil {
			t.Fatalf("handler: %v", err)
		}
	}
	evs, err := st.ListWebhooks(ctx, webhook.Status, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := e
	want.Unstored, want.Published = false, true
	if diff := cmp.Diff([]webhook.Event{want}, evs); diff != "" {
		t.Errorf("stored (-want, +got):\n%s", diff)
	}
	if got, _ := st.GetMessage(ctx, m.ID); got.Status != message.Delivered {
		t.Errorf("message %s, want DELIVERED", got.Status)
	}
}

// invalidStore refuses webhook records as Invalid: the first `refusals`
// of them, or every one if refusals is negative.
type invalidStore struct {
	*memstore.Store
	refusals int
}

func (s *invalidStore) RecordWebhook(ctx context.Context, e webhook.Event) (webhook.Event, bool, error) {
	if s.refusals != 0 {
		s.refusals--
		return webhook.Event{}, false, errs.E(errs.Invalid, "params.Body: invalid UTF-8")
	}
	return s.Store.RecordWebhook(ctx, e)
}

// A status handed on unstored that the store refuses as Invalid is stored
// trimmed, or, refused even so, still applied: never acked unapplied.
func TestHandleStatus_unstored_refused_as_invalid_is_still_applied(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		refusals int
		stored   int
		trimmed  bool
	}{
		{"refused_once_stored_trimmed", 1, 1, true},
		{"refused_always_applied_unstored", -1, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sentAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
			mem := memstore.New()
			m := message.Message{ID: "m1-c1", CampaignID: "c1", Phone: "+94771234567", Status: message.Sent,
				ProviderSID: "SM1", CreatedAt: sentAt, UpdatedAt: sentAt, SentAt: &sentAt}
			if _, err := mem.CreateMessages(ctx, []message.Message{m}); err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(events.Webhook{
				ID: webhook.EventID(webhook.Status, "SM1", "delivered"), Kind: webhook.Status, MessageSID: "SM1", Status: "delivered",
				Params: map[string]string{"MessageSid": "SM1", "MessageStatus": "delivered", "Extra": "x"}, ReceivedAt: sentAt.Add(time.Second), Unstored: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			h := deliverystatus.New(&invalidStore{Store: mem, refusals: tc.refusals}, 15*time.Minute, nil)
			if err := h(ctx, events.Message{ID: "1", Data: data}); err != nil {
				t.Fatalf("handler: %v", err)
			}
			if got, _ := mem.GetMessage(ctx, m.ID); got.Status != message.Delivered {
				t.Errorf("message %s, want DELIVERED", got.Status)
			}
			evs, err := mem.ListWebhooks(ctx, webhook.Status, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tc.stored || (tc.stored == 1 && evs[0].Trimmed != tc.trimmed) {
				t.Errorf("stored %+v, want %d record(s), trimmed %v", evs, tc.stored, tc.trimmed)
			}
		})
	}
}
