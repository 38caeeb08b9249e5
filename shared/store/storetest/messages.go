package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
)

// newMessage returns campaign's pending message to phone(n), created and
// updated at(n).
func newMessage(campaignID string, n int) message.Message {
	p := phone(n)
	return message.Message{
		ID: message.ID(campaignID, p), CampaignID: campaignID, Phone: p, Status: message.Pending,
		Body: "Hi there", CreatedAt: at(n), UpdatedAt: at(n),
	}
}

// keptMessage is m as a store hands it back.
func keptMessage(m message.Message) message.Message {
	m.CreatedAt, m.UpdatedAt = kept(m.CreatedAt), kept(m.UpdatedAt)
	for _, p := range []**time.Time{&m.ScheduledAt, &m.QueuedAt, &m.ClaimedAt, &m.SentAt, &m.DeliveredAt, &m.ReadAt, &m.FailedAt, &m.RequeuedAt, &m.HeldAt, &m.ResentFrom} {
		if *p != nil {
			*p = keptPtr(**p)
		}
	}
	m.Resolutions = slices.Clone(m.Resolutions)
	for i := range m.Resolutions {
		m.Resolutions[i].At = kept(m.Resolutions[i].At)
	}
	return m
}

func mustCreateMessages(t *testing.T, s store.Store, ms ...message.Message) {
	t.Helper()
	n, err := s.CreateMessages(t.Context(), ms)
	if err != nil {
		t.Fatalf("CreateMessages: %v", err)
	}
	if n != len(ms) {
		t.Fatalf("CreateMessages created %d, want %d", n, len(ms))
	}
}

func testCreateMessages(t *testing.T, s store.Store) {
	ctx := t.Context()
	m1, m2, m3 := newMessage("c1", 1), newMessage("c1", 2), newMessage("c1", 3)
	sched := at(30).In(lanka)
	m2.ScheduledAt = &sched
	// Sent as Twilio's approved template: the SID and variables round-trip.
	m2.ContentSID, m2.ContentVariables = "HX0123456789abcdef0123456789abcdef", map[string]string{"1": "Arjuna", "2": "Colombo"}
	m2.Channel = "template"
	// What retries, the sweep and an operator record round-trip too.
	m1.TaskGeneration, m1.RequeuedAt, m1.Requeues = 1767225600, ptr(at(40).In(lanka)), 2
	m1.RateLimitedRetries, m1.PriorSIDs = 1, []string{"SM1", "SM2"}
	m1.Resolutions = []message.Resolution{
		{Outcome: message.OutcomeResend, By: "api-key", At: at(41).In(lanka), Attempts: 1},
		{Outcome: message.OutcomeSent, ProviderSID: "SM3", By: "ops@example.com", At: at(42), Attempts: 2, Note: "seen in the console"},
	}
	m1.HeldAt, m1.ResentFrom, m1.DuplicateSIDs = ptr(at(43)), ptr(at(39).In(lanka)), []string{"SM4"}
	got, err := s.CreateMessages(ctx, []message.Message{m1, m2})
	if err != nil {
		t.Fatalf("CreateMessages: %v", err)
	}
	if got != 2 {
		t.Errorf("CreateMessages created %d, want 2", got)
	}

	// A redelivered fan-out page: taken ids are left as they are.
	changed := m1
	changed.Status, changed.Body = message.Queued, "changed"
	dup := m3
	dup.Body = "second copy in one call"
	got, err = s.CreateMessages(ctx, []message.Message{changed, m3, m2, dup})
	if err != nil {
		t.Fatalf("CreateMessages again: %v", err)
	}
	if got != 1 {
		t.Errorf("CreateMessages again created %d, want 1", got)
	}
	for _, want := range []message.Message{m1, m2, m3} {
		stored, err := s.GetMessage(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetMessage: %v", err)
		}
		if d := diff(keptMessage(want), stored); d != "" {
			t.Errorf("GetMessage (-want, +got):\n%s", d)
		}
		checkUTC(t, "GetMessage", stored.CreatedAt, stored.UpdatedAt)
	}

	if n, err := s.CreateMessages(ctx, nil); err != nil || n != 0 {
		t.Errorf("CreateMessages(nil) = %d, %v; want 0, nil", n, err)
	}
	before := time.Now()
	fresh := newMessage("c1", 4)
	fresh.CreatedAt, fresh.UpdatedAt = time.Time{}, time.Time{}
	mustCreateMessages(t, s, fresh)
	stored, err := s.GetMessage(ctx, fresh.ID)
	if err != nil {
		t.Fatalf("GetMessage: %v", err)
	}
	if stored.CreatedAt.Before(before.Add(-time.Second)) || !stored.UpdatedAt.Equal(stored.CreatedAt) {
		t.Errorf("times = %v, %v; want now, twice", stored.CreatedAt, stored.UpdatedAt)
	}
	if _, err := s.CreateMessages(ctx, []message.Message{{CampaignID: "c1"}}); !errs.Is(err, errs.Invalid) {
		t.Errorf("CreateMessages(no id): %v, want kind Invalid", err)
	}
}

