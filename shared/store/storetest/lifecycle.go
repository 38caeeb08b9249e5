package storetest

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/template"
)

// Every status change is in the history, in order, with who and why; a
// refused or unchanged update adds nothing, and a status moved without its
// change is refused.
func testCampaignHistory(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newCampaign(0)
	c.Created("ops@example.com", at(0).In(lanka))
	c = mustCreateCampaign(t, s, c)
	if len(c.Changes) != 0 {
		t.Errorf("CreateCampaign handed back pending changes %v", c.Changes)
	}
	move := func(to campaign.Status, by, why string, n int) error {
		_, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error { return c.Move(to, by, why, at(n)) })
		return err
	}
	for i, m := range []struct {
		to      campaign.Status
		by, why string
	}{
		{campaign.Running, "api-key", "triggered"},
		{campaign.Paused, campaign.BySystem, "auto-pause: 6 of the last 10 sends failed"},
		{campaign.Running, "ops@example.com", "fixed the template"},
		{campaign.Cancelled, "api-key", ""},
	} {
		if err := move(m.to, m.by, m.why, i+1); err != nil {
			t.Fatalf("move to %s: %v", m.to, err)
		}
	}
	// Refused moves, an unchanged update and a field edit add nothing.
	if err := move(campaign.Running, "api-key", "", 9); !errs.Is(err, errs.Conflict) {
		t.Errorf("resume of a cancelled campaign: %v, want Conflict", err)
	}
	if _, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
		c.Move(campaign.Draft, "x", "", at(9)) // refused by the table: nothing appended
		return store.Unchanged
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error { c.Recipients = 7; return nil }); err != nil {
		t.Fatal(err)
	}
	// A status set by hand, without its change, never reaches the store.
	_, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error { c.Status = campaign.Running; return nil })
	if !errs.Is(err, errs.Invalid) {
		t.Errorf("status moved without a change: %v, want Invalid", err)
	}
	_, err = s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
		c.Changes = append(c.Changes, campaign.Change{From: campaign.Draft, To: campaign.Cancelled, By: "x", At: at(9)})
		return nil
	})
	if !errs.Is(err, errs.Invalid) {
		t.Errorf("a change that does not follow from the status: %v, want Invalid", err)
	}
	if got, err := s.GetCampaign(ctx, c.ID); err != nil || got.Status != campaign.Cancelled || got.StatusReason != "" || got.Recipients != 7 {
		t.Errorf("GetCampaign = %s %q %d, %v; want CANCELLED, no reason, 7 recipients", got.Status, got.StatusReason, got.Recipients, err)
	}

	want := []campaign.Change{
		{From: "", To: campaign.Draft, By: "ops@example.com", Reason: "created", At: kept(at(0))},
		{From: campaign.Draft, To: campaign.Running, By: "api-key", Reason: "triggered", At: kept(at(1))},
		{From: campaign.Running, To: campaign.Paused, By: campaign.BySystem, Reason: "auto-pause: 6 of the last 10 sends failed", At: kept(at(2))},
		{From: campaign.Paused, To: campaign.Running, By: "ops@example.com", Reason: "fixed the template", At: kept(at(3))},
		{From: campaign.Running, To: campaign.Cancelled, By: "api-key", At: kept(at(4))},
	}
	got, err := s.CampaignHistory(ctx, c.ID)
	if err != nil {
		t.Fatalf("CampaignHistory: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("CampaignHistory (-want, +got):\n%s", d)
	}
	for _, ch := range got {
		checkUTC(t, "CampaignHistory", ch.At)
	}
	if _, err := s.CampaignHistory(ctx, "nope"); !errs.Is(err, errs.NotExist) {
		t.Errorf("CampaignHistory(unknown): %v, want NotExist", err)
	}
	// A campaign made without a creation entry has an empty history.
	bare := mustCreateCampaign(t, s, newCampaign(1))
	if got, err := s.CampaignHistory(ctx, bare.ID); err != nil || len(got) != 0 {
		t.Errorf("CampaignHistory(no changes) = %v, %v; want none", got, err)
	}
}

// Concurrent pauses of one running campaign: exactly one moves it, and
// the history holds exactly that one.
func testCampaignMoveConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newCampaign(0)
	c.Status = campaign.Running
	c = mustCreateCampaign(t, s, c)
	var moved atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			_, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
				return c.Move(campaign.Paused, phone(i), "", at(i))
			})
			switch {
			case err == nil:
				moved.Add(1)
			case !errs.Is(err, errs.Conflict):
				t.Errorf("UpdateCampaign: %v", err)
			}
		})
	}
	wg.Wait()
	h, err := s.CampaignHistory(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Load() != 1 || len(h) != 1 || h[0].To != campaign.Paused {
		t.Errorf("%d pauses succeeded, history %v; want exactly one", moved.Load(), h)
	}
}

