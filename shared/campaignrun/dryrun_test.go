package campaignrun_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

// mixedAudience is a draft campaign (free text, quiet 22:00-08:00) to
// seven people, one for each outcome; at now it is 21:00 in Colombo and
// 00:30 in Tokyo.
func mixedAudience(t *testing.T) (*fixture, campaign.Campaign) {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: memstore.New(), events: memevents.New(), queue: memqueue.New()}
	f.runner = &campaignrun.Runner{Store: f.store, Events: f.events, Queue: f.queue, Now: func() time.Time { return now }, PageSize: 2, BatchSize: 2}
	f.subscribe()
	hourAgo, longAgo := now.Add(-time.Hour), now.Add(-20*time.Hour)
	people := []user.User{
		{Phone: "+94770000001", Consent: consent.OptIn, LastInboundAt: &hourAgo, Attributes: map[string]any{"name": "Sent", "timezone": "Asia/Colombo"}},
		{Phone: "+94770000002", Consent: consent.Stop, LastInboundAt: &hourAgo, Attributes: map[string]any{"name": "Stopped"}},
		{Phone: "+94770000003", Consent: consent.OptIn, LastInboundAt: &hourAgo, Attributes: map[string]any{"name": "Suppressed"}},
		{Phone: "+94770000004", Consent: consent.OptIn, Attributes: map[string]any{"name": "Never wrote"}},
		{Phone: "+94770000005", Consent: consent.OptIn, LastInboundAt: &hourAgo, Attributes: map[string]any{}},
		{Phone: "+94770000006", Consent: consent.OptIn, LastInboundAt: &hourAgo, Attributes: map[string]any{"name": "Night", "timezone": "Asia/Tokyo"}},
		// Tokyo's quiet hours end 7.5 hours from now; this window closes
		// in 4: free text deferred past it is blocked now.
		{Phone: "+94770000007", Consent: consent.OptIn, LastInboundAt: &longAgo, Attributes: map[string]any{"name": "Closing", "timezone": "Asia/Tokyo"}},
	}
	for _, u := range people {
		u.Attributes["audience"] = "mixed"
		if err := f.store.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.store.Suppress(ctx, suppression.Entry{Phone: "+94770000003", Reason: "complaint"}); err != nil {
		t.Fatal(err)
	}
	def, err := segment.Parse([]byte(`{"attribute":"audience","operator":"equals","value":"mixed"}`))
	if err != nil {
		t.Fatal(err)
	}
	seg, err := f.store.CreateSegment(ctx, segment.Segment{Name: "Mixed", Definition: def})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := f.store.CreateTemplate(ctx, template.Template{Name: "Promo", Content: "Hi {name}!"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.store.CreateCampaign(ctx, campaign.Campaign{
		Topic: "mixed", TemplateID: tpl.ID, SegmentID: seg.ID, Rate: 10, Status: campaign.Draft, QuietStart: "22:00", QuietEnd: "08:00",
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

// counted is what a dry run predicts, without what names the run.
var counted = cmpopts.IgnoreFields(dryrun.Result{}, "RunID", "StartedAt", "UpdatedAt", "CompletedAt")

func TestDryRun_predicts_the_launch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, c := mixedAudience(t)
	got, err := f.runner.DryRun(ctx, c.ID, campaignrun.DryRunInline)
	if err != nil {
		t.Fatal(err)
	}
	done := now
	want := dryrun.Result{
		DryRun: true, CampaignID: c.ID, Status: dryrun.Done, Recipients: 7, SendNow: 1, Deferred: 1,
		Blocked:         map[string]int{"consent": 2, "duplicate": 0, "frequency_cap": 0, "content": 1, "channel_policy": 2},
		BlockedByReason: map[string]int{"no_consent": 1, "suppressed": 1, "unresolved_placeholders": 1, "channel_policy": 2},
		Channels:        map[string]int{"session": 2},
		Sample: []dryrun.Blocked{
			{Phone: "+94*****0002", Step: "consent", Reason: "no_consent"},
			{Phone: "+94*****0003", Step: "consent", Reason: "suppressed"},
			{Phone: "+94*****0004", Step: "channel_policy", Reason: "channel_policy"},
			{Phone: "+94*****0005", Step: "content", Reason: "unresolved_placeholders"},
			{Phone: "+94*****0007", Step: "channel_policy", Reason: "channel_policy"},
		},
		Warnings: []string{}, CompletedAt: &done, JudgedAt: now, Read: 7,
	}
	if diff := cmp.Diff(want, got, counted); diff != "" {
		t.Errorf("DryRun (-want +got):\n%s", diff)
	}
	if kept, err := f.store.GetDryRun(ctx, c.ID); err != nil || !cmp.Equal(got, kept) {
		t.Errorf("GetDryRun = %+v, %v; want the result answered", kept, err)
	}
	// Nothing changed: still a draft, with no message and no queue.
	after, _ := f.store.GetCampaign(ctx, c.ID)
	if after.Status != campaign.Draft || after.Recipients != 0 || len(f.states(t, c)) != 0 {
		t.Fatalf("after the dry run: %s with %d recipients and messages %v; want an untouched DRAFT", after.Status, after.Recipients, f.states(t, c))
	}

	// The launch does what the dry run said.
	if _, err := f.runner.Trigger(ctx, c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	n, err := f.store.CountMessages(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	gotRun := []any{n.Recipients, n.Queued - n.Deferred, n.Deferred, compliance.BlockedBy(n.Skipped)}
	wantRun := []any{got.Recipients, got.SendNow, got.Deferred, got.Blocked}
	if diff := cmp.Diff(wantRun, gotRun); diff != "" {
		t.Errorf("launch against its dry run: recipients, queued now, deferred, blocked (-dry run +launch):\n%s", diff)
	}
}

func TestDryRun_large_audience_in_the_background(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, c := mixedAudience(t)
	whole, err := f.runner.DryRun(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Three people in the request, the rest two an event: memevents runs
	// each event's read within Publish, so by the time the answer comes the
	// kept result is done; the answer says running, with what it read.
	f.runner.DryRunChunk = 2
	got, err := f.runner.DryRun(ctx, c.ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != dryrun.Running || got.Read != 3 {
		t.Errorf("answer for a large audience = %s having read %d; want running, 3 read", got.Status, got.Read)
	}
	if n := len(f.events.Published(events.TopicCampaignLaunch)); n < 2 {
		t.Errorf("%d launch events, want the request's and at least one more: four people left, two a part", n)
	}
	kept, err := f.store.GetDryRun(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if kept.RunID != got.RunID {
		t.Errorf("kept run %s, want the one answered %s", kept.RunID, got.RunID)
	}
	if diff := cmp.Diff(whole, kept, counted); diff != "" {
		t.Errorf("result read in parts against one read whole (-whole +parts):\n%s", diff)
	}
	// A redelivered event, or one for a replaced run, changes nothing.
	for _, ev := range []events.Launch{{CampaignID: c.ID, DryRun: got.RunID}, {CampaignID: c.ID, DryRun: "replaced"}} {
		if err := f.runner.Launch(ctx, ev); err != nil {
			t.Errorf("stale dry run event = %v, want ignored", err)
		}
	}
	if again, _ := f.store.GetDryRun(ctx, c.ID); !cmp.Equal(kept, again) {
		t.Errorf("after stale events the kept run is %+v, want %+v", again, kept)
	}
}

// A background read whose event was lost is asked for again by the next
// look at its result, and finishes.
func TestDryRun_stalled_read_is_asked_again(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, c := mixedAudience(t)
	clock := now
	f.runner.Now = func() time.Time { return clock }
	lost := memevents.New() // publishes to no one: the event is lost
	f.runner.Events = lost
	started, err := f.runner.DryRun(ctx, c.ID, 3)
	if err != nil || started.Status != dryrun.Running {
		t.Fatalf("DryRun = %s, %v; want running", started.Status, err)
	}
	f.runner.Events = f.events
	if got, err := f.runner.DryRunResult(ctx, c.ID); err != nil || got.Status != dryrun.Running {
		t.Fatalf("DryRunResult at once = %s, %v; want still running", got.Status, err)
	}
	if n := len(f.events.Published(events.TopicCampaignLaunch)); n != 0 {
		t.Errorf("a look at a fresh run asked for it %d times, want none", n)
	}
	clock = clock.Add(3 * time.Minute)
	if _, err := f.runner.DryRunResult(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := f.store.GetDryRun(ctx, c.ID); err != nil || got.Status != dryrun.Done || got.Recipients != 7 {
		t.Errorf("after a look at a stalled run: %s with %d recipients, %v; want done with 7", got.Status, got.Recipients, err)
	}
}

func TestDryRun_only_before_the_launch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, c := mixedAudience(t)
	if _, err := f.runner.Trigger(ctx, c.ID, "api-key"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner.DryRun(ctx, c.ID, 0); !errs.Is(err, errs.Conflict) {
		t.Errorf("DryRun of a running campaign = %v, want Conflict", err)
	}
	if _, err := f.runner.DryRun(ctx, "nope", 0); !errs.Is(err, errs.NotExist) {
		t.Errorf("DryRun of no campaign = %v, want NotExist", err)
	}
}

// A dry run counts the people at the frequency cap, and warns when the
// people messaged in the last 24 hours plus the conversations this launch
// would start pass the sender's WhatsApp messaging limit.
func TestDryRun_frequency_cap_and_tier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, c := mixedAudience(t)
	// An approved template: everyone it may reach starts a conversation.
	if _, err := f.store.UpdateTemplate(ctx, c.TemplateID, func(tp *template.Template) error {
		tp.ContentSID, tp.ContentVariables = "HX0123456789abcdef0123456789abcdef", map[string]string{"1": "name"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Sent had a message of another campaign an hour ago.
	other, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "earlier", TemplateID: "t", SegmentID: "s", Rate: 1, Status: campaign.Running})
	if err != nil {
		t.Fatal(err)
	}
	earlier := message.Message{ID: message.ID(other.ID, "+94770000001"), CampaignID: other.ID, Phone: "+94770000001", Status: message.Queued}
	// Never Wrote had one too, claimed while no cap was set: the ledger
	// keeps its time, not the send.
	unCapped := message.Message{ID: message.ID(other.ID, "+94770000004"), CampaignID: other.ID, Phone: "+94770000004", Status: message.Queued}
	if _, err := f.store.CreateMessages(ctx, []message.Message{earlier, unCapped}); err != nil {
		t.Fatal(err)
	}
	at := now.Add(-time.Hour)
	for id, fc := range map[string]store.FrequencyCap{earlier.ID: {Limit: 1, Window: compliance.FrequencyWindow}, unCapped.ID: {}} {
		if _, err := f.store.ClaimMessage(ctx, id, func() time.Time { return at }, fc, func(c store.Claim, m *message.Message) error {
			m.Status, m.ClaimedAt = message.Sending, &c.At
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Reached: Sent and Never Wrote now, Night and Closing in the morning;
	// Sent and Never Wrote were messaged already, so two conversations are
	// new. Only Sent's send was kept for the cap.
	for _, tc := range []struct {
		name                             string
		cap, tier                        int
		wantCapped, wantSendNow, wantNew int
		wantWarnings                     int
	}{
		{"no_cap_no_tier", 0, 0, 0, 2, 2, 0},
		{"cap_of_one", 1, 0, 1, 1, 2, 0},
		{"tier_passed", 0, 3, 0, 2, 2, 1}, // 2 messaged + 2 new > 3
		{"tier_not_passed", 0, 4, 0, 2, 2, 0},
	} {
		f.runner.FrequencyCap, f.runner.WhatsAppTier = tc.cap, tc.tier
		got, err := f.runner.DryRun(ctx, c.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		gotN := []int{got.Blocked["frequency_cap"], got.SendNow, got.NewConversations, len(got.Warnings)}
		wantN := []int{tc.wantCapped, tc.wantSendNow, tc.wantNew, tc.wantWarnings}
		if diff := cmp.Diff(wantN, gotN); diff != "" {
			t.Errorf("%s: frequency_cap, send_now, new_conversations, warnings (-want +got):\n%s\nwarnings: %q", tc.name, diff, got.Warnings)
		}
	}
}

// A scheduled campaign is rehearsed at its schedule_time: here inside the
// quiet hours it will launch into.
func TestDryRun_judged_at_the_schedule_time(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, c := mixedAudience(t)
	at := now.Add(2 * time.Hour) // 23:00 in Colombo
	if _, err := f.store.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
		return c.Schedule(&at, "api-key", now)
	}); err != nil {
		t.Fatal(err)
	}
	got, err := f.runner.DryRun(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !got.JudgedAt.Equal(at) || got.SendNow != 0 || got.Deferred != 2 {
		t.Errorf("judged at %v: send_now %d, deferred %d; want at %v, none now and Sent and Night deferred", got.JudgedAt, got.SendNow, got.Deferred, at)
	}
}

// A background read that is moving is not asked for again, however old
// the run; one that stalls is asked once, not once a look.
func TestDryRun_moving_read_is_not_asked_again(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, c := mixedAudience(t)
	clock := now
	f.runner.Now = func() time.Time { return clock }
	f.runner.DryRunChunk = 2
	lost := memevents.New() // its events reach no one: we deliver by hand
	f.runner.Events = lost
	started, err := f.runner.DryRun(ctx, c.ID, 1)
	if err != nil || started.Status != dryrun.Running {
		t.Fatalf("DryRun = %s, %v; want running", started.Status, err)
	}
	// Three minutes on, a part is read.
	clock = clock.Add(3 * time.Minute)
	if err := f.runner.Launch(ctx, events.Launch{CampaignID: c.ID, DryRun: started.RunID}); err != nil {
		t.Fatal(err)
	}
	asked := len(lost.Published(events.TopicCampaignLaunch))
	clock = clock.Add(time.Second)
	for range 3 {
		if _, err := f.runner.DryRunResult(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(lost.Published(events.TopicCampaignLaunch)) - asked; n != 0 {
		t.Errorf("looks at a read that moved a second ago asked for it %d times, want none", n)
	}
	// Stalled now: three looks ask once.
	clock = clock.Add(3 * time.Minute)
	for range 3 {
		if _, err := f.runner.DryRunResult(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(lost.Published(events.TopicCampaignLaunch)) - asked; n != 1 {
		t.Errorf("three looks at a stalled read asked for it %d times, want once", n)
	}
}
