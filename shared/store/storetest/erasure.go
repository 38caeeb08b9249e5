package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// Hasher is a Hasher with a fixed key, as a deployment's secret would
// be, for tests.
func Hasher(t testing.TB) erasure.Hasher {
	t.Helper()
	h, err := erasure.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// testErasureBatches checks each step of an erasure a batch at a time:
// at most limit documents, then the rest, then none.
func testErasureBatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := phone(1)
	for _, c := range []string{"ca", "cb", "cc"} {
		m := newMessage(c, 1)
		m.ContentVariables = map[string]string{"1": "Nimal"}
		m.ErrorText = "The 'To' number " + p + " is not valid"
		if c == "cc" { // sent: its status stays for the counts
			m.Status, m.ProviderSID = message.Sent, "SMcc"
		}
		mustCreateMessages(t, s, m)
	}
	other := newMessage("ca", 2)
	mustCreateMessages(t, s, other)
	for _, e := range []webhook.Event{
		{ID: "inbound-SM1", Kind: webhook.Inbound, MessageSID: "SM1", Params: map[string]string{"From": "whatsapp:" + p, "Body": "hi"}},
		{ID: "inbound-SM2", Kind: webhook.Inbound, MessageSID: "SM2", Params: map[string]string{"From": "whatsapp:+5215512345678", "Body": "hola"}},
		{ID: "status-SM3-delivered", Kind: webhook.Status, MessageSID: "SM3", Status: "delivered", Params: map[string]string{"To": "whatsapp:" + p, "From": "whatsapp:+14155238886"}},
		{ID: "inbound-SM4", Kind: webhook.Inbound, MessageSID: "SM4", Params: map[string]string{"From": "whatsapp:" + phone(2)}},
	} {
		if _, _, err := s.RecordWebhook(ctx, e); err != nil {
			t.Fatalf("RecordWebhook: %v", err)
		}
	}
	marker := erasure.MarkerPrefix + "test"
	for _, want := range []int{2, 1, 0} {
		n, err := s.ScrubMessages(ctx, p, marker, at(9), 2)
		if err != nil || n != want {
			t.Fatalf("ScrubMessages = %d, %v; want %d", n, err, want)
		}
	}
	for _, c := range []string{"ca", "cb", "cc"} {
		got, err := s.GetMessage(ctx, message.ID(c, p))
		if err != nil {
			t.Fatal(err)
		}
		// An unsent message is concluded, so its campaign neither writes
		// its body back nor sends it; a sent one keeps its status.
		wantStatus, wantReason := message.Skipped, message.SkipErased
		if c == "cc" {
			wantStatus, wantReason = message.Sent, ""
		}
		if got.Phone != marker || got.Body != "" || len(got.ContentVariables) != 0 || got.ErrorText != "" ||
			got.Status != wantStatus || got.SkipReason != wantReason {
			t.Errorf("scrubbed message %s = phone %q, body %q, variables %v, error text %q, status %s (%s); want the marker, no body, %s (%s)",
				c, got.Phone, got.Body, got.ContentVariables, got.ErrorText, got.Status, got.SkipReason, wantStatus, wantReason)
		}
	}
	if got, err := s.GetMessage(ctx, other.ID); err != nil || got.Phone != phone(2) || got.Body == "" {
		t.Errorf("another person's message = %+v, %v; want it untouched", got, err)
	}
	if ms, err := s.MessagesTo(ctx, p, 10); err != nil || len(ms) != 0 {
		t.Errorf("MessagesTo after the scrub = %d messages, %v; want none", len(ms), err)
	}

	ids := erasure.WhatsAppIDs("+525512345678")
	if _, err := s.DeleteWebhooksOf(ctx, ids, 10); err != nil {
		t.Fatalf("DeleteWebhooksOf(Mexican ids): %v", err)
	}
	for _, want := range []int{1, 1, 0} {
		n, err := s.DeleteWebhooksOf(ctx, []string{p}, 1)
		if err != nil || n != want {
			t.Fatalf("DeleteWebhooksOf = %d, %v; want %d", n, err, want)
		}
	}
	left, err := s.ListWebhooks(ctx, webhook.Inbound, 10)
	if err != nil {
		t.Fatal(err)
	}
	var leftIDs []string
	for _, e := range left {
		leftIDs = append(leftIDs, e.ID)
	}
	if diff := cmp.Diff([]string{"inbound-SM4"}, leftIDs); diff != "" {
		t.Errorf("inbound records left (-want, +got):\n%s", diff)
	}
	if st, err := s.ListWebhooks(ctx, webhook.Status, 10); err != nil || len(st) != 0 {
		t.Errorf("status records left = %v, %v; want none", st, err)
	}
	if _, err := s.DeleteWebhooksOf(ctx, nil, 1); !errs.Is(err, errs.Invalid) {
		t.Errorf("DeleteWebhooksOf(no ids) = %v, want Invalid", err)
	}

	mustCreateUser(t, s, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(0)})
	for i, to := range []consent.State{consent.OptOut, consent.OptIn, consent.OptOut} {
		if _, _, err := s.SetConsent(ctx, consent.Change{Phone: p, To: to, Source: consent.SourceAdmin, At: at(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []int{3, 1, 0} {
		n, err := s.DeleteConsentHistory(ctx, p, 3)
		if err != nil || n != want {
			t.Fatalf("DeleteConsentHistory = %d, %v; want %d", n, err, want)
		}
	}
}

// testForgetUser checks the last step: the user, a late consent entry,
// the ledger and the suppression go in one transaction with the record
// kept; a second is NotExist and changes nothing.
func testForgetUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := Hasher(t)
	p := phone(1)
	ms := runningCampaigns(t, s, 1, 1)
	mustCreateUser(t, s, user.User{Phone: p, Consent: consent.OptIn, Attributes: map[string]any{"name": "Nimal"}, CreatedAt: at(0)})
	seen := 0
	if _, err := s.ClaimMessage(ctx, ms[0].ID, clock(at(1)), store.FrequencyCap{Limit: 5, Window: 24 * time.Hour}, claimFn(5, &seen)); err != nil {
		t.Fatalf("ClaimMessage: %v", err)
	}
	if _, err := s.Suppress(ctx, suppression.Entry{Phone: p, Reason: "asked by phone", CreatedAt: at(2)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetConsent(ctx, consent.Change{Phone: p, To: consent.OptOut, Source: consent.SourceAdmin, At: at(3)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ForgetUser(ctx, p, h.Of(p), at(4))
	if err != nil {
		t.Fatalf("ForgetUser: %v", err)
	}
	want := &erasure.Record{Key: h.Of(p), Consent: consent.OptOut, Suppressed: true, ErasedAt: kept(at(4))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ForgetUser kept (-want, +got):\n%s", diff)
	}
	if _, err := s.GetUser(ctx, p); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetUser after ForgetUser = %v, want NotExist", err)
	}
	if h, err := s.ConsentHistory(ctx, p); err != nil || len(h) != 0 {
		t.Errorf("ConsentHistory after ForgetUser = %v, %v; want none", h, err)
	}
	if sup, err := s.Suppressed(ctx, []string{p}); err != nil || sup[p] {
		t.Errorf("Suppressed after ForgetUser = %v, %v; want the number gone", sup, err)
	}
	if n, err := s.SendsSince(ctx, []string{p}, at(0)); err != nil || n[p] != 0 {
		t.Errorf("SendsSince after ForgetUser = %v, %v; want the ledger gone", n, err)
	}
	if n, err := s.CountUsers(ctx, store.UserFilter{}); err != nil || n != 0 {
		t.Errorf("CountUsers after ForgetUser = %d, %v; want 0", n, err)
	}
	recs, err := s.ErasedRecords(ctx, []string{h.Of(p), h.Of(phone(2))})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]erasure.Record{want.Key: *want}, recs); diff != "" {
		t.Errorf("ErasedRecords (-want, +got):\n%s", diff)
	}
	if _, err := s.ForgetUser(ctx, p, h.Of(p), at(5)); !errs.Is(err, errs.NotExist) {
		t.Errorf("second ForgetUser = %v, want NotExist", err)
	}
	if _, err := s.ForgetUser(ctx, phone(3), h.Of(phone(3)), at(5)); !errs.Is(err, errs.NotExist) {
		t.Errorf("ForgetUser(unknown) = %v, want NotExist", err)
	}
	// A number an admin suppressed without a user is forgotten too.
	if _, err := s.Suppress(ctx, suppression.Entry{Phone: phone(4), Reason: "do not contact"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ForgetUser(ctx, phone(4), h.Of(phone(4)), at(4)); err != nil || got == nil || !got.Suppressed {
		t.Errorf("ForgetUser(suppressed, no user) = %+v, %v; want a suppressed record", got, err)
	}
	if sup, err := s.Suppressed(ctx, []string{phone(4)}); err != nil || sup[phone(4)] {
		t.Errorf("Suppressed after ForgetUser = %v, %v; want the number gone", sup, err)
	}
	if got, err := s.ErasedRecords(ctx, []string{h.Of(phone(4))}); err != nil || !got[h.Of(phone(4))].Suppressed {
		t.Errorf("ErasedRecords(suppressed only) = %v, %v; want its record", got, err)
	}
	// A record under the key (as of an earlier erasure of the number,
	// who came back and opted in since) no longer holds: only the
	// erasure is kept.
	mustCreateUser(t, s, user.User{Phone: phone(5), Consent: consent.OptIn, CreatedAt: at(6)})
	if got, err := s.ForgetUser(ctx, phone(5), h.Of(phone(4)), at(7)); err != nil || got != nil {
		t.Errorf("ForgetUser(opted in, an older record) = %+v, %v; want none kept", got, err)
	}
	got4, err := s.ErasedRecords(ctx, []string{h.Of(phone(4))})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(map[string]erasure.Record{h.Of(phone(4)): erasure.Erased(h.Of(phone(4)), kept(at(7)))}, got4); d != "" {
		t.Errorf("ErasedRecords after a second erasure with nothing to keep: want only the erasure's (-want, +got):\n%s", d)
	}
	if _, err := s.ErasedRecords(ctx, make([]string, erasure.MaxLookup+1)); !errs.Is(err, errs.Invalid) {
		t.Errorf("ErasedRecords(too many) = %v, want Invalid", err)
	}
}

// testErase runs a whole erasure through erasure.Erase: what the person
// had is gone, a record of their STOP kept, and a second is NotExist.
func testErase(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := Hasher(t)
	p := phone(1)
	mustCreateUser(t, s, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(0)})
	if _, _, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: p, Intent: consent.IntentOptOut, Ref: "SM9", At: at(1)}); err != nil {
		t.Fatal(err)
	}
	mustCreateMessages(t, s, newMessage("ca", 1), newMessage("cb", 1))
	if _, _, err := s.RecordWebhook(ctx, webhook.Event{ID: "inbound-SM9", Kind: webhook.Inbound, MessageSID: "SM9",
		Params: map[string]string{"From": "whatsapp:" + p, "Body": "STOP"}}); err != nil {
		t.Fatal(err)
	}
	// Someone never opted out leaves no record.
	mustCreateUser(t, s, user.User{Phone: phone(2), Consent: consent.OptIn, CreatedAt: at(0)})

	res, err := erasure.Erase(ctx, s, h, p, at(5))
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if diff := cmp.Diff(erasure.Result{Messages: 2, Webhooks: 1, ConsentChanges: 2, OptOutKept: true}, res); diff != "" {
		t.Errorf("Erase (-want, +got):\n%s", diff)
	}
	if _, err := erasure.Erase(ctx, s, h, p, at(6)); !errs.Is(err, errs.NotExist) {
		t.Errorf("second Erase = %v, want NotExist", err)
	}
	// Work in flight wrote a message with the number after the erasure:
	// erasing again reaches it.
	mustCreateMessages(t, s, newMessage("cc", 1))
	if res, err := erasure.Erase(ctx, s, h, p, at(6)); err != nil || res.Messages != 1 {
		t.Errorf("Erase of a straggler = %+v, %v; want 1 message scrubbed", res, err)
	}
	if m, err := s.GetMessage(ctx, message.ID("cc", p)); err != nil || m.Phone != h.Marker(p) || m.Status != message.Skipped {
		t.Errorf("straggler = %+v, %v; want it scrubbed under the erasure's marker and concluded", m, err)
	}
	// Someone who only texted in is erased too.
	if _, _, err := s.RecordWebhook(ctx, webhook.Event{ID: "inbound-SM10", Kind: webhook.Inbound, MessageSID: "SM10",
		Params: map[string]string{"From": "whatsapp:" + phone(3), "Body": "hello"}}); err != nil {
		t.Fatal(err)
	}
	if res, err := erasure.Erase(ctx, s, h, phone(3), at(6)); err != nil || res.Webhooks != 1 {
		t.Errorf("Erase(only texted in) = %+v, %v; want their record deleted", res, err)
	}
	if res, err := erasure.Erase(ctx, s, h, phone(2), at(6)); err != nil || res.OptOutKept {
		t.Errorf("Erase(opted in) = %+v, %v; want no record kept", res, err)
	}
	got, err := erasure.Remembered(ctx, s, h, []string{p, phone(2), phone(3)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]erasure.Record{p: {Key: h.Of(p), Consent: consent.Stop, ErasedAt: kept(at(5))}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Remembered (-want, +got):\n%s", diff)
	}
}

// stopDuring is a store on which a STOP (and a suppression) lands while
// an erasure scrubs the person's messages, before ForgetUser.
type stopDuring struct {
	store.Store
	phone string
	done  bool
}

func (s *stopDuring) ScrubMessages(ctx context.Context, phone, marker string, at time.Time, limit int) (int, error) {
	if !s.done {
		s.done = true
		if _, _, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: s.phone, Intent: consent.IntentOptOut, Ref: "SM-late", At: at}); err != nil {
			return 0, err
		}
		if _, err := s.Suppress(ctx, suppression.Entry{Phone: s.phone, Reason: "asked by phone", CreatedAt: at}); err != nil {
			return 0, err
		}
	}
	return s.Store.ScrubMessages(ctx, phone, marker, at, limit)
}

// testEraseStopDuring: a STOP and a suppression that land during an
// erasure are what is kept, and the person comes back with them.
func testEraseStopDuring(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := Hasher(t)
	p := phone(1)
	mustCreateUser(t, s, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(0)})
	res, err := erasure.Erase(ctx, &stopDuring{Store: s, phone: p}, h, p, at(5))
	if err != nil || !res.OptOutKept {
		t.Fatalf("Erase = %+v, %v; want the opt-out kept", res, err)
	}
	got, err := erasure.Remembered(ctx, s, h, []string{p})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]erasure.Record{p: {Key: h.Of(p), Consent: consent.Stop, Suppressed: true, ErasedAt: kept(at(5))}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Remembered (-want, +got):\n%s", diff)
	}
	if sup, err := s.Suppressed(ctx, []string{p}); err != nil || sup[p] {
		t.Errorf("Suppressed after the erasure = %v, %v; want the entry gone (kept in the record)", sup, err)
	}
}

