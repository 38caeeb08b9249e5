package sending_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sms"
)

// outrun is the real provider whose status callback for a send arrives
// before the send's own answer reaches the Sender.
type outrun struct {
	sms.Provider
	callback func(sid string)
}

func (o outrun) Send(ctx context.Context, r sms.Request) (sms.Result, error) {
	res, err := o.Provider.Send(ctx, r)
	if err == nil {
		o.callback(res.SID)
	}
	return res, err
}

type noRetask struct{}

func (noRetask) RetaskSoon(context.Context, string, []string) error { return nil }

// A 63018 callback that outruns the send's answer makes a new attempt;
// the answer then records nothing on it, so the new attempt still goes.
func TestSend_rate_limit_callback_outruns_the_answer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	a := &deliverystatus.Applier{Store: f.store, GiveUpAfter: time.Minute, Retries: noRetask{}}
	f.sender.Provider = outrun{Provider: f.sender.Provider, callback: func(sid string) {
		err := a.Apply(context.Background(), deliverystatus.Callback{ProviderSID: sid, MessageID: m.ID,
			Update: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63018", Class: message.FailureRateLimited, At: time.Now()}})
		if err != nil {
			t.Errorf("Apply: %v", err)
		}
	}}
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeSent {
		t.Fatalf("Send = %q, %v", o, err)
	}
	got := f.get(t, m)
	sent := f.standin.Sent()
	if got.Status != message.Deferred || got.ProviderSID != "" || len(got.PriorSIDs) != 1 || len(sent) != 1 || got.PriorSIDs[0] != sent[0].SID {
		t.Errorf("message %s as %q, prior %v (provider has %d); want DEFERRED for its new attempt, the refused send's sid prior", got.Status, got.ProviderSID, got.PriorSIDs, len(sent))
	}
}

// An older task delivered again right after a 63018 callback made a new
// attempt must not send at once: the first backoff (RateLimitBackoff) is
// kept, and the new attempt's task sends at its time.
func TestSend_rate_limit_backoff_kept_from_an_older_task(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234568", consent.OptIn)
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeSent {
		t.Fatalf("Send() = %q, %v", o, err)
	}
	a := &deliverystatus.Applier{Store: f.store, GiveUpAfter: time.Minute, Retries: noRetask{}}
	if err := a.Apply(context.Background(), deliverystatus.Callback{ProviderSID: f.get(t, m).ProviderSID, MessageID: m.ID,
		Update: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63018", Class: message.FailureRateLimited, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if o, _ := f.send(t, m); o == sending.OutcomeSent || len(f.standin.Sent()) != 1 {
		t.Errorf("an older task right after the 63018 = %q with %d sends; want no send before the backoff ends", o, len(f.standin.Sent()))
	}
	due := *f.get(t, m).ScheduledAt
	f.sender.Now = func() time.Time { return due }
	if o, err := f.send(t, m); err != nil || o != sending.OutcomeSent || len(f.standin.Sent()) != 2 {
		t.Errorf("at the backoff's end = %q, %v with %d sends; want the new attempt sent", o, err, len(f.standin.Sent()))
	}
}
