package deliverystatus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

// t0 is when the sender recorded the send; callbacks come after.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// callback is one status callback, as the Webhooks function reads it.
type callback struct {
	status message.Status
	code   string
	at     time.Time
}

func event(sid string, c callback) deliverystatus.Callback {
	return deliverystatus.Callback{ProviderSID: sid, Update: message.ProviderUpdate{Status: c.status, ErrorCode: c.code, At: c.at}}
}

// sent is a message as the sender leaves it once the provider took it.
func sent(sid string) message.Message {
	t := t0
	return message.Message{
		ID: message.ID("c1", "+94771234567"), CampaignID: "c1", Phone: "+94771234567",
		Status: message.Sent, Body: "Hi", ProviderSID: sid, Attempts: 1,
		CreatedAt: t0.Add(-time.Minute), UpdatedAt: t0, SentAt: &t,
	}
}

func ptr(t time.Time) *time.Time { return &t }

func TestApply(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		callbacks []callback
		want      func(m *message.Message) // changes to the sent message
	}{
		{
			name:      "in_order",
			callbacks: []callback{{message.Sent, "", at(1)}, {message.Delivered, "", at(2)}, {message.Read, "", at(3)}},
			want: func(m *message.Message) {
				m.Status, m.DeliveredAt, m.ReadAt, m.UpdatedAt = message.Read, ptr(at(2)), ptr(at(3)), at(3)
			},
		},
		{
			name:      "read_before_sent_and_delivered",
			callbacks: []callback{{message.Read, "", at(3)}, {message.Sent, "", at(1)}, {message.Delivered, "", at(2)}},
			want: func(m *message.Message) {
				// Read implies delivered: the stage is recorded once, when
				// first learnt, and the late callbacks change nothing.
				m.Status, m.DeliveredAt, m.ReadAt, m.UpdatedAt = message.Read, ptr(at(3)), ptr(at(3)), at(3)
			},
		},
		{
			name:      "duplicate_delivered_keeps_the_first_time",
			callbacks: []callback{{message.Delivered, "", at(2)}, {message.Delivered, "", at(9)}},
			want: func(m *message.Message) {
				m.Status, m.DeliveredAt, m.UpdatedAt = message.Delivered, ptr(at(2)), at(2)
			},
		},
		{
			name:      "late_sent_after_delivered_changes_nothing",
			callbacks: []callback{{message.Delivered, "", at(2)}, {message.Sent, "", at(4)}},
			want: func(m *message.Message) {
				m.Status, m.DeliveredAt, m.UpdatedAt = message.Delivered, ptr(at(2)), at(2)
			},
		},
		{
			name:      "failed_after_delivered_is_ignored",
			callbacks: []callback{{message.Delivered, "", at(2)}, {message.Failed, "30008", at(3)}},
			want: func(m *message.Message) {
				m.Status, m.DeliveredAt, m.UpdatedAt = message.Delivered, ptr(at(2)), at(2)
			},
		},
		{
			name:      "undelivered_after_read_is_ignored",
			callbacks: []callback{{message.Read, "", at(3)}, {message.Failed, "30003", at(4)}},
			want: func(m *message.Message) {
				m.Status, m.DeliveredAt, m.ReadAt, m.UpdatedAt = message.Read, ptr(at(3)), ptr(at(3)), at(3)
			},
		},
		{
			name:      "failed_records_the_error_code",
			callbacks: []callback{{message.Failed, "30008", at(2)}},
			want: func(m *message.Message) {
				m.Status, m.ErrorCode, m.FailedAt, m.UpdatedAt = message.Failed, "30008", ptr(at(2)), at(2)
			},
		},
		{
			name:      "undelivered_without_code_records_the_status",
			callbacks: []callback{{message.Failed, "undelivered", at(2)}},
			want: func(m *message.Message) {
				m.Status, m.ErrorCode, m.FailedAt, m.UpdatedAt = message.Failed, "undelivered", ptr(at(2)), at(2)
			},
		},
		{
			name:      "second_failure_keeps_the_first",
			callbacks: []callback{{message.Failed, "30008", at(2)}, {message.Failed, "30005", at(3)}, {message.Failed, "30008", at(2)}},
			want: func(m *message.Message) {
				m.Status, m.ErrorCode, m.FailedAt, m.UpdatedAt = message.Failed, "30008", ptr(at(2)), at(2)
			},
		},
		{
			name:      "statuses_we_do_not_record_change_nothing",
			callbacks: []callback{{message.Queued, "", at(1)}, {message.Queued, "", at(1)}, {message.Queued, "", at(1)}, {message.Sent, "", at(2)}},
			want:      func(m *message.Message) {},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := memstore.New()
			m := sent("SM" + tc.name)
			if _, err := st.CreateMessages(ctx, []message.Message{m}); err != nil {
				t.Fatal(err)
			}
			a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Minute, Now: func() time.Time { return at(10) }}
			for _, c := range tc.callbacks {
				if err := a.Apply(ctx, event(m.ProviderSID, c)); err != nil {
					t.Fatalf("Apply(%s at %s): %v", c.status, c.at.Format(time.TimeOnly), err)
				}
			}
			got, err := st.GetMessage(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := sent(m.ProviderSID)
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("message after %d callbacks (-want, +got):\n%s", len(tc.callbacks), diff)
			}
		})
	}
}

