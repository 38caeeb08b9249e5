package storetest

import (
	"sync"
	"testing"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
)

func keyword(p, sid string, in consent.Intent, n int) consent.Keyword {
	return consent.Keyword{Phone: p, Intent: in, Ref: sid, At: at(n)}
}

// The person's latest word stands, whatever order their keywords are
// applied in; the history keeps every change with its MessageSid.
func testApplyKeyword(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, user.User{Phone: phone(1), Consent: consent.OptOut, CreatedAt: at(0)})
	steps := []struct {
		name        string
		k           consent.Keyword
		wantState   consent.State
		wantChanged bool
	}{
		// The person's STOP replaces an admin's OPT_OUT: no admin can lift it.
		{"stop_over_opt_out", keyword(u.Phone, "SM1", consent.IntentOptOut, 1), consent.Stop, true},
		{"replay_changes_nothing", keyword(u.Phone, "SM1", consent.IntentOptOut, 1), consent.Stop, false},
		{"start_lifts_stop", keyword(u.Phone, "SM3", consent.IntentOptIn, 3), consent.OptIn, true},
		{"older_stop_applied_late_changes_nothing", keyword(u.Phone, "SM2", consent.IntentOptOut, 2), consent.OptIn, false},
		{"stop_again", keyword(u.Phone, "SM4", consent.IntentOptOut, 4), consent.Stop, true},
		{"repeated_stop", keyword(u.Phone, "SM6", consent.IntentOptOut, 6), consent.Stop, false},
		// SM5 was sent before SM6: the later STOP stands.
		{"older_start_applied_late_changes_nothing", keyword(u.Phone, "SM5", consent.IntentOptIn, 5), consent.Stop, false},
	}
	for _, st := range steps {
		got, changed, err := s.ApplyKeyword(ctx, st.k)
		if err != nil {
			t.Fatalf("%s: ApplyKeyword: %v", st.name, err)
		}
		if got.Consent != st.wantState || changed != st.wantChanged {
			t.Errorf("%s: ApplyKeyword = %s, changed %v; want %s, %v", st.name, got.Consent, changed, st.wantState, st.wantChanged)
		}
		stored, err := s.GetUser(ctx, u.Phone)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Consent != st.wantState {
			t.Errorf("%s: stored %s, want %s", st.name, stored.Consent, st.wantState)
		}
	}
	stored, _ := s.GetUser(ctx, u.Phone)
	if stored.KeywordAt == nil || !stored.KeywordAt.Equal(kept(at(6))) {
		t.Errorf("KeywordAt = %v, want %v", stored.KeywordAt, kept(at(6)))
	}
	got, err := s.ConsentHistory(ctx, u.Phone)
	if err != nil {
		t.Fatal(err)
	}
	want := []consent.Change{
		{Phone: u.Phone, To: consent.OptOut, Source: consent.SourceAPI, At: kept(at(0))},
		{Phone: u.Phone, From: consent.OptOut, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM1", At: kept(at(1))},
		{Phone: u.Phone, From: consent.Stop, To: consent.OptIn, Source: consent.SourceInbound, Ref: "SM3", At: kept(at(3))},
		{Phone: u.Phone, From: consent.OptIn, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM4", At: kept(at(4))},
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ConsentHistory (-want, +got):\n%s", d)
	}
	if _, _, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: u.Phone, Intent: consent.IntentHelp, At: at(9)}); !errs.Is(err, errs.Invalid) {
		t.Errorf("ApplyKeyword(HELP): %v, want kind Invalid", err)
	}
}

// A STOP from a number we do not know is kept as a STOP user, so no later
// import opts them in; a START from one creates nobody.
func testApplyKeywordUnknown(t *testing.T, s store.Store) {
	ctx := t.Context()
	if got, changed, err := s.ApplyKeyword(ctx, keyword(phone(2), "SM1", consent.IntentOptIn, 1)); err != nil || changed || got.Phone != "" {
		t.Errorf("START from an unknown number = %+v, %v, %v; want nobody", got, changed, err)
	}
	if _, err := s.GetUser(ctx, phone(2)); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetUser after START: %v, want NotExist", err)
	}
	got, changed, err := s.ApplyKeyword(ctx, keyword(phone(2), "SM2", consent.IntentOptOut, 2))
	if err != nil || !changed || got.Consent != consent.Stop {
		t.Fatalf("STOP from an unknown number = %s, %v, %v; want STOP, true", got.Consent, changed, err)
	}
	h, _ := s.ConsentHistory(ctx, phone(2))
	want := []consent.Change{{Phone: phone(2), To: consent.Stop, Source: consent.SourceInbound, Ref: "SM2", At: kept(at(2))}}
	if d := diff(want, h); d != "" {
		t.Errorf("ConsentHistory (-want, +got):\n%s", d)
	}
	if _, changed, _ := s.ApplyKeyword(ctx, keyword(phone(2), "SM2", consent.IntentOptOut, 2)); changed {
		t.Errorf("replayed STOP changed something")
	}
}

// START and STOP of one person applied at once: whichever runs first, the
// later word stands.
func testApplyKeywordConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, initial := range []consent.State{consent.Stop, consent.OptIn} {
		p := phone(10 + i)
		mustCreateUser(t, s, user.User{Phone: p, Consent: initial, CreatedAt: at(0)})
		var wg sync.WaitGroup
		for n, in := range []consent.Intent{consent.IntentOptIn, consent.IntentOptOut, consent.IntentOptIn, consent.IntentOptOut} {
			wg.Go(func() {
				if _, _, err := s.ApplyKeyword(ctx, keyword(p, "SM"+string(rune('a'+n)), in, n+1)); err != nil {
					t.Errorf("ApplyKeyword: %v", err)
				}
			})
		}
		wg.Wait()
		got, _ := s.GetUser(ctx, p)
		if got.Consent != consent.Stop {
			t.Errorf("from %s, after START, STOP, START, STOP at once: %s, want STOP (the last word)", initial, got.Consent)
		}
	}
}
