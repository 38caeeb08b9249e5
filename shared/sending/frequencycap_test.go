package sending_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/emulators/twilio/twiliotest"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sms"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store"
)

// completions records the campaigns CheckCompletion was asked about.
type completions struct {
	mu  sync.Mutex
	ids []string
}

func (c *completions) CheckCompletion(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, id)
	return nil
}

// campaignsTo stores an opted-in person and a QUEUED message to them in
// each of n running campaigns (the fixture's first): the same person
// reached by several campaigns.
func (f *fixture) campaignsTo(t *testing.T, phone string, n int) []message.Message {
	t.Helper()
	ctx := context.Background()
	ms := []message.Message{f.queued(t, phone, consent.OptIn)}
	for range n - 1 {
		c, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		m := message.Message{ID: message.ID(c.ID, phone), CampaignID: c.ID, Phone: phone, Status: message.Queued, Body: "Hi from " + c.ID, CreatedAt: now, UpdatedAt: now, QueuedAt: &now}
		if _, err := f.store.CreateMessages(ctx, []message.Message{m}); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

// ledgerCount is how many sends phone's ledger holds in the last day.
func (f *fixture) ledgerCount(t *testing.T, phone string, now time.Time) int {
	t.Helper()
	got, err := f.store.SendsSince(context.Background(), []string{phone}, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return got[phone]
}

// Across campaigns, a person gets at most FrequencyCap messages; the
// next is skipped frequency_cap (and its campaign checked for
// completion); another person is not affected; no cap sends them all.
func TestSend_frequency_cap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cap  int
		want []sending.Outcome
	}{
		{"no_cap", 0, []sending.Outcome{sending.OutcomeSent, sending.OutcomeSent, sending.OutcomeSent, sending.OutcomeSent}},
		{"cap_of_two", 2, []sending.Outcome{sending.OutcomeSent, sending.OutcomeSent, sending.OutcomeSkipped, sending.OutcomeSkipped}},
		{"cap_of_one", 1, []sending.Outcome{sending.OutcomeSent, sending.OutcomeSkipped, sending.OutcomeSkipped, sending.OutcomeSkipped}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			done := &completions{}
			f.sender.FrequencyCap, f.sender.Campaign = tc.cap, done
			ms := f.campaignsTo(t, "+94771234567", len(tc.want))
			var got []sending.Outcome
			for _, m := range ms {
				o, err := f.send(t, m)
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				got = append(got, o)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("outcomes (-want, +got):\n%s", diff)
			}
			for i, m := range ms {
				after := f.get(t, m)
				if tc.want[i] == sending.OutcomeSkipped && (after.Status != message.Skipped || after.SkipReason != message.SkipFrequencyCap || after.ClaimedAt != nil) {
					t.Errorf("capped message is %s (%q), claimed at %v; want SKIPPED frequency_cap, never claimed", after.Status, after.SkipReason, after.ClaimedAt)
				}
				if !slices.Contains(done.ids, m.CampaignID) {
					t.Errorf("campaign %d not checked for completion", i)
				}
			}
			sent := len(slices.DeleteFunc(slices.Clone(tc.want), func(o sending.Outcome) bool { return o != sending.OutcomeSent }))
			if n := len(f.standin.Sent()); n != sent {
				t.Errorf("provider got %d, want %d", n, sent)
			}
			other := f.queued(t, "+94771234568", consent.OptIn)
			if o, err := f.send(t, other); err != nil || o != sending.OutcomeSent {
				t.Errorf("another person: %q, %v; want sent", o, err)
			}
		})
	}
}

// The cap counts a rolling 24 hours: a send exactly a day old no longer
// counts, one a second younger does.
func TestSend_frequency_cap_rolling_24_hours(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sender.FrequencyCap = 2
	t0 := time.Now().UTC().Truncate(time.Second)
	var now time.Time
	f.sender.Now = func() time.Time { return now }
	ms := f.campaignsTo(t, "+94771234567", 5)
	for i, st := range []struct {
		at   time.Duration
		want sending.Outcome
	}{
		{0, sending.OutcomeSent},
		{time.Hour, sending.OutcomeSent},
		{24*time.Hour - time.Second, sending.OutcomeSkipped}, // both still within the day
		{24 * time.Hour, sending.OutcomeSent},                // the first is a day old
		{25*time.Hour - time.Second, sending.OutcomeSkipped}, // the second, at 1h, is not
	} {
		now = t0.Add(st.at)
		if o, err := f.send(t, ms[i]); err != nil || o != st.want {
			t.Errorf("send at +%v = %q, %v; want %q", st.at, o, err, st.want)
		}
	}
}

