package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
)

func mustCreateUser(t *testing.T, s store.Store, u user.User) user.User {
	t.Helper()
	if err := s.CreateUser(t.Context(), u, consent.SourceAPI, ""); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.Phone, err)
	}
	got, err := s.GetUser(t.Context(), u.Phone)
	if err != nil {
		t.Fatalf("GetUser(%s): %v", u.Phone, err)
	}
	return got
}

func testCreateUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := user.User{
		Phone:   phone(1),
		Consent: consent.Stop,
		Attributes: map[string]any{
			"city": "Colombo", "age": 31.0, "vip": true, "none": nil,
			"tags": []any{"a", "b"}, "address": map[string]any{"line1": "1 Galle Rd"},
		},
		CreatedAt:     at(0).In(lanka),
		UpdatedAt:     at(1).In(lanka),
		LastInboundAt: ptr(at(2).In(lanka)),
	}
	if err := s.CreateUser(ctx, u, consent.SourceAdmin, ""); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	got, err := s.GetUser(ctx, u.Phone)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	want := u
	want.CreatedAt, want.UpdatedAt, want.LastInboundAt = kept(at(0)), kept(at(1)), keptPtr(at(2))
	if d := diff(want, got); d != "" {
		t.Errorf("GetUser (-want, +got):\n%s", d)
	}
	checkUTC(t, "GetUser", got.CreatedAt, got.UpdatedAt, *got.LastInboundAt)

	hist, err := s.ConsentHistory(ctx, u.Phone)
	if err != nil {
		t.Fatalf("ConsentHistory: %v", err)
	}
	wantHist := []consent.Change{{Phone: u.Phone, To: consent.Stop, Source: consent.SourceAdmin, At: kept(at(0))}}
	if d := diff(wantHist, hist); d != "" {
		t.Errorf("ConsentHistory (-want, +got):\n%s", d)
	}
	checkUTC(t, "ConsentHistory", hist[0].At)
}

func testCreateUserDefaults(t *testing.T, s store.Store) {
	before := time.Now()
	got := mustCreateUser(t, s, user.User{Phone: phone(1)})
	if got.Consent != consent.OptIn {
		t.Errorf("Consent = %q, want %q", got.Consent, consent.OptIn)
	}
	if got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt = %v, want about now", got.CreatedAt)
	}
	if !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want CreatedAt %v", got.UpdatedAt, got.CreatedAt)
	}
	if got.Attributes == nil {
		t.Error("Attributes = nil, want an empty map callers can add to")
	}
	checkUTC(t, "GetUser", got.CreatedAt, got.UpdatedAt)
}

func testCreateUserTaken(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := mustCreateUser(t, s, user.User{Phone: phone(1), Consent: consent.OptIn, CreatedAt: at(0)})
	err := s.CreateUser(ctx, user.User{Phone: phone(1), Consent: consent.Stop, CreatedAt: at(1)}, consent.SourceAPI, "")
	if !errs.Is(err, errs.Exist) {
		t.Fatalf("second CreateUser: %v, want kind Exist", err)
	}
	got, err := s.GetUser(ctx, phone(1))
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if d := diff(first, got); d != "" {
		t.Errorf("user after a refused create (-want, +got):\n%s", d)
	}
	hist, err := s.ConsentHistory(ctx, phone(1))
	if err != nil {
		t.Fatalf("ConsentHistory: %v", err)
	}
	if len(hist) != 1 {
		t.Errorf("ConsentHistory has %d entries, want 1", len(hist))
	}
}

func testCreateUserConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 5
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i] = s.CreateUser(ctx, user.User{Phone: phone(1), CreatedAt: at(i)}, consent.SourceAPI, "")
		})
	}
	wg.Wait()
	created := 0
	for _, err := range results {
		switch {
		case err == nil:
			created++
		case !errs.Is(err, errs.Exist):
			t.Errorf("CreateUser: %v, want nil or kind Exist", err)
		}
	}
	if created != 1 {
		t.Errorf("%d creates succeeded, want 1", created)
	}
	hist, err := s.ConsentHistory(ctx, phone(1))
	if err != nil {
		t.Fatalf("ConsentHistory: %v", err)
	}
	if len(hist) != 1 {
		t.Errorf("ConsentHistory has %d entries, want 1", len(hist))
	}
}

func testCreateUserInvalid(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		u    user.User
	}{
		{"no_phone", user.User{}},
		{"slash_in_phone", user.User{Phone: "+94/77"}},
		{"unknown_consent", user.User{Phone: phone(1), Consent: "MAYBE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateUser(t.Context(), tc.u, consent.SourceAPI, "")
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("CreateUser: %v, want kind Invalid", err)
			}
		})
	}
}

func testGetUserNotExist(t *testing.T, s store.Store) {
	mustCreateUser(t, s, user.User{Phone: phone(1)})
	for _, p := range []string{phone(2), "", "a/b", "__x__"} {
		_, err := s.GetUser(t.Context(), p)
		if !errs.Is(err, errs.NotExist) {
			t.Errorf("GetUser(%q): %v, want kind NotExist", p, err)
		}
	}
}

