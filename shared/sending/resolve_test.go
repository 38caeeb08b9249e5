package sending_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sms"
)

// laggingList is a provider whose list shows nothing for the first calls,
// as Twilio's list lagging behind a send would.
type laggingList struct {
	sms.Provider
	blind int // calls of SentTo that list nothing
}

func (l *laggingList) SentTo(ctx context.Context, p string, since time.Time) ([]sms.Sent, error) {
	if l.blind > 0 {
		l.blind--
		return nil, nil
	}
	return l.Provider.SentTo(ctx, p, since)
}

// held makes m held for an operator by the Sender under hold: claimed, its
// send made but its answer lost, and not listed in time.
func (f *fixture) held(t *testing.T, m message.Message) *laggingList {
	t.Helper()
	f.sender.ReconcileAfter, f.sender.UnknownOutcome = 0, sending.Hold
	l := &laggingList{Provider: &lostAnswer{Provider: f.sender.Provider}, blind: 1}
	f.sender.Provider = l
	if _, err := f.send(t, m); !errs.Is(err, errs.Transient) {
		t.Fatalf("Send() error = %v, want transient (the answer lost)", err)
	}
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeAwaitingOperator {
		t.Fatalf("Send() (reconcile) = %q, %v; want awaiting an operator", o, err)
	}
	if got := f.get(t, m); got.HeldAt == nil {
		t.Fatalf("held message %+v has no held_at", got)
	}
	return l
}

// An operator's resend asks Twilio once more, since the held claim and with
// no end, before it sends: a send that its list showed late is recorded,
// never made twice.
func TestResolve_resend_finds_the_earlier_send(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	f.held(t, m)
	if _, _, err := sending.Resolve(t.Context(), f.store, sending.Resolution{MessageID: m.ID, Attempts: 1, Outcome: message.OutcomeResend, By: "ops"}, time.Now()); err != nil {
		t.Fatalf("Resolve() error = %v", err)
	}
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeReconciled {
		t.Errorf("Send() after the resend = %q, %v; want reconciled", o, err)
	}
	got, sent := f.get(t, m), f.standin.Sent()
	if len(sent) != 1 || got.Status != message.Sent || got.ProviderSID != sent[0].SID {
		t.Errorf("message %s as %q with %d sends; want SENT as the one send", got.Status, got.ProviderSID, len(sent))
	}
}

