package sending_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/store"
)

// setStatus moves the fixture's campaign to st as the runner would.
func (f *fixture) setStatus(t *testing.T, st campaign.Status) {
	t.Helper()
	if _, err := f.store.UpdateCampaign(context.Background(), f.cid, func(c *campaign.Campaign) error {
		return c.Move(st, "api-key", "", c.UpdatedAt)
	}); err != nil {
		t.Fatal(err)
	}
}

// A task that finds its campaign paused or cancelled answers done and
// marks its message, held or skipped, without a send; a delivery again
// changes nothing. Once running again, a held message is sent.
func TestSend_campaign_not_running(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		moves       []campaign.Status
		held        bool          // the message was held already
		consent     consent.State // of the recipient
		quiet       bool
		wantOutcome []sending.Outcome // per delivery
		wantStatus  message.Status
		wantReason  message.SkipReason
		wantKind    errs.Kind
		wantSends   int
	}{
		{name: "paused_holds", moves: []campaign.Status{campaign.Paused}, consent: consent.OptIn,
			wantOutcome: []sending.Outcome{sending.OutcomeHeld, sending.OutcomeHeld}, wantStatus: message.Held},
		{name: "paused_in_quiet_hours_holds", moves: []campaign.Status{campaign.Paused}, consent: consent.OptIn, quiet: true,
			wantOutcome: []sending.Outcome{sending.OutcomeHeld}, wantStatus: message.Held},
		{name: "paused_holds_before_consent_is_looked_at", moves: []campaign.Status{campaign.Paused}, consent: consent.Stop,
			wantOutcome: []sending.Outcome{sending.OutcomeHeld}, wantStatus: message.Held},
		{name: "cancelled_skips", moves: []campaign.Status{campaign.Cancelled}, consent: consent.OptIn,
			wantOutcome: []sending.Outcome{sending.OutcomeCancelled, sending.OutcomeDuplicate}, wantStatus: message.Skipped, wantReason: message.SkipCancelled},
		{name: "held_then_cancelled_skips", moves: []campaign.Status{campaign.Paused, campaign.Cancelled}, held: true, consent: consent.OptIn,
			wantOutcome: []sending.Outcome{sending.OutcomeCancelled}, wantStatus: message.Skipped, wantReason: message.SkipCancelled},
		{name: "held_then_resumed_sends", moves: []campaign.Status{campaign.Paused, campaign.Running}, held: true, consent: consent.OptIn,
			wantOutcome: []sending.Outcome{sending.OutcomeSent, sending.OutcomeDuplicate}, wantStatus: message.Sent, wantSends: 1},
		{name: "failed_campaign_drops_the_task", moves: []campaign.Status{campaign.Failed}, consent: consent.OptIn,
			wantOutcome: []sending.Outcome{""}, wantStatus: message.Queued, wantKind: errs.Permanent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			m := f.queued(t, "+94771234567", tc.consent)
			if tc.quiet {
				f.quiet(t)
			}
			for _, st := range tc.moves {
				f.setStatus(t, st)
				if st == campaign.Paused && tc.held {
					if _, err := f.store.UpdateMessage(context.Background(), m.ID, func(m *message.Message) error { m.Status = message.Held; return nil }); err != nil {
						t.Fatal(err)
					}
				}
			}
			var got []sending.Outcome
			for range tc.wantOutcome {
				out, err := f.send(t, m)
				if errs.KindOf(err) != tc.wantKind && !(tc.wantKind == 0 && err == nil) {
					t.Fatalf("Send = %q, %v; want kind %v", out, err, tc.wantKind)
				}
				got = append(got, out)
			}
			if diff := cmp.Diff(tc.wantOutcome, got); diff != "" {
				t.Errorf("outcomes (-want, +got):\n%s", diff)
			}
			after := f.get(t, m)
			if after.Status != tc.wantStatus || after.SkipReason != tc.wantReason {
				t.Errorf("message %s %q, want %s %q", after.Status, after.SkipReason, tc.wantStatus, tc.wantReason)
			}
			if n := len(f.standin.Sent()); n != tc.wantSends {
				t.Errorf("%d sends, want %d", n, tc.wantSends)
			}
		})
	}
}

// pauseAtClaim pauses the campaign just before the claim reads it: the
// checks before the claim saw it running.
type pauseAtClaim struct {
	store.Store
	once sync.Once
}

func (s *pauseAtClaim) ClaimMessage(ctx context.Context, id string, now func() time.Time, limit store.FrequencyCap, fn func(store.Claim, *message.Message) error) (message.Message, error) {
	s.once.Do(func() {
		m, err := s.GetMessage(ctx, id)
		if err == nil {
			_, err = s.UpdateCampaign(ctx, m.CampaignID, func(c *campaign.Campaign) error {
				return c.Move(campaign.Paused, "api-key", "", c.UpdatedAt)
			})
		}
		if err != nil {
			panic(err)
		}
	})
	return s.Store.ClaimMessage(ctx, id, now, limit, fn)
}

// The decision is the claim's own: a pause answered after the task's first
// look at the campaign, but before its claim, still holds the message.
func TestSend_pause_just_before_the_claim_holds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	f.sender.Store = &pauseAtClaim{Store: f.store}
	out, err := f.send(t, m)
	if err != nil || out != sending.OutcomeHeld {
		t.Fatalf("Send = %q, %v; want held", out, err)
	}
	if got := f.get(t, m); got.Status != message.Held || got.ClaimedAt != nil || got.Attempts != 0 {
		t.Errorf("message %s, claimed %v, attempts %d; want HELD, never claimed", got.Status, got.ClaimedAt, got.Attempts)
	}
	if n := len(f.standin.Sent()); n != 0 {
		t.Errorf("%d sends, want none", n)
	}
}

type failureWatch struct {
	mu    sync.Mutex
	calls []string
}

func (w *failureWatch) CheckFailures(_ context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, id)
	return nil
}

// Each send the provider refuses asks whether the campaign should pause;
// a send that succeeds does not.
func TestSend_refusals_are_watched(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := &failureWatch{}
	f.sender.Failures = w
	for _, phone := range []string{standin.NumberInvalid, "+94771234567", "+15005550004"} {
		if _, err := f.send(t, f.queued(t, phone, consent.OptIn)); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{f.cid, f.cid}, w.calls); diff != "" {
		t.Errorf("failure checks (-want, +got):\n%s", diff)
	}
}