func TestApply_unknown_message_sid(t *testing.T) {
	t.Parallel()
	now := at(3600)
	cases := []struct {
		name      string
		status    message.Status
		age       time.Duration // how long ago the callback arrived
		wantRetry bool
	}{
		// The sender may not have recorded the sid yet: try again.
		{"fresh_is_retried", message.Delivered, time.Second, true},
		{"at_the_limit_is_retried", message.Delivered, 15 * time.Minute, true},
		// A sid that never appears is not ours: drop it.
		{"past_the_limit_is_dropped", message.Delivered, 15*time.Minute + time.Second, false},
		{"old_failure_is_dropped", message.Failed, time.Hour, false},
		// A status we do not record needs no message at all.
		{"ignored_status_is_dropped_at_once", message.Queued, time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			a := &deliverystatus.Applier{Store: st, GiveUpAfter: 15 * time.Minute, Now: func() time.Time { return now }}
			err := a.Apply(context.Background(), event("SMunknown", callback{tc.status, "", now.Add(-tc.age)}))
			if got := errs.Retry(err); got != tc.wantRetry {
				t.Fatalf("Apply = %v: retry %v, want %v", err, got, tc.wantRetry)
			}
			if tc.wantRetry && !errs.Is(err, errs.Transient) {
				t.Errorf("Apply = %v (kind %s), want a transient error", err, errs.KindOf(err))
			}
			if !tc.wantRetry && err != nil {
				t.Errorf("Apply = %v, want nil (ack)", err)
			}
		})
	}
}

func TestApply_sid_recorded_after_a_retry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	a := &deliverystatus.Applier{Store: st, GiveUpAfter: 15 * time.Minute, Now: func() time.Time { return at(10) }}
	ev := event("SMlate", callback{message.Delivered, "", at(2)})
	if err := a.Apply(ctx, ev); !errs.Retry(err) {
		t.Fatalf("before the sid is recorded: Apply = %v, want a retryable error", err)
	}
	m := sent("SMlate")
	if _, err := st.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(ctx, ev); err != nil {
		t.Fatalf("redelivery after the sid is recorded: %v", err)
	}
	got, err := st.GetMessage(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := sent("SMlate")
	want.Status, want.DeliveredAt, want.UpdatedAt = message.Delivered, ptr(at(2)), at(2)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("message (-want, +got):\n%s", diff)
	}
}

// down is a store whose lookups fail as an unreachable database does.
type down struct{ store.Store }

func (down) MessageByProviderSID(context.Context, string) (message.Message, error) {
	return message.Message{}, errors.New("connection refused")
}

