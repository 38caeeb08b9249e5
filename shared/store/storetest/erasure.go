package storetest

import (
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

// testHasher is a fixed key, as a deployment's secret would be.
func testHasher(t *testing.T) erasure.Hasher {
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
		n, err := s.ScrubMessages(ctx, p, marker, 2)
		if err != nil || n != want {
			t.Fatalf("ScrubMessages = %d, %v; want %d", n, err, want)
		}
	}
	for _, c := range []string{"ca", "cb", "cc"} {
		got, err := s.GetMessage(ctx, message.ID(c, p))
		if err != nil {
			t.Fatal(err)
		}
		if got.Phone != marker || got.Body != "" || len(got.ContentVariables) != 0 || got.ErrorText != "" || got.Status != message.Pending {
			t.Errorf("scrubbed message = phone %q, body %q, variables %v, error text %q, status %s; want the marker and no body",
				got.Phone, got.Body, got.ContentVariables, got.ErrorText, got.Status)
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
	h := testHasher(t)
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
	rec := erasure.Record{Key: h.Of(p), Consent: consent.OptOut, Suppressed: true, ErasedAt: at(4)}
	if err := s.ForgetUser(ctx, p, &rec); err != nil {
		t.Fatalf("ForgetUser: %v", err)
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
	got, err := s.ErasedRecords(ctx, []string{h.Of(p), h.Of(phone(2))})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]erasure.Record{rec.Key: {Key: rec.Key, Consent: consent.OptOut, Suppressed: true, ErasedAt: kept(at(4))}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ErasedRecords (-want, +got):\n%s", diff)
	}
	if err := s.ForgetUser(ctx, p, &rec); !errs.Is(err, errs.NotExist) {
		t.Errorf("second ForgetUser = %v, want NotExist", err)
	}
	if err := s.ForgetUser(ctx, phone(3), nil); !errs.Is(err, errs.NotExist) {
		t.Errorf("ForgetUser(unknown) = %v, want NotExist", err)
	}
	// A number an admin suppressed without a user is forgotten too.
	if _, err := s.Suppress(ctx, suppression.Entry{Phone: phone(4), Reason: "do not contact"}); err != nil {
		t.Fatal(err)
	}
	only := erasure.Record{Key: h.Of(phone(4)), Suppressed: true, ErasedAt: at(4)}
	if err := s.ForgetUser(ctx, phone(4), &only); err != nil {
		t.Errorf("ForgetUser(suppressed, no user) = %v", err)
	}
	if sup, err := s.Suppressed(ctx, []string{phone(4)}); err != nil || sup[phone(4)] {
		t.Errorf("Suppressed after ForgetUser = %v, %v; want the number gone", sup, err)
	}
	if got, err := s.ErasedRecords(ctx, []string{only.Key}); err != nil || !got[only.Key].Suppressed {
		t.Errorf("ErasedRecords(suppressed only) = %v, %v; want its record", got, err)
	}
	if err := s.ForgetUser(ctx, phone(4), &only); !errs.Is(err, errs.NotExist) {
		t.Errorf("second ForgetUser(suppressed only) = %v, want NotExist", err)
	}
	if _, err := s.ErasedRecords(ctx, make([]string, erasure.MaxLookup+1)); !errs.Is(err, errs.Invalid) {
		t.Errorf("ErasedRecords(too many) = %v, want Invalid", err)
	}
}

// testErase runs a whole erasure through erasure.Erase: what the person
// had is gone, a record of their STOP kept, and a second is NotExist.
func testErase(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := testHasher(t)
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
