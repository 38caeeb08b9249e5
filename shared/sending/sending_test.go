package sending_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/emulators/twilio/twiliotest"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/sms"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/user"
)

type fixture struct {
	store   store.Store
	standin *standin.Server
	sender  *sending.Sender
	queue   *memqueue.Queue
	cid     string
}

// newFixture is a sender over a memory store and the real twilio-go client
// talking to the Twilio stand-in.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	si, p := twiliotest.Start(t)
	st, q := memstore.New(), memqueue.New()
	c, err := st.CreateCampaign(context.Background(), campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.EnsureQueue(context.Background(), sendqueue.QueueID(c.ID, 0), 1); err != nil {
		t.Fatal(err)
	}
	return &fixture{store: st, standin: si, queue: q, cid: c.ID, sender: &sending.Sender{
		Store: st, Provider: p, Queue: q, StatusCallback: "http://127.0.0.1:1/webhooks/status", ReconcileAfter: time.Minute,
	}}
}

// quiet gives the campaign quiet hours around now in Colombo, where
// +94 numbers are.
func (f *fixture) quiet(t *testing.T) time.Time {
	t.Helper()
	colombo, err := time.LoadLocation("Asia/Colombo")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(colombo)
	start, end := now.Add(-time.Hour), now.Add(time.Hour)
	if _, err := f.store.UpdateCampaign(context.Background(), f.cid, func(c *campaign.Campaign) error {
		c.QuietStart, c.QuietEnd = start.Format("15:04"), end.Format("15:04")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return time.Date(end.Year(), end.Month(), end.Day(), end.Hour(), end.Minute(), 0, 0, colombo)
}

// queued stores a user and a QUEUED message to them.
func (f *fixture) queued(t *testing.T, phone string, c consent.State) message.Message {
	t.Helper()
	now := time.Now().UTC()
	// They wrote to us just now: the free text may go.
	return f.queuedTo(t, user.User{Phone: phone, Consent: c, Attributes: map[string]any{}, CreatedAt: now, UpdatedAt: now, LastInboundAt: &now})
}

// queuedTo stores u and a QUEUED message to them.
func (f *fixture) queuedTo(t *testing.T, u user.User) message.Message {
	t.Helper()
	ctx := context.Background()
	now, phone := time.Now().UTC(), u.Phone
	if err := f.store.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
		t.Fatal(err)
	}
	m := message.Message{ID: message.ID(f.cid, phone), CampaignID: f.cid, Phone: phone, Status: message.Queued, Body: "Hi " + phone, CreatedAt: now, UpdatedAt: now, QueuedAt: &now}
	if _, err := f.store.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) send(t *testing.T, m message.Message) (sending.Outcome, error) {
	t.Helper()
	return f.sender.Send(context.Background(), sendqueue.Payload{CampaignID: m.CampaignID, MessageID: m.ID})
}

func (f *fixture) get(t *testing.T, m message.Message) message.Message {
	t.Helper()
	got, err := f.store.GetMessage(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestSend(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		phone       string
		consent     consent.State
		wantOutcome sending.Outcome
		wantStatus  message.Status
		wantReason  message.SkipReason
		wantCode    string
		wantSends   int
	}{
		{"opted_in_is_sent", "+94771234567", consent.OptIn, sending.OutcomeSent, message.Sent, "", "", 1},
		{"stop_before_send_is_skipped", "+94771234568", consent.Stop, sending.OutcomeSkipped, message.Skipped, message.SkipConsentAtSend, "", 0},
		{"opt_out_before_send_is_skipped", "+94771234569", consent.OptOut, sending.OutcomeSkipped, message.Skipped, message.SkipConsentAtSend, "", 0},
		{"suppressed_after_fan_out_is_skipped", "+94771234570", consent.OptIn, sending.OutcomeSkipped, message.Skipped, message.SkipSuppressed, "", 0},
		{"invalid_number_fails", "+15005550001", consent.OptIn, sending.OutcomeFailed, message.Failed, "", "21211", 0},
		{"blocked_number_fails", "+15005550004", consent.OptIn, sending.OutcomeFailed, message.Failed, "", "21610", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			m := f.queued(t, tc.phone, tc.consent)
			if tc.wantReason == message.SkipSuppressed {
				if _, err := f.store.Suppress(t.Context(), suppression.Entry{Phone: tc.phone}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.send(t, m)
			if err != nil || got != tc.wantOutcome {
				t.Fatalf("Send = %q, %v; want %q, nil", got, err, tc.wantOutcome)
			}
			after := f.get(t, m)
			if diff := cmp.Diff(
				[]any{tc.wantStatus, tc.wantReason, tc.wantCode, tc.wantSends},
				[]any{after.Status, after.SkipReason, after.ErrorCode, len(f.standin.Sent())}); diff != "" {
				t.Errorf("status, reason, code, sends (-want, +got):\n%s", diff)
			}
			if tc.wantStatus == message.Sent && (after.ProviderSID == "" || after.SentAt == nil) {
				t.Errorf("sent message lacks its sid or time: %+v", after)
			}
		})
	}
}

func TestSend_redelivered_task_sends_once(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	var wg sync.WaitGroup
	outcomes := make(chan sending.Outcome, 10)
	for range 10 {
		wg.Go(func() {
			o, _ := f.send(t, m)
			outcomes <- o
		})
	}
	wg.Wait()
	close(outcomes)
	sent := 0
	for o := range outcomes {
		if o == sending.OutcomeSent {
			sent++
		}
	}
	// Once more, after all: a plain duplicate.
	if o, err := f.send(t, m); o != sending.OutcomeDuplicate || err != nil {
		t.Errorf("late redelivery = %q, %v; want duplicate", o, err)
	}
	if sent != 1 || len(f.standin.Sent()) != 1 {
		t.Errorf("10 concurrent deliveries: %d reported sent, provider got %d; want 1 and 1", sent, len(f.standin.Sent()))
	}
}

func TestSend_lost_answer_is_reconciled_not_resent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The stand-in stores this send but answers 503: the outcome is lost.
	m := f.queued(t, standin.NumberLostAnswer, consent.OptIn)
	if _, err := f.send(t, m); !errs.Retry(err) {
		t.Fatalf("first delivery: err = %v, want a retryable error", err)
	}
	if got := f.get(t, m).Status; got != message.Sending {
		t.Fatalf("after a lost answer the message is %s, want SENDING (claimed, no outcome)", got)
	}
	o, err := f.send(t, m)
	if err != nil || o != sending.OutcomeReconciled {
		t.Fatalf("retry = %q, %v; want reconciled", o, err)
	}
	after := f.get(t, m)
	sent := f.standin.Sent()
	if len(sent) != 1 || after.Status != message.Sent || after.ProviderSID != sent[0].SID {
		t.Errorf("provider has %d sends, message %s with sid %q; want 1 send recorded as SENT with its sid", len(sent), after.Status, after.ProviderSID)
	}
}

// approved makes m a message from a template approved at Twilio.
func (f *fixture) approved(t *testing.T, m message.Message) message.Message {
	t.Helper()
	m, err := f.store.UpdateMessage(context.Background(), m.ID, func(m *message.Message) error {
		m.ContentSID, m.ContentVariables = "HX0123456789abcdef0123456789abcdef", map[string]string{"1": "Ada", "2": "Colombo"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A message from an approved template is sent as its ContentSid and
// ContentVariables, never as Body.
func TestSend_content_sid(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.approved(t, f.queued(t, "+94771234567", consent.OptIn))
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeSent {
		t.Fatalf("Send = %q, %v; want sent", o, err)
	}
	sent := f.standin.Sent()
	if len(sent) != 1 {
		t.Fatalf("provider got %d sends, want 1", len(sent))
	}
	got := []any{sent[0].Body, sent[0].ContentSID, sent[0].ContentVariables}
	want := []any{"", m.ContentSID, m.ContentVariables}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("body, content SID, variables at the provider (-want, +got):\n%s", diff)
	}
	if after := f.get(t, m); after.Status != message.Sent || after.ProviderSID != sent[0].SID {
		t.Errorf("message %s with sid %q; want SENT with %q", after.Status, after.ProviderSID, sent[0].SID)
	}
}

// TestSend_channel_policy_at_send_time: a person's window can close
// between the fan-out and the send (a deferral, a slow campaign): free
// text then is skipped, never handed to Twilio to fail with 63016; an
// approved template still goes.
func TestSend_channel_policy_at_send_time(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		wrote       time.Duration // how long before the send the person last wrote; 0: never
		template    bool
		wantOutcome sending.Outcome
		wantStatus  message.Status
		wantReason  message.SkipReason
		wantSends   int
	}{
		{"free_text_never_wrote", 0, false, sending.OutcomeSkipped, message.Skipped, message.SkipChannelPolicy, 0},
		{"free_text_window_closed", 25 * time.Hour, false, sending.OutcomeSkipped, message.Skipped, message.SkipChannelPolicy, 0},
		{"free_text_window_open", 23 * time.Hour, false, sending.OutcomeSent, message.Sent, "", 1},
		{"template_never_wrote", 0, true, sending.OutcomeSent, message.Sent, "", 1},
		{"template_window_closed", 25 * time.Hour, true, sending.OutcomeSent, message.Sent, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			u := user.User{Phone: "+94771234567", Consent: consent.OptIn}
			if tc.wrote > 0 {
				at := time.Now().UTC().Add(-tc.wrote)
				u.LastInboundAt = &at
			}
			m := f.queuedTo(t, u)
			if tc.template {
				m = f.approved(t, m)
			}
			o, err := f.send(t, m)
			if err != nil || o != tc.wantOutcome {
				t.Fatalf("Send = %q, %v; want %q", o, err, tc.wantOutcome)
			}
			after := f.get(t, m)
			got := []any{after.Status, after.SkipReason, len(f.standin.Sent())}
			want := []any{tc.wantStatus, tc.wantReason, tc.wantSends}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status, reason, provider sends (-want, +got):\n%s", diff)
			}
		})
	}
}

// A lost answer to a template send is reconciled too: the provider keeps
// no body of ours for it.
func TestSend_lost_answer_of_a_content_sid_is_reconciled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.approved(t, f.queued(t, standin.NumberLostAnswer, consent.OptIn))
	if _, err := f.send(t, m); !errs.Retry(err) {
		t.Fatalf("first delivery: err = %v, want a retryable error", err)
	}
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeReconciled {
		t.Fatalf("retry = %q, %v; want reconciled", o, err)
	}
	if sent := f.standin.Sent(); len(sent) != 1 || f.get(t, m).ProviderSID != sent[0].SID {
		t.Errorf("provider has %d sends; want 1, recorded on the message", len(sent))
	}
}

// Twilio renders an approved template into the text it lists, which our
// copy of the template need not match to the character. A lost answer to
// a template send is reconciled by the number and the time however the
// text differs, past ReconcileAfter too, so the template never goes twice;
// a send another message of ours records is never taken for it.
func TestSend_lost_answer_of_a_content_sid_rendered_differently(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// recordedElsewhere: the provider's only send to the number is
		// recorded by another campaign's message.
		recordedElsewhere bool
		// replyFirst: a text without the message's values (a keyword's
		// reply) went to the number just before.
		replyFirst  bool
		wantOutcome sending.Outcome
		wantRetry   bool
		wantSends   int
		wantStatus  message.Status
	}{
		{name: "unrecorded_send_is_ours", wantOutcome: sending.OutcomeReconciled, wantSends: 1, wantStatus: message.Sent},
		// Ours was never sent: the claim is released and the template sent
		// (its answer lost again, as every answer to this number is).
		{name: "send_recorded_elsewhere_is_not", recordedElsewhere: true, wantRetry: true, wantSends: 2, wantStatus: message.Sending},
		// The reply says none of the message's values: never taken for it.
		{name: "a_reply_without_its_values_is_not", replyFirst: true, wantOutcome: sending.OutcomeReconciled, wantSends: 2, wantStatus: message.Sent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			// Past ReconcileAfter at once: only a match keeps the claim.
			f.sender.ReconcileAfter = 0
			m := f.approved(t, f.queued(t, standin.NumberLostAnswer, consent.OptIn))
			f.standin.AddContent(m.ContentSID, "Hello {{1}}! News from {{2}}.")
			if tc.replyFirst {
				// Its answer is lost too; what matters is that it is there.
				_, _ = f.sender.Provider.Send(t.Context(), sms.Request{To: m.Phone, Body: "Reply HELP for help or STOP to opt out."})
			}
			if _, err := f.send(t, m); !errs.Retry(err) {
				t.Fatalf("first delivery: err = %v, want a retryable error", err)
			}
			first := f.standin.Sent()
			if tc.replyFirst {
				first = first[1:]
			}
			if len(first) != 1 || first[0].Body == "" || first[0].Body == m.Body {
				t.Fatalf("provider holds %+v; want one send whose text differs from our copy %q", first, m.Body)
			}
			if tc.recordedElsewhere {
				other := message.Message{ID: message.ID("other", m.Phone), CampaignID: "other", Phone: m.Phone,
					Status: message.Sent, ProviderSID: first[0].SID, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
				if _, err := f.store.CreateMessages(t.Context(), []message.Message{other}); err != nil {
					t.Fatal(err)
				}
			}

			o, err := f.send(t, m)

			if o != tc.wantOutcome || errs.Retry(err) != tc.wantRetry || (err != nil && !tc.wantRetry) {
				t.Fatalf("retry = %q, %v; want %q (a retryable error: %v)", o, err, tc.wantOutcome, tc.wantRetry)
			}
			after := f.get(t, m)
			got := []any{len(f.standin.Sent()), after.Status}
			want := []any{tc.wantSends, tc.wantStatus}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("provider sends, message status (-want, +got):\n%s", diff)
			}
			if tc.wantStatus == message.Sent && after.ProviderSID != first[0].SID {
				t.Errorf("message records sid %q, want the lost send's %q", after.ProviderSID, first[0].SID)
			}
		})
	}
}