func TestApply_store_failure_is_retried(t *testing.T) {
	t.Parallel()
	a := &deliverystatus.Applier{Store: down{memstore.New()}, GiveUpAfter: time.Minute}
	err := a.Apply(context.Background(), event("SM1", callback{message.Delivered, "", time.Now()}))
	if !errs.Retry(err) {
		t.Errorf("Apply over a failing store = %v, want a retryable error", err)
	}
}

// The sender names the message in the callback URL, so a status can find
// it before the sender has recorded the sid.
func TestApply_by_message_id(t *testing.T) {
	t.Parallel()
	claimed := func() message.Message {
		m := sent("")
		m.Status, m.SentAt, m.ClaimedAt = message.Sending, nil, ptr(t0)
		return m
	}
	cases := []struct {
		name      string
		stored    message.Message
		messageID string // "" for the stored message's id
		sid       string
		wantErr   bool
		wantRetry bool
		want      func(m *message.Message)
	}{
		{
			name: "status_before_the_sid_is_recorded", stored: claimed(), sid: "SMnew",
			want: func(m *message.Message) {
				m.ProviderSID, m.Status = "SMnew", message.Delivered
				m.SentAt, m.DeliveredAt, m.UpdatedAt = ptr(at(2)), ptr(at(2)), at(2)
			},
		},
		{
			name: "same_sid", stored: sent("SM1"), sid: "SM1",
			want: func(m *message.Message) {
				m.Status, m.DeliveredAt, m.UpdatedAt = message.Delivered, ptr(at(2)), at(2)
			},
		},
		// Another send of the same message: not this message's status.
		{name: "another_sid_is_dropped", stored: sent("SM1"), sid: "SM2", wantErr: true, want: func(*message.Message) {}},
		{name: "unknown_message_id_is_retried", stored: sent("SM1"), messageID: "nope", sid: "SM1",
			wantErr: true, wantRetry: true, want: func(*message.Message) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := memstore.New()
			if _, err := st.CreateMessages(ctx, []message.Message{tc.stored}); err != nil {
				t.Fatal(err)
			}
			ev := event(tc.sid, callback{message.Delivered, "", at(2)})
			ev.MessageID = tc.messageID
			if ev.MessageID == "" {
				ev.MessageID = tc.stored.ID
			}
			a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Minute, Now: func() time.Time { return at(10) }}
			err := a.Apply(ctx, ev)
			if (err != nil) != tc.wantErr || errs.Retry(err) != tc.wantRetry {
				t.Fatalf("Apply = %v (retry %v); want error %v, retry %v", err, errs.Retry(err), tc.wantErr, tc.wantRetry)
			}
			got, err := st.GetMessage(ctx, tc.stored.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.stored
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("message (-want, +got):\n%s", diff)
			}
		})
	}
}

// watch records the campaigns it is asked to check.
type watch struct {
	mu      sync.Mutex
	checked []string
}

func (w *watch) CheckFailures(_ context.Context, campaignID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checked = append(w.checked, campaignID)
	return nil
}

// A callback that fails a message asks for its campaign's failure rate,
// once: not when redelivered, nor for a message already concluded.
func TestApply_checks_failures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		callbacks []callback
		want      []string
	}{
		{name: "failed", callbacks: []callback{{message.Failed, "63016", at(1)}}, want: []string{"c1"}},
		{name: "failed_redelivered", callbacks: []callback{{message.Failed, "63016", at(1)}, {message.Failed, "63016", at(1)}}, want: []string{"c1"}},
		{name: "failed_twice_with_codes", callbacks: []callback{{message.Failed, "30008", at(1)}, {message.Failed, "63016", at(2)}}, want: []string{"c1"}},
		{name: "delivered", callbacks: []callback{{message.Delivered, "", at(1)}, {message.Read, "", at(2)}}},
		{name: "failed_after_delivered", callbacks: []callback{{message.Delivered, "", at(1)}, {message.Failed, "30008", at(2)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := memstore.New()
			if _, err := st.CreateMessages(ctx, []message.Message{sent("SM1")}); err != nil {
				t.Fatal(err)
			}
			w := &watch{}
			a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Minute, Now: func() time.Time { return at(10) }, Failures: w}
			for _, c := range tc.callbacks {
				if err := a.Apply(ctx, event("SM1", c)); err != nil {
					t.Fatalf("Apply(%v): %v", c.status, err)
				}
			}
			if diff := cmp.Diff(tc.want, w.checked); diff != "" {
				t.Errorf("campaigns checked (-want, +got):\n%s", diff)
			}
		})
	}
}

