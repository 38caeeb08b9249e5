package campaignrun_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

// now is 21:00 in Colombo (UTC+5:30).
var now = time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)

type fixture struct {
	store  store.Store
	events *memevents.Publisher
	queue  *memqueue.Queue
	runner *campaignrun.Runner
}

// newFixture wires a runner over fakes; events run their handlers at once,
// so a trigger runs the whole chain.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: memstore.New(), events: memevents.New(), queue: memqueue.New()}
	f.runner = &campaignrun.Runner{Store: f.store, Events: f.events, Queue: f.queue, Now: func() time.Time { return now }, PageSize: 2, BatchSize: 1}
	f.subscribe()
	ctx := context.Background()
	for _, u := range []user.User{
		{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"name": "Arjuna", "city": "Colombo", "timezone": "Asia/Colombo"}},
		{Phone: "+94771234576", Consent: consent.Stop, Attributes: map[string]any{"name": "Frank", "city": "Matara"}},
		{Phone: "+94771234577", Consent: consent.OptIn, Attributes: map[string]any{"name": "Grace", "city": "Anuradhapura"}},
		{Phone: "+94771234599", Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo"}},
		{Phone: "+94772345678", Consent: consent.OptIn, Attributes: map[string]any{"name": "Priya", "city": "Kandy"}},
	} {
		// Each wrote to us at now: the campaign's free text may go.
		u.CreatedAt, u.UpdatedAt, u.LastInboundAt = now, now, &now
		if err := f.store.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// subscribe runs f.runner's steps for the launch and recipient events, as
// LaunchCampaign and ProcessRecipients do (whatever f.runner is then).
func (f *fixture) subscribe() {
	f.events.Subscribe(events.TopicCampaignLaunch, func(ctx context.Context, m events.Message) error {
		var ev events.Launch
		if err := events.Decode(m, &ev); err != nil {
			return err
		}
		return f.runner.Launch(ctx, ev)
	})
	f.events.Subscribe(events.TopicRecipients, func(ctx context.Context, m events.Message) error {
		var ev events.Recipients
		if err := events.Decode(m, &ev); err != nil {
			return err
		}
		return f.runner.Recipients(ctx, ev)
	})
}

func (f *fixture) campaign(t *testing.T, quietStart, quietEnd string) campaign.Campaign {
	t.Helper()
	ctx := context.Background()
	def, err := segment.Parse([]byte(`{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"city","operator":"equals","value":"Matara"}],"logic":"OR"}`))
	if err != nil {
		t.Fatal(err)
	}
	seg, err := f.store.CreateSegment(ctx, segment.Segment{Name: "Major Cities", Definition: def, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := f.store.CreateTemplate(ctx, template.Template{Name: "Welcome", Content: "Hi {name}!", Variables: []string{"name"}, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.store.CreateCampaign(ctx, campaign.Campaign{
		Topic: "demo", TemplateID: tpl.ID, SegmentID: seg.ID, Rate: 3, Status: campaign.Draft,
		QuietStart: quietStart, QuietEnd: quietEnd, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// states maps each of c's messages to "STATUS reason".
func (f *fixture) states(t *testing.T, c campaign.Campaign) map[string]string {
	t.Helper()
	ms, err := f.store.ListMessages(context.Background(), store.MessageFilter{CampaignID: c.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range ms {
		out[m.Phone] = string(m.Status) + " " + string(m.SkipReason)
	}
	return out
}

func TestTrigger_runs_segment_compliance_and_queue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.campaign(t, "", "")
	got, err := f.runner.Trigger(context.Background(), c.ID, "api-key")
	if err != nil || got.Status != campaign.Running {
		t.Fatalf("Trigger = %v, %v", got.Status, err)
	}
	if fails := f.events.Failures(); len(fails) > 0 {
		t.Fatalf("handlers failed: %v", fails)
	}
	want := map[string]string{
		"+94771234567": "QUEUED ",
		"+94771234576": "SKIPPED no_consent",
		"+94771234599": "SKIPPED unresolved_placeholders",
	}
	if diff := cmp.Diff(want, f.states(t, c)); diff != "" {
		t.Errorf("messages (-want, +got):\n%s", diff)
	}
	tasks := f.queue.Tasks(sendqueue.QueueID(c.ID, 0))
	if len(tasks) != 1 || tasks[0].MessageID != message.ID(c.ID, "+94771234567") || f.queue.Rate(sendqueue.QueueID(c.ID, 0)) != 3 {
		t.Errorf("tasks %+v at rate %d; want one for +94771234567 at rate 3", tasks, f.queue.Rate(sendqueue.QueueID(c.ID, 0)))
	}
	after, _ := f.store.GetCampaign(context.Background(), c.ID)
	if !after.FanoutDone || after.Recipients != 3 || after.Status != campaign.Running {
		t.Errorf("campaign after launch: fanout %v, recipients %d, %s; want true, 3, RUNNING", after.FanoutDone, after.Recipients, after.Status)
	}

	// Redelivered events change nothing and make no second task.
	ids := []string{message.ID(c.ID, "+94771234567"), message.ID(c.ID, "+94771234576")}
	if err := f.runner.Recipients(context.Background(), events.Recipients{CampaignID: c.ID, MessageIDs: ids}); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Launch(context.Background(), events.Launch{CampaignID: c.ID}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, f.states(t, c)); diff != "" {
		t.Errorf("messages after redelivery (-want, +got):\n%s", diff)
	}
	if n := len(f.queue.Tasks(sendqueue.QueueID(c.ID, 0))); n != 1 {
		t.Errorf("%d tasks after redelivery, want 1", n)
	}

	// The last send concludes: the campaign completes.
	if _, err := f.store.UpdateMessage(context.Background(), ids[0], func(m *message.Message) error {
		m.Status = message.Sent
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.CheckCompletion(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	after, _ = f.store.GetCampaign(context.Background(), c.ID)
	if after.Status != campaign.Completed || after.CompletedAt == nil {
		t.Errorf("campaign %s, want COMPLETED", after.Status)
	}
	if _, err := f.runner.Trigger(context.Background(), c.ID, "api-key"); !errs.Is(err, errs.Conflict) {
		t.Errorf("Trigger of a completed campaign: %v, want Conflict", err)
	}
}

func TestRecipients_quiet_hours_defer_to_window_end(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// 21:00 in Colombo falls in 20:00-08:00: deferred to 08:00 Colombo.
	c := f.campaign(t, "20:00", "08:00")
	if _, err := f.runner.Trigger(context.Background(), c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	m, err := f.store.GetMessage(context.Background(), message.ID(c.ID, "+94771234567"))
	if err != nil {
		t.Fatal(err)
	}
	colombo, _ := time.LoadLocation("Asia/Colombo")
	want := time.Date(2026, 11, 27, 8, 0, 0, 0, colombo)
	if m.Status != message.Deferred || m.ScheduledAt == nil || !m.ScheduledAt.Equal(want) {
		t.Errorf("message %s scheduled %v; want DEFERRED to %v", m.Status, m.ScheduledAt, want)
	}
	if m.DeferredBy != message.DeferQuietHours {
		t.Errorf("deferred_by = %q, want %q: the summary counts it by step after it is sent", m.DeferredBy, message.DeferQuietHours)
	}
	tasks := f.queue.Tasks(sendqueue.QueueID(c.ID, 0))
	if len(tasks) != 1 || !tasks[0].At.Equal(want) {
		t.Errorf("tasks %+v; want one at %v", tasks, want)
	}
	after, _ := f.store.GetCampaign(context.Background(), c.ID)
	if after.Status != campaign.Running {
		t.Errorf("a deferred message must keep the campaign RUNNING, got %s", after.Status)
	}
}

func TestTrigger_missing_campaign(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.runner.Trigger(context.Background(), "nope", "api-key"); !errs.Is(err, errs.NotExist) {
		t.Errorf("Trigger(nope) = %v, want NotExist", err)
	}
}

// conclude marks every unconcluded message of c sent.
func (f *fixture) conclude(t *testing.T, c campaign.Campaign) {
	t.Helper()
	ms, err := f.store.ListMessages(context.Background(), store.MessageFilter{CampaignID: c.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Status.Concluded() {
			continue
		}
		if _, err := f.store.UpdateMessage(context.Background(), m.ID, func(m *message.Message) error {
			m.Status = message.Sent
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// A concluded campaign's queue is deleted once: a failed delete is done by
// the next CheckCompletion, and later calls (or late events) delete nothing.
func TestCheckCompletion_releases_the_queue_once(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		deleteFails  int // DeleteQueue calls that fail first
		checks       int // CheckCompletion calls after the last send
		wantErrs     int // of those, how many fail
		wantReleased bool
	}{
		{name: "once", checks: 1, wantReleased: true},
		{name: "checked_twice", checks: 2, wantReleased: true},
		{name: "delete_fails_once", deleteFails: 1, checks: 3, wantErrs: 1, wantReleased: true},
		{name: "delete_keeps_failing", deleteFails: -1, checks: 2, wantErrs: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			c := f.campaign(t, "", "")
			if _, err := f.runner.Trigger(ctx, c.ID, "api-key"); err != nil {
				t.Fatal(err)
			}
			queueID := sendqueue.QueueID(c.ID, 0)
			if !f.queue.Exists(queueID) {
				t.Fatalf("no queue %s while running", queueID)
			}
			f.conclude(t, c)
			f.queue.FailNext(memqueue.MethodDeleteQueue, tt.deleteFails, errs.E(errs.Transient, "cloud tasks unavailable"))
			gotErrs := 0
			for range tt.checks {
				if err := f.runner.CheckCompletion(ctx, c.ID); err != nil {
					if !errs.Retry(err) {
						t.Errorf("CheckCompletion = %v, want a retryable error", err)
					}
					gotErrs++
				}
			}
			// A late event of the concluded campaign changes nothing more.
			if err := f.runner.Launch(ctx, events.Launch{CampaignID: c.ID}); err != nil && tt.wantReleased {
				t.Errorf("late Launch = %v", err)
			}
			after, _ := f.store.GetCampaign(ctx, c.ID)
			got := struct {
				Status    campaign.Status
				Errs      int
				Released  bool
				Deletions int
				Exists    bool
			}{after.Status, gotErrs, after.QueueReleasedAt != nil, f.queue.Deletions(queueID), f.queue.Exists(queueID)}
			want := got
			want.Status, want.Errs, want.Released = campaign.Completed, tt.wantErrs, tt.wantReleased
			want.Deletions, want.Exists = 0, true
			if tt.wantReleased {
				want.Deletions, want.Exists = 1, false
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("after %d checks (-want, +got):\n%s", tt.checks, diff)
			}
		})
	}
}

// A queue that cannot be made fails the campaign with its reason, with no
// message written and nothing left to retry; a blocked name moves to the
// next generation.
func TestLaunch_queue_that_cannot_be_created(t *testing.T) {
	t.Parallel()
	transient := errs.E(errs.Transient, "cloud tasks misconfigured (permission_denied)")
	tests := []struct {
		name        string
		setup       func(*memqueue.Queue, campaign.Campaign)
		ensureFails int           // EnsureQueue calls that fail with ensureErr
		ensureErr   error         // nil: none
		later       time.Duration // the clock at the redelivery of the launch
		wantStatus  campaign.Status
		wantReason  string // a part of it
		wantGen     int
		wantRetry   bool // the first launch asks for a retry
	}{
		{
			name: "refused", ensureFails: -1, ensureErr: errs.E(errs.Invalid, "bad queue name"),
			wantStatus: campaign.Failed, wantReason: "could not be created: bad queue name",
		},
		{
			name: "failing_past_the_timeout", ensureFails: -1, ensureErr: transient, later: 10 * time.Minute,
			wantStatus: campaign.Failed, wantReason: "no send queue 10m0s after the trigger", wantRetry: true,
		},
		{
			name: "failing_then_created", ensureFails: 1, ensureErr: transient, later: time.Minute,
			wantStatus: campaign.Running, wantRetry: true,
		},
		{
			name: "name_blocked", wantStatus: campaign.Running, wantGen: 2,
			setup: func(q *memqueue.Queue, c campaign.Campaign) {
				for gen := range 2 { // deleted names stay blocked
					id := sendqueue.QueueID(c.ID, gen)
					_ = q.EnsureQueue(context.Background(), id, 1)
					_ = q.DeleteQueue(context.Background(), id)
				}
			},
		},
		{
			name: "every_name_blocked", wantStatus: campaign.Failed, wantReason: "was deleted too recently", wantGen: 3,
			setup: func(q *memqueue.Queue, c campaign.Campaign) {
				for gen := range 4 {
					id := sendqueue.QueueID(c.ID, gen)
					_ = q.EnsureQueue(context.Background(), id, 1)
					_ = q.DeleteQueue(context.Background(), id)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			clock := now
			f.runner.Now = func() time.Time { return clock }
			c := f.campaign(t, "", "")
			if tt.setup != nil {
				tt.setup(f.queue, c)
			}
			if tt.ensureErr != nil {
				f.queue.FailNext(memqueue.MethodEnsureQueue, tt.ensureFails, tt.ensureErr)
			}
			if _, err := f.runner.Trigger(ctx, c.ID, "api-key"); err != nil {
				t.Fatal(err)
			}
			fails := f.events.Failures()
			if got := len(fails) > 0; got != tt.wantRetry {
				t.Errorf("launch asked for a retry: %v (%v), want %v", got, fails, tt.wantRetry)
			}
			if tt.wantRetry { // the redelivery, later
				clock = now.Add(tt.later)
				if err := f.runner.Launch(ctx, events.Launch{CampaignID: c.ID}); err != nil {
					t.Errorf("redelivered Launch = %v, want nil", err)
				}
			}
			after, _ := f.store.GetCampaign(ctx, c.ID)
			if after.Status != tt.wantStatus || !strings.Contains(after.FailureReason, tt.wantReason) || after.QueueGeneration != tt.wantGen {
				t.Errorf("campaign %s (%q), generation %d; want %s (%q), generation %d", after.Status, after.FailureReason, after.QueueGeneration, tt.wantStatus, tt.wantReason, tt.wantGen)
			}
			queueID := sendqueue.QueueID(c.ID, tt.wantGen)
			if tt.wantStatus == campaign.Failed {
				if len(f.states(t, c)) != 0 || after.QueueReleasedAt == nil || f.queue.Exists(queueID) {
					t.Errorf("failed campaign: messages %v, released %v, queue exists %v; want none, released, no queue", f.states(t, c), after.QueueReleasedAt, f.queue.Exists(queueID))
				}
				// Late events of the failed campaign are acked and do nothing.
				if err := f.runner.Recipients(ctx, events.Recipients{CampaignID: c.ID, MessageIDs: []string{message.ID(c.ID, "+94771234567")}}); err != nil {
					t.Errorf("Recipients of a failed campaign = %v, want nil", err)
				}
				return
			}
			if after.QueueCreatedAt == nil || len(f.queue.Tasks(queueID)) != 1 || len(f.states(t, c)) != 3 {
				t.Errorf("running campaign: queue created %v, %d tasks in %s, %d messages; want created, 1, 3", after.QueueCreatedAt, len(f.queue.Tasks(queueID)), queueID, len(f.states(t, c)))
			}
		})
	}
}

// A misconfiguration met by Enqueue (a permission refused, reported by
// the adapter as transient) is retried: the batch is not acked, and its
// retry makes the task.
func TestRecipients_enqueue_refused_is_retried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	c := f.campaign(t, "", "")
	f.queue.FailNext(memqueue.MethodEnqueue, -1, errs.E(errs.Transient, "cloud tasks misconfigured (act_as)"))
	if _, err := f.runner.Trigger(ctx, c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	queueID := sendqueue.QueueID(c.ID, 0)
	if len(f.events.Failures()) == 0 || len(f.queue.Tasks(queueID)) != 0 {
		t.Fatalf("failures %v, tasks %v; want the batch refused and no task", f.events.Failures(), f.queue.Tasks(queueID))
	}
	id := message.ID(c.ID, "+94771234567")
	err := f.runner.Recipients(ctx, events.Recipients{CampaignID: c.ID, MessageIDs: []string{id}})
	if !errs.Retry(err) {
		t.Errorf("Recipients with Enqueue refused = %v, want a retryable error", err)
	}
	f.queue.FailNext(memqueue.MethodEnqueue, 0, nil)
	if err := f.runner.Recipients(ctx, events.Recipients{CampaignID: c.ID, MessageIDs: []string{id}}); err != nil {
		t.Fatalf("Recipients once fixed = %v", err)
	}
	if tasks := f.queue.Tasks(queueID); len(tasks) != 1 || tasks[0].MessageID != id {
		t.Errorf("tasks %+v, want one for %s", tasks, id)
	}
	if after, _ := f.store.GetCampaign(ctx, c.ID); after.Status != campaign.Running {
		t.Errorf("campaign %s, want RUNNING", after.Status)
	}
}

// A suppressed number is skipped whatever its consent: the suppression
// list outranks OPT_IN.
func TestRecipients_suppressed_number_is_skipped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.store.Suppress(context.Background(), suppression.Entry{Phone: "+94771234567", Reason: "complaint"}); err != nil {
		t.Fatal(err)
	}
	c := f.campaign(t, "", "")
	if _, err := f.runner.Trigger(context.Background(), c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	if got := f.states(t, c)["+94771234567"]; got != "SKIPPED suppressed" {
		t.Errorf("suppressed OPT_IN person: %q, want SKIPPED suppressed", got)
	}
	if n := len(f.queue.Tasks(sendqueue.QueueID(c.ID, 0))); n != 0 {
		t.Errorf("%d tasks, want none", n)
	}
}

// sentBefore records that phone was sent a message of another campaign
// ago before now, as the Sender's claim records it.
func (f *fixture) sentBefore(t *testing.T, phone string, ago time.Duration) {
	t.Helper()
	ctx := context.Background()
	other, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "earlier", TemplateID: "t", SegmentID: "s", Rate: 1, Status: campaign.Running, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	m := message.Message{ID: message.ID(other.ID, phone), CampaignID: other.ID, Phone: phone, Status: message.Queued, CreatedAt: now, UpdatedAt: now}
	if _, err := f.store.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	at := now.Add(-ago)
	if _, err := f.store.ClaimMessage(ctx, m.ID, func() time.Time { return at }, store.FrequencyCap{Limit: 100, Window: 24 * time.Hour}, func(c store.Claim, m *message.Message) error {
		m.Status, m.ClaimedAt = message.Sending, &c.At
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// The fan-out skips, before any task, a person who already had
// FrequencyCap messages in the last 24 hours from other campaigns.
func TestRecipients_frequency_cap(t *testing.T) {
	t.Parallel()
	const arjuna = "+94771234567"
	for _, tc := range []struct {
		name      string
		cap       int
		sentAgo   []time.Duration
		want      string
		wantTasks int
	}{
		{"no_cap", 0, []time.Duration{time.Hour, 2 * time.Hour}, "QUEUED ", 1},
		{"at_the_cap", 2, []time.Duration{time.Hour, 23 * time.Hour}, "SKIPPED frequency_cap", 0},
		{"under_the_cap", 3, []time.Duration{time.Hour, 2 * time.Hour}, "QUEUED ", 1},
		{"older_send_out_of_the_window", 2, []time.Duration{time.Hour, 24 * time.Hour}, "QUEUED ", 1},
		{"never_sent", 1, nil, "QUEUED ", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.runner.FrequencyCap = tc.cap
			for _, ago := range tc.sentAgo {
				f.sentBefore(t, arjuna, ago)
			}
			c := f.campaign(t, "", "")
			if _, err := f.runner.Trigger(context.Background(), c.ID, "api-key"); err != nil {
				t.Fatal(err)
			}
			if fails := f.events.Failures(); len(fails) > 0 {
				t.Fatalf("handlers failed: %v", fails)
			}
			if got := f.states(t, c)[arjuna]; got != tc.want {
				t.Errorf("message: %q, want %q", got, tc.want)
			}
			if n := len(f.queue.Tasks(sendqueue.QueueID(c.ID, 0))); n != tc.wantTasks {
				t.Errorf("%d tasks, want %d", n, tc.wantTasks)
			}
		})
	}
}