func TestSend_unconfirmed_claim(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		policy         sending.UnknownOutcome
		reconcileAfter time.Duration
		wantErr        bool
		wantOutcome    sending.Outcome
		wantSends      int
		wantStatus     message.Status
	}{
		// The provider has nothing, but the claim is too young to prove
		// the call will not land: wait.
		{"young_claim_waits", sending.ResendAfter, time.Hour, true, "", 0, message.Reconcile},
		// Old enough: the provider's silence proves it was never sent.
		{"old_claim_is_sent_once", sending.ResendAfter, 0, false, sending.OutcomeSent, 1, message.Sent},
		// The zero policy is resend_after.
		{"no_policy_is_resend_after", "", 0, false, sending.OutcomeSent, 1, message.Sent},
		// Hold waits the same while evidence may still arrive...
		{"hold_young_claim_waits", sending.Hold, time.Hour, true, "", 0, message.Reconcile},
		// ...then never sends by itself: the task is done, the message
		// stays RECONCILE for an operator.
		{"hold_old_claim_awaits_an_operator", sending.Hold, 0, false, sending.OutcomeAwaitingOperator, 0, message.Reconcile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.sender.ReconcileAfter, f.sender.UnknownOutcome = tc.reconcileAfter, tc.policy
			m := f.queued(t, "+94771234567", consent.OptIn)
			// A crash between claim and provider call leaves this.
			f.claimedWithoutOutcome(t, m)
			o, err := f.send(t, m)
			if (err != nil) != tc.wantErr || o != tc.wantOutcome {
				t.Fatalf("Send = %q, %v; want %q, error %v", o, err, tc.wantOutcome, tc.wantErr)
			}
			if got := len(f.standin.Sent()); got != tc.wantSends {
				t.Errorf("provider got %d sends, want %d", got, tc.wantSends)
			}
			if got := f.get(t, m).Status; got != tc.wantStatus {
				t.Errorf("status %s, want %s", got, tc.wantStatus)
			}
		})
	}
}

