package storetest

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// stopEvent is an inbound STOP's record, from phone(n) as WhatsApp sends it.
func stopEvent(sid string, from string, n int) webhook.Event {
	e := inboundEvent(sid, n)
	e.Params["From"] = "whatsapp:" + from
	return e
}

// stopKeywords is a decide that stops each of phones at the event's time.
func stopKeywords(e webhook.Event, phones ...string) func(store.StopRead) (store.StopWrites, error) {
	return func(store.StopRead) (store.StopWrites, error) {
		var w store.StopWrites
		for _, p := range phones {
			w.Keywords = append(w.Keywords, consent.Keyword{Phone: p, Intent: consent.IntentOptOut, Ref: e.MessageSID, At: e.ReceivedAt})
		}
		return w, nil
	}
}

// A STOP's record and what it does to the people it names commit
// together: decide sees the people and suppressions as stored, its
// keywords and suppression are written with the record, a replay calls
// nothing and writes nothing, and a refusal (decide's, or the store's of
// what decide asked) writes nothing at all.
func testRecordWebhookStop(t *testing.T, s store.Store) {
	ctx := t.Context()
	known := mustCreateUser(t, s, user.User{Phone: phone(1), Consent: consent.OptIn, CreatedAt: at(0)})
	if _, err := s.Suppress(ctx, suppression.Entry{Phone: phone(3), Reason: "complaint", By: "admin", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}

	// A known person: STOP with its history entry, the record stored
	// (and what it says of its STOP kept).
	e := stopEvent("SM1", phone(1), 1)
	e.StopApplied = true
	var read store.StopRead
	got, created, err := s.RecordWebhookStop(ctx, e, numbers(phone(1), phone(3), phone(9)), func(r store.StopRead) (store.StopWrites, error) {
		read = r
		return stopKeywords(e, phone(1))(r)
	})
	if err != nil || !created {
		t.Fatalf("RecordWebhookStop = created %v, %v; want created", created, err)
	}
	if d := diff(keptEvent(e), got); d != "" {
		t.Errorf("RecordWebhookStop returned (-want, +got):\n%s", d)
	}
	wantRead := store.StopRead{Users: map[string]user.User{phone(1): known}, Suppressed: map[string]bool{phone(3): true}}
	if d := diff(wantRead, read); d != "" {
		t.Errorf("decide read (-want, +got):\n%s", d)
	}
	wantHistory := []consent.Change{
		{Phone: phone(1), To: consent.OptIn, Source: consent.SourceAPI, At: kept(at(0))},
		{Phone: phone(1), From: consent.OptIn, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM1", At: kept(at(1))},
	}
	checkStopped := func(step string) {
		t.Helper()
		h, err := s.ConsentHistory(ctx, phone(1))
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(wantHistory, h); d != "" {
			t.Errorf("%s: ConsentHistory (-want, +got):\n%s", step, d)
		}
		if u, _ := s.GetUser(ctx, phone(1)); u.Consent != consent.Stop || u.KeywordAt == nil || !u.KeywordAt.Equal(kept(at(1))) {
			t.Errorf("%s: user %s, keyword at %v; want STOP at %v", step, u.Consent, u.KeywordAt, kept(at(1)))
		}
	}
	checkStopped("stored")

	// A replay: decide is not called, nothing changes.
	got, created, err = s.RecordWebhookStop(ctx, stopEvent("SM1", phone(1), 5), numbers(phone(1)), func(store.StopRead) (store.StopWrites, error) {
		t.Error("replay: decide called")
		return store.StopWrites{}, nil
	})
	if err != nil || created {
		t.Fatalf("replayed RecordWebhookStop = created %v, %v; want the stored event", created, err)
	}
	if d := diff(keptEvent(e), got); d != "" {
		t.Errorf("replay returned (-want, +got):\n%s", d)
	}
	// The same STOP applied again later (HandleInbound) is a no-op.
	if _, changed, err := s.ApplyKeyword(ctx, consent.Keyword{Phone: phone(1), Intent: consent.IntentOptOut, Ref: "SM1", At: at(1)}); err != nil || changed {
		t.Errorf("ApplyKeyword of the stored STOP = changed %v, %v; want no change", changed, err)
	}
	checkStopped("after the replays")

	// An unknown sender: a STOP user and a suppression; one already
	// suppressed keeps its entry.
	u := stopEvent("SM2", phone(2), 2)
	entry := func(p string) *suppression.Entry {
		return &suppression.Entry{Phone: p, Reason: "STOP from an unknown sender", By: "inbound", CreatedAt: at(2)}
	}
	if _, created, err := s.RecordWebhookStop(ctx, u, numbers(phone(2), phone(3)), func(r store.StopRead) (store.StopWrites, error) {
		w, _ := stopKeywords(u, phone(2))(r)
		w.Suppress = entry(phone(2))
		return w, nil
	}); err != nil || !created {
		t.Fatalf("unknown sender: created %v, %v", created, err)
	}
	if _, _, err := s.RecordWebhookStop(ctx, stopEvent("SM3", phone(3), 3), numbers(phone(3)), func(store.StopRead) (store.StopWrites, error) {
		return store.StopWrites{Suppress: entry(phone(3))}, nil
	}); err != nil {
		t.Fatalf("suppressed sender: %v", err)
	}
	list, _, err := s.ListSuppressions(ctx, store.Page{Page: 1, PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	wantList := []suppression.Entry{
		{Phone: phone(2), Reason: "STOP from an unknown sender", By: "inbound", CreatedAt: kept(at(2))},
		{Phone: phone(3), Reason: "complaint", By: "admin", CreatedAt: kept(at(0))},
	}
	if d := cmp.Diff(wantList, list); d != "" {
		t.Errorf("suppressions (-want, +got):\n%s", d)
	}
	if u, err := s.GetUser(ctx, phone(2)); err != nil || u.Consent != consent.Stop {
		t.Errorf("unknown sender's user = %s, %v; want a STOP user", u.Consent, err)
	}

	// Refusals write nothing: neither the record nor the STOP.
	refused := []struct {
		name   string
		lookup store.StopLookup
		decide func(store.StopRead) (store.StopWrites, error)
		want   error
	}{
		{"decide_fails", numbers(phone(4)), func(store.StopRead) (store.StopWrites, error) { return store.StopWrites{}, errBoom }, errBoom},
		{"keyword_not_looked_up", numbers(phone(5)), stopKeywords(stopEvent("SM4", phone(4), 4), phone(4)), nil},
		{"keyword_not_a_keyword", numbers(phone(4)), func(store.StopRead) (store.StopWrites, error) {
			return store.StopWrites{Keywords: []consent.Keyword{{Phone: phone(4), Intent: consent.IntentHelp, At: at(4)}}}, nil
		}, nil},
		{"suppression_not_looked_up", numbers(phone(4)), func(r store.StopRead) (store.StopWrites, error) {
			w, _ := stopKeywords(stopEvent("SM4", phone(4), 4), phone(4))(r)
			w.Suppress = entry(phone(5))
			return w, nil
		}, nil},
		{"too_many_numbers", numbers(make([]string, store.MaxStopLookup+1)...), stopKeywords(stopEvent("SM4", phone(4), 4)), nil},
		{"too_many_erasure_keys", store.StopLookup{Numbers: []string{phone(4)}, ErasureKeys: make([]string, store.MaxStopLookup+1)}, stopKeywords(stopEvent("SM4", phone(4), 4)), nil},
		{"erased_record_not_looked_up", store.StopLookup{Numbers: []string{phone(4)}, ErasureKeys: []string{"k1"}}, func(r store.StopRead) (store.StopWrites, error) {
			w, _ := stopKeywords(stopEvent("SM4", phone(4), 4), phone(4))(r)
			w.Erased = &erasure.Record{Key: "k2", Consent: consent.Stop, ErasedAt: at(4)}
			return w, nil
		}, nil},
	}
	for _, tc := range refused {
		_, _, err := s.RecordWebhookStop(ctx, stopEvent("SM4", phone(4), 4), tc.lookup, tc.decide)
		switch {
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		case tc.want == nil && !errs.Is(err, errs.Invalid):
			t.Errorf("%s: %v, want kind Invalid", tc.name, err)
		}
		if _, err := s.GetUser(ctx, phone(4)); !errs.Is(err, errs.NotExist) {
			t.Errorf("%s: the STOP user was written (%v)", tc.name, err)
		}
		if es, _ := s.ListUnpublished(ctx, at(99), 10); len(es) != 3 {
			t.Errorf("%s: %d records, want the 3 stored before", tc.name, len(es))
		}
		if sup, _ := s.Suppressed(ctx, []string{phone(5)}); sup[phone(5)] {
			t.Errorf("%s: the suppression was written", tc.name)
		}
	}
}

var errBoom = errors.New("boom")

// The same STOP stored by several deliveries at once: one creates the
// record, and the person's history has one entry for it.
func testRecordWebhookStopConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user.User{Phone: phone(1), Consent: consent.OptIn, CreatedAt: at(0)})
	e := stopEvent("SM1", phone(1), 1)
	createdOnce(t, "RecordWebhookStop", func(int) (bool, error) {
		_, created, err := s.RecordWebhookStop(ctx, e, numbers(phone(1)), stopKeywords(e, phone(1)))
		return created, err
	})
	if h, _ := s.ConsentHistory(ctx, phone(1)); len(h) != 2 {
		t.Errorf("%d history entries, want 2 (created, the STOP once)", len(h))
	}
}

// A record's received fields never change once stored: no replay, by
// RecordWebhook or RecordWebhookStop, whatever it carries, and no mark;
// only the published marker moves, and only by MarkWebhookPublished.
func testWebhookReceivedFieldsNeverChange(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := statusEvent("SM1", "delivered", 1)
	first.Params["ErrorCode"] = ""
	mustRecord(t, s, first)
	want := keptEvent(first)
	other := func(published bool) webhook.Event {
		e := statusEvent("SM1", "delivered", 7)
		e.MessageSID, e.MessageID, e.Kind = "SMother", "m-other", webhook.Inbound
		e.Params = map[string]string{"MessageSid": "SMother", "Body": "STOP", "From": "whatsapp:" + phone(1)}
		e.Published = published
		return e
	}
	stored := func(step string) {
		t.Helper()
		es, err := s.ListWebhooks(ctx, webhook.Status, 10)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff([]webhook.Event{want}, es); d != "" {
			t.Errorf("%s: stored record (-want, +got):\n%s", step, d)
		}
		if es, _ := s.ListWebhooks(ctx, webhook.Inbound, 10); len(es) != 0 {
			t.Errorf("%s: %d inbound records, want none", step, len(es))
		}
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"replayed_with_other_fields", func() error { _, _, err := s.RecordWebhook(ctx, other(false)); return err }},
		{"replayed_marked_published", func() error { _, _, err := s.RecordWebhook(ctx, other(true)); return err }},
		{"replayed_as_a_stop", func() error {
			_, _, err := s.RecordWebhookStop(ctx, other(false), numbers(phone(1)), stopKeywords(other(false), phone(1)))
			return err
		}},
		{"marked_published", func() error { want.Published = true; return s.MarkWebhookPublished(ctx, first.ID) }},
		{"marked_again", func() error { return s.MarkWebhookPublished(ctx, first.ID) }},
		{"replayed_unpublished", func() error { _, _, err := s.RecordWebhook(ctx, other(false)); return err }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		stored(st.name)
	}
	if _, err := s.GetUser(ctx, phone(1)); !errs.Is(err, errs.NotExist) {
		t.Errorf("a replay as a STOP applied it (%v)", err)
	}
}

// numbers is a lookup of phones and no erasure keys.
func numbers(phones ...string) store.StopLookup { return store.StopLookup{Numbers: phones} }

// A STOP its sender sent before their erasure and stored after it: decide
// reads the erased record, and the store keeps what decide asks (the
// opt-out in the record, the webhook record without its form) and
// nothing of the person: no user, suppression, history or number.
func testRecordWebhookStopErased(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := Hasher(t)
	p, key := phone(6), h.Of(phone(6))
	mustCreateUser(t, s, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(0)})
	if _, err := s.ForgetUser(ctx, p, key, at(5)); err != nil {
		t.Fatal(err)
	}
	e := stopEvent("SM6", p, 3)
	e.StopApplied = true
	var read store.StopRead
	got, created, err := s.RecordWebhookStop(ctx, e, store.StopLookup{Numbers: []string{p}, ErasureKeys: []string{key, h.Of(phone(7))}}, func(r store.StopRead) (store.StopWrites, error) {
		read = r
		rec := r.Erased[key]
		rec.Consent = consent.Stop
		return store.StopWrites{Erased: &rec, Scrub: true}, nil
	})
	if err != nil || !created {
		t.Fatalf("RecordWebhookStop = created %v, %v; want created", created, err)
	}
	wantRead := store.StopRead{Users: map[string]user.User{}, Suppressed: map[string]bool{}, Erased: map[string]erasure.Record{key: erasure.Erased(key, kept(at(5)))}}
	if d := diff(wantRead, read); d != "" {
		t.Errorf("decide read (-want, +got):\n%s", d)
	}
	want := keptEvent(e)
	want.Params, want.Erased = map[string]string{}, true
	if d := diff(want, got); d != "" {
		t.Errorf("RecordWebhookStop returned (-want, +got):\n%s", d)
	}
	stored, err := s.ListWebhooks(ctx, webhook.Inbound, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]webhook.Event{want}, stored); d != "" {
		t.Errorf("stored records (-want, +got):\n%s", d)
	}
	if _, err := s.GetUser(ctx, p); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetUser after an erased sender's STOP = %v, want NotExist", err)
	}
	if sup, err := s.Suppressed(ctx, []string{p}); err != nil || sup[p] {
		t.Errorf("Suppressed after an erased sender's STOP = %v, %v; want none", sup, err)
	}
	if hist, err := s.ConsentHistory(ctx, p); err != nil || len(hist) != 0 {
		t.Errorf("ConsentHistory after an erased sender's STOP = %v, %v; want none", hist, err)
	}
	recs, err := s.ErasedRecords(ctx, []string{key})
	if err != nil {
		t.Fatal(err)
	}
	wantRec := erasure.Record{Key: key, Consent: consent.Stop, ErasedAt: kept(at(5))}
	if d := diff(map[string]erasure.Record{key: wantRec}, recs); d != "" {
		t.Errorf("ErasedRecords (-want, +got):\n%s", d)
	}
	// The person imported again comes back with the STOP.
	back, err := s.CreateReturningUser(ctx, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(8)}, consent.SourceImport, key)
	if err != nil || back == nil {
		t.Fatalf("CreateReturningUser = %v, %v; want the record", back, err)
	}
	if u, err := s.GetUser(ctx, p); err != nil || u.Consent != consent.Stop {
		t.Errorf("returning user = %s, %v; want STOP", u.Consent, err)
	}
}