// flaky fails the first send it is given, as the provider's network may
// (transient, the provider never got it), then passes sends on.
type flaky struct {
	sms.Provider
	mu     sync.Mutex
	failed bool
}

func (p *flaky) Send(ctx context.Context, r sms.Request) (sms.Result, error) {
	p.mu.Lock()
	first := !p.failed
	p.failed = true
	p.mu.Unlock()
	if first {
		return sms.Result{}, errs.E(errs.Transient, "connection reset")
	}
	return p.Provider.Send(ctx, r)
}

// A claim whose send never reached the provider is released by the next
// delivery and claimed again: the person's one send counts once, so a
// cap of one sends it, and then holds another campaign's message.
func TestSend_frequency_cap_reclaim_after_release_counts_once(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sender.FrequencyCap, f.sender.ReconcileAfter = 1, 0
	f.sender.Provider = &flaky{Provider: f.sender.Provider}
	ms := f.campaignsTo(t, "+94771234567", 2)
	if _, err := f.send(t, ms[0]); !errs.Retry(err) {
		t.Fatalf("first delivery: %v, want a retry", err)
	}
	if n := f.ledgerCount(t, ms[0].Phone, time.Now()); n != 1 {
		t.Fatalf("ledger after the claim: %d sends, want 1", n)
	}
	// Reconciled (the provider has nothing), released and claimed again.
	if o, err := f.send(t, ms[0]); err != nil || o != sending.OutcomeSent {
		t.Fatalf("second delivery = %q, %v; want sent", o, err)
	}
	if n := f.ledgerCount(t, ms[0].Phone, time.Now()); n != 1 {
		t.Errorf("ledger after the re-claim: %d sends, want 1", n)
	}
	if o, err := f.send(t, ms[1]); err != nil || o != sending.OutcomeSkipped {
		t.Errorf("another campaign's message = %q, %v; want skipped", o, err)
	}
	if n := len(f.standin.Sent()); n != 1 {
		t.Errorf("provider got %d, want 1", n)
	}
}

// A send the provider refuses at its API reached no one: its claim leaves
// the ledger, and the person may still get another message. A send the
// provider accepted and later reports failed (in a status callback) was
// counted by WhatsApp: it stays.
func TestSend_frequency_cap_after_a_failure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		phone     string
		first     sending.Outcome
		wantSends int
		second    sending.Outcome
	}{
		{"refused_at_the_api_is_forgotten", standin.NumberInvalid, sending.OutcomeFailed, 0, sending.OutcomeFailed},
		{"failed_later_still_counts", standin.NumberFailsLater, sending.OutcomeSent, 1, sending.OutcomeSkipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.sender.FrequencyCap = 1
			ms := f.campaignsTo(t, tc.phone, 2)
			if o, err := f.send(t, ms[0]); err != nil || o != tc.first {
				t.Fatalf("first = %q, %v; want %q", o, err, tc.first)
			}
			if n := f.ledgerCount(t, tc.phone, time.Now()); n != tc.wantSends {
				t.Errorf("ledger: %d sends, want %d", n, tc.wantSends)
			}
			// The second reaches the provider (which refuses it again)
			// only when the first was forgotten.
			if o, err := f.send(t, ms[1]); err != nil || o != tc.second {
				t.Errorf("second = %q, %v; want %q", o, err, tc.second)
			}
		})
	}
}

// Racing deliveries of five campaigns' messages to one person under a
// cap of two: exactly two reach the provider.
func TestSend_frequency_cap_exact_under_concurrent_sends(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sender.FrequencyCap = 2
	ms := f.campaignsTo(t, "+94771234567", 5)
	var wg sync.WaitGroup
	for _, m := range ms {
		for range 2 { // each task delivered twice, too
			wg.Go(func() {
				_, _ = f.sender.Send(context.Background(), sendqueue.Payload{CampaignID: m.CampaignID, MessageID: m.ID})
			})
		}
	}
	wg.Wait()
	count := map[message.Status]int{}
	for _, m := range ms {
		count[f.get(t, m).Status]++
	}
	if diff := cmp.Diff(map[message.Status]int{message.Sent: 2, message.Skipped: 3}, count); diff != "" {
		t.Errorf("messages (-want, +got):\n%s", diff)
	}
	if n := len(f.standin.Sent()); n != 2 {
		t.Errorf("provider got %d, want 2", n)
	}
}