// The launch's snapshots and the lifecycle's fields round-trip, and what a
// caller holds is its own.
func testCampaignLifecycleFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateCampaign(t, s, newCampaign(0))
	def := definition(t, `{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"age","operator":"gte","value":18}],"logic":"AND"}`)
	tpl := template.Template{ID: c.TemplateID, Name: "Welcome", Content: "Hi {name}!", Variables: []string{"name"}, CreatedAt: at(1).In(lanka), UpdatedAt: at(2)}
	seg := segment.Segment{ID: c.SegmentID, Name: "Colombo adults", Definition: def, CreatedAt: at(1), UpdatedAt: at(2).In(lanka)}
	when := at(60).In(lanka)
	held := map[int]string{campaign.FanoutStart: "", 2: phone(7)}
	got, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
		c.Template, c.Segment = &tpl, &seg
		c.ScheduleTime, c.HeldPages, c.Resumes, c.Unsettled = &when, held, 2, true
		return c.Move(campaign.Scheduled, "api-key", "scheduled", at(3))
	})
	if err != nil {
		t.Fatalf("UpdateCampaign: %v", err)
	}
	want := c
	wantTpl, wantSeg := tpl, seg
	wantTpl.CreatedAt, wantTpl.UpdatedAt = kept(tpl.CreatedAt), kept(tpl.UpdatedAt)
	wantSeg.CreatedAt, wantSeg.UpdatedAt = kept(seg.CreatedAt), kept(seg.UpdatedAt)
	want.Template, want.Segment = &wantTpl, &wantSeg
	want.Status, want.StatusReason, want.UpdatedAt = campaign.Scheduled, "scheduled", kept(at(3))
	want.ScheduleTime, want.HeldPages, want.Resumes, want.Unsettled = keptPtr(when), map[int]string{campaign.FanoutStart: "", 2: phone(7)}, 2, true
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateCampaign (-want, +got):\n%s", d)
	}
	stored, err := s.GetCampaign(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, stored); d != "" {
		t.Errorf("GetCampaign (-want, +got):\n%s", d)
	}
	checkUTC(t, "GetCampaign", *stored.ScheduleTime, stored.Template.CreatedAt, stored.Segment.UpdatedAt)
	// Scribbling on what was handed back changes nothing stored.
	stored.Template.Variables[0], stored.HeldPages[2], stored.Segment.Name = "scribbled", "scribbled", "scribbled"
	stored.Segment.Definition.Conditions[0].Attribute, *stored.ScheduleTime = "scribbled", at(99)
	held[2] = "scribbled" // nor on what was handed in
	again, err := s.GetCampaign(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, again); d != "" {
		t.Errorf("GetCampaign after scribbling on a copy (-want, +got):\n%s", d)
	}
	// Cleared again.
	got, err = s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
		c.HeldPages, c.Unsettled = nil, false
		return nil
	})
	if err != nil || len(got.HeldPages) != 0 || got.Unsettled {
		t.Errorf("cleared: held pages %v, unsettled %v, %v", got.HeldPages, got.Unsettled, err)
	}
}