func testUserNotAliased(t *testing.T, s store.Store) {
	ctx := t.Context()
	attrs := map[string]any{"city": "Colombo", "address": map[string]any{"line1": "1 Galle Rd"}}
	u := user.User{Phone: phone(1), Attributes: attrs, CreatedAt: at(0)}
	if err := s.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	attrs["city"] = "Kandy"
	attrs["address"].(map[string]any)["line1"] = "changed"

	got, err := s.GetUser(ctx, phone(1))
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	got.Attributes["city"] = "Galle"
	got.Attributes["address"].(map[string]any)["line1"] = "changed too"
	got.Attributes["new"] = true

	again, err := s.GetUser(ctx, phone(1))
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	want := map[string]any{"city": "Colombo", "address": map[string]any{"line1": "1 Galle Rd"}}
	if d := diff(want, again.Attributes); d != "" {
		t.Errorf("Attributes after callers changed their copies (-want, +got):\n%s", d)
	}
}

func testGetUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := map[string]user.User{}
	for i := 1; i <= 3; i++ {
		u := mustCreateUser(t, s, user.User{Phone: phone(i), Attributes: map[string]any{"n": float64(i)}, CreatedAt: at(i)})
		if i != 2 {
			want[u.Phone] = u
		}
	}
	got, err := s.GetUsers(ctx, []string{phone(3), phone(9), phone(1), phone(8), phone(1), "a/b"})
	if err != nil {
		t.Fatalf("GetUsers: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("GetUsers (-want, +got):\n%s", d)
	}
	none, err := s.GetUsers(ctx, nil)
	if err != nil {
		t.Fatalf("GetUsers(nil): %v", err)
	}
	if len(none) != 0 {
		t.Errorf("GetUsers(nil) = %v, want none", none)
	}
}

// seedUsers creates users 1..5 out of order: 1, 3, 5 opted in; 2 STOP;
// 4 OPT_OUT. It returns them by number.
func seedUsers(t *testing.T, s store.Store) map[int]user.User {
	t.Helper()
	states := map[int]consent.State{1: consent.OptIn, 2: consent.Stop, 3: consent.OptIn, 4: consent.OptOut, 5: consent.OptIn}
	out := map[int]user.User{}
	for _, i := range []int{4, 2, 5, 1, 3} {
		out[i] = mustCreateUser(t, s, user.User{Phone: phone(i), Consent: states[i], CreatedAt: at(i)})
	}
	return out
}

func testListUsers(t *testing.T, s store.Store) {
	us := seedUsers(t, s)
	tests := []struct {
		name      string
		f         store.UserFilter
		p         store.Page
		want      []int
		wantTotal int
	}{
		{"first_page", store.UserFilter{}, store.Page{Page: 1, PerPage: 2}, []int{1, 2}, 5},
		{"second_page", store.UserFilter{}, store.Page{Page: 2, PerPage: 2}, []int{3, 4}, 5},
		{"last_page", store.UserFilter{}, store.Page{Page: 3, PerPage: 2}, []int{5}, 5},
		{"past_the_end", store.UserFilter{}, store.Page{Page: 4, PerPage: 2}, nil, 5},
		{"all", store.UserFilter{}, store.Page{Page: 1, PerPage: 50}, []int{1, 2, 3, 4, 5}, 5},
		{"opted_in", store.UserFilter{Consent: consent.OptIn}, store.Page{Page: 1, PerPage: 2}, []int{1, 3}, 3},
		{"opted_in_page_2", store.UserFilter{Consent: consent.OptIn}, store.Page{Page: 2, PerPage: 2}, []int{5}, 3},
		{"stopped", store.UserFilter{Consent: consent.Stop}, store.Page{Page: 1, PerPage: 10}, []int{2}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := s.ListUsers(t.Context(), tc.f, tc.p)
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			var want []user.User
			for _, i := range tc.want {
				want = append(want, us[i])
			}
			if d := diff(want, got); d != "" {
				t.Errorf("ListUsers (-want, +got):\n%s", d)
			}
			if total != tc.wantTotal {
				t.Errorf("total = %d, want %d", total, tc.wantTotal)
			}
		})
	}
	t.Run("invalid_page", func(t *testing.T) {
		for _, p := range []store.Page{{Page: 0, PerPage: 10}, {Page: 1, PerPage: 0}} {
			if _, _, err := s.ListUsers(t.Context(), store.UserFilter{}, p); !errs.Is(err, errs.Invalid) {
				t.Errorf("ListUsers(%+v): %v, want kind Invalid", p, err)
			}
		}
	})
}

