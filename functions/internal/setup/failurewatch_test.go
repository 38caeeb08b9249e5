package setup_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

// FailureWatchWith publishes the settle request of the pause it makes
// through the publisher it is given (the Webhooks function's own, not a
// second client), and is nil when auto-pause is off.
func TestFailureWatchWith(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		window     int
		wantWatch  bool
		wantStatus campaign.Status
	}{
		{name: "on", window: 1, wantWatch: true, wantStatus: campaign.Paused},
		{name: "off", window: 0, wantStatus: campaign.Running},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, pub := memstore.New(), memevents.New()
			c, err := st.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			m := message.Message{ID: message.ID(c.ID, "+94771234567"), CampaignID: c.ID, Phone: "+94771234567",
				Status: message.Failed, ClaimedAt: &now, FailedAt: &now, CreatedAt: now, UpdatedAt: now}
			if _, err := st.CreateMessages(ctx, []message.Message{m}); err != nil {
				t.Fatal(err)
			}

			w := setup.FailureWatchWith(setup.AutoPause{Window: tc.window, FailureRate: 0.5}, st, pub)

			if (w != nil) != tc.wantWatch {
				t.Fatalf("FailureWatchWith(window %d) = %v, want a watch: %v", tc.window, w, tc.wantWatch)
			}
			if w != nil {
				if err := w.CheckFailures(ctx, c.ID); err != nil {
					t.Fatal(err)
				}
			}
			var got []events.Recipients
			for _, msg := range pub.Published(events.TopicRecipients) {
				var ev events.Recipients
				if err := events.Decode(msg, &ev); err != nil {
					t.Fatal(err)
				}
				got = append(got, ev)
			}
			var want []events.Recipients
			if tc.wantWatch {
				want = []events.Recipients{{CampaignID: c.ID, Settle: true}}
			}
			after, err := st.GetCampaign(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]any{tc.wantStatus, want}, []any{after.Status, got}); diff != "" {
				t.Errorf("campaign status, settle requests published (-want, +got):\n%s", diff)
			}
		})
	}
}