// testReturning: a person erased while opted out comes back opted out
// (and suppressed, if they were) through CreateReturningUser and
// through an import, the record read in the transaction that creates
// them; either form of an Argentine mobile finds it.
func testReturning(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := Hasher(t)
	const (
		arMobile = "+5491123456789" // +54 9: the form WhatsApp and most lists use
		arFixed  = "+541123456789"  // the same person's fixed-line form
	)
	stopped, suppressed, fresh, marketing := phone(1), phone(2), phone(3), phone(4)
	mustCreateUser(t, s, user.User{Phone: stopped, Consent: consent.OptIn, CreatedAt: at(0)})
	if _, _, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: stopped, Intent: consent.IntentOptOut, Ref: "SM1", At: at(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Suppress(ctx, suppression.Entry{Phone: suppressed, Reason: "do not contact", CreatedAt: at(1)}); err != nil {
		t.Fatal(err)
	}
	mustCreateUser(t, s, user.User{Phone: arMobile, Consent: consent.OptOut, CreatedAt: at(0)})
	// Stopped marketing messages in WhatsApp, still OPT_IN.
	mustCreateUser(t, s, user.User{Phone: marketing, Consent: consent.OptIn, CreatedAt: at(0)})
	if _, err := s.SetMarketingOptOut(ctx, marketing, user.MarketingOptOut{At: at(1), Source: user.SourceProviderFailure, Ref: "SM2"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{stopped, suppressed, arMobile, marketing} {
		if _, err := erasure.Erase(ctx, s, h, p, at(2)); err != nil {
			t.Fatalf("Erase: %v", err)
		}
	}

	tests := []struct {
		name       string
		phone      string
		want       consent.State
		suppressed bool
	}{
		{"stopped", stopped, consent.Stop, false},
		{"suppressed", suppressed, consent.OptOut, true},
		{"argentine_other_form", arFixed, consent.OptOut, false},
		{"never_erased", fresh, consent.OptIn, false},
		{"stopped_marketing_only", marketing, consent.OptIn, false},
	}
	for _, tc := range tests {
		t.Run("create_"+tc.name, func(t *testing.T) {
			rec, err := s.CreateReturningUser(ctx, user.User{Phone: tc.phone, Consent: consent.OptIn, CreatedAt: at(3)}, consent.SourceAPI, h.Of(tc.phone))
			if err != nil {
				t.Fatalf("CreateReturningUser: %v", err)
			}
			if wantRec := tc.want != consent.OptIn || tc.phone == marketing; (rec != nil) != wantRec {
				t.Errorf("CreateReturningUser record = %+v, want one: %v", rec, wantRec)
			}
			checkReturned(t, s, tc.phone, tc.want, tc.suppressed)
		})
	}
	if _, err := s.CreateReturningUser(ctx, user.User{Phone: fresh}, consent.SourceAPI, h.Of(fresh)); !errs.Is(err, errs.Exist) {
		t.Errorf("CreateReturningUser(exists) = %v, want Exist", err)
	}

	// The same through an import: erase them again, then a job whose
	// first batch creates everyone (Firestore's all-new path).
	checkMarketing(t, s, marketing, at(3))
	for _, p := range []string{stopped, suppressed, arFixed, fresh, marketing} {
		if _, err := erasure.Erase(ctx, s, h, p, at(4)); err != nil {
			t.Fatalf("Erase: %v", err)
		}
	}
	mustCreateJob(t, s, "job-back", 1)
	rows := []userimport.Row{
		{Line: 2, Phone: stopped, Consent: consent.OptIn},
		{Line: 3, Phone: suppressed},
		{Line: 4, Phone: arMobile, Consent: consent.OptOut}, // asked an opt-out itself: not counted kept
		{Line: 5, Phone: fresh, Consent: consent.OptIn},
		{Line: 6, Phone: marketing, Consent: consent.OptIn},
	}
	erasure.StampKeys(h, rows)
	res, err := s.ApplyImportBatch(ctx, "job-back", 0, rows, at(5))
	if err != nil {
		t.Fatalf("ApplyImportBatch: %v", err)
	}
	if res.Created != 5 || res.ConsentKept != 2 {
		t.Errorf("ApplyImportBatch = %+v; want 5 created, 2 kept", res)
	}
	checkMarketing(t, s, marketing, at(5))
	for _, tc := range []struct {
		phone      string
		want       consent.State
		suppressed bool
	}{
		{stopped, consent.Stop, false},
		{suppressed, consent.OptOut, true},
		{arMobile, consent.OptOut, false},
		{fresh, consent.OptIn, false},
	} {
		checkReturned(t, s, tc.phone, tc.want, tc.suppressed)
	}
}

// checkMarketing: p came back with their marketing opt-out kept, dated
// when they came back.
func checkMarketing(t *testing.T, s store.Store, p string, when time.Time) {
	t.Helper()
	u, err := s.GetUser(t.Context(), p)
	want := &user.MarketingOptOut{At: kept(when), Source: user.SourceKeptFromErasure}
	if diff := cmp.Diff(want, u.MarketingOptOut); err != nil || diff != "" {
		t.Errorf("%s's marketing opt-out after coming back (-want, +got):\n%s (%v)", p, diff, err)
	}
}

func checkReturned(t *testing.T, s store.Store, p string, want consent.State, suppressed bool) {
	t.Helper()
	u, err := s.GetUser(t.Context(), p)
	if err != nil || u.Consent != want {
		t.Errorf("%s came back %s (%v), want %s", p, u.Consent, err, want)
	}
	if sup, err := s.Suppressed(t.Context(), []string{p}); err != nil || sup[p] != suppressed {
		t.Errorf("%s suppressed = %v (%v), want %v", p, sup[p], err, suppressed)
	}
}

// lateHistory is a store on which many consent changes land just before
// ForgetUser: more than its transaction deletes (it takes a bounded tail).
type lateHistory struct {
	store.Store
	n int
}

func (s *lateHistory) ForgetUser(ctx context.Context, phone, key string, at time.Time) (*erasure.Record, error) {
	for i := range s.n {
		to := consent.OptOut
		if i%2 == 1 {
			to = consent.OptIn
		}
		if _, _, err := s.SetConsent(ctx, consent.Change{Phone: phone, To: to, Source: consent.SourceAdmin, At: at.Add(time.Duration(i) * time.Millisecond)}); err != nil {
			return nil, err
		}
	}
	return s.Store.ForgetUser(ctx, phone, key, at)
}

// testEraseLateHistory: consent history written just before the user is
// forgotten is all gone after the erasure, however much there is.
func testEraseLateHistory(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := phone(1)
	mustCreateUser(t, s, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(0)})
	if _, err := erasure.Erase(ctx, &lateHistory{Store: s, n: 130}, Hasher(t), p, at(5)); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if h, err := s.ConsentHistory(ctx, p); err != nil || len(h) != 0 {
		t.Errorf("ConsentHistory after the erasure = %d entries, %v; want none", len(h), err)
	}
}

// testCheckErasureKey: the first key's fingerprint is recorded; the same
// passes again, another is Conflict and changes nothing.
func testCheckErasureKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		fingerprint string
		conflict    bool
	}{{"aaaa", false}, {"aaaa", false}, {"bbbb", true}, {"aaaa", false}} {
		err := s.CheckErasureKey(ctx, tc.fingerprint)
		if got := errs.Is(err, errs.Conflict); got != tc.conflict || (!tc.conflict && err != nil) {
			t.Errorf("CheckErasureKey(%s) = %v, want conflict %v", tc.fingerprint, err, tc.conflict)
		}
	}
}

