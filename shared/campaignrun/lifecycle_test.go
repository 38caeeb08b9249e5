package campaignrun_test

import (
	"context"
	"fmt"
	"slices"
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
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

// stepped is a runner whose events wait until the test delivers them, so
// a pause can fall between any two steps of a campaign.
type stepped struct {
	store  *memstore.Store
	events *memevents.Publisher
	queue  *memqueue.Queue
	runner *campaignrun.Runner
	done   map[string]int // per topic: how many events were delivered
	c      campaign.Campaign
}

// newStepped is a draft campaign to n people in Colombo (all opted in),
// read in one slice, two users a page and one message a batch.
func newStepped(t *testing.T, n int) *stepped {
	t.Helper()
	ctx := context.Background()
	f := &stepped{store: memstore.New(), events: memevents.New(), queue: memqueue.New(), done: map[string]int{}}
	f.runner = &campaignrun.Runner{Store: f.store, Events: f.events, Queue: f.queue, Now: func() time.Time { return now },
		PageSize: 2, BatchSize: 1, Slices: 1}
	for i := range n {
		u := user.User{Phone: fmt.Sprintf("+9477%07d", i), Consent: consent.OptIn, Attributes: map[string]any{"name": fmt.Sprint("P", i), "city": "Colombo"}, LastInboundAt: &now}
		if err := f.store.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	def, err := segment.Parse([]byte(`{"attribute":"city","operator":"equals","value":"Colombo"}`))
	if err != nil {
		t.Fatal(err)
	}
	seg, err := f.store.CreateSegment(ctx, segment.Segment{Name: "Colombo", Definition: def})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := f.store.CreateTemplate(ctx, template.Template{Name: "T", Content: "Hi {name}!"})
	if err != nil {
		t.Fatal(err)
	}
	f.c, err = f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: tpl.ID, SegmentID: seg.ID, Rate: 5, Status: campaign.Draft})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// drain delivers every waiting event, in the order of their topics'
// steps, until none is left.
func (f *stepped) drain(t *testing.T) {
	t.Helper()
	for progress := true; progress; {
		progress = false
		for _, topic := range []string{events.TopicCampaignLaunch, events.TopicRecipients} {
			for f.deliver(t, topic) {
				progress = true
			}
		}
	}
}

// deliver delivers the next waiting event of topic, if any.
func (f *stepped) deliver(t *testing.T, topic string) bool {
	t.Helper()
	all := f.events.Published(topic)
	if f.done[topic] >= len(all) {
		return false
	}
	m := all[f.done[topic]]
	f.done[topic]++
	var err error
	if topic == events.TopicCampaignLaunch {
		var ev events.Launch
		if err = events.Decode(m, &ev); err == nil {
			err = f.runner.Launch(context.Background(), ev)
		}
	} else {
		var ev events.Recipients
		if err = events.Decode(m, &ev); err == nil {
			err = f.runner.Recipients(context.Background(), ev)
		}
	}
	if err != nil {
		t.Fatalf("%s event %s: %v", topic, m.Data, err)
	}
	return true
}

// statuses counts the campaign's messages by status (and skip reason).
func (f *stepped) statuses(t *testing.T) map[string]int {
	t.Helper()
	ms, err := f.store.ListMessages(context.Background(), store.MessageFilter{CampaignID: f.c.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range ms {
		out[strings.TrimSpace(string(m.Status)+" "+string(m.SkipReason))]++
	}
	return out
}

func (f *stepped) campaign(t *testing.T) campaign.Campaign {
	t.Helper()
	c, err := f.store.GetCampaign(context.Background(), f.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// taskNames lists the queue's tasks by name.
func (f *stepped) taskNames() []string {
	var out []string
	for _, task := range f.queue.Tasks(sendqueue.QueueID(f.c.ID, 0)) {
		out = append(out, task.Name())
	}
	slices.Sort(out)
	return out
}

// A pause in the middle of the fan-out holds the batch under way (checked,
// rendered, no task) and the next page; the resume gives the held ones
// tasks of a new generation and continues with the page it held, and the
// campaign ends with every message queued exactly once per task name.
func TestPause_holds_the_fanout_and_resume_continues_it(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 5)
	if _, err := f.runner.Trigger(ctx, f.c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	f.deliver(t, events.TopicCampaignLaunch) // the start: the slice asked for
	f.deliver(t, events.TopicCampaignLaunch) // page 1: two messages, two batches, page 2 asked for
	f.deliver(t, events.TopicRecipients)     // batch 1: queued
	if _, err := f.runner.Pause(ctx, f.c.ID, "ops@example.com", "wrong offer"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if !f.queue.Paused(sendqueue.QueueID(f.c.ID, 0)) {
		// The settle request is waiting in the recipient-batch topic,
		// behind batch 2: the queue pauses when it is delivered.
		f.drain(t)
	} else {
		t.Fatal("the queue paused before the settle request was delivered")
	}
	if !f.queue.Paused(sendqueue.QueueID(f.c.ID, 0)) {
		t.Error("queue not paused after the pause settled")
	}
	c := f.campaign(t)
	if c.Status != campaign.Paused || len(c.HeldPages) != 1 || c.HeldPages[0] == "" || c.StatusReason != "wrong offer" || c.Unsettled {
		t.Fatalf("paused campaign: %s, held pages %v, reason %q, unsettled %v", c.Status, c.HeldPages, c.StatusReason, c.Unsettled)
	}
	if diff := cmp.Diff(map[string]int{"QUEUED": 1, "HELD": 1}, f.statuses(t)); diff != "" {
		t.Errorf("messages while paused (-want, +got):\n%s", diff)
	}
	if n := len(f.taskNames()); n != 1 {
		t.Errorf("%d tasks while paused, want 1 (the held message has none)", n)
	}

	if _, err := f.runner.Resume(ctx, f.c.ID, "ops@example.com", "offer fixed"); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	f.drain(t)
	c = f.campaign(t)
	if c.Status != campaign.Running || len(c.HeldPages) != 0 || !c.FanoutDone || c.Recipients != 5 || c.Unsettled || c.Resumes != 1 {
		t.Fatalf("resumed campaign: %s, held page %v, fan-out %v, %d recipients, unsettled %v, resumes %d",
			c.Status, c.HeldPages, c.FanoutDone, c.Recipients, c.Unsettled, c.Resumes)
	}
	if f.queue.Paused(sendqueue.QueueID(f.c.ID, 0)) {
		t.Error("queue still paused after the resume")
	}
	if diff := cmp.Diff(map[string]int{"QUEUED": 5}, f.statuses(t)); diff != "" {
		t.Errorf("messages after the resume (-want, +got):\n%s", diff)
	}
	var gens []string
	for _, name := range f.taskNames() {
		gens = append(gens, name[strings.LastIndex(name, "send"):])
	}
	slices.Sort(gens)
	if diff := cmp.Diff([]string{"send", "send", "send", "send", "send-1"}, gens); diff != "" {
		t.Errorf("task names (-want, +got): the held message's task is of generation 1\n%s", diff)
	}
	h, err := f.store.CampaignHistory(ctx, f.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var moves []string
	for _, ch := range h {
		moves = append(moves, fmt.Sprintf("%s>%s by %s: %s", ch.From, ch.To, ch.By, ch.Reason))
	}
	want := []string{
		"DRAFT>RUNNING by api-key: triggered",
		"RUNNING>PAUSED by ops@example.com: wrong offer",
		"PAUSED>RUNNING by ops@example.com: offer fixed",
	}
	if diff := cmp.Diff(want, moves); diff != "" {
		t.Errorf("history (-want, +got):\n%s", diff)
	}
}

// A pause before the first page holds the first page; a resume starts it.
func TestPause_before_the_first_page(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 3)
	if _, err := f.runner.Trigger(ctx, f.c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner.Pause(ctx, f.c.ID, "api-key", ""); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if c := f.campaign(t); len(c.HeldPages) != 1 || c.HeldPages[campaign.FanoutStart] != "" || len(f.statuses(t)) != 0 {
		t.Fatalf("held pages %v, messages %v; want the fan-out's start held and no message", c.HeldPages, f.statuses(t))
	}
	if _, err := f.runner.Resume(ctx, f.c.ID, "api-key", ""); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if diff := cmp.Diff(map[string]int{"QUEUED": 3}, f.statuses(t)); diff != "" {
		t.Errorf("messages (-want, +got):\n%s", diff)
	}
}

// Cancel concludes every message no send has started for, leaves the one
// being sent to its send, releases the queue, and concludes the messages
// of a page that was under way.
func TestCancel_concludes_unsent_and_releases_the_queue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 5)
	f.runner.SettlePage = 2 // several settle requests
	if _, err := f.runner.Trigger(ctx, f.c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	f.deliver(t, events.TopicCampaignLaunch) // the start
	f.deliver(t, events.TopicCampaignLaunch) // page 1
	f.deliver(t, events.TopicRecipients)
	f.deliver(t, events.TopicRecipients)
	f.deliver(t, events.TopicCampaignLaunch) // page 2: its batches wait
	ms, err := f.store.ListMessages(ctx, store.MessageFilter{CampaignID: f.c.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var claimed string
	for _, m := range ms {
		if m.Status == message.Queued {
			claimed = m.ID
			break
		}
	}
	if _, err := f.store.UpdateMessage(ctx, claimed, func(m *message.Message) error { m.Status = message.Sending; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner.Cancel(ctx, f.c.ID, "api-key", "sent by mistake"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	f.drain(t)
	// Page 3 came after the cancel: its person got no message at all.
	want := map[string]int{"SKIPPED cancelled": 3, "SENDING": 1}
	if diff := cmp.Diff(want, f.statuses(t)); diff != "" {
		t.Errorf("messages after the cancel (-want, +got):\n%s", diff)
	}
	c := f.campaign(t)
	if c.Status != campaign.Cancelled || c.QueueReleasedAt == nil || c.Unsettled || f.queue.Exists(sendqueue.QueueID(f.c.ID, 0)) {
		t.Errorf("cancelled campaign: %s, released %v, unsettled %v, queue exists %v", c.Status, c.QueueReleasedAt, c.Unsettled, f.queue.Exists(sendqueue.QueueID(f.c.ID, 0)))
	}
	for _, move := range []func(context.Context, string, string, string) (campaign.Campaign, error){f.runner.Pause, f.runner.Resume, f.runner.Cancel} {
		if _, err := move(ctx, f.c.ID, "api-key", ""); !errs.Is(err, errs.Conflict) {
			t.Errorf("a move of a cancelled campaign: %v, want Conflict", err)
		}
	}
}

// Resume moves the held messages page by page, each page asking for the
// next, and marks the campaign settled after the last.
func TestResume_settles_page_by_page(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 7)
	f.runner.SettlePage = 3
	f.runner.PageSize = 10
	if _, err := f.runner.Trigger(ctx, f.c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	f.deliver(t, events.TopicCampaignLaunch) // the start
	f.deliver(t, events.TopicCampaignLaunch) // every recipient, 7 batches waiting
	if _, err := f.runner.Pause(ctx, f.c.ID, "api-key", ""); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if diff := cmp.Diff(map[string]int{"HELD": 7}, f.statuses(t)); diff != "" {
		t.Fatalf("messages while paused (-want, +got):\n%s", diff)
	}
	before := len(f.events.Published(events.TopicRecipients))
	if _, err := f.runner.Resume(ctx, f.c.ID, "api-key", ""); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	// One request from the resume, then one per full page: 3, 3, 1.
	if n := len(f.events.Published(events.TopicRecipients)) - before; n != 3 {
		t.Errorf("%d settle requests, want 3", n)
	}
	if diff := cmp.Diff(map[string]int{"QUEUED": 7}, f.statuses(t)); diff != "" {
		t.Errorf("messages after the resume (-want, +got):\n%s", diff)
	}
	if c := f.campaign(t); c.Unsettled {
		t.Error("campaign still unsettled")
	}
}

func TestMoves_the_table_refuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 1)
	cases := []struct {
		name string
		move func(context.Context, string, string, string) (campaign.Campaign, error)
	}{
		{"pause_a_draft", f.runner.Pause},
		{"resume_a_draft", f.runner.Resume},
	}
	for _, tc := range cases {
		if _, err := tc.move(ctx, f.c.ID, "api-key", ""); !errs.Is(err, errs.Conflict) {
			t.Errorf("%s: %v, want Conflict", tc.name, err)
		}
	}
	if _, err := f.runner.Trigger(ctx, f.c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner.Resume(ctx, f.c.ID, "api-key", ""); !errs.Is(err, errs.Conflict) {
		t.Errorf("resume a running campaign: %v, want Conflict", err)
	}
	if _, err := f.runner.Pause(ctx, "nope", "api-key", ""); !errs.Is(err, errs.NotExist) {
		t.Errorf("pause an unknown campaign: %v, want NotExist", err)
	}
	// A draft cancelled never had a queue: none is deleted.
	g := newStepped(t, 1)
	if _, err := g.runner.Cancel(ctx, g.c.ID, "api-key", ""); err != nil {
		t.Fatal(err)
	}
	g.drain(t)
	if c := g.campaign(t); c.Status != campaign.Cancelled || c.QueueReleasedAt == nil || g.queue.Deletions(sendqueue.QueueID(g.c.ID, 0)) != 0 {
		t.Errorf("cancelled draft: %s, released %v", c.Status, c.QueueReleasedAt)
	}
}

// editedStore hands out another template and segment than the launch
// snapshotted, as if both were edited after it.
type editedStore struct {
	store.Store
}

func (editedStore) GetTemplate(context.Context, string) (template.Template, error) {
	return template.Template{Content: "EDITED {name}"}, nil
}

func (editedStore) GetSegment(context.Context, string) (segment.Segment, error) {
	def, _ := segment.Parse([]byte(`{"attribute":"city","operator":"equals","value":"Nowhere"}`))
	return segment.Segment{Definition: def}, nil
}

// The fan-out and the rendering use the launch's snapshots: edits made
// after the launch never change a running campaign.
func TestLaunch_uses_the_snapshots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 2)
	c, err := f.runner.Trigger(ctx, f.c.ID, "api-key")
	if err != nil {
		t.Fatal(err)
	}
	if c.Template == nil || c.Template.Content != "Hi {name}!" || c.Segment == nil || c.Segment.Name != "Colombo" {
		t.Fatalf("snapshots: %+v, %+v", c.Template, c.Segment)
	}
	f.runner.Store = editedStore{f.store}
	f.drain(t)
	ms, err := f.store.ListMessages(ctx, store.MessageFilter{CampaignID: f.c.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range ms {
		bodies = append(bodies, m.Body)
	}
	slices.Sort(bodies)
	if diff := cmp.Diff([]string{"Hi P0!", "Hi P1!"}, bodies); diff != "" {
		t.Errorf("bodies (-want, +got):\n%s", diff)
	}
}

// The sweep launches scheduled campaigns whose time came, with their
// snapshots, and fails one that cannot launch; the others wait.
func TestLaunchDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 1)
	mk := func(at time.Time, templateID string) string {
		c := f.c
		c.ID, c.Status, c.ScheduleTime, c.TemplateID = "", campaign.Scheduled, &at, templateID
		c, err := f.store.CreateCampaign(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	due := mk(now.Add(-time.Minute), f.c.TemplateID)
	later := mk(now.Add(time.Minute), f.c.TemplateID)
	broken := mk(now.Add(-time.Second), "deleted-template")
	launched, err := f.runner.LaunchDue(ctx)
	if err != nil {
		t.Fatalf("LaunchDue: %v", err)
	}
	if diff := cmp.Diff([]string{due}, launched); diff != "" {
		t.Errorf("launched (-want, +got):\n%s", diff)
	}
	got := map[string]string{}
	for _, id := range []string{due, later, broken} {
		c, err := f.store.GetCampaign(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got[id] = string(c.Status)
		if id == due && (c.Template == nil || c.Segment == nil || c.StartedAt == nil) {
			t.Errorf("scheduled launch without snapshots or start: %+v", c)
		}
		if id == broken && !strings.Contains(c.FailureReason, `template "deleted-template" does not exist`) {
			t.Errorf("failure reason %q", c.FailureReason)
		}
	}
	want := map[string]string{due: "RUNNING", later: "SCHEDULED", broken: "FAILED"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want, +got):\n%s", diff)
	}
	if h, _ := f.store.CampaignHistory(ctx, due); len(h) != 1 || h[0].By != campaign.BySystem || h[0].Reason != "its schedule_time came" {
		t.Errorf("history of the scheduled launch: %+v", h)
	}
	if again, err := f.runner.LaunchDue(ctx); err != nil || len(again) != 0 {
		t.Errorf("second sweep launched %v, %v; want none", again, err)
	}
}

func TestCheckFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		window       int
		rate         float64
		sent, failed int
		status       campaign.Status
		wantStatus   campaign.Status
		wantReason   string
	}{
		{name: "over_the_rate", window: 4, rate: 0.5, sent: 1, failed: 3, status: campaign.Running,
			wantStatus: campaign.Paused, wantReason: "auto-pause: 3 of the last 4 sends failed (more than 50%)"},
		{name: "at_the_rate", window: 4, rate: 0.5, sent: 2, failed: 2, status: campaign.Running, wantStatus: campaign.Running},
		{name: "window_not_full", window: 10, rate: 0.1, sent: 0, failed: 5, status: campaign.Running, wantStatus: campaign.Running},
		{name: "only_the_last_sends_count", window: 4, rate: 0.5, sent: 4, failed: 8, status: campaign.Running, wantStatus: campaign.Running},
		{name: "off", window: 0, rate: 0.5, sent: 0, failed: 9, status: campaign.Running, wantStatus: campaign.Running},
		{name: "already_paused", window: 2, rate: 0.5, failed: 2, status: campaign.Paused, wantStatus: campaign.Paused},
		{name: "cancelled_stays", window: 2, rate: 0.5, failed: 2, status: campaign.Cancelled, wantStatus: campaign.Cancelled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, q := memstore.New(), memqueue.New()
			c, err := st.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t", SegmentID: "s", Rate: 1, Status: tc.status})
			if err != nil {
				t.Fatal(err)
			}
			// The failures first, the successes last: only the last
			// window of claims counts.
			var ms []message.Message
			for i := range tc.failed + tc.sent {
				at := now.Add(time.Duration(i) * time.Second)
				m := message.Message{ID: message.ID(c.ID, fmt.Sprint(i)), CampaignID: c.ID, Phone: fmt.Sprint(i), Status: message.Failed, ClaimedAt: &at}
				if i >= tc.failed {
					m.Status = message.Sent
				}
				ms = append(ms, m)
			}
			if _, err := st.CreateMessages(ctx, ms); err != nil {
				t.Fatal(err)
			}
			r := &campaignrun.Runner{Store: st, Queue: q, Now: func() time.Time { return now },
				AutoPause: campaignrun.AutoPause{Window: tc.window, FailureRate: tc.rate}}
			if err := r.CheckFailures(ctx, c.ID); err != nil {
				t.Fatalf("CheckFailures: %v", err)
			}
			got, _ := st.GetCampaign(ctx, c.ID)
			if got.Status != tc.wantStatus || (tc.wantReason != "" && got.StatusReason != tc.wantReason) {
				t.Errorf("campaign %s %q, want %s %q", got.Status, got.StatusReason, tc.wantStatus, tc.wantReason)
			}
		})
	}
}

func TestAutoPause_Validate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a  campaignrun.AutoPause
		ok bool
	}{
		{campaignrun.AutoPause{}, true},
		{campaignrun.AutoPause{Window: 100, FailureRate: 0.5}, true},
		{campaignrun.AutoPause{Window: -1, FailureRate: 0.5}, false},
		{campaignrun.AutoPause{Window: 10, FailureRate: 0}, false},
		{campaignrun.AutoPause{Window: 10, FailureRate: 1}, false},
	} {
		if err := tc.a.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate = %v, want ok %v", tc.a, err, tc.ok)
		}
	}
}

// The campaign check asks again for the settling of a campaign left
// unsettled for a while, and leaves a recent one to its own request.
func TestResettle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 1)
	mk := func(updated time.Time) string {
		c := f.c
		c.ID, c.Status, c.Unsettled, c.UpdatedAt = "", campaign.Paused, true, updated
		c, err := f.store.CreateCampaign(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	old := mk(now.Add(-campaignrun.ResettleAfter))
	mk(now.Add(-time.Minute))
	got, err := f.runner.Resettle(ctx)
	if err != nil || !slices.Equal(got, []string{old}) {
		t.Errorf("Resettle = %v, %v; want [%s]", got, err, old)
	}
	f.drain(t)
	if c, _ := f.store.GetCampaign(ctx, old); c.Unsettled {
		t.Error("still unsettled after its settle request")
	}
}

// A segment read in several slices side by side: the pause holds the
// next page of each slice still being read, and the resume continues
// every one of them.
func TestPause_holds_every_slice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStepped(t, 12)
	f.runner.Slices = 3
	if _, err := f.runner.Trigger(ctx, f.c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	f.deliver(t, events.TopicCampaignLaunch) // the start: one event per slice
	slicesAsked := len(f.events.Published(events.TopicCampaignLaunch)) - 1
	if slicesAsked < 2 {
		t.Fatalf("%d slices, want several", slicesAsked)
	}
	f.deliver(t, events.TopicCampaignLaunch) // the first page of the first slice
	if _, err := f.runner.Pause(ctx, f.c.ID, "api-key", ""); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	c := f.campaign(t)
	if len(c.HeldPages) != slicesAsked {
		t.Errorf("held pages %v, want one for each of the %d slices", c.HeldPages, slicesAsked)
	}
	if _, err := f.runner.Resume(ctx, f.c.ID, "api-key", ""); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if diff := cmp.Diff(map[string]int{"QUEUED": 12}, f.statuses(t)); diff != "" {
		t.Errorf("messages after the resume (-want, +got):\n%s", diff)
	}
	if c := f.campaign(t); !c.FanoutDone || c.Recipients != 12 || len(c.HeldPages) != 0 {
		t.Errorf("fan-out %v, %d recipients, held %v", c.FanoutDone, c.Recipients, c.HeldPages)
	}
}