// refusing answers every send with err.
type refusing struct {
	sms.Provider
	err error
}

func (p refusing) Send(context.Context, sms.Request) (sms.Result, error) { return sms.Result{}, p.err }

// fullSender is the real provider against a stand-in whose sender's queue
// is full (one message, drained in over 15 minutes): the next send is
// refused with 21611.
func fullSender(t *testing.T) sms.Provider {
	t.Helper()
	si := standin.New(standin.Config{AccountSID: twiliotest.AccountSID, AuthToken: twiliotest.AuthToken, StatusStep: time.Hour,
		SenderMPS: 0.001, SenderQueue: 1, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(si)
	t.Cleanup(func() { srv.Close(); si.Close() })
	p, err := twilio.New(twilio.Config{AccountSID: twiliotest.AccountSID, AuthToken: twiliotest.AuthToken, From: twiliotest.From, APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(t.Context(), sms.Request{To: "+94770000000", Body: "fills the queue"}); err != nil {
		t.Fatal(err)
	}
	return p
}

// A refusal that certainly made no message (throttled, 429; the sender's
// queue full, 21611) releases the claim at once and takes it off the
// person's ledger; an outcome that may have made one (the answer lost)
// keeps both for reconciliation.
func TestSend_transient_refusal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		phone      string
		provider   func(t *testing.T, f *fixture) sms.Provider
		wantStatus message.Status
		wantLedger int
	}{
		{"sender_queue_full_21611", "+94771234567", func(t *testing.T, _ *fixture) sms.Provider { return fullSender(t) }, message.Queued, 0},
		{"throttled_429", "+94771234567", func(_ *testing.T, f *fixture) sms.Provider {
			return refusing{f.sender.Provider, errs.Wrap(errs.Transient, &sms.ProviderError{Code: "20429", Message: "Too Many Requests", Status: 429, NotCreated: true}, "twilio.Send")}
		}, message.Queued, 0},
		{"answer_lost_503", standin.NumberLostAnswer, func(_ *testing.T, f *fixture) sms.Provider { return f.sender.Provider }, message.Sending, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.sender.FrequencyCap = 1
			f.sender.Provider = tc.provider(t, f)
			m := f.queued(t, tc.phone, consent.OptIn)

			_, err := f.send(t, m)

			if !errs.Retry(err) {
				t.Fatalf("Send: %v, want a retry", err)
			}
			after := f.get(t, m)
			got := []any{after.Status, after.ClaimedAt != nil, f.ledgerCount(t, tc.phone, time.Now())}
			want := []any{tc.wantStatus, tc.wantStatus == message.Sending, tc.wantLedger}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status, claimed, ledger sends (-want, +got):\n%s", diff)
			}
		})
	}
}

// forgetFails is a store whose ForgetSend fails as Firestore's may, its
// error quoting the ledger's document path.
type forgetFails struct{ store.Store }

func (forgetFails) ForgetSend(_ context.Context, phone, _ string, _ time.Time) error {
	return errs.E(errs.Transient, "gcpfirestore.ForgetSend: projects/p/databases/(default)/documents/send_ledger/%s: aborted", phone)
}

// A ledger entry that cannot be removed is logged without the person's
// whole number, though the store's error names their ledger by it.
func TestSend_forget_failure_logs_no_whole_number(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sender.FrequencyCap = 1
	f.sender.Store = forgetFails{f.store}
	m := f.queued(t, standin.NumberInvalid, consent.OptIn) // refused at the API: its claim is forgotten
	var logs bytes.Buffer
	ctx := logging.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)))

	if o, err := f.sender.Send(ctx, sendqueue.Payload{CampaignID: m.CampaignID, MessageID: m.ID}); err != nil || o != sending.OutcomeFailed {
		t.Fatalf("Send = %q, %v; want failed", o, err)
	}

	got := []bool{strings.Contains(logs.String(), "send_ledger/+1******0001"), strings.Contains(logs.String(), standin.NumberInvalid[1:])}
	if diff := cmp.Diff([]bool{true, false}, got); diff != "" {
		t.Errorf("logs name the ledger masked, hold the whole number (-want, +got):\n%s\nlogs:\n%s", diff, logs.String())
	}
}