// Failed callbacks, with the campaign runner watching, pause a running
// campaign once more than the rate of its last sends failed, with the
// count as the reason.
func TestApply_failed_callbacks_pause_the_campaign(t *testing.T) {
	t.Parallel()
	const window, people = 4, 6
	cases := []struct {
		name       string
		failures   int // of the people's messages, the first ones fail
		wantStatus campaign.Status
		wantReason string
	}{
		{name: "over_the_rate", failures: 3, wantStatus: campaign.Paused, wantReason: "auto-pause: 3 of the last 4 sends failed (more than 50%)"},
		{name: "at_the_rate", failures: 2, wantStatus: campaign.Running},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := memstore.New()
			c, err := st.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t", SegmentID: "s", Rate: 1, Status: campaign.Running})
			if err != nil {
				t.Fatal(err)
			}
			// Claimed in order: the window is the last four, people 2 to 5.
			var ms []message.Message
			for i := range people {
				claimed, sentAt := t0.Add(time.Duration(i)*time.Second), t0.Add(time.Duration(i)*time.Second+time.Millisecond)
				ms = append(ms, message.Message{ID: message.ID(c.ID, fmt.Sprint(i)), CampaignID: c.ID, Phone: fmt.Sprint("+9477123456", i),
					Status: message.Sent, ProviderSID: fmt.Sprint("SM", i), ClaimedAt: &claimed, SentAt: &sentAt, CreatedAt: t0, UpdatedAt: sentAt})
			}
			if _, err := st.CreateMessages(ctx, ms); err != nil {
				t.Fatal(err)
			}
			runner := &campaignrun.Runner{Store: st, Events: memevents.New(), Now: func() time.Time { return at(20) },
				AutoPause: campaignrun.AutoPause{Window: window, FailureRate: 0.5}}
			a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Minute, Now: func() time.Time { return at(10) }, Failures: runner}
			for i := range people {
				status := message.Delivered
				if people-1-i < tc.failures { // the last ones claimed fail
					status = message.Failed
				}
				if err := a.Apply(ctx, event(fmt.Sprint("SM", i), callback{status, "63016", at(5)})); err != nil {
					t.Fatal(err)
				}
			}
			got, err := st.GetCampaign(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]any{tc.wantStatus, tc.wantReason}, []any{got.Status, got.StatusReason}); diff != "" {
				t.Errorf("campaign status, reason (-want, +got):\n%s", diff)
			}
		})
	}
}

// contended runs each UpdateMessage's change twice, as a Firestore
// transaction that met a concurrent write: once on the message as it
// was, discarded, then again after race committed its own change.
type contended struct {
	store.Store
	race func(m *message.Message) error
}

func (s contended) UpdateMessage(ctx context.Context, id string, fn func(*message.Message) error) (message.Message, error) {
	m, err := s.Store.GetMessage(ctx, id)
	if err != nil {
		return m, err
	}
	if err := fn(&m); err != nil && !errors.Is(err, store.Unchanged) {
		return m, err
	}
	if _, err := s.Store.UpdateMessage(ctx, id, s.race); err != nil {
		return m, err
	}
	return s.Store.UpdateMessage(ctx, id, fn)
}