func testGetMessages(t *testing.T, s store.Store) {
	ctx := t.Context()
	ms := []message.Message{newMessage("c1", 1), newMessage("c1", 2), newMessage("c1", 3)}
	mustCreateMessages(t, s, ms...)
	got, err := s.GetMessages(ctx, []string{ms[2].ID, ms[0].ID, ms[1].ID})
	if err != nil {
		t.Fatalf("GetMessages: %v", err)
	}
	want := []message.Message{keptMessage(ms[2]), keptMessage(ms[0]), keptMessage(ms[1])}
	if d := diff(want, got); d != "" {
		t.Errorf("GetMessages (-want, +got):\n%s", d)
	}
	if _, err := s.GetMessages(ctx, []string{ms[0].ID, "nope"}); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetMessages(one missing): %v, want kind NotExist", err)
	}
	if _, err := s.GetMessage(ctx, "nope"); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetMessage(unknown): %v, want kind NotExist", err)
	}
}

func testUpdateMessage(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := newMessage("c1", 1)
	mustCreateMessages(t, s, m)
	want := keptMessage(m)

	got, err := s.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		if !m.Apply(message.ProviderUpdate{Status: message.Delivered, At: at(5).In(lanka)}) {
			return store.Unchanged
		}
		m.ProviderSID, m.ID, m.Attempts = "SM1", "renamed", 1
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	want.Status, want.ProviderSID, want.Attempts = message.Delivered, "SM1", 1
	want.SentAt, want.DeliveredAt, want.UpdatedAt = keptPtr(at(5)), keptPtr(at(5)), kept(at(5))
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateMessage (-want, +got):\n%s", d)
	}
	checkUTC(t, "UpdateMessage", *got.SentAt, got.UpdatedAt)

	// A late "sent" changes nothing: the function says so and nothing is written.
	got, err = s.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
		if !m.Apply(message.ProviderUpdate{Status: message.Sent, At: at(6)}) {
			m.Body = "scribbled on, then refused"
			return store.Unchanged
		}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateMessage(unchanged): %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateMessage(unchanged) (-want, +got):\n%s", d)
	}

	boom := errors.New("boom")
	if _, err := s.UpdateMessage(ctx, m.ID, func(m *message.Message) error { m.Attempts = 99; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateMessage(failing fn): %v, want %v", err, boom)
	}
	stored, err := s.GetMessage(ctx, m.ID)
	if err != nil {
		t.Fatalf("GetMessage: %v", err)
	}
	if d := diff(want, stored); d != "" {
		t.Errorf("GetMessage (-want, +got):\n%s", d)
	}
	if _, err := s.UpdateMessage(ctx, "nope", func(*message.Message) error { return nil }); !errs.Is(err, errs.NotExist) {
		t.Errorf("UpdateMessage(unknown): %v, want kind NotExist", err)
	}
}

func testUpdateMessageConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := newMessage("c1", 1)
	mustCreateMessages(t, s, m)
	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
				m.Attempts++
				return nil
			}); err != nil {
				t.Errorf("UpdateMessage: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetMessage(ctx, m.ID)
	if err != nil {
		t.Fatalf("GetMessage: %v", err)
	}
	if got.Attempts != n {
		t.Errorf("Attempts = %d after %d concurrent increments, want %d", got.Attempts, n, n)
	}
}

func testMessageByProviderSID(t *testing.T, s store.Store) {
	ctx := t.Context()
	m1, m2 := newMessage("c1", 1), newMessage("c1", 2)
	m1.ProviderSID = "SM1"
	mustCreateMessages(t, s, m1, m2)
	got, err := s.MessageByProviderSID(ctx, "SM1")
	if err != nil {
		t.Fatalf("MessageByProviderSID: %v", err)
	}
	if d := diff(keptMessage(m1), got); d != "" {
		t.Errorf("MessageByProviderSID (-want, +got):\n%s", d)
	}
	// An empty sid must not find the messages not yet sent.
	for _, sid := range []string{"SM2", ""} {
		if _, err := s.MessageByProviderSID(ctx, sid); !errs.Is(err, errs.NotExist) {
			t.Errorf("MessageByProviderSID(%q): %v, want kind NotExist", sid, err)
		}
	}
}

func testListMessages(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ms []message.Message
	for _, n := range []int{2, 0, 3, 1} {
		ms = append(ms, newMessage("c1", n))
	}
	mustCreateMessages(t, s, append(ms, newMessage("c2", 9))...)
	// An update moves a message to the front.
	if _, err := s.UpdateMessage(ctx, message.ID("c1", phone(0)), func(m *message.Message) error {
		m.Status, m.UpdatedAt = message.Queued, at(10)
		return nil
	}); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	byN := func(ns ...int) []message.Message {
		var out []message.Message
		for _, n := range ns {
			m := keptMessage(newMessage("c1", n))
			if n == 0 {
				m.Status, m.UpdatedAt = message.Queued, kept(at(10))
			}
			out = append(out, m)
		}
		return out
	}
	tests := []struct {
		name  string
		limit int
		want  []message.Message
	}{
		{"limit_3", 3, byN(0, 3, 2)},
		{"all", 10, byN(0, 3, 2, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListMessages(ctx, store.MessageFilter{CampaignID: "c1", Limit: tc.limit})
			if err != nil {
				t.Fatalf("ListMessages: %v", err)
			}
			if d := diff(tc.want, got); d != "" {
				t.Errorf("ListMessages (-want, +got):\n%s", d)
			}
		})
	}
	none, err := s.ListMessages(ctx, store.MessageFilter{CampaignID: "c3", Limit: 10})
	if err != nil || len(none) != 0 {
		t.Errorf("ListMessages(no messages) = %v, %v; want none", none, err)
	}
	for _, f := range []store.MessageFilter{{Limit: 10}, {CampaignID: "c1"}} {
		if _, err := s.ListMessages(ctx, f); !errs.Is(err, errs.Invalid) {
			t.Errorf("ListMessages(%+v): %v, want kind Invalid", f, err)
		}
	}
}

func testHasUnconcluded(t *testing.T, s store.Store) {
	ctx := t.Context()
	has := func(campaignID string) bool {
		t.Helper()
		got, err := s.HasUnconcluded(ctx, campaignID)
		if err != nil {
			t.Fatalf("HasUnconcluded: %v", err)
		}
		return got
	}
	var ms []message.Message
	for i, st := range []message.Status{message.Sent, message.Delivered, message.Read, message.Failed, message.Skipped} {
		m := newMessage("c1", i)
		m.Status = st
		ms = append(ms, m)
	}
	pending := newMessage("c2", 1)
	mustCreateMessages(t, s, append(ms, pending)...)
	if has("c1") {
		t.Error("HasUnconcluded(every message concluded) = true, want false")
	}
	if has("nope") {
		t.Error("HasUnconcluded(no messages) = true, want false")
	}
	if !has("c2") {
		t.Error("HasUnconcluded(a pending message) = false, want true")
	}
	for _, st := range []message.Status{message.Deferred, message.Queued, message.Sending, message.Reconcile, message.Sent} {
		if _, err := s.UpdateMessage(ctx, pending.ID, func(m *message.Message) error {
			m.Status = st
			return nil
		}); err != nil {
			t.Fatalf("UpdateMessage: %v", err)
		}
		if got, want := has("c2"), !st.Concluded(); got != want {
			t.Errorf("HasUnconcluded(a %s message) = %v, want %v", st, got, want)
		}
	}
}

func testCountMessages(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := 0
	build := func(fn func(m *message.Message)) message.Message {
		n++
		m := newMessage("c1", n)
		fn(&m)
		return m
	}
	queued := func(m *message.Message) { m.Status, m.QueuedAt = message.Queued, keptPtr(at(1)) }
	provider := func(st message.Status, code string) func(m *message.Message) {
		return func(m *message.Message) {
			queued(m)
			m.Status = message.Sending
			m.Apply(message.ProviderUpdate{Status: message.Sent, At: at(2)})
			m.Apply(message.ProviderUpdate{Status: st, ErrorCode: code, At: at(3)})
		}
	}
	failedEarly := func(code string) func(m *message.Message) {
		return func(m *message.Message) {
			queued(m)
			m.Status, m.ErrorCode, m.FailedAt = message.Failed, code, keptPtr(at(2))
		}
	}
	skipped := func(r message.SkipReason) func(m *message.Message) {
		return func(m *message.Message) { m.Status, m.SkipReason = message.Skipped, r }
	}
	ms := []message.Message{
		build(func(*message.Message) {}), // pending
		build(func(m *message.Message) { m.Status, m.DeferredBy = message.Deferred, message.DeferQuietHours }), // deferred
		build(queued),
		build(func(m *message.Message) { queued(m); m.Status = message.Sending }),
		build(provider(message.Sent, "")),
		build(func(m *message.Message) { provider(message.Delivered, "")(m); m.DeferredBy = message.DeferQuietHours }), // deferred, then sent
		build(provider(message.Read, "")),                                                                              // counts as sent, delivered and read
		build(failedEarly("63016")),
		build(failedEarly("63016")),
		build(provider(message.Failed, "30007")),                      // sent, then undelivered
		build(func(m *message.Message) { m.Status = message.Failed }), // failed with no code
		build(skipped(message.SkipNoConsent)),
		build(skipped(message.SkipNoConsent)),
		build(skipped(message.SkipMissingVars)),
		build(skipped("a_reason_added_later")),
		build(func(m *message.Message) { m.Status = message.Held }), // a paused campaign's
		build(skipped(message.SkipCancelled)),
	}
	other := newMessage("c2", 1)
	other.Status = message.Failed
	other.ErrorCode = "63016"
	mustCreateMessages(t, s, append(ms, other)...)

	want := store.Counts{
		Recipients: 17, Queued: 8, Sent: 4, Delivered: 2, Read: 1, Failed: 4, Deferred: 1, Held: 1,
		DeferredBy: map[message.DeferReason]int{message.DeferQuietHours: 2},
		Skipped: map[message.SkipReason]int{
			message.SkipNoConsent: 2, message.SkipMissingVars: 1, "a_reason_added_later": 1, message.SkipCancelled: 1,
		},
		ErrorCodes: map[string]int{"63016": 2, "30007": 1},
	}
	got, err := s.CountMessages(ctx, "c1")
	if err != nil {
		t.Fatalf("CountMessages: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("CountMessages (-want, +got):\n%s", d)
	}

	// Counts follow updates: the pending message is queued.
	if _, err := s.UpdateMessage(ctx, ms[0].ID, func(m *message.Message) error { queued(m); return nil }); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	want.Queued++
	if got, err = s.CountMessages(ctx, "c1"); err != nil {
		t.Fatalf("CountMessages: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("CountMessages after an update (-want, +got):\n%s", d)
	}

	empty, err := s.CountMessages(ctx, "nope")
	if err != nil {
		t.Fatalf("CountMessages(no messages): %v", err)
	}
	if d := diff(store.Counts{}, empty); d != "" {
		t.Errorf("CountMessages(no messages) (-want, +got):\n%s", d)
	}
}

// testProviderSIDUnique: a provider sid is recorded on one message only,
// however two updates race (UpdateMessage) or follow each other
// (UpdateMessageInCampaign); recording it again on its own message is fine.
func testProviderSIDUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	c, err := s.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
	if err != nil {
		t.Fatalf("CreateCampaign: %v", err)
	}
	const n = 4
	var ms []message.Message
	for i := range n {
		ms = append(ms, newMessage(c.ID, i+1))
	}
	mustCreateMessages(t, s, ms...)
	setSID := func(m *message.Message) error { m.ProviderSID = "SMrace"; return nil }
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Go(func() { _, results[i] = s.UpdateMessage(ctx, ms[i].ID, setSID) })
	}
	wg.Wait()
	took := 0
	for _, err := range results {
		switch {
		case err == nil:
			took++
		case !errs.Is(err, errs.Conflict):
			t.Errorf("UpdateMessage: %v, want nil or kind Conflict", err)
		}
	}
	if took != 1 {
		t.Errorf("%d messages took one sid, want 1", took)
	}
	owner, err := s.MessageByProviderSID(ctx, "SMrace")
	if err != nil {
		t.Fatalf("MessageByProviderSID: %v", err)
	}
	if _, err := s.UpdateMessage(ctx, owner.ID, func(m *message.Message) error { m.ErrorCode = "x"; return nil }); err != nil {
		t.Errorf("updating the sid's own message: %v", err)
	}
	other := ms[0].ID
	if other == owner.ID {
		other = ms[1].ID
	}
	if _, err := s.UpdateMessageInCampaign(ctx, other, func(_ campaign.Campaign, m *message.Message) error { return setSID(m) }); !errs.Is(err, errs.Conflict) {
		t.Errorf("UpdateMessageInCampaign taking another's sid: %v, want kind Conflict", err)
	}
	if got, _ := s.GetMessage(ctx, other); got.ProviderSID != "" {
		t.Errorf("refused message records sid %q, want none", got.ProviderSID)
	}
}