// claimedWithoutOutcome leaves m as a crash between its claim and the
// provider's call would: SENDING, claimed a second ago.
func (f *fixture) claimedWithoutOutcome(t *testing.T, m message.Message) {
	t.Helper()
	claimed := time.Now().UTC().Add(-time.Second)
	if _, err := f.store.UpdateMessage(context.Background(), m.ID, func(m *message.Message) error {
		m.Status, m.ClaimedAt, m.Attempts = message.Sending, &claimed, 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Under hold, a held message is sent only once an operator says resend,
// by a task of its new generation, and exactly once however often its old
// and new tasks are delivered; an operator's "sent" records it and sends
// nothing.
func TestSend_held_then_resolved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		outcome    message.Outcome
		wantSends  int
		wantStatus message.Status
	}{
		{"resend", message.OutcomeResend, 1, message.Sent},
		{"sent", message.OutcomeSent, 0, message.Sent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.sender.ReconcileAfter, f.sender.UnknownOutcome = 0, sending.Hold
			m := f.queued(t, "+94771234567", consent.OptIn)
			f.claimedWithoutOutcome(t, m)
			if o, err := f.send(t, m); err != nil || o != sending.OutcomeAwaitingOperator {
				t.Fatalf("Send = %q, %v; want awaiting an operator", o, err)
			}
			// Redelivered while held: still nothing sent.
			if o, err := f.send(t, m); err != nil || o != sending.OutcomeAwaitingOperator {
				t.Fatalf("Send again = %q, %v; want awaiting an operator", o, err)
			}
			resolved, retask, err := sending.Resolve(t.Context(), f.store, sending.Resolution{MessageID: m.ID, Attempts: 1, Outcome: tc.outcome, By: "ops@example.com"}, time.Now())
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if want := tc.outcome == message.OutcomeResend; retask != want || (resolved.TaskGeneration != 0) != want {
				t.Errorf("Resolve retask %v with generation %d; want a new generation: %v", retask, resolved.TaskGeneration, want)
			}
			for range 3 { // the new task, redelivered, and the old one
				if _, err := f.send(t, m); err != nil {
					t.Fatalf("Send after the resolution: %v", err)
				}
			}
			after := f.get(t, m)
			got := []any{len(f.standin.Sent()), after.Status, len(after.Resolutions), after.Attempts}
			want := []any{tc.wantSends, tc.wantStatus, 1, 1 + tc.wantSends}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sends, status, resolutions, attempts (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestSend_quiet_hours_at_send_time_defer_with_a_new_task(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn) // no timezone attribute: the number's, Asia/Colombo
	until := f.quiet(t)
	for range 2 { // a redelivery defers it once
		if o, err := f.send(t, m); o != sending.OutcomeDeferred || err != nil {
			t.Fatalf("Send in quiet hours = %q, %v; want deferred", o, err)
		}
	}
	after := f.get(t, m)
	tasks := f.queue.Tasks(sendqueue.QueueID(f.cid, 0))
	if after.Status != message.Deferred || after.ScheduledAt == nil || !after.ScheduledAt.Equal(until) || len(tasks) != 1 || !tasks[0].At.Equal(until) || tasks[0].Generation == 0 {
		t.Errorf("message %s at %v, tasks %+v; want DEFERRED with one new task at that time", after.Status, after.ScheduledAt, tasks)
	}
	if len(f.standin.Sent()) != 0 {
		t.Errorf("sent in quiet hours")
	}
	// The old task, delivered again, leaves the message to the new one.
	if o, err := f.send(t, m); o != sending.OutcomeDeferred || err != nil || len(f.standin.Sent()) != 0 {
		t.Errorf("old task after the deferral = %q, %v; want deferred and nothing sent", o, err)
	}
}

// A deferral whose task could not be made is repaired by the retry of the
// old task, so the message never waits with no task to send it.
func TestSend_deferral_whose_enqueue_failed_is_repaired(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	until := f.quiet(t)
	f.queue.SetDown(errs.E(errs.Transient, "cloud tasks unavailable"))
	if _, err := f.send(t, m); !errs.Retry(err) {
		t.Fatalf("Send with the queue down: err = %v, want a retryable error", err)
	}
	f.queue.SetDown(nil)
	if o, err := f.send(t, m); o != sending.OutcomeDeferred || err != nil {
		t.Fatalf("retry = %q, %v; want deferred", o, err)
	}
	tasks := f.queue.Tasks(sendqueue.QueueID(f.cid, 0))
	if len(tasks) != 1 || !tasks[0].At.Equal(until) {
		t.Errorf("tasks %+v; want one at %v", tasks, until)
	}
}

// A deferral goes to the campaign's queue of its current generation, the
// one the campaign moved to when its first name was blocked.
func TestSend_deferral_goes_to_the_campaigns_queue_generation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	next := sendqueue.QueueID(f.cid, 1)
	if err := f.queue.EnsureQueue(ctx, next, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.UpdateCampaign(ctx, f.cid, func(c *campaign.Campaign) error {
		c.QueueGeneration = 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m := f.queued(t, "+94771234567", consent.OptIn)
	until := f.quiet(t)
	for range 2 { // the second finds the message deferred already
		if o, err := f.send(t, m); o != sending.OutcomeDeferred || err != nil {
			t.Fatalf("Send in quiet hours = %q, %v; want deferred", o, err)
		}
	}
	want := []sendqueue.Task{{Queue: next, CampaignID: f.cid, MessageID: m.ID, At: until, Generation: until.Unix()}}
	if diff := cmp.Diff(want, f.queue.Tasks(next)); diff != "" {
		t.Errorf("tasks in %s (-want, +got):\n%s", next, diff)
	}
	if got := f.queue.Tasks(sendqueue.QueueID(f.cid, 0)); len(got) != 0 {
		t.Errorf("tasks in the first generation's queue: %+v, want none", got)
	}
}

// A deferred message's task that runs a moment before its time by the
// instance's clock, still in quiet hours, is retried shortly: it never
// sends early, and never defers again to the same time (the same task
// name, which Cloud Tasks dedupes away). At its time it sends.
func TestSend_deferred_task_a_moment_early(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		early     time.Duration
		want      sending.Outcome
		wantErr   bool // transient: delivered again in a moment
		wantSent  int
		wantState message.Status
	}{
		{name: "at_its_time_sends", want: sending.OutcomeSent, wantSent: 1, wantState: message.Sent},
		{name: "two_seconds_early_retries", early: 2 * time.Second, wantErr: true, wantState: message.Deferred},
		{name: "at_the_grace_retries", early: sending.EarlyGrace, wantErr: true, wantState: message.Deferred},
		{name: "earlier_than_the_grace_waits", early: sending.EarlyGrace + time.Second, want: sending.OutcomeDeferred, wantState: message.Deferred},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			m := f.queued(t, "+94771234567", consent.OptIn)
			until := f.quiet(t)
			if _, err := f.store.UpdateMessage(context.Background(), m.ID, func(m *message.Message) error {
				m.Status, m.ScheduledAt = message.Deferred, &until
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			f.sender.Now = func() time.Time { return until.Add(-tc.early) }
			o, err := f.send(t, m)
			if (err != nil) != tc.wantErr || (tc.wantErr && !errs.Is(err, errs.Transient)) || o != tc.want {
				t.Errorf("Send %v early = %q, %v; want %q (transient error: %v)", tc.early, o, err, tc.want, tc.wantErr)
			}
			if got := f.get(t, m).Status; got != tc.wantState {
				t.Errorf("message %s, want %s", got, tc.wantState)
			}
			if got := len(f.standin.Sent()); got != tc.wantSent {
				t.Errorf("%d sends, want %d", got, tc.wantSent)
			}
		})
	}
}