// A resolution is only for a claim the Sender held, on the attempt the
// operator saw; a retried request is answered as the first.
func TestResolve_preconditions(t *testing.T) {
	t.Parallel()
	res := func(attempts int, o message.Outcome, sid string) sending.Resolution {
		return sending.Resolution{Attempts: attempts, Outcome: o, ProviderSID: sid, By: "ops"}
	}
	for _, tc := range []struct {
		name       string
		edit       func(*message.Message)
		campaign   campaign.Status
		r          sending.Resolution
		wantKind   errs.Kind      // 0: resolved
		wantStatus message.Status // when resolved, if not the outcome's usual
	}{
		{name: "held_sent", r: res(1, message.OutcomeSent, "")},
		{name: "held_resend", r: res(1, message.OutcomeResend, "")},
		{name: "still_reconciling", edit: func(m *message.Message) { m.HeldAt = nil }, r: res(1, message.OutcomeSent, ""), wantKind: errs.Conflict},
		{name: "another_attempt", r: res(2, message.OutcomeResend, ""), wantKind: errs.Conflict},
		{name: "no_attempt", r: res(0, message.OutcomeSent, ""), wantKind: errs.Invalid},
		{name: "an_earlier_attempts_sid", edit: func(m *message.Message) { m.PriorSIDs = []string{"SM" + "0123456789abcdef0123456789abcdef"} },
			r: res(1, message.OutcomeSent, "SM0123456789abcdef0123456789abcdef"), wantKind: errs.Conflict},
		{name: "resend_in_a_cancelled_campaign_skips", campaign: campaign.Cancelled, r: res(1, message.OutcomeResend, ""), wantStatus: message.Skipped},
		{name: "resend_in_a_failed_campaign", campaign: campaign.Failed, r: res(1, message.OutcomeResend, ""), wantKind: errs.Conflict},
		{name: "sent_in_a_cancelled_campaign", campaign: campaign.Cancelled, r: res(1, message.OutcomeSent, "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			m := f.queued(t, "+94771234567", consent.OptIn)
			f.held(t, m)
			if tc.edit != nil {
				if _, err := f.store.UpdateMessage(t.Context(), m.ID, func(m *message.Message) error { tc.edit(m); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if tc.campaign != "" {
				f.setStatus(t, tc.campaign)
			}
			tc.r.MessageID = m.ID
			first, _, err := sending.Resolve(t.Context(), f.store, tc.r, time.Now())
			if tc.wantKind != 0 {
				if !errs.Is(err, tc.wantKind) {
					t.Errorf("Resolve() error = %v, want %v", err, tc.wantKind)
				}
				if got := f.get(t, m); got.Status != message.Reconcile || len(got.Resolutions) != 0 {
					t.Errorf("refused resolution left %s with %d resolutions, want RECONCILE untouched", got.Status, len(got.Resolutions))
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve() error = %v", err)
			}
			if tc.wantStatus != "" && first.Status != tc.wantStatus {
				t.Errorf("resolved %s, want %s", first.Status, tc.wantStatus)
			}
			// The same request again: the same answer, one resolution.
			again, _, err := sending.Resolve(t.Context(), f.store, tc.r, time.Now().Add(time.Second))
			if err != nil || again.Status != first.Status || len(again.Resolutions) != 1 || again.Resolutions[0].Attempts != 1 {
				t.Errorf("repeat = %s with %d resolutions, %v; want %s with one", again.Status, len(again.Resolutions), err, first.Status)
			}
			// Another decision on the same attempt is a conflict.
			other := tc.r
			other.Outcome = map[message.Outcome]message.Outcome{message.OutcomeSent: message.OutcomeResend, message.OutcomeResend: message.OutcomeSent}[tc.r.Outcome]
			if _, _, err := sending.Resolve(t.Context(), f.store, other, time.Now()); !errs.Is(err, errs.Conflict) {
				t.Errorf("another decision on attempt 1: error = %v, want conflict", err)
			}
		})
	}
}

// counting counts the provider's calls.
type counting struct {
	sms.Provider
	lists, sends int
}

func (c *counting) Send(ctx context.Context, r sms.Request) (sms.Result, error) {
	c.sends++
	return c.Provider.Send(ctx, r)
}

func (c *counting) SentTo(ctx context.Context, p string, since time.Time) ([]sms.Sent, error) {
	c.lists++
	return c.Provider.SentTo(ctx, p, since)
}

// A delivery makes at most two provider calls (each bounded by
// TWILIO_TIMEOUT, within the Sender's deadline): when it reconciles the
// resent attempt's lost claim, that list also serves as the resend's look
// for the held attempt's send.
func TestSend_resent_claim_reconciled_lists_once(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sender.ReconcileAfter = 0
	m := f.queued(t, "+94771234567", consent.OptIn)
	held, claimed := time.Now().UTC().Add(-time.Minute), time.Now().UTC().Add(-time.Second)
	if _, err := f.store.UpdateMessage(t.Context(), m.ID, func(m *message.Message) error {
		m.Status, m.ClaimedAt, m.Attempts, m.ResentFrom = message.Sending, &claimed, 2, &held
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := &counting{Provider: f.sender.Provider}
	f.sender.Provider = c
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeSent {
		t.Fatalf("Send() = %q, %v; want sent", o, err)
	}
	if c.lists != 1 || c.sends != 1 {
		t.Errorf("%d lists and %d sends in one delivery, want 1 and 1", c.lists, c.sends)
	}
}
