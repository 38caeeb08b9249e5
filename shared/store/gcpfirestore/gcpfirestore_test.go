package gcpfirestore_test

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/gcpfirestore"
	"github.com/eventstreamengine/ese/shared/store/storetest"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// open returns a store over a project of t's own on the emulator.
func open(t testing.TB) *gcpfirestore.Store {
	t.Helper()
	emulatortest.Firestore(t)
	s, err := gcpfirestore.Open(context.Background(), emulatortest.ProjectID(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openRaw is open with a plain client on the same project beside it, to
// read documents as stored, and the project's id.
func openRaw(t *testing.T) (*gcpfirestore.Store, *firestore.Client, string) {
	t.Helper()
	ctx := context.Background()
	emulatortest.Firestore(t)
	project := emulatortest.ProjectID(t) // a new project at each call
	s, err := gcpfirestore.Open(ctx, project)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	raw, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return s, raw, project
}

func TestConformance(t *testing.T) {
	t.Parallel()
	emulatortest.Firestore(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func BenchmarkApplyImportBatch(b *testing.B) {
	storetest.BenchApplyImportBatch(b, open(b))
}

func BenchmarkCountMessages(b *testing.B) {
	storetest.BenchCountMessages(b, open(b))
}

func BenchmarkErase(b *testing.B) {
	storetest.BenchErase(b, open(b))
}

// Firestore's TTL policies delete messages and webhook records by their
// expire_at; a rewrite of the document (every status change) must keep it.
// Zero retention writes none.
func TestRetention_expire_at_is_written_and_survives_updates(t *testing.T) {
	t.Parallel()
	emulatortest.Firestore(t)
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	received := created.Add(2 * time.Hour)
	for _, tc := range []struct {
		name      string
		retention gcpfirestore.Retention
		want      map[string]any
	}{
		{"kept_for_good", gcpfirestore.Retention{}, map[string]any{"message": nil, "webhook": nil}},
		{"kept_for_a_while", gcpfirestore.Retention{Messages: 400 * 24 * time.Hour, Webhooks: 90 * 24 * time.Hour},
			map[string]any{"message": created.Add(400 * 24 * time.Hour), "webhook": received.Add(90 * 24 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, raw, project := openRaw(t)
			s.WithRetention(tc.retention)

			m := message.Message{ID: message.ID("c1", "+94771234567"), CampaignID: "c1", Phone: "+94771234567",
				Status: message.Pending, CreatedAt: created, UpdatedAt: created}
			if _, err := s.CreateMessages(ctx, []message.Message{m}); err != nil {
				t.Fatal(err)
			}
			// Updated through a store without retention, as another
			// function's would be: the expiry stays as created.
			other, err := gcpfirestore.Open(ctx, project)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = other.Close() })
			if _, err := other.UpdateMessage(ctx, m.ID, func(m *message.Message) error {
				m.Status, m.UpdatedAt = message.Queued, created.Add(time.Hour)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			ev := webhook.Event{ID: webhook.EventID(webhook.Inbound, "SM1", ""), Kind: webhook.Inbound, MessageSID: "SM1",
				Params: map[string]string{"Body": "hi"}, ReceivedAt: received}
			if _, _, err := s.RecordWebhook(ctx, ev); err != nil {
				t.Fatal(err)
			}
			if err := s.MarkWebhookPublished(ctx, ev.ID); err != nil {
				t.Fatal(err)
			}
			expireAt := func(path string) any {
				snap, err := raw.Doc(path).Get(ctx)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				v, err := snap.DataAt(gcpfirestore.TTLField)
				if err != nil {
					return nil
				}
				return v
			}
			got := map[string]any{
				"message": expireAt("messages/" + m.ID),
				"webhook": expireAt("webhook_events/" + ev.ID),
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("expire_at (-want, +got):\n%s", diff)
			}
		})
	}
}

// A dry run's report carries an expire_at 30 days after its last write
// (the start, then each part read), for the TTL policy on dry_runs.
func TestDryRun_expire_at_follows_the_last_write(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, _ := openRaw(t)
	r := dryrun.Result{DryRun: true, CampaignID: "c1", RunID: "r1", Status: dryrun.Running}
	for _, write := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"start", func(ctx context.Context) error { return s.StartDryRun(ctx, r) }},
		{"advance", func(ctx context.Context) error {
			next := r
			next.Read = 10
			return s.AdvanceDryRun(ctx, next, r.Read)
		}},
	} {
		if err := write.do(ctx); err != nil {
			t.Fatalf("%s: %v", write.name, err)
		}
		snap, err := raw.Doc("dry_runs/c1").Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		updated, err := snap.DataAt("updated_at")
		if err != nil {
			t.Fatal(err)
		}
		expire, err := snap.DataAt(gcpfirestore.TTLField)
		if err != nil {
			t.Fatalf("%s: no %s: %v", write.name, gcpfirestore.TTLField, err)
		}
		if got, want := expire.(time.Time).Sub(updated.(time.Time)), 30*24*time.Hour; got != want {
			t.Errorf("after the %s: expire_at is %v after updated_at, want %v", write.name, got, want)
		}
	}
}

// An erased record that keeps nothing carries an expire_at
// erasure.ErasedOnlyKeep after the erasure, for the TTL policy on
// erased_opt_outs; one that keeps an opt-out never does, nor one whose
// late STOP came to keep one.
func TestErased_expire_at_only_when_nothing_is_kept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, _ := openRaw(t)
	h := storetest.Hasher(t)
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	expireAt := func(key string) (time.Time, bool) {
		t.Helper()
		snap, err := raw.Doc("erased_opt_outs/" + key).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := snap.DataAt(gcpfirestore.TTLField)
		if err != nil {
			return time.Time{}, false
		}
		return v.(time.Time), true
	}
	for _, tc := range []struct {
		phone   string
		consent consent.State
		want    bool
	}{
		{"+14155550101", consent.OptIn, true},
		{"+14155550102", consent.Stop, false},
		{"+14155550103", consent.OptOut, false},
	} {
		if err := s.CreateUser(ctx, user.User{Phone: tc.phone, Consent: tc.consent, CreatedAt: at}, consent.SourceAdmin, "test"); err != nil {
			t.Fatal(err)
		}
		key := h.Of(tc.phone)
		if _, err := s.ForgetUser(ctx, tc.phone, key, at); err != nil {
			t.Fatal(err)
		}
		got, ok := expireAt(key)
		if ok != tc.want || (ok && !got.Equal(at.Add(erasure.ErasedOnlyKeep))) {
			t.Errorf("%s erased: expire_at %v (set %v), want set %v, %v", tc.consent, got, ok, tc.want, at.Add(erasure.ErasedOnlyKeep))
		}
	}
	// A STOP sent before the erasure, stored after it, keeps the opt-out:
	// the record then lasts.
	p, key := "+14155550101", h.Of("+14155550101")
	e := webhook.Event{ID: "inbound-SMlate", Kind: webhook.Inbound, MessageSID: "SMlate", Params: map[string]string{"From": "whatsapp:" + p, "Body": "STOP"}, ReceivedAt: at.Add(-time.Minute), StopApplied: true}
	if _, _, err := s.RecordWebhookStop(ctx, e, store.StopLookup{Numbers: []string{p}, ErasureKeys: []string{key}}, func(r store.StopRead) (store.StopWrites, error) {
		rec := r.Erased[key]
		rec.Consent = consent.Stop
		return store.StopWrites{Erased: &rec, Scrub: true}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, ok := expireAt(key); ok {
		t.Errorf("after a late STOP kept in the record: expire_at %v, want none", got)
	}
}
