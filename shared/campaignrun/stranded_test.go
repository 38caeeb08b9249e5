package campaignrun_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/emulators/twilio/twiliotest"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
)

// Each way a message is left without a task: the sweep gives it one, and
// its send completes the campaign.
func TestSweepStranded_each_stranded_path(t *testing.T) {
	t.Parallel()
	arjuna := "+94771234567" // the segment's one recipient who gets a message
	tests := []struct {
		name       string
		quiet      [2]string
		strand     func(t *testing.T, f *fixture, c campaign.Campaign)
		wantStatus message.Status // the stranded message, before the sweep
		wantSend   message.Status // after its new task runs
		dueAt      func(c campaign.Campaign, m message.Message) time.Time
	}{
		{
			name: "enqueue_failed_for_good_after_queued",
			strand: func(t *testing.T, f *fixture, c campaign.Campaign) {
				f.queue.FailNext(memqueue.MethodEnqueue, -1, errs.E(errs.Permanent, "cloud tasks refused the task"))
				launched(t, f, c)
				f.queue.FailNext(memqueue.MethodEnqueue, 0, nil)
			},
			wantStatus: message.Queued,
			wantSend:   message.Sent,
		},
		{
			name: "batch_redelivered_after_the_person_opted_out",
			strand: func(t *testing.T, f *fixture, c campaign.Campaign) {
				ctx := context.Background()
				f.queue.FailNext(memqueue.MethodEnqueue, 1, errs.E(errs.Transient, "cloud tasks unavailable"))
				launched(t, f, c)
				if _, _, err := f.store.SetConsent(ctx, consent.Change{Phone: arjuna, From: consent.OptIn, To: consent.Stop, Source: consent.SourceAPI, At: now}); err != nil {
					t.Fatal(err)
				}
				if err := f.runner.Recipients(ctx, events.Recipients{CampaignID: c.ID, MessageIDs: []string{message.ID(c.ID, arjuna)}}); err != nil {
					t.Fatalf("redelivered batch: %v", err)
				}
			},
			wantStatus: message.Queued,
			wantSend:   message.Skipped,
		},
		{
			// 21:00 in Colombo: deferred to 08:00 with a task, which ran a
			// moment early, deferred again to its own name and was
			// deduplicated away.
			name:  "deferral_deduplicated_away",
			quiet: [2]string{"20:00", "08:00"},
			strand: func(t *testing.T, f *fixture, c campaign.Campaign) {
				launched(t, f, c)
				if err := f.queue.Dispatch(context.Background(), sendqueue.QueueID(c.ID, 0), func(context.Context, sendqueue.Task) error { return nil }); err != nil {
					t.Fatal(err)
				}
			},
			wantStatus: message.Deferred,
			wantSend:   message.Sent,
			dueAt:      func(_ campaign.Campaign, m message.Message) time.Time { return *m.ScheduledAt },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			clock := now
			f.runner.Now = func() time.Time { return clock }
			c := f.campaign(t, tc.quiet[0], tc.quiet[1])
			tc.strand(t, f, c)
			queueID := sendqueue.QueueID(c.ID, 0)
			id := message.ID(c.ID, arjuna)
			m, err := f.store.GetMessage(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != tc.wantStatus || len(f.queue.Pending(queueID)) != 0 {
				t.Fatalf("stranded message %s with tasks pending %+v; want %s and none", m.Status, f.queue.Pending(queueID), tc.wantStatus)
			}

			// Not yet past its time and the margin: left alone.
			due := now
			if tc.dueAt != nil {
				due = tc.dueAt(c, m)
			}
			clock = due.Add(campaignrun.StrandedAfter)
			if n, err := f.runner.SweepStranded(ctx); n != 0 || err != nil {
				t.Errorf("sweep within the margin = %d, %v; want 0", n, err)
			}
			clock = due.Add(campaignrun.StrandedAfter + time.Second)
			for i, want := range []int{1, 0} { // the second sweep makes no second task
				if n, err := f.runner.SweepStranded(ctx); n != want || err != nil {
					t.Errorf("sweep %d = %d, %v; want %d", i+1, n, err, want)
				}
			}
			want := []sendqueue.Task{{Queue: queueID, CampaignID: c.ID, MessageID: id, Generation: clock.Unix()}}
			if diff := cmp.Diff(want, f.queue.Pending(queueID)); diff != "" {
				t.Errorf("tasks pending after the sweeps (-want +got):\n%s", diff)
			}

			send(t, f, queueID, clock)
			if got, _ := f.store.GetMessage(ctx, id); got.Status != tc.wantSend {
				t.Errorf("message after its task %s, want %s", got.Status, tc.wantSend)
			}
			if got, _ := f.store.GetCampaign(ctx, c.ID); got.Status != campaign.Completed {
				t.Errorf("campaign %s, want COMPLETED", got.Status)
			}
		})
	}
}

// The sweep leaves a message claimed since it was read, and every message
// of a campaign still moving.
func TestSweepStranded_leaves_what_is_not_stranded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		touch func(t *testing.T, f *fixture, id string, at time.Time)
	}{
		{
			name: "claimed",
			touch: func(t *testing.T, f *fixture, id string, at time.Time) {
				if _, err := f.store.UpdateMessage(context.Background(), id, func(m *message.Message) error {
					m.Status, m.ClaimedAt = message.Sending, &at
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "campaign_still_moving",
			touch: func(t *testing.T, f *fixture, id string, at time.Time) {
				// Another of its messages (Frank's, skipped) written just now.
				m, err := f.store.GetMessage(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.store.UpdateMessage(context.Background(), message.ID(m.CampaignID, "+94771234576"), func(m *message.Message) error {
					m.UpdatedAt = at
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			clock := now
			f.runner.Now = func() time.Time { return clock }
			c := f.campaign(t, "", "")
			f.queue.FailNext(memqueue.MethodEnqueue, -1, errs.E(errs.Permanent, "cloud tasks refused the task"))
			launched(t, f, c)
			f.queue.FailNext(memqueue.MethodEnqueue, 0, nil)
			clock = now.Add(campaignrun.StrandedAfter + time.Second)
			tc.touch(t, f, message.ID(c.ID, "+94771234567"), clock)
			if n, err := f.runner.SweepStranded(ctx); n != 0 || err != nil {
				t.Errorf("sweep = %d, %v; want 0", n, err)
			}
			if got := f.queue.Tasks(sendqueue.QueueID(c.ID, 0)); len(got) != 0 {
				t.Errorf("tasks %+v, want none", got)
			}
		})
	}
}

func launched(t *testing.T, f *fixture, c campaign.Campaign) {
	t.Helper()
	if _, err := f.runner.Trigger(context.Background(), c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.store.GetCampaign(context.Background(), c.ID); got.Status != campaign.Running || !got.FanoutDone {
		t.Fatalf("campaign %s, fan-out done %v; want RUNNING and done", got.Status, got.FanoutDone)
	}
}

// send runs the queue's pending tasks through a Sender at the given time.
func send(t *testing.T, f *fixture, queueID string, at time.Time) {
	t.Helper()
	_, p := twiliotest.Start(t)
	s := &sending.Sender{Store: f.store, Provider: p, Queue: f.queue, Campaign: f.runner, ReconcileAfter: time.Minute,
		Now: func() time.Time { return at }}
	if err := f.queue.Dispatch(context.Background(), queueID, func(ctx context.Context, task sendqueue.Task) error {
		_, err := s.Send(ctx, sendqueue.Payload{CampaignID: task.CampaignID, MessageID: task.MessageID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
