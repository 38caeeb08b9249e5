package storetest

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"testing"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/webhook"
)

func statusEvent(sid, st string, n int) webhook.Event {
	return webhook.Event{
		ID: webhook.EventID(webhook.Status, sid, st), Kind: webhook.Status, MessageSID: sid, MessageID: "m-" + sid, Attempt: 2, Status: st,
		Params: map[string]string{"MessageSid": sid, "MessageStatus": st}, ReceivedAt: at(n),
	}
}

func inboundEvent(sid string, n int) webhook.Event {
	return webhook.Event{
		ID: webhook.EventID(webhook.Inbound, sid, ""), Kind: webhook.Inbound, MessageSID: sid,
		Params: map[string]string{"MessageSid": sid, "Body": "STOP"}, ReceivedAt: at(n),
	}
}

func keptEvent(e webhook.Event) webhook.Event {
	e.ReceivedAt = kept(e.ReceivedAt)
	return e
}

func mustRecord(t *testing.T, s store.Store, es ...webhook.Event) {
	t.Helper()
	for _, e := range es {
		if _, created, err := s.RecordWebhook(t.Context(), e); err != nil || !created {
			t.Fatalf("RecordWebhook(%s) = created %v, %v; want created", e.ID, created, err)
		}
	}
}

func testRecordWebhook(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := statusEvent("SM1", "delivered", 0)
	e.ReceivedAt = e.ReceivedAt.In(lanka)
	got, created, err := s.RecordWebhook(ctx, e)
	if err != nil {
		t.Fatalf("RecordWebhook: %v", err)
	}
	if !created {
		t.Error("first RecordWebhook: created = false, want true")
	}
	want := keptEvent(e)
	if d := diff(want, got); d != "" {
		t.Errorf("RecordWebhook (-want, +got):\n%s", d)
	}
	checkUTC(t, "RecordWebhook", got.ReceivedAt)
	e.Params["MessageSid"] = "aliased" // the store keeps its own copy

	replay := statusEvent("SM1", "delivered", 5)
	replay.Params["ErrorCode"] = "0"
	got, created, err = s.RecordWebhook(ctx, replay)
	if err != nil {
		t.Fatalf("RecordWebhook(replay): %v", err)
	}
	if created {
		t.Error("replayed RecordWebhook: created = true, want false")
	}
	want.Params = map[string]string{"MessageSid": "SM1", "MessageStatus": "delivered"}
	if d := diff(want, got); d != "" {
		t.Errorf("replayed RecordWebhook returns the first event (-want, +got):\n%s", d)
	}
	if _, _, err := s.RecordWebhook(ctx, webhook.Event{Kind: webhook.Status}); !errs.Is(err, errs.Invalid) {
		t.Errorf("RecordWebhook(no id): %v, want kind Invalid", err)
	}
}

func testRecordWebhookConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	createdOnce(t, "RecordWebhook", func(i int) (bool, error) {
		_, created, err := s.RecordWebhook(ctx, inboundEvent("SM1", i))
		return created, err
	})
}

// createdOnce runs record from 5 goroutines at once and checks that
// exactly one of them created the record.
func createdOnce(t *testing.T, op string, record func(i int) (bool, error)) {
	t.Helper()
	const n = 5
	created := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			if created[i], err = record(i); err != nil {
				t.Errorf("%s: %v", op, err)
			}
		})
	}
	wg.Wait()
	if count := len(slices.DeleteFunc(created, func(c bool) bool { return !c })); count != 1 {
		t.Errorf("%d of %d concurrent %s calls created the record, want 1", count, n, op)
	}
}

func testMarkWebhookPublished(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := inboundEvent("SM1", 0)
	mustRecord(t, s, e)
	if err := s.MarkWebhookPublished(ctx, e.ID); err != nil {
		t.Fatalf("MarkWebhookPublished: %v", err)
	}
	if err := s.MarkWebhookPublished(ctx, e.ID); err != nil {
		t.Fatalf("MarkWebhookPublished again: %v", err)
	}
	got, created, err := s.RecordWebhook(ctx, e)
	if err != nil || created {
		t.Fatalf("RecordWebhook(replay) = created %v, %v; want the stored event", created, err)
	}
	want := keptEvent(e)
	want.Published = true
	if d := diff(want, got); d != "" {
		t.Errorf("stored event (-want, +got):\n%s", d)
	}
	if err := s.MarkWebhookPublished(ctx, "inbound-nope"); !errs.Is(err, errs.NotExist) {
		t.Errorf("MarkWebhookPublished(unknown): %v, want kind NotExist", err)
	}
}

