package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// lastInbound reads phone's LastInboundAt (nil when none or no user).
func lastInbound(t *testing.T, s store.Store, phone string) *time.Time {
	t.Helper()
	u, err := s.GetUser(t.Context(), phone)
	if errs.Is(err, errs.NotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	checkUTC(t, "LastInboundAt", derefTime(u.LastInboundAt))
	return u.LastInboundAt
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// The person's latest message stands, whatever order messages are
// recorded in; nothing else about them changes; an unknown number is
// left alone.
func testRecordInbound(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, user.User{Phone: phone(1), Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo"}, CreatedAt: at(0)})
	if got := lastInbound(t, s, u.Phone); got != nil {
		t.Fatalf("a new user's LastInboundAt = %v, want none", got)
	}
	steps := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"first", at(5).In(lanka), kept(at(5))},
		{"replay", at(5), kept(at(5))},
		{"older_recorded_late", at(3), kept(at(5))},
		{"newer", at(7), kept(at(7))},
	}
	for _, st := range steps {
		if err := s.RecordInbound(ctx, u.Phone, st.at); err != nil {
			t.Fatalf("%s: RecordInbound: %v", st.name, err)
		}
		if got := lastInbound(t, s, u.Phone); got == nil || !got.Equal(st.want) {
			t.Errorf("%s: LastInboundAt = %v, want %v", st.name, got, st.want)
		}
	}
	after, err := s.GetUser(ctx, u.Phone)
	if err != nil {
		t.Fatal(err)
	}
	want := u
	want.LastInboundAt = keptPtr(at(7))
	if d := diff(want, after); d != "" {
		t.Errorf("user after RecordInbound (-want, +got):\n%s", d)
	}
	if h, _ := s.ConsentHistory(ctx, u.Phone); len(h) != 1 {
		t.Errorf("RecordInbound wrote consent history: %+v", h)
	}

	for _, p := range []string{phone(2), "", "no/such"} {
		if err := s.RecordInbound(ctx, p, at(1)); err != nil {
			t.Errorf("RecordInbound(%q) of an unknown number: %v, want nil", p, err)
		}
	}
	if n, err := s.CountUsers(ctx, store.UserFilter{}); err != nil || n != 1 {
		t.Errorf("users after recording unknown numbers: %d, %v; want 1", n, err)
	}
}

// What else writes a user (keywords, consent changes, imports) keeps
// their LastInboundAt.
func testRecordInboundKept(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := phone(1)
	mustCreateUser(t, s, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(0)})
	if err := s.RecordInbound(ctx, p, at(5)); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		if got := lastInbound(t, s, p); got == nil || !got.Equal(kept(at(5))) {
			t.Errorf("after %s: LastInboundAt = %v, want %v", what, got, kept(at(5)))
		}
	}
	if _, _, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: p, Intent: consent.IntentOptOut, Ref: "SM1", At: at(6)}); err != nil {
		t.Fatal(err)
	}
	check("ApplyKeyword")
	if _, _, err := s.SetConsent(ctx, consent.Change{Phone: p, To: consent.OptOut, Source: consent.SourceAdmin, At: at(7)}); err != nil {
		t.Fatal(err)
	}
	check("SetConsent")
	job := mustCreateJob(t, s, "job-1", 1)
	if _, err := s.ApplyImportBatch(ctx, job.ID, 0, []userimport.Row{{Line: 2, Phone: p, Attributes: map[string]any{"city": "Galle"}}}, at(8)); err != nil {
		t.Fatal(err)
	}
	check("ApplyImportBatch")
	// A STOP from a new number creates a user; the message is then
	// recorded on it.
	q := phone(2)
	if _, _, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: q, Intent: consent.IntentOptOut, Ref: "SM2", At: at(9)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordInbound(ctx, q, at(9)); err != nil {
		t.Fatal(err)
	}
	if got := lastInbound(t, s, q); got == nil || !got.Equal(kept(at(9))) {
		t.Errorf("STOP user's LastInboundAt = %v, want %v", got, kept(at(9)))
	}
}

// Messages of one person recorded at once: the latest stands.
func testRecordInboundConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := phone(1)
	mustCreateUser(t, s, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(0)})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := s.RecordInbound(ctx, p, at(10+i)); err != nil {
				t.Errorf("RecordInbound %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := lastInbound(t, s, p); got == nil || !got.Equal(kept(at(17))) {
		t.Errorf("LastInboundAt = %v, want the latest, %v", got, kept(at(17)))
	}
}
