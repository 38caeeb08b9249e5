package sending_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

// beforeClaim runs hook once, after the sender's first look at the person
// and just before its claim: what happens there is what the claim must
// see for itself.
type beforeClaim struct {
	store.Store
	once sync.Once
	hook func(ctx context.Context, phone string) error
}

func (s *beforeClaim) ClaimMessage(ctx context.Context, id string, now func() time.Time, limit store.FrequencyCap, fn func(store.Claim, *message.Message) error) (message.Message, error) {
	var err error
	s.once.Do(func() {
		var m message.Message
		if m, err = s.GetMessage(ctx, id); err == nil {
			err = s.hook(ctx, m.Phone)
		}
	})
	if err != nil {
		return message.Message{}, err
	}
	return s.Store.ClaimMessage(ctx, id, now, limit, fn)
}

// A STOP, an opt-out or a suppression committed after the Sender looked
// at the person, but before its claim, is honoured: the message is skipped
// unclaimed and nothing is sent.
func TestSend_consent_withdrawn_just_before_the_claim(t *testing.T) {
	t.Parallel()
	type result struct {
		Outcome   sending.Outcome
		Status    message.Status
		Reason    message.SkipReason
		Attempts  int
		Claimed   bool
		Sends     int
		Concluded bool
	}
	cases := []struct {
		name string
		hook func(s store.Store) func(context.Context, string) error
		want result
	}{
		{name: "nothing_changed_is_sent",
			hook: func(store.Store) func(context.Context, string) error {
				return func(context.Context, string) error { return nil }
			},
			want: result{sending.OutcomeSent, message.Sent, "", 1, true, 1, true}},
		{name: "stop_keyword",
			hook: func(s store.Store) func(context.Context, string) error {
				return func(ctx context.Context, p string) error {
					_, _, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: p, Intent: consent.IntentOptOut, Ref: "SM1", At: time.Now()})
					return err
				}
			},
			want: result{sending.OutcomeSkipped, message.Skipped, message.SkipConsentAtSend, 0, false, 0, true}},
		{name: "admin_opt_out",
			hook: func(s store.Store) func(context.Context, string) error {
				return func(ctx context.Context, p string) error {
					_, _, err := s.SetConsent(ctx, consent.Change{Phone: p, To: consent.OptOut, Source: consent.SourceAdmin, At: time.Now()})
					return err
				}
			},
			want: result{sending.OutcomeSkipped, message.Skipped, message.SkipConsentAtSend, 0, false, 0, true}},
		{name: "suppressed",
			hook: func(s store.Store) func(context.Context, string) error {
				return func(ctx context.Context, p string) error {
					_, err := s.Suppress(ctx, suppression.Entry{Phone: p, Reason: "complaint"})
					return err
				}
			},
			want: result{sending.OutcomeSkipped, message.Skipped, message.SkipSuppressed, 0, false, 0, true}},
		{name: "stopped_marketing_messages",
			hook: func(s store.Store) func(context.Context, string) error {
				return func(ctx context.Context, p string) error {
					// A marketing template (the fixture's template has no
					// category): free text would still go.
					ms, err := s.MessagesTo(ctx, p, 1)
					if err != nil || len(ms) != 1 {
						return fmt.Errorf("MessagesTo = %d, %v", len(ms), err)
					}
					if _, err := s.UpdateMessage(ctx, ms[0].ID, func(m *message.Message) error {
						m.ContentSID = "HX5b3a1e0c9d8f4e2a7b6c5d4e3f2a1b0c"
						return nil
					}); err != nil {
						return err
					}
					_, err = s.SetMarketingOptOut(ctx, p, user.MarketingOptOut{At: time.Now(), Source: user.SourceProviderFailure, Ref: "SM1"})
					return err
				}
			},
			want: result{sending.OutcomeSkipped, message.Skipped, message.SkipMarketingOptOut, 0, false, 0, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			m := f.queued(t, "+94771234567", consent.OptIn)
			done := &completions{}
			f.sender.Store = &beforeClaim{Store: f.store, hook: tc.hook(f.store)}
			f.sender.Campaign = done
			out, err := f.send(t, m)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			after := f.get(t, m)
			got := result{out, after.Status, after.SkipReason, after.Attempts, after.ClaimedAt != nil, len(f.standin.Sent()), len(done.ids) == 1}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// stepClock is a clock moved only by the test.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The claim's time is taken by the claim, not before it: a transaction
// that retried for a while (the clock moved on before it committed) is
// stamped with the attempt that committed, so reconcile never judges the
// provider's silence from a time before the send could have started.
func TestSend_claim_time_is_the_claims_own(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.queued(t, "+94771234567", consent.OptIn)
	clock := &stepClock{t: time.Now().UTC().Truncate(time.Microsecond)}
	f.sender.Now = clock.now
	f.sender.Store = &beforeClaim{Store: f.store, hook: func(context.Context, string) error {
		clock.add(30 * time.Second)
		return nil
	}}
	want := clock.now().Add(30 * time.Second)
	if out, err := f.send(t, m); err != nil || out != sending.OutcomeSent {
		t.Fatalf("Send = %q, %v; want sent", out, err)
	}
	got := f.get(t, m)
	if got.ClaimedAt == nil || !got.ClaimedAt.Equal(want) {
		t.Errorf("claimed at %v, want %v (the clock when the claim ran)", got.ClaimedAt, want)
	}
}

// A person who stopped marketing messages still gets a utility
// campaign's template and free text in their window at the claim; a
// marketing template is skipped.
func TestSend_marketing_opt_out_at_the_claim(t *testing.T) {
	t.Parallel()
	const sid = "HX5b3a1e0c9d8f4e2a7b6c5d4e3f2a1b0c"
	tests := []struct {
		name     string
		category template.Category
		sid      string
		want     message.Status
	}{
		{"utility_sent", template.Utility, sid, message.Sent},
		{"marketing_skipped", template.Marketing, sid, message.Skipped},
		{"uncategorised_skipped", "", sid, message.Skipped},
		{"marketing_session_text_sent", template.Marketing, "", message.Sent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := t.Context()
			if _, err := f.store.UpdateCampaign(ctx, f.cid, func(c *campaign.Campaign) error {
				c.Template = &template.Template{Name: "t", Content: "Hi", Category: tc.category}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			m := f.queuedTo(t, user.User{Phone: "+94771234567", Consent: consent.OptIn, CreatedAt: now, LastInboundAt: &now,
				MarketingOptOut: &user.MarketingOptOut{At: now, Source: user.SourceProviderFailure}})
			if _, err := f.store.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
				m.ContentSID = tc.sid
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.send(t, m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := f.get(t, m); got.Status != tc.want {
				t.Errorf("status = %s (%s), want %s", got.Status, got.SkipReason, tc.want)
			}
		})
	}
}
