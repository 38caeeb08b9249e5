package deliverystatus_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

// The callbacks of an earlier attempt whose outcome was unknown (given up
// on, and resent as attempt 2) are evidence only: their sid is kept in
// duplicate_sids, and they never move the current attempt, nor make a
// 63018 retry of it. The current attempt's callbacks move it.
func TestApply_earlier_attempts_callbacks_are_evidence_only(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	m := claimedAndSent(t, st, campaign.Running, 0)
	// Attempt 1's outcome was unknown; attempt 2 is claimed, its answer
	// not yet recorded.
	if _, err := st.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		claimed := at(60)
		m.Status, m.ProviderSID, m.SentAt, m.ClaimedAt, m.Attempts = message.Sending, "", nil, &claimed, 2
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := &retries{}
	a := &deliverystatus.Applier{Store: st, GiveUpAfter: time.Hour, Retries: r, Now: func() time.Time { return at(90) }}
	apply := func(c deliverystatus.Callback, attempt int) {
		t.Helper()
		c.MessageID, c.Attempt = m.ID, attempt
		if err := a.Apply(ctx, c); err != nil {
			t.Fatalf("Apply(%s %s, attempt %d): %v", c.ProviderSID, c.Update.Status, attempt, err)
		}
	}
	apply(event("SMold", callback{message.Delivered, "", at(70)}), 1)
	apply(rateLimited("SMold2", at(71)), 1)
	apply(event("SMold", callback{message.Read, "", at(72)}), 1) // again: recorded once
	got, err := st.GetMessage(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != message.Sending || got.ProviderSID != "" || got.DeliveredAt != nil || got.RateLimitedRetries != 0 || len(r.asked) != 0 {
		t.Errorf("attempt 2 after attempt 1's news: %s as %q, delivered %v, retries %d, asked %v; want SENDING untouched", got.Status, got.ProviderSID, got.DeliveredAt, got.RateLimitedRetries, r.asked)
	}
	if diff := cmp.Diff([]string{"SMold", "SMold2"}, got.DuplicateSIDs); diff != "" {
		t.Errorf("duplicate_sids (-want, +got):\n%s", diff)
	}
	apply(event("SMnew", callback{message.Delivered, "", at(80)}), 2)
	if got, _ := st.GetMessage(ctx, m.ID); got.Status != message.Delivered || got.ProviderSID != "SMnew" {
		t.Errorf("after attempt 2's own news: %s as %q, want DELIVERED as SMnew", got.Status, got.ProviderSID)
	}
}