// Scheduled campaigns whose time has come, earliest first; the others are
// not listed. Unsettled campaigns likewise.
func testDueAndUnsettledCampaigns(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(n int, st campaign.Status, when *time.Time, unsettled bool) campaign.Campaign {
		c := newCampaign(n)
		c.Status, c.ScheduleTime, c.Unsettled = st, when, unsettled
		return mustCreateCampaign(t, s, c)
	}
	t10, t20, t30, t40 := at(10).In(lanka), at(20), at(30), at(40)
	late := mk(0, campaign.Scheduled, &t30, false)
	early := mk(1, campaign.Scheduled, &t10, true)
	mk(2, campaign.Scheduled, &t40, false)        // not yet
	mk(3, campaign.Draft, &t10, false)            // a draft never launches by itself
	mk(4, campaign.Running, &t10, false)          // launched already
	mid := mk(5, campaign.Scheduled, &t20, false) // due
	paused := mk(6, campaign.Paused, nil, true)

	ids := func(cs []campaign.Campaign, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tc := range []struct {
		before time.Time
		limit  int
		want   []string
	}{
		{at(30), 10, []string{early.ID, mid.ID, late.ID}},
		{at(30), 2, []string{early.ID, mid.ID}},
		{at(20).Add(-time.Microsecond), 10, []string{early.ID}},
		{at(5), 10, nil},
	} {
		if d := diff(tc.want, ids(s.DueCampaigns(ctx, tc.before, tc.limit))); d != "" {
			t.Errorf("DueCampaigns(%v, %d) (-want, +got):\n%s", tc.before, tc.limit, d)
		}
	}
	if _, err := s.DueCampaigns(ctx, at(30), 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("DueCampaigns(limit 0): %v, want Invalid", err)
	}
	got := ids(s.UnsettledCampaigns(ctx, 10))
	slices.Sort(got)
	want := []string{early.ID, paused.ID}
	slices.Sort(want)
	if d := diff(want, got); d != "" {
		t.Errorf("UnsettledCampaigns (-want, +got):\n%s", d)
	}
	if _, err := s.UnsettledCampaigns(ctx, 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("UnsettledCampaigns(limit 0): %v, want Invalid", err)
	}
}

// UpdateMessageInCampaign hands fn the campaign as it is now and stores
// what fn leaves, like UpdateMessage.
func testUpdateMessageInCampaign(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newCampaign(0)
	c.Status = campaign.Running
	c = mustCreateCampaign(t, s, c)
	m := newMessage(c.ID, 1)
	m.Status = message.Queued
	mustCreateMessages(t, s, m)
	if _, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
		return c.Move(campaign.Paused, "api-key", "", at(2))
	}); err != nil {
		t.Fatal(err)
	}
	var seen campaign.Status
	got, err := s.UpdateMessageInCampaign(ctx, m.ID, func(c campaign.Campaign, m *message.Message) error {
		seen = c.Status
		m.ID = "renamed" // not fn's to change
		m.Status, m.UpdatedAt = message.Held, at(3)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateMessageInCampaign: %v", err)
	}
	want := keptMessage(m)
	want.Status, want.UpdatedAt = message.Held, kept(at(3))
	if seen != campaign.Paused {
		t.Errorf("fn saw the campaign %s, want PAUSED", seen)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateMessageInCampaign (-want, +got):\n%s", d)
	}
	if stored, err := s.GetMessage(ctx, m.ID); err != nil || diff(want, stored) != "" {
		t.Errorf("GetMessage (-want, +got):\n%s %v", diff(want, stored), err)
	}
	if got, err := s.UpdateMessageInCampaign(ctx, m.ID, func(_ campaign.Campaign, m *message.Message) error {
		m.Status = message.Sending
		return store.Unchanged
	}); err != nil || diff(want, got) != "" {
		t.Errorf("Unchanged (-want, +got):\n%s %v", diff(want, got), err)
	}
	boom := errs.E(errs.Conflict, "boom")
	if _, err := s.UpdateMessageInCampaign(ctx, m.ID, func(campaign.Campaign, *message.Message) error { return boom }); err != boom {
		t.Errorf("fn's error: %v, want it as it is", err)
	}
	if _, err := s.UpdateMessageInCampaign(ctx, "nope", func(campaign.Campaign, *message.Message) error { return nil }); !errs.Is(err, errs.NotExist) {
		t.Errorf("unknown message: %v, want NotExist", err)
	}
	orphan := newMessage("no-such-campaign", 2)
	mustCreateMessages(t, s, orphan)
	if _, err := s.UpdateMessageInCampaign(ctx, orphan.ID, func(campaign.Campaign, *message.Message) error { return nil }); !errs.Is(err, errs.NotExist) {
		t.Errorf("message of an unknown campaign: %v, want NotExist", err)
	}
}

// The property the Sender's claim relies on: while a claim that read the
// campaign RUNNING is between its read and its write, a pause cannot
// commit. The claim waits (up to a few seconds) for a concurrent pause to
// finish; in a store that serialises them the pause finishes only after
// the claim. (A store may instead abort the claim, whose retry then sees
// the pause.)
func testClaimExactAgainstPause(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newCampaign(0)
	c.Status = campaign.Running
	c = mustCreateCampaign(t, s, c)
	m := newMessage(c.ID, 1)
	m.Status = message.Queued
	mustCreateMessages(t, s, m)

	readRunning := make(chan struct{})
	paused := make(chan struct{})
	var once sync.Once
	go func() {
		<-readRunning
		if _, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
			return c.Move(campaign.Paused, "api-key", "", at(2))
		}); err != nil {
			t.Errorf("pause: %v", err)
		}
		close(paused)
	}()
	var lastSawRunning, lastPausedMeanwhile bool
	got, err := s.UpdateMessageInCampaign(ctx, m.ID, func(c campaign.Campaign, m *message.Message) error {
		lastSawRunning, lastPausedMeanwhile = c.Status == campaign.Running, false
		if !lastSawRunning {
			m.Status = message.Held
			return nil
		}
		once.Do(func() { close(readRunning) })
		select {
		case <-paused:
			lastPausedMeanwhile = true
		case <-time.After(3 * time.Second):
		}
		m.Status = message.Sending
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateMessageInCampaign: %v", err)
	}
	<-paused
	if lastSawRunning && lastPausedMeanwhile {
		t.Errorf("a pause committed between the claim's read of RUNNING and its write (message %s)", got.Status)
	}
	if (got.Status == message.Sending) != lastSawRunning {
		t.Errorf("message %s, but the claim's last read saw running=%v", got.Status, lastSawRunning)
	}
}

