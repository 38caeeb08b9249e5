package deliverystatus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

// retries records the new attempts asked for.
type retries struct{ asked [][]string }

func (r *retries) RetaskSoon(_ context.Context, campaignID string, ids []string) error {
	r.asked = append(r.asked, append([]string{campaignID}, ids...))
	return nil
}

// rateLimited is a failed callback for the provider's rate limit (63018).
func rateLimited(sid string, at time.Time) deliverystatus.Callback {
	return deliverystatus.Callback{ProviderSID: sid, Update: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63018", Class: message.FailureRateLimited, At: at}}
}

// A send failed for the provider's rate limit (63018) is tried again as a
// new claim generation after a backoff that doubles per attempt, up to
// MaxRateLimitedRetries; then it is FAILED with the code. The old
// attempt's late or repeated news moves nothing; its place in the
// person's send ledger is given back. 63049, or a campaign no longer
// running, is FAILED at once.
func TestApply_rate_limited_is_tried_again(t *testing.T) {
	t.Parallel()
	now := t0.Add(time.Minute)
	for _, tc := range []struct {
		name       string
		campaign   campaign.Status
		retried    int // earlier rate-limited retries
		retries    bool
		erased     bool // the person was erased after the send
		callback   deliverystatus.Callback
		wantStatus message.Status
		wantWait   time.Duration // 0: not retried
		wantCode   string
	}{
		{name: "first", campaign: campaign.Running, retries: true, callback: rateLimited("SM1", now), wantStatus: message.Deferred, wantWait: time.Minute},
		{name: "third_waits_longer", campaign: campaign.Running, retried: 2, retries: true, callback: rateLimited("SM1", now), wantStatus: message.Deferred, wantWait: 4 * time.Minute},
		{name: "paused_campaign_waits_too", campaign: campaign.Paused, retries: true, callback: rateLimited("SM1", now), wantStatus: message.Deferred, wantWait: time.Minute},
		{name: "attempts_used_up", campaign: campaign.Running, retried: deliverystatus.MaxRateLimitedRetries, retries: true, callback: rateLimited("SM1", now), wantStatus: message.Failed, wantCode: "63018"},
		{name: "campaign_completed", campaign: campaign.Completed, retries: true, callback: rateLimited("SM1", now), wantStatus: message.Failed, wantCode: "63018"},
		{name: "no_retrier", campaign: campaign.Running, callback: rateLimited("SM1", now), wantStatus: message.Failed, wantCode: "63018"},
		{name: "erased_person_is_not_sent_to_again", campaign: campaign.Running, retries: true, erased: true, callback: rateLimited("SM1", now), wantStatus: message.Failed, wantCode: "63018"},
		{name: "declined_by_meta_is_final", campaign: campaign.Running, retries: true,
			callback:   deliverystatus.Callback{ProviderSID: "SM1", Update: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63049", Class: message.FailureDeclined, At: now}},
			wantStatus: message.Failed, wantCode: "63049"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := memstore.New()
			m := claimedAndSent(t, st, tc.campaign, tc.retried)
			if tc.erased {
				if _, err := st.ScrubMessages(ctx, m.Phone, erasure.MarkerPrefix+"x", now, 10); err != nil {
					t.Fatal(err)
				}
			}
			r := &retries{}
			a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Hour, Now: func() time.Time { return now }}
			if tc.retries {
				a.Retries = r
			}
			cb := tc.callback
			cb.MessageID = m.ID
			for range 2 { // and delivered again
				if err := a.Apply(ctx, cb); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
			got, err := st.GetMessage(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.wantStatus || got.ErrorCode != tc.wantCode {
				t.Errorf("message %s %q, want %s %q", got.Status, got.ErrorCode, tc.wantStatus, tc.wantCode)
			}
			sends, err := st.SendsSince(ctx, []string{m.Phone}, t0.Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantWait == 0 {
				if len(r.asked) != 0 || sends[m.Phone] != 1 {
					t.Errorf("retasks %v, ledger %d; want none and the send still counted", r.asked, sends[m.Phone])
				}
				return
			}
			due := now.Add(tc.wantWait)
			want := []any{got.ScheduledAt != nil && got.ScheduledAt.Equal(due), got.TaskGeneration, got.RateLimitedRetries, got.PriorSIDs, got.ProviderSID, got.ClaimedAt == nil, got.SentAt == nil}
			wantVals := []any{true, due.Unix(), tc.retried + 1, []string{"SM1"}, "", true, true}
			if diff := cmp.Diff(wantVals, want); diff != "" {
				t.Errorf("due at +%v, generation, retries, prior sids, sid, claim and sent cleared (-want +got):\n%s", tc.wantWait, diff)
			}
			// One new attempt; its task asked for again by the redelivered
			// callback (harmless: the same generation's task).
			ask := []string{m.CampaignID, m.ID}
			if diff := cmp.Diff([][]string{ask, ask}, r.asked); diff != "" {
				t.Errorf("retasks (-want +got):\n%s", diff)
			}
			if sends[m.Phone] != 0 {
				t.Errorf("ledger counts %d sends, want the rate-limited one given back", sends[m.Phone])
			}
		})
	}
}

// Once a new attempt is under way, the old attempt's late, repeated or
// out-of-order callbacks never move it; its own do.
func TestApply_old_attempts_news_is_ignored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	m := claimedAndSent(t, st, campaign.Running, 0)
	a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Hour, Retries: &retries{}, Now: func() time.Time { return t0 }}
	apply := func(c deliverystatus.Callback) {
		t.Helper()
		c.MessageID = m.ID
		if err := a.Apply(ctx, c); err != nil {
			t.Fatalf("Apply(%s %s): %v", c.ProviderSID, c.Update.Status, err)
		}
	}
	apply(rateLimited("SM1", at(5)))
	// The new attempt is claimed and sent as SM2.
	if _, err := st.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		now := at(70)
		m.Status, m.ProviderSID, m.ClaimedAt, m.SentAt = message.Sent, "SM2", &now, &now
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []callback{{message.Sent, "", at(3)}, {message.Failed, "63018", at(5)}, {message.Delivered, "", at(80)}, {message.Failed, "30008", at(81)}} {
		cb := event("SM1", c)
		if c.code == "63018" {
			cb = rateLimited("SM1", c.at)
		}
		apply(cb)
	}
	got, err := st.GetMessage(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != message.Sent || got.ProviderSID != "SM2" || got.DeliveredAt != nil || got.RateLimitedRetries != 1 {
		t.Errorf("new attempt after the old one's news: %s as %s, delivered %v, retries %d; want SENT as SM2, not delivered, 1 retry", got.Status, got.ProviderSID, got.DeliveredAt, got.RateLimitedRetries)
	}
	apply(event("SM2", callback{message.Delivered, "", at(90)}))
	if got, _ := st.GetMessage(ctx, m.ID); got.Status != message.Delivered {
		t.Errorf("the new attempt's own delivery left it %s, want DELIVERED", got.Status)
	}
}

// claimedAndSent stores a campaign in status cs and its message, claimed
// through the store (so its person's ledger counts it) and sent as SM1,
// after retried earlier rate-limited attempts.
func claimedAndSent(t *testing.T, st *memstore.Store, cs campaign.Status, retried int) message.Message {
	t.Helper()
	ctx := context.Background()
	c, err := st.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
	if err != nil {
		t.Fatal(err)
	}
	m := sent("")
	m.ID, m.CampaignID, m.Status, m.SentAt, m.RateLimitedRetries = message.ID(c.ID, m.Phone), c.ID, message.Queued, nil, retried
	if _, err := st.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	claimAt := func() time.Time { return t0.Add(-time.Second) }
	if _, err := st.ClaimMessage(ctx, m.ID, claimAt, store.FrequencyCap{Limit: 5, Window: 24 * time.Hour}, func(cl store.Claim, m *message.Message) error {
		m.Status, m.ClaimedAt = message.Sending, &cl.At
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m, err = st.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		m.ProviderSID = "SM1"
		m.Apply(message.ProviderUpdate{Status: message.Sent, At: t0})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cs != campaign.Running {
		if _, err := st.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error { return c.Move(cs, campaign.BySystem, "test", t0) }); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// flaky fails its first ask, as a Pub/Sub outage would.
type flaky struct {
	retries
	failed bool
}

func (f *flaky) RetaskSoon(ctx context.Context, campaignID string, ids []string) error {
	if !f.failed {
		f.failed = true
		return errors.New("pubsub unavailable")
	}
	return f.retries.RetaskSoon(ctx, campaignID, ids)
}

// A new attempt whose task could not be asked for is asked for again when
// the callback is delivered again (the error asks for that), once.
func TestApply_rate_limited_retask_failure_is_retried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	m := claimedAndSent(t, st, campaign.Running, 0)
	r := &flaky{}
	a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Hour, Retries: r, Now: func() time.Time { return t0 }}
	cb := rateLimited("SM1", at(5))
	cb.MessageID = m.ID
	if err := a.Apply(ctx, cb); err == nil {
		t.Fatal("Apply with the ask failing = nil, want an error (delivered again)")
	}
	if err := a.Apply(ctx, cb); err != nil {
		t.Fatalf("Apply again: %v", err)
	}
	got, _ := st.GetMessage(ctx, m.ID)
	if diff := cmp.Diff([][]string{{m.CampaignID, m.ID}}, r.asked); diff != "" || got.RateLimitedRetries != 1 {
		t.Errorf("asked (-want +got):\n%s\nretries %d, want 1", diff, got.RateLimitedRetries)
	}
}
