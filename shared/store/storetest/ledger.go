package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
)

var day = store.FrequencyCap{Limit: 2, Window: 24 * time.Hour}

// runningCampaigns creates n running campaigns, each with a queued
// message to the person phone(person), and returns the messages.
func runningCampaigns(t *testing.T, s store.Store, n, person int) []message.Message {
	t.Helper()
	var ms []message.Message
	for i := range n {
		c := newCampaign(i)
		c.Status = campaign.Running
		c = mustCreateCampaign(t, s, c)
		m := newMessage(c.ID, person)
		m.Status = message.Queued
		ms = append(ms, m)
	}
	mustCreateMessages(t, s, ms...)
	return ms
}

// claimFn claims when fewer than cap sends are recent, else skips, and
// reports what it saw.
func claimFn(limit int, at time.Time, seen *int) func(campaign.Campaign, int, *message.Message) error {
	return func(_ campaign.Campaign, recent int, m *message.Message) error {
		*seen = recent
		if recent >= limit {
			m.Status, m.SkipReason = message.Skipped, message.SkipFrequencyCap
			return nil
		}
		m.Status, m.ClaimedAt = message.Sending, &at
		return nil
	}
}

// A claim counts the person's other sends in the window before it, never
// its own; a claim that is refused, skipped or unchanged records nothing;
// a send claimed exactly a window ago no longer counts; ForgetSend
// removes only the claim it names.
func testClaimMessage(t *testing.T, s store.Store) {
	ctx := t.Context()
	ms := runningCampaigns(t, s, 4, 1)
	p := phone(1)
	claim := func(m message.Message, at time.Time) (int, message.Status) {
		t.Helper()
		var seen int
		got, err := s.ClaimMessage(ctx, m.ID, at, day, claimFn(day.Limit, at, &seen))
		if err != nil {
			t.Fatalf("ClaimMessage(%s at %v): %v", m.ID, at, err)
		}
		return seen, got.Status
	}
	sendsSince := func(since time.Time) int {
		t.Helper()
		got, err := s.SendsSince(ctx, []string{p, phone(2)}, since)
		if err != nil {
			t.Fatalf("SendsSince: %v", err)
		}
		if _, ok := got[phone(2)]; ok {
			t.Errorf("SendsSince names %s, who was never sent to", phone(2))
		}
		return got[p]
	}
	release := func(m message.Message) {
		t.Helper()
		if _, err := s.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
			m.Status, m.ClaimedAt = message.Queued, nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	type step struct {
		name       string
		m          message.Message
		at         time.Time
		wantRecent int
		want       message.Status
		wantSends  int // SendsSince(at - window) after the step
	}
	for _, st := range []step{
		{"first", ms[0], at(0), 0, message.Sending, 1},
		{"own_claim_again_after_release", ms[0], at(1), 0, message.Sending, 1},
		{"second", ms[1], at(2), 1, message.Sending, 2},
		{"third_over_the_cap", ms[2], at(3), 2, message.Skipped, 2},
		// ms[0]'s entry (at 1) is exactly a window before: no longer counted.
		{"a_window_after_the_first", ms[3], at(1).Add(24 * time.Hour), 1, message.Sending, 2},
	} {
		if st.name == "own_claim_again_after_release" {
			release(st.m)
		}
		recent, got := claim(st.m, st.at)
		if recent != st.wantRecent || got != st.want {
			t.Errorf("%s: fn saw %d recent, message %s; want %d, %s", st.name, recent, got, st.wantRecent, st.want)
		}
		if n := sendsSince(st.at.Add(-day.Window)); n != st.wantSends {
			t.Errorf("%s: SendsSince = %d, want %d", st.name, n, st.wantSends)
		}
	}

	// fn refusing, or Unchanged, records nothing.
	boom := errs.E(errs.Conflict, "boom")
	for _, fn := range []func(campaign.Campaign, int, *message.Message) error{
		func(_ campaign.Campaign, _ int, m *message.Message) error { m.Status = message.Sending; return boom },
		func(_ campaign.Campaign, _ int, m *message.Message) error {
			m.Status = message.Sending
			return store.Unchanged
		},
	} {
		if _, err := s.ClaimMessage(ctx, ms[2].ID, at(5), day, fn); err != nil && err != boom {
			t.Errorf("ClaimMessage: %v", err)
		}
	}
	if n := sendsSince(at(0)); n != 2 {
		t.Errorf("after a refused and an unchanged claim: %d sends since the first, want 2 (at 2 and a day later)", n)
	}

	// ForgetSend: a different claim time leaves the entry; the claim's own
	// removes it; again, or for an unknown person, is no error.
	late := at(1).Add(24 * time.Hour)
	for _, f := range []struct {
		phone, id string
		at        time.Time
		want      int
	}{
		{p, ms[3].ID, at(1), 2},
		{p, ms[3].ID, late, 1},
		{p, ms[3].ID, late, 1},
		{phone(7), ms[3].ID, late, 1},
	} {
		if err := s.ForgetSend(ctx, f.phone, f.id, f.at); err != nil {
			t.Fatalf("ForgetSend: %v", err)
		}
		if n := sendsSince(at(0)); n != f.want {
			t.Errorf("ForgetSend(%s, %v): %d sends left, want %d", f.phone, f.at, n, f.want)
		}
	}

	if _, err := s.ClaimMessage(ctx, "nope", at(0), day, claimFn(2, at(0), new(int))); !errs.Is(err, errs.NotExist) {
		t.Errorf("unknown message: %v, want NotExist", err)
	}
	for _, c := range []store.FrequencyCap{{Limit: -1}, {Limit: 2}, {Limit: 2, Window: store.LedgerKeep + time.Hour}} {
		if _, err := s.ClaimMessage(ctx, ms[0].ID, at(0), c, claimFn(2, at(0), new(int))); !errs.Is(err, errs.Invalid) {
			t.Errorf("cap %+v: %v, want Invalid", c, err)
		}
	}
	if _, err := s.SendsSince(ctx, make([]string, store.MaxSuppressedLookup+1), at(0)); !errs.Is(err, errs.Invalid) {
		t.Errorf("oversized SendsSince = %v, want Invalid", err)
	}
}

// Without a cap, the claim reads no ledger (fn sees 0 however many sends
// there were) and keeps no entries, but records the person's last send.
func testClaimMessageUncapped(t *testing.T, s store.Store) {
	ctx := t.Context()
	ms := runningCampaigns(t, s, 3, 1)
	for i, m := range ms {
		var seen int
		got, err := s.ClaimMessage(ctx, m.ID, at(i), store.FrequencyCap{}, claimFn(1, at(i), &seen))
		if err != nil {
			t.Fatal(err)
		}
		if seen != 0 || got.Status != message.Sending {
			t.Errorf("uncapped claim %d: fn saw %d, message %s; want 0, SENDING", i, seen, got.Status)
		}
	}
	if got, err := s.SendsSince(ctx, []string{phone(1)}, at(-60)); err != nil || len(got) != 0 {
		t.Errorf("SendsSince after uncapped claims = %v, %v; want none", got, err)
	}
	for since, want := range map[time.Time]int{at(2): 1, at(3): 0} {
		if n, err := s.PeopleMessagedSince(ctx, since); err != nil || n != want {
			t.Errorf("PeopleMessagedSince(%v) = %d, %v; want %d", since, n, err, want)
		}
	}
}

// The cap is exact when one person's claims race: cap 2, five campaigns'
// messages to one person claimed at once, exactly two are claimed.
func testClaimMessageConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	ms := runningCampaigns(t, s, 5, 1)
	var wg sync.WaitGroup
	statuses := make([]message.Status, len(ms))
	for i, m := range ms {
		wg.Go(func() {
			now := at(10 + i)
			var seen int
			got, err := s.ClaimMessage(ctx, m.ID, now, day, claimFn(day.Limit, now, &seen))
			if err != nil {
				t.Errorf("ClaimMessage: %v", err)
				return
			}
			statuses[i] = got.Status
		})
	}
	wg.Wait()
	count := map[message.Status]int{}
	for _, st := range statuses {
		count[st]++
	}
	if d := diff(map[message.Status]int{message.Sending: 2, message.Skipped: 3}, count); d != "" {
		t.Errorf("racing claims (-want, +got):\n%s", d)
	}
	if got, err := s.SendsSince(ctx, []string{phone(1)}, at(0)); err != nil || got[phone(1)] != 2 {
		t.Errorf("SendsSince = %v, %v; want 2", got, err)
	}
}

