package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/user"
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

// claimFn claims at the claim's time when fewer than cap sends are
// recent, else skips, and reports what it saw.
func claimFn(limit int, seen *int) func(store.Claim, *message.Message) error {
	return func(c store.Claim, m *message.Message) error {
		*seen = c.RecentSends
		if c.RecentSends >= limit {
			m.Status, m.SkipReason = message.Skipped, message.SkipFrequencyCap
			return nil
		}
		m.Status, m.ClaimedAt = message.Sending, &c.At
		return nil
	}
}

// clock is a clock stopped at t.
func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

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
		got, err := s.ClaimMessage(ctx, m.ID, clock(at), day, claimFn(day.Limit, &seen))
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
	for _, fn := range []func(store.Claim, *message.Message) error{
		func(_ store.Claim, m *message.Message) error { m.Status = message.Sending; return boom },
		func(_ store.Claim, m *message.Message) error {
			m.Status = message.Sending
			return store.Unchanged
		},
	} {
		if _, err := s.ClaimMessage(ctx, ms[2].ID, clock(at(5)), day, fn); err != nil && err != boom {
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

	if _, err := s.ClaimMessage(ctx, "nope", clock(at(0)), day, claimFn(2, new(int))); !errs.Is(err, errs.NotExist) {
		t.Errorf("unknown message: %v, want NotExist", err)
	}
	for _, c := range []store.FrequencyCap{{Limit: -1}, {Limit: 2}, {Limit: 2, Window: store.LedgerKeep + time.Hour}} {
		if _, err := s.ClaimMessage(ctx, ms[0].ID, clock(at(0)), c, claimFn(2, new(int))); !errs.Is(err, errs.Invalid) {
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
		got, err := s.ClaimMessage(ctx, m.ID, clock(at(i)), store.FrequencyCap{}, claimFn(1, &seen))
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
			got, err := s.ClaimMessage(ctx, m.ID, clock(now), day, claimFn(day.Limit, &seen))
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
			if _, err := s.ClaimMessage(ctx, m.ID, clock(times[i]), day, claimFn(9, new(int))); err != nil {
				t.Fatal(err)
			}
		}
	}
	skipped := runningCampaigns(t, s, 1, 4)[0]
	if _, err := s.ClaimMessage(ctx, skipped.ID, clock(at(40)), day, claimFn(0, new(int))); err != nil {
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

// A claim reads the person in its own transaction: a STOP, an opt-out or
// a suppression committed after the sender's early look at the person but
// before the claim is what fn sees. The claim's time is the clock's,
// read by the claim, and a claim fn skips records nothing.
func testClaimReadsThePerson(t *testing.T, s store.Store) {
	ctx := t.Context()
	cases := []struct {
		name string
		// before is committed after the early look, before the claim.
		before         func(t *testing.T, p string)
		noUser         bool
		wantConsent    consent.State
		wantSuppressed bool
	}{
		{name: "opted_in", before: func(*testing.T, string) {}, wantConsent: consent.OptIn},
		{name: "stop_keyword", wantConsent: consent.Stop, before: func(t *testing.T, p string) {
			if _, _, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: p, Intent: consent.IntentOptOut, Ref: "SM1", At: at(1)}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "admin_opt_out", wantConsent: consent.OptOut, before: func(t *testing.T, p string) {
			if _, _, err := s.SetConsent(ctx, consent.Change{Phone: p, To: consent.OptOut, Source: consent.SourceAdmin, At: at(1)}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "suppressed", wantConsent: consent.OptIn, wantSuppressed: true, before: func(t *testing.T, p string) {
			if _, err := s.Suppress(ctx, suppression.Entry{Phone: p, Reason: "complaint", By: "admin", CreatedAt: at(1)}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "no_user", noUser: true, before: func(*testing.T, string) {}},
	}
	type read struct {
		At          time.Time
		CampaignID  string
		HasUser     bool
		Consent     consent.State
		Suppressed  bool
		RecentSends int
	}
	for i, tc := range cases {
		m := runningCampaigns(t, s, 1, 10+i)[0]
		if !tc.noUser {
			mustCreateUser(t, s, user.User{Phone: m.Phone, Consent: consent.OptIn, CreatedAt: at(0)})
			if early, err := s.GetUser(ctx, m.Phone); err != nil || early.Consent != consent.OptIn {
				t.Fatalf("%s: early look = %v, %v; want OPT_IN", tc.name, early.Consent, err)
			}
		}
		tc.before(t, m.Phone)
		var got read
		claimed, err := s.ClaimMessage(ctx, m.ID, clock(at(5)), day, func(c store.Claim, m *message.Message) error {
			got = read{c.At, c.Campaign.ID, c.HasUser, c.User.Consent, c.Suppressed, c.RecentSends}
			if c.Suppressed || !c.HasUser || c.User.Consent != consent.OptIn {
				m.Status, m.SkipReason = message.Skipped, message.SkipConsentAtSend
				return nil
			}
			m.Status, m.ClaimedAt = message.Sending, &c.At
			return nil
		})
		if err != nil {
			t.Fatalf("%s: ClaimMessage: %v", tc.name, err)
		}
		want := read{kept(at(5)), m.CampaignID, !tc.noUser, tc.wantConsent, tc.wantSuppressed, 0}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: what the claim read (-want +got):\n%s", tc.name, d)
		}
		wantStatus, wantSends := message.Skipped, 0
		if tc.wantConsent == consent.OptIn && !tc.wantSuppressed {
			wantStatus, wantSends = message.Sending, 1
		}
		if claimed.Status != wantStatus {
			t.Errorf("%s: message %s, want %s", tc.name, claimed.Status, wantStatus)
		}
		if wantStatus == message.Sending && (claimed.ClaimedAt == nil || !claimed.ClaimedAt.Equal(kept(at(5)))) {
			t.Errorf("%s: claimed at %v, want the clock's %v", tc.name, claimed.ClaimedAt, kept(at(5)))
		}
		if n, err := s.SendsSince(ctx, []string{m.Phone}, at(0)); err != nil || n[m.Phone] != wantSends {
			t.Errorf("%s: SendsSince = %v, %v; want %d", tc.name, n, err, wantSends)
		}
	}
}