func testMessagesIn(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ms []message.Message
	for i, st := range []message.Status{message.Held, message.Held, message.Queued, message.Sending, message.Pending, message.Sent} {
		m := newMessage("c1", i)
		m.Status = st
		ms = append(ms, m)
	}
	other := newMessage("c2", 9)
	other.Status = message.Held
	mustCreateMessages(t, s, append(ms, other)...)
	ids := func(statuses []message.Status, limit int) []string {
		t.Helper()
		got, err := s.MessagesIn(ctx, "c1", statuses, limit)
		if err != nil {
			t.Fatalf("MessagesIn: %v", err)
		}
		var out []string
		for _, m := range got {
			out = append(out, m.ID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	if d := diff(sorted(ms[0].ID, ms[1].ID), ids([]message.Status{message.Held}, 10)); d != "" {
		t.Errorf("held (-want, +got):\n%s", d)
	}
	if d := diff(sorted(ms[0].ID, ms[1].ID, ms[2].ID, ms[4].ID), ids(message.Unsent, 10)); d != "" {
		t.Errorf("unsent (-want, +got):\n%s", d)
	}
	if got := ids(message.Unsent, 3); len(got) != 3 {
		t.Errorf("unsent, limit 3: %d messages", len(got))
	}
	for _, bad := range []struct {
		statuses []message.Status
		limit    int
	}{{nil, 10}, {[]message.Status{message.Held}, 0}, {make([]message.Status, 31), 10}} {
		if len(bad.statuses) == 31 {
			for i := range bad.statuses {
				bad.statuses[i] = message.Status(phone(i))
			}
		}
		if _, err := s.MessagesIn(ctx, "c1", bad.statuses, bad.limit); !errs.Is(err, errs.Invalid) {
			t.Errorf("MessagesIn(%d statuses, limit %d): %v, want Invalid", len(bad.statuses), bad.limit, err)
		}
	}
}

// The window of the last sends is by claim time; messages never claimed
// are not sends.
func testRecentSends(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ms []message.Message
	for i, st := range []message.Status{
		message.Failed, message.Failed, message.Sent, message.Delivered, message.Failed, // claimed at 1..5
		message.Sending, // claimed at 6, under way
	} {
		m := newMessage("c1", i)
		m.Status, m.ClaimedAt = st, keptPtr(at(i+1).In(lanka))
		ms = append(ms, m)
	}
	for i, st := range []message.Status{message.Queued, message.Skipped, message.Failed} { // never claimed
		m := newMessage("c1", 10+i)
		m.Status = st
		ms = append(ms, m)
	}
	other := newMessage("c2", 1)
	other.Status, other.ClaimedAt = message.Failed, keptPtr(at(9))
	mustCreateMessages(t, s, append(ms, other)...)
	for _, tc := range []struct{ n, sends, failed int }{
		{1, 1, 0},  // the one under way
		{2, 2, 1},  // + a failure
		{4, 4, 1},  // + delivered, sent
		{5, 5, 2},  // + a failure
		{6, 6, 3},  // every claim
		{50, 6, 3}, // fewer sends than the window
	} {
		sends, failed, err := s.RecentSends(ctx, "c1", tc.n)
		if err != nil || sends != tc.sends || failed != tc.failed {
			t.Errorf("RecentSends(%d) = %d sends, %d failed, %v; want %d, %d", tc.n, sends, failed, err, tc.sends, tc.failed)
		}
	}
	if sends, failed, err := s.RecentSends(ctx, "none", 5); err != nil || sends != 0 || failed != 0 {
		t.Errorf("RecentSends(no messages) = %d, %d, %v", sends, failed, err)
	}
	if _, _, err := s.RecentSends(ctx, "c1", 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("RecentSends(0): %v, want Invalid", err)
	}
}