// PeopleMessagedSince counts each person once, by their latest claim,
// whatever the campaign; a claim that skipped does not count.
func testPeopleMessagedSince(t *testing.T, s store.Store) {
	ctx := t.Context()
	for person, times := range map[int][]time.Time{
		1: {at(0), at(30)},
		2: {at(10)},
		3: {at(20), at(5)}, // claimed out of order: the last claim recorded is at 5
	} {
		for i, m := range runningCampaigns(t, s, len(times), person) {
			if _, err := s.ClaimMessage(ctx, m.ID, times[i], day, claimFn(9, times[i], new(int))); err != nil {
				t.Fatal(err)
			}
		}
	}
	skipped := runningCampaigns(t, s, 1, 4)[0]
	if _, err := s.ClaimMessage(ctx, skipped.ID, at(40), day, claimFn(0, at(40), new(int))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		since time.Time
		want  int
	}{{at(-1), 3}, {at(5), 3}, {at(6), 2}, {at(11), 1}, {at(30), 1}, {at(31), 0}} {
		t.Run(fmt.Sprint(tc.since.Sub(t0)), func(t *testing.T) {
			if n, err := s.PeopleMessagedSince(ctx, tc.since); err != nil || n != tc.want {
				t.Errorf("PeopleMessagedSince(%v) = %d, %v; want %d", tc.since, n, err, tc.want)
			}
		})
	}
	// The same, for named people: by their latest claim, cap or not.
	phones := []string{newMessage("x", 1).Phone, newMessage("x", 2).Phone, newMessage("x", 3).Phone, newMessage("x", 4).Phone, "+94779999999"}
	got, err := s.MessagedSince(ctx, phones, at(6))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{phones[0]: true, phones[1]: true}, got); diff != "" {
		t.Errorf("MessagedSince(at 6) (-want +got):\n%s", diff)
	}
}
