package campaignrun_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue"
)

// A retask request makes the task of each message still waiting on a
// generation of its own, once however often it is delivered, due at its
// ScheduledAt; a message claimed since gets none; a cancelled campaign's
// is concluded instead.
func TestRetask(t *testing.T) {
	t.Parallel()
	arjuna := "+94771234567"
	later := now.Add(10 * time.Minute)
	for _, tc := range []struct {
		name       string
		set        func(m *message.Message)
		cancel     bool
		wantTasks  func(c campaign.Campaign, id string) []sendqueue.Task
		wantStatus message.Status
	}{
		{
			name: "resent_by_an_operator",
			set:  func(m *message.Message) { m.Status, m.TaskGeneration = message.Queued, 1767225600123 },
			wantTasks: func(c campaign.Campaign, id string) []sendqueue.Task {
				return []sendqueue.Task{{Queue: sendqueue.QueueID(c.ID, 0), CampaignID: c.ID, MessageID: id, Generation: 1767225600123}}
			},
			wantStatus: message.Queued,
		},
		{
			name: "retried_after_a_backoff",
			set: func(m *message.Message) {
				m.Status, m.ScheduledAt, m.TaskGeneration = message.Deferred, &later, later.Unix()
			},
			wantTasks: func(c campaign.Campaign, id string) []sendqueue.Task {
				return []sendqueue.Task{{Queue: sendqueue.QueueID(c.ID, 0), CampaignID: c.ID, MessageID: id, At: later, Generation: later.Unix()}}
			},
			wantStatus: message.Deferred,
		},
		{
			name:       "claimed_since",
			set:        func(m *message.Message) { m.Status, m.TaskGeneration = message.Sending, 7 },
			wantTasks:  func(campaign.Campaign, string) []sendqueue.Task { return nil },
			wantStatus: message.Sending,
		},
		{
			name:       "campaign_cancelled",
			set:        func(m *message.Message) { m.Status, m.TaskGeneration = message.Queued, 7 },
			cancel:     true,
			wantTasks:  func(campaign.Campaign, string) []sendqueue.Task { return nil },
			wantStatus: message.Skipped,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			c := f.campaign(t, "", "")
			launched(t, f, c)
			queueID := sendqueue.QueueID(c.ID, 0)
			// The first tasks are emptied, not run.
			if err := f.queue.Dispatch(ctx, queueID, func(context.Context, sendqueue.Task) error { return nil }); err != nil {
				t.Fatal(err)
			}
			id := message.ID(c.ID, arjuna)
			if _, err := f.store.UpdateMessage(ctx, id, func(m *message.Message) error { tc.set(m); return nil }); err != nil {
				t.Fatal(err)
			}
			if tc.cancel {
				if _, err := f.store.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
					return c.Move(campaign.Cancelled, campaign.BySystem, "test", now)
				}); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // and redelivered
				if err := f.runner.RetaskSoon(ctx, c.ID, []string{id}); err != nil {
					t.Fatalf("RetaskSoon: %v", err)
				}
			}
			if diff := cmp.Diff(tc.wantTasks(c, id), f.queue.Pending(queueID)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if m, _ := f.store.GetMessage(ctx, id); m.Status != tc.wantStatus {
				t.Errorf("message %s, want %s", m.Status, tc.wantStatus)
			}
		})
	}
}