func testScanUsers(t *testing.T, s store.Store) {
	us := seedUsers(t, s)
	var got []user.User
	after := ""
	for range 10 {
		page, err := s.ScanUsers(t.Context(), after, 2)
		if err != nil {
			t.Fatalf("ScanUsers(%q): %v", after, err)
		}
		if len(page) > 2 {
			t.Fatalf("ScanUsers returned %d users, limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Phone
	}
	want := []user.User{us[1], us[2], us[3], us[4], us[5]}
	if d := diff(want, got); d != "" {
		t.Errorf("ScanUsers pages (-want, +got):\n%s", d)
	}
	mid, err := s.ScanUsers(t.Context(), phone(2)+"0", 10) // between 2 and 3
	if err != nil {
		t.Fatalf("ScanUsers: %v", err)
	}
	if d := diff([]user.User{us[3], us[4], us[5]}, mid); d != "" {
		t.Errorf("ScanUsers after a phone no one has (-want, +got):\n%s", d)
	}
	if _, err := s.ScanUsers(t.Context(), "", 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("ScanUsers(limit 0): %v, want kind Invalid", err)
	}
}

func testCountUsers(t *testing.T, s store.Store) {
	seedUsers(t, s)
	tests := []struct {
		state consent.State
		want  int
	}{
		{"", 5}, {consent.OptIn, 3}, {consent.Stop, 1}, {consent.OptOut, 1},
	}
	for _, tc := range tests {
		got, err := s.CountUsers(t.Context(), store.UserFilter{Consent: tc.state})
		if err != nil {
			t.Fatalf("CountUsers(%q): %v", tc.state, err)
		}
		if got != tc.want {
			t.Errorf("CountUsers(%q) = %d, want %d", tc.state, got, tc.want)
		}
	}
}

func testSetConsent(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, user.User{Phone: phone(1), Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo"}, CreatedAt: at(0)})

	steps := []struct {
		name        string
		c           consent.Change
		wantState   consent.State
		wantUpdated time.Time
		wantChanged bool
	}{
		{"stop", consent.Change{Phone: u.Phone, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM123", At: at(1).In(lanka)}, consent.Stop, at(1), true},
		{"stop_again", consent.Change{Phone: u.Phone, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM124", At: at(2)}, consent.Stop, at(1), false},
		// A change decided on a state that has since moved on is not applied.
		{"stale_from", consent.Change{Phone: u.Phone, From: consent.OptIn, To: consent.OptOut, Source: consent.SourceAdmin, Ref: "stale", At: at(3)}, consent.Stop, at(1), false},
		{"start_from_stop", consent.Change{Phone: u.Phone, From: consent.Stop, To: consent.OptIn, Source: consent.SourceInbound, Ref: "SM125", At: at(4)}, consent.OptIn, at(4), true},
		{"admin_opt_out", consent.Change{Phone: u.Phone, To: consent.OptOut, Source: consent.SourceAdmin, Ref: "note", At: at(5)}, consent.OptOut, at(5), true},
	}
	for _, st := range steps {
		got, changed, err := s.SetConsent(ctx, st.c)
		if err != nil {
			t.Fatalf("%s: SetConsent: %v", st.name, err)
		}
		want := u
		want.Consent, want.UpdatedAt = st.wantState, kept(st.wantUpdated)
		if d := diff(want, got); d != "" {
			t.Errorf("%s: SetConsent user (-want, +got):\n%s", st.name, d)
		}
		if changed != st.wantChanged {
			t.Errorf("%s: changed = %v, want %v", st.name, changed, st.wantChanged)
		}
		stored, err := s.GetUser(ctx, u.Phone)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if d := diff(want, stored); d != "" {
			t.Errorf("%s: stored user (-want, +got):\n%s", st.name, d)
		}
	}

	got, err := s.ConsentHistory(ctx, u.Phone)
	if err != nil {
		t.Fatalf("ConsentHistory: %v", err)
	}
	want := []consent.Change{
		{Phone: u.Phone, To: consent.OptIn, Source: consent.SourceAPI, At: kept(at(0))},
		{Phone: u.Phone, From: consent.OptIn, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM123", At: kept(at(1))},
		{Phone: u.Phone, From: consent.Stop, To: consent.OptIn, Source: consent.SourceInbound, Ref: "SM125", At: kept(at(4))},
		{Phone: u.Phone, From: consent.OptIn, To: consent.OptOut, Source: consent.SourceAdmin, Ref: "note", At: kept(at(5))},
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ConsentHistory (-want, +got):\n%s", d)
	}
	for _, c := range got {
		checkUTC(t, "ConsentHistory", c.At)
	}

	none, err := s.ConsentHistory(ctx, phone(9))
	if err != nil {
		t.Fatalf("ConsentHistory(unknown): %v", err)
	}
	if len(none) != 0 {
		t.Errorf("ConsentHistory(unknown) = %v, want none", none)
	}
}

func testSetConsentErrors(t *testing.T, s store.Store) {
	mustCreateUser(t, s, user.User{Phone: phone(1)})
	tests := []struct {
		name string
		c    consent.Change
		want errs.Kind
	}{
		{"unknown_user", consent.Change{Phone: phone(2), To: consent.Stop, Source: consent.SourceInbound, At: at(1)}, errs.NotExist},
		{"unknown_state", consent.Change{Phone: phone(1), To: "MAYBE", Source: consent.SourceAdmin, At: at(1)}, errs.Invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.SetConsent(t.Context(), tc.c)
			if !errs.Is(err, tc.want) {
				t.Errorf("SetConsent: %v, want kind %v", err, tc.want)
			}
		})
	}
}