func testListWebhooks(t *testing.T, s store.Store) {
	ctx := t.Context()
	st := []webhook.Event{statusEvent("SM1", "sent", 0), statusEvent("SM1", "delivered", 2), statusEvent("SM2", "failed", 1)}
	in := []webhook.Event{inboundEvent("SM8", 3), inboundEvent("SM9", 4)}
	mustRecord(t, s, append(st, in...)...)
	tests := []struct {
		name  string
		kind  webhook.Kind
		limit int
		want  []webhook.Event
	}{
		{"status_limit_2", webhook.Status, 2, []webhook.Event{st[1], st[2]}},
		{"status_all", webhook.Status, 10, []webhook.Event{st[1], st[2], st[0]}},
		{"inbound", webhook.Inbound, 10, []webhook.Event{in[1], in[0]}},
		{"other_kind", "nope", 10, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListWebhooks(ctx, tc.kind, tc.limit)
			if err != nil {
				t.Fatalf("ListWebhooks: %v", err)
			}
			var want []webhook.Event
			for _, e := range tc.want {
				want = append(want, keptEvent(e))
			}
			if d := diff(want, got); d != "" {
				t.Errorf("ListWebhooks (-want, +got):\n%s", d)
			}
		})
	}
	if _, err := s.ListWebhooks(ctx, webhook.Status, 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("ListWebhooks(limit 0): %v, want kind Invalid", err)
	}
}

func testListUnpublished(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, e := range []webhook.Event{inboundEvent("SM1", 1), statusEvent("SM2", "sent", 2), inboundEvent("SM3", 3)} {
		if _, _, err := s.RecordWebhook(ctx, e); err != nil {
			t.Fatalf("RecordWebhook %d: %v", i, err)
		}
	}
	if err := s.MarkWebhookPublished(ctx, webhook.EventID(webhook.Status, "SM2", "sent")); err != nil {
		t.Fatal(err)
	}
	ids := func(before time.Time, limit int) []string {
		t.Helper()
		es, err := s.ListUnpublished(ctx, before, limit)
		if err != nil {
			t.Fatalf("ListUnpublished: %v", err)
		}
		out := []string{}
		for _, e := range es {
			out = append(out, e.MessageSID)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		before time.Time
		limit  int
		want   []string
	}{
		{"before_the_third", kept(at(3)), 10, []string{"SM1"}},
		{"all_unpublished_oldest_first", at(4), 10, []string{"SM1", "SM3"}},
		{"limit", at(4), 1, []string{"SM1"}},
	} {
		if d := cmp.Diff(tc.want, ids(tc.before, tc.limit)); d != "" {
			t.Errorf("%s: ListUnpublished (-want, +got):\n%s", tc.name, d)
		}
	}
	if _, err := s.ListUnpublished(ctx, at(4), 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("ListUnpublished limit 0: %v, want kind Invalid", err)
	}
}

// A record Firestore cannot take (a document over 1 MiB, refused by the
// service; a text that is not UTF-8, which its client cannot send) is
// refused as Invalid, never as an error retried for ever, and nothing is
// written: the Webhooks function and HandleInbound store it trimmed
// instead (twilioform.Trimmed).
func testRecordWebhookRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	big := stopEvent("SMbig", phone(1), 1)
	big.Params["Body"] = "STOP " + strings.Repeat("x", 1<<20)
	badValue := stopEvent("SMutf8", phone(1), 1)
	badValue.Params["Body"] = "STOP \xff\xfe"
	badKey := stopEvent("SMkey", phone(1), 1)
	badKey.Params["Note\xff"] = "x"
	for _, tc := range []struct {
		name string
		e    webhook.Event
	}{
		{"over_1_mib", big},
		{"value_not_utf8", badValue},
		{"name_not_utf8", badKey},
	} {
		if _, _, err := s.RecordWebhook(ctx, tc.e); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: RecordWebhook = %v (kind %v), want Invalid", tc.name, err, errs.KindOf(err))
		}
		_, _, err := s.RecordWebhookStop(ctx, tc.e, numbers(phone(1)), stopKeywords(tc.e, phone(1)))
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: RecordWebhookStop = %v (kind %v), want Invalid", tc.name, err, errs.KindOf(err))
		}
	}
	if es, err := s.ListWebhooks(ctx, webhook.Inbound, 10); err != nil || len(es) != 0 {
		t.Errorf("ListWebhooks after refusals = %d records, %v; want none", len(es), err)
	}
	if _, err := s.GetUser(ctx, phone(1)); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetUser after refused STOPs = %v, want NotExist (nothing written)", err)
	}
}