// testCountOptOuts counts the moves from OPT_IN to an opt-out within a
// window, across people, both ends included.
func testCountOptOuts(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := 1; i <= 4; i++ {
		mustCreateUser(t, s, user.User{Phone: phone(i), Consent: consent.OptIn, CreatedAt: at(0)})
	}
	// Created opted out: no move from OPT_IN.
	mustCreateUser(t, s, user.User{Phone: phone(5), Consent: consent.OptOut, CreatedAt: at(10)})
	moves := []consent.Change{
		{Phone: phone(1), To: consent.OptOut, At: at(10)}, // at the start
		{Phone: phone(2), To: consent.OptOut, At: at(15)},
		{Phone: phone(3), To: consent.OptOut, At: at(25)}, // after the end
		{Phone: phone(4), To: consent.OptOut, At: at(5)},  // before the start
		{Phone: phone(4), To: consent.OptIn, At: at(12)},
		{Phone: phone(4), To: consent.OptOut, At: at(20)}, // at the end
	}
	for _, c := range moves {
		c.Source = consent.SourceAdmin
		if _, _, err := s.SetConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: phone(2), Intent: consent.IntentOptOut, Ref: "SM1", At: at(16)}); err != nil {
		t.Fatal(err) // OPT_OUT to STOP: already out, not counted
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"window", at(10), at(20), 3},
		{"everything", at(0), at(30), 5},
		{"none", at(21), at(24), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.CountOptOuts(ctx, tc.from, tc.to)
			if err != nil || got != tc.want {
				t.Errorf("CountOptOuts = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// testMarketingOptOut records WhatsApp's "stop marketing messages" once:
// the first report stands, a number without a user is left alone, and
// other writes to the person keep it.
func testMarketingOptOut(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := phone(1)
	mustCreateUser(t, s, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(0)})
	first := user.MarketingOptOut{At: at(5), Source: user.SourceProviderFailure, Ref: "SM1"}
	steps := []struct {
		phone string
		o     user.MarketingOptOut
		want  bool
	}{
		{p, first, true},
		{p, user.MarketingOptOut{At: at(6), Source: user.SourceProviderFailure, Ref: "SM2"}, false},
		{phone(2), first, false},
	}
	for _, st := range steps {
		got, err := s.SetMarketingOptOut(ctx, st.phone, st.o)
		if err != nil || got != st.want {
			t.Fatalf("SetMarketingOptOut(%s, %s) = %v, %v; want %v", st.phone, st.o.Ref, got, err, st.want)
		}
	}
	if _, err := s.GetUser(ctx, phone(2)); !errs.Is(err, errs.NotExist) {
		t.Errorf("SetMarketingOptOut made a user: %v", err)
	}
	mustCreateJob(t, s, "job-mk", 1)
	if _, err := s.ApplyImportBatch(ctx, "job-mk", 0, []userimport.Row{{Line: 2, Phone: p, Attributes: map[string]any{"city": "Kandy"}}}, at(7)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetConsent(ctx, consent.Change{Phone: p, To: consent.OptOut, Source: consent.SourceAdmin, At: at(8)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordInbound(ctx, p, at(9)); err != nil {
		t.Fatal(err)
	}
	u, err := s.GetUser(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	want := &user.MarketingOptOut{At: kept(at(5)), Source: user.SourceProviderFailure, Ref: "SM1"}
	if diff := cmp.Diff(want, u.MarketingOptOut); diff != "" || u.Attributes["city"] != "Kandy" {
		t.Errorf("after other writes: marketing opt-out (-want, +got):\n%s\nattributes %v", diff, u.Attributes)
	}
}
