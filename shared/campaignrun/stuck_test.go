package campaignrun_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

func TestFindStuck(t *testing.T) {
	t.Parallel()
	const after = 30 * time.Minute
	ago := func(d time.Duration) *time.Time { at := now.Add(-d); return &at }
	msg := func(st message.Status, updated time.Duration, scheduled *time.Time) message.Message {
		return message.Message{Status: st, UpdatedAt: now.Add(-updated), CreatedAt: now.Add(-2 * time.Hour), ScheduledAt: scheduled}
	}
	for _, tc := range []struct {
		name       string
		started    time.Duration // ago
		fanoutDone bool
		messages   []message.Message
		wantReason string // "" when not stuck
	}{
		{"just_started", 5 * time.Minute, false, nil, ""},
		{"fanout_silent", time.Hour, false, nil, "its recipients are not all written"},
		{"sending_steadily", 3 * time.Hour, true, []message.Message{msg(message.Queued, 2*time.Hour, nil), msg(message.Sent, time.Second, nil)}, ""},
		{"queued_and_silent", 3 * time.Hour, true, []message.Message{msg(message.Queued, time.Hour, nil), msg(message.Sent, time.Hour, nil)}, "is QUEUED and due"},
		{"deferred_past_quiet_hours_later", 3 * time.Hour, true, []message.Message{msg(message.Deferred, time.Hour, ago(-5*time.Hour))}, ""},
		{"deferred_and_overdue", 12 * time.Hour, true, []message.Message{msg(message.Deferred, 10*time.Hour, ago(time.Hour))}, "is DEFERRED and due"},
		{"held_for_an_operator", 3 * time.Hour, true, []message.Message{msg(message.Reconcile, time.Hour, nil), msg(message.Sent, time.Hour, nil)}, "has an unknown outcome (RECONCILE) and awaits an operator's resolution"},
		{"all_concluded_not_completed", 3 * time.Hour, true, []message.Message{msg(message.Sent, time.Hour, nil)}, "every message concluded but the campaign did not complete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			c, err := st.CreateCampaign(t.Context(), campaign.Campaign{Topic: "t", TemplateID: "x", SegmentID: "y", Rate: 1,
				Status: campaign.Running, StartedAt: ago(tc.started), FanoutDone: tc.fanoutDone, CreatedAt: *ago(tc.started), UpdatedAt: *ago(tc.started)})
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range tc.messages {
				m.CampaignID, m.Phone = c.ID, "+9477123456"+string(rune('0'+i))
				m.ID = message.ID(c.ID, m.Phone)
				if _, err := st.CreateMessages(t.Context(), []message.Message{m}); err != nil {
					t.Fatal(err)
				}
			}
			r := &campaignrun.Runner{Store: st, Now: func() time.Time { return now }}
			got, err := r.FindStuck(t.Context(), after)
			if err != nil {
				t.Fatal(err)
			}
			var reasons []string
			for _, s := range got {
				reasons = append(reasons, s.Reason)
			}
			ok := len(got) == 0
			if tc.wantReason != "" {
				// A message's reason names it first.
				ok = len(got) == 1 && strings.HasSuffix(got[0].Reason, tc.wantReason)
			}
			if !ok {
				t.Errorf("FindStuck reasons = %q, want %q", reasons, tc.wantReason)
			}
		})
	}
}
