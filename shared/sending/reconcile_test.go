package sending_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sms"
	"github.com/eventstreamengine/ese/shared/store"
)

// lostAnswer sends for real, then loses the answer (a timeout); its SentTo
// runs hook once after listing, as a callback landing while reconcile
// holds the provider's list would.
type lostAnswer struct {
	sms.Provider
	hook     func()
	failedAs string // if set, the list shows every send failed with this code
}

func (l *lostAnswer) Send(ctx context.Context, r sms.Request) (sms.Result, error) {
	if _, err := l.Provider.Send(ctx, r); err != nil {
		return sms.Result{}, err
	}
	return sms.Result{}, errs.E(errs.Transient, "timeout")
}

func (l *lostAnswer) SentTo(ctx context.Context, p string, since time.Time) ([]sms.Sent, error) {
	out, err := l.Provider.SentTo(ctx, p, since)
	for i := range out {
		if l.failedAs != "" {
			out[i].Status, out[i].ErrorCode = "failed", l.failedAs
		}
	}
	if h := l.hook; h != nil {
		l.hook = nil
		h()
	}
	return out, err
}

// A 63018 callback that lands while reconcile holds the provider's list
// has made a new attempt: reconcile must not record the refused send as
// SENT (the new attempt would never go); it asks for a retry instead.
func TestReconcile_rate_limit_callback_during_the_list(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	la := &lostAnswer{Provider: f.sender.Provider}
	f.sender.Provider = la
	if _, err := f.send(t, m); !errs.Is(err, errs.Transient) {
		t.Fatalf("Send() error = %v, want transient (the answer lost)", err)
	}
	sid := f.standin.Sent()[0].SID
	a := &deliverystatus.Applier{Store: f.store, GiveUpAfter: time.Minute, Retries: noRetask{}}
	la.hook = func() {
		if err := a.Apply(context.Background(), deliverystatus.Callback{ProviderSID: sid, MessageID: m.ID,
			Update: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63018", Class: message.FailureRateLimited, At: time.Now()}}); err != nil {
			t.Errorf("Apply() error = %v", err)
		}
	}
	if _, err := f.send(t, m); !errs.Is(err, errs.Transient) {
		t.Errorf("Send() (reconcile) error = %v, want transient: the message moved meanwhile", err)
	}
	got := f.get(t, m)
	if got.Status != message.Deferred || got.ProviderSID != "" {
		t.Errorf("message %s as %q (prior %v), want DEFERRED for its new attempt, no sid", got.Status, got.ProviderSID, got.PriorSIDs)
	}
}

// A send the provider lists but failed is recorded FAILED with its code,
// never SENT.
func TestReconcile_listed_failed_send(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	f.sender.Provider = &lostAnswer{Provider: f.sender.Provider, failedAs: "30008"}
	if _, err := f.send(t, m); !errs.Is(err, errs.Transient) {
		t.Fatalf("Send() error = %v, want transient (the answer lost)", err)
	}
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeReconciled {
		t.Fatalf("Send() (reconcile) = %q, %v; want reconciled", o, err)
	}
	got := f.get(t, m)
	if got.Status != message.Failed || got.ProviderSID != f.standin.Sent()[0].SID || got.ErrorCode != "30008" {
		t.Errorf("message %s as %q, error %q; want FAILED as the listed send, with its code", got.Status, got.ProviderSID, got.ErrorCode)
	}
}

// The status callback URL names the message and its attempt (the claim
// generation), so an earlier attempt's news is told apart.
func TestSend_callback_names_the_attempt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeSent {
		t.Fatalf("Send() = %q, %v", o, err)
	}
	want := "http://127.0.0.1:1/webhooks/status?message_id=" + m.ID + "&attempt=1"
	if got := f.standin.Sent()[0].StatusCallback; got != want {
		t.Errorf("StatusCallback = %q, want %q", got, want)
	}
}

// The send's own answer, arriving once the message concluded as another
// send (an earlier attempt recorded by reconcile or an operator), keeps
// its sid as a duplicate: evidence the message went twice.
func TestSend_answer_after_another_send_is_kept_as_a_duplicate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	f.sender.Provider = outrun{Provider: f.sender.Provider, callback: func(string) {
		if _, err := f.store.UpdateMessage(context.Background(), m.ID, func(m *message.Message) error {
			m.ProviderSID = "SMother"
			m.Apply(message.ProviderUpdate{Status: message.Sent, At: time.Now()})
			return nil
		}); err != nil {
			t.Error(err)
		}
	}}
	if _, err := f.send(t, m); err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	got := f.get(t, m)
	if got.ProviderSID != "SMother" || len(got.DuplicateSIDs) != 1 || got.DuplicateSIDs[0] != f.standin.Sent()[0].SID {
		t.Errorf("message as %q with duplicates %v; want SMother, the answer's sid a duplicate", got.ProviderSID, got.DuplicateSIDs)
	}
}

// missedLookup is a store whose lookup by provider sid finds nothing, as
// one racing the other message's recording would.
type missedLookup struct{ store.Store }

func (missedLookup) MessageByProviderSID(context.Context, string) (message.Message, error) {
	return message.Message{}, errs.E(errs.NotExist, "no message")
}

// Two messages cannot take one listed send: the recording transaction
// refuses a sid another message records, even when the lookup before it
// missed it, and reconciliation goes on as if it were not listed.
func TestReconcile_sid_taken_by_another_message(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m1 := f.queued(t, "+94771234567", consent.OptIn)
	if o, err := f.send(t, m1); err != nil || o != sending.OutcomeSent {
		t.Fatalf("Send() = %q, %v", o, err)
	}
	sid := f.get(t, m1).ProviderSID
	c2, err := f.store.CreateCampaign(t.Context(), campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
	if err != nil {
		t.Fatal(err)
	}
	claimed := time.Now().UTC().Add(-time.Second)
	m2 := message.Message{ID: message.ID(c2.ID, m1.Phone), CampaignID: c2.ID, Phone: m1.Phone, Status: message.Sending, Body: m1.Body,
		ClaimedAt: &claimed, Attempts: 1, CreatedAt: claimed, UpdatedAt: claimed}
	if _, err := f.store.CreateMessages(t.Context(), []message.Message{m2}); err != nil {
		t.Fatal(err)
	}
	f.sender.Store, f.sender.ReconcileAfter = missedLookup{f.store}, 0
	if o, err := f.send(t, m2); err != nil || o != sending.OutcomeSent {
		t.Fatalf("Send() (reconcile) = %q, %v; want sent anew", o, err)
	}
	if got := f.get(t, m2); got.ProviderSID == sid || got.ProviderSID == "" || len(f.standin.Sent()) != 2 {
		t.Errorf("second message as %q (the first's %s), %d sends; want a send of its own", got.ProviderSID, sid, len(f.standin.Sent()))
	}
}
