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
	"github.com/eventstreamengine/ese/shared/content"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/suppression"
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
			// The sweep is recorded on its own: the message has not moved,
			// so the dashboard still counts it stuck until its task runs.
			swept, err := f.store.GetMessage(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !swept.UpdatedAt.Equal(m.UpdatedAt) || swept.Requeues != 1 || swept.RequeuedAt == nil || !swept.RequeuedAt.Equal(clock) {
				t.Errorf("swept message updated %v (was %v), requeues %d at %v; want UpdatedAt kept, 1 requeue at %v", swept.UpdatedAt, m.UpdatedAt, swept.Requeues, swept.RequeuedAt, clock)
			}
			if n, err := f.runner.StuckMessages(ctx); n != 1 || err != nil {
				t.Errorf("stuck messages after the sweep = %d, %v; want 1 until it moves", n, err)
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

// A swept message whose new task is lost too is swept again, but only
// StrandedAfter after the last sweep, and counts as stuck all along.
func TestSweepStranded_again_after_the_margin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	clock := now
	f.runner.Now = func() time.Time { return clock }
	c := f.campaign(t, "", "")
	f.queue.FailNext(memqueue.MethodEnqueue, -1, errs.E(errs.Permanent, "cloud tasks refused the task"))
	launched(t, f, c)
	f.queue.FailNext(memqueue.MethodEnqueue, 0, nil)
	queueID, id := sendqueue.QueueID(c.ID, 0), message.ID(c.ID, "+94771234567")
	for _, step := range []struct {
		at        time.Duration
		wantSwept int
	}{
		{campaignrun.StrandedAfter + time.Second, 1},
		{2 * campaignrun.StrandedAfter, 0},
		{2*campaignrun.StrandedAfter + 2*time.Second, 1},
	} {
		clock = now.Add(step.at)
		// The sweep's task is lost each time.
		if err := f.queue.Dispatch(ctx, queueID, func(context.Context, sendqueue.Task) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if n, err := f.runner.SweepStranded(ctx); n != step.wantSwept || err != nil {
			t.Errorf("sweep at +%v = %d, %v; want %d", step.at, n, err, step.wantSwept)
		}
		if n, err := f.runner.StuckMessages(ctx); n != 1 || err != nil {
			t.Errorf("stuck at +%v = %d, %v; want 1", step.at, n, err)
		}
		// The list the console shows is the messages the count counts.
		listed, err := f.runner.StrandedMessages(ctx, 50)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sm := range listed {
			got = append(got, sm.Campaign.ID+" "+sm.Message.ID+" "+sm.Since.Sub(now).String())
		}
		if diff := cmp.Diff([]string{c.ID + " " + id + " 0s"}, got); diff != "" {
			t.Errorf("stranded at +%v (-want, +got):\n%s", step.at, diff)
		}
	}
	if m, _ := f.store.GetMessage(ctx, id); m.Requeues != 2 {
		t.Errorf("requeues %d, want 2", m.Requeues)
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
			// UNKNOWN_OUTCOME=hold: its outcome is for an operator to say;
			// a task would only find it held again.
			name: "held_for_an_operator",
			touch: func(t *testing.T, f *fixture, id string, at time.Time) {
				claimed := at.Add(-campaignrun.StrandedAfter)
				if _, err := f.store.UpdateMessage(context.Background(), id, func(m *message.Message) error {
					m.Status, m.ClaimedAt, m.Attempts = message.Reconcile, &claimed, 1
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

// A batch redelivered after the person withdrew consent concludes their
// message right away, skipped with the consent step's reason, whether it
// was still PENDING or already given a task (QUEUED, DEFERRED), and its
// campaign completes; a message claimed meanwhile is left to the Sender,
// and a reason of another step leaves a message with a task alone.
func TestRecipients_redelivered_after_consent_withdrawn(t *testing.T) {
	t.Parallel()
	arjuna := "+94771234567"
	later := now.Add(time.Hour)
	for _, tc := range []struct {
		name       string
		set        func(m *message.Message) // what the message is when the batch comes again
		withdraw   func(t *testing.T, f *fixture)
		wantStatus message.Status
		wantReason message.SkipReason
		wantDone   bool
	}{
		{name: "queued_then_stop", set: func(m *message.Message) { m.Status = message.Queued },
			withdraw: stop(arjuna), wantStatus: message.Skipped, wantReason: message.SkipNoConsent, wantDone: true},
		{name: "deferred_then_stop", set: func(m *message.Message) { m.Status, m.ScheduledAt = message.Deferred, &later },
			withdraw: stop(arjuna), wantStatus: message.Skipped, wantReason: message.SkipNoConsent, wantDone: true},
		{name: "queued_then_suppressed", set: func(m *message.Message) { m.Status = message.Queued },
			withdraw: suppressed(arjuna), wantStatus: message.Skipped, wantReason: message.SkipSuppressed, wantDone: true},
		{name: "pending_then_stop", set: func(m *message.Message) { m.Status = message.Pending },
			withdraw: stop(arjuna), wantStatus: message.Skipped, wantReason: message.SkipNoConsent, wantDone: true},
		{name: "claimed_is_left_to_the_sender", set: func(m *message.Message) { m.Status, m.ClaimedAt = message.Sending, &now },
			withdraw: stop(arjuna), wantStatus: message.Sending},
		{name: "queued_other_step_is_left", set: func(m *message.Message) { m.Status, m.Body = message.Queued, "kept" },
			withdraw: func(t *testing.T, f *fixture) {
				t.Helper()
				// The content step now refuses the template's text: the
				// Sender sends what was rendered when it was queued.
				rules, err := content.ParseRules(`["Hi"]`, "")
				if err != nil {
					t.Fatal(err)
				}
				f.runner.Content = rules
			},
			wantStatus: message.Queued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			c := f.campaign(t, "", "")
			launched(t, f, c)
			id := message.ID(c.ID, arjuna)
			// Every other message concluded: Arjuna's is the campaign's last.
			ms, err := f.store.ListUnconcluded(ctx, c.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if _, err := f.store.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
					if m.ID == id {
						tc.set(m)
					} else {
						m.Status = message.Sent
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			tc.withdraw(t, f)
			for range 2 { // redelivered, and again
				if err := f.runner.Recipients(ctx, events.Recipients{CampaignID: c.ID, MessageIDs: []string{id}}); err != nil {
					t.Fatalf("redelivered batch: %v", err)
				}
			}
			m, err := f.store.GetMessage(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != tc.wantStatus || m.SkipReason != tc.wantReason {
				t.Errorf("message %s %q, want %s %q", m.Status, m.SkipReason, tc.wantStatus, tc.wantReason)
			}
			got, _ := f.store.GetCampaign(ctx, c.ID)
			if done := got.Status == campaign.Completed; done != tc.wantDone {
				t.Errorf("campaign %s, want completed: %v", got.Status, tc.wantDone)
			}
		})
	}
}

func stop(p string) func(t *testing.T, f *fixture) {
	return func(t *testing.T, f *fixture) {
		t.Helper()
		if _, _, err := f.store.SetConsent(context.Background(), consent.Change{Phone: p, To: consent.Stop, Source: consent.SourceAPI, At: now}); err != nil {
			t.Fatal(err)
		}
	}
}

func suppressed(p string) func(t *testing.T, f *fixture) {
	return func(t *testing.T, f *fixture) {
		t.Helper()
		if _, err := f.store.Suppress(context.Background(), suppression.Entry{Phone: p, Reason: "complaint", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
}