// A transaction retried after the same failure was applied meanwhile (a
// redelivery racing the first delivery) checks nothing: the delivery that
// applied it checks the campaign, once.
func TestApply_failure_applied_meanwhile_is_not_checked_again(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := memstore.New()
	if _, err := mem.CreateMessages(ctx, []message.Message{sent("SM1")}); err != nil {
		t.Fatal(err)
	}
	failed := event("SM1", callback{message.Failed, "63016", at(1)})
	st := contended{Store: mem, race: func(m *message.Message) error {
		m.Apply(failed.Update)
		return nil
	}}
	w := &watch{}
	a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Minute, Now: func() time.Time { return at(10) }, Failures: w}

	if err := a.Apply(ctx, failed); err != nil {
		t.Fatal(err)
	}

	if diff := cmp.Diff([]string(nil), w.checked); diff != "" {
		t.Errorf("campaigns checked (-want, +got):\n%s", diff)
	}
	if got, _ := mem.GetMessage(ctx, sent("SM1").ID); got.Status != message.Failed {
		t.Errorf("message is %s, want FAILED", got.Status)
	}
}

// A marketing template that fails with one of the deployment's
// marketing opt-out codes records that on the person, once, with when and
// what reported it; a redelivery changes nothing. The same code on a
// utility template or on free text, another code, or a deployment that
// lists other codes records nothing.
func TestApply_marketing_opt_out(t *testing.T) {
	t.Parallel()
	const sid = "HX5b3a1e0c9d8f4e2a7b6c5d4e3f2a1b0c"
	recorded := &user.MarketingOptOut{At: at(3), Source: user.SourceProviderFailure, Ref: "SM1"}
	tests := []struct {
		name       string
		codes      []string
		code       string
		category   template.Category
		contentSID string
		want       *user.MarketingOptOut
	}{
		{"marketing_template", []string{"63033"}, "63033", template.Marketing, sid, recorded},
		{"uncategorised_template", []string{"63033"}, "63033", "", sid, recorded},
		{"configured_code", []string{"63033", "63099"}, "63099", template.Marketing, sid, recorded},
		{"utility_template", []string{"63033"}, "63033", template.Utility, sid, nil},
		{"free_text", []string{"63033"}, "63033", template.Marketing, "", nil},
		{"declined_is_not_an_opt_out", []string{"63033"}, "63049", template.Marketing, sid, nil},
		{"code_not_configured", []string{"63099"}, "63033", template.Marketing, sid, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := memstore.New()
			c, err := st.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t", SegmentID: "s", Rate: 1, Status: campaign.Running,
				Template: &template.Template{Name: "t", Content: "Hi", Category: tc.category, ContentSID: tc.contentSID}})
			if err != nil {
				t.Fatal(err)
			}
			m := sent("SM1")
			m.ID, m.CampaignID, m.ContentSID = message.ID(c.ID, m.Phone), c.ID, tc.contentSID
			if err := st.CreateUser(ctx, user.User{Phone: m.Phone, Consent: consent.OptIn}, consent.SourceAPI, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := st.CreateMessages(ctx, []message.Message{m}); err != nil {
				t.Fatal(err)
			}
			a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Hour, MarketingOptOutCodes: tc.codes}
			cb := deliverystatus.Callback{ProviderSID: "SM1", Update: message.ProviderUpdate{Status: message.Failed, ErrorCode: tc.code, Class: message.FailureUndeliverable, At: at(3)}}
			for range 2 { // a redelivery changes nothing
				if err := a.Apply(ctx, cb); err != nil {
					t.Fatal(err)
				}
			}
			u, err := st.GetUser(ctx, m.Phone)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, u.MarketingOptOut); diff != "" {
				t.Errorf("marketing opt-out (-want, +got):\n%s", diff)
			}
			got, _ := st.GetMessage(ctx, m.ID)
			if got.Status != message.Failed || got.ErrorCode != tc.code {
				t.Errorf("message = %s %s, want FAILED %s", got.Status, got.ErrorCode, tc.code)
			}
		})
	}
}
