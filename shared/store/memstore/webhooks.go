package memstore

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// webhookShards keeps webhook records in shards by id, each behind its own
// lock, so callbacks stored at once do not queue on the store's one mutex
// (the Webhooks function's benchmark serialised on it). A method that
// holds both takes mu first.
type webhookShards struct {
	seed   maphash.Seed
	shards [16]webhookShard
}

type webhookShard struct {
	mu     sync.Mutex
	events map[string]storedEvent
}

// storedEvent is a webhook record as memstore keeps it: its form encoded
// into one byte slice, as Firestore keeps a document's fields rather than
// the caller's map, so a copy out shares nothing with the copy in (and
// the garbage collector scans one slice per record, not a map of
// strings: the Webhooks benchmark stores hundreds of thousands).
type storedEvent struct {
	webhook.Event // Params nil
	params        []byte
}

func storeEvent(e webhook.Event) storedEvent {
	s := storedEvent{Event: e, params: encodeParams(e.Params)}
	s.Params = nil
	return s
}

// event is a copy of the record.
func (s storedEvent) event() webhook.Event {
	e := s.Event
	e.Params = decodeParams(s.params)
	return e
}

// encodeParams writes each name and value with its length before it; a
// nil map is a nil slice, an empty one an empty slice.
func encodeParams(m map[string]string) []byte {
	if m == nil {
		return nil
	}
	n := 0
	for k, v := range m {
		n += len(k) + len(v) + 2*binary.MaxVarintLen32
	}
	b := make([]byte, 0, n)
	for k, v := range m {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

func decodeParams(b []byte) map[string]string {
	if b == nil {
		return nil
	}
	m := map[string]string{}
	next := func() string {
		n, w := binary.Uvarint(b)
		s := string(b[w : w+int(n)])
		b = b[w+int(n):]
		return s
	}
	for len(b) > 0 {
		k := next()
		m[k] = next()
	}
	return m
}

// shard returns id's shard, locked; the caller unlocks it.
func (w *webhookShards) shard(id string) *webhookShard {
	if w.seed == (maphash.Seed{}) {
		panic("memstore: webhooks used before New")
	}
	sh := &w.shards[maphash.String(w.seed, id)%uint64(len(w.shards))]
	sh.mu.Lock()
	if sh.events == nil {
		sh.events = map[string]storedEvent{}
	}
	return sh
}

// all returns a copy of every record that keep accepts, reading one
// shard at a time (a list is a query, not a snapshot, in Firestore too).
func (w *webhookShards) all(keep func(webhook.Event) bool) []webhook.Event {
	var out []webhook.Event
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		for _, stored := range sh.events {
			if e := stored.event(); keep(e) {
				out = append(out, e)
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// RecordWebhook implements store.Webhooks.
func (s *Store) RecordWebhook(ctx context.Context, e webhook.Event) (webhook.Event, bool, error) {
	if !records.ValidID(e.ID) {
		return webhook.Event{}, false, errs.E(errs.Invalid, "memstore.RecordWebhook: invalid event id %q", e.ID)
	}
	if err := checkWebhook("memstore.RecordWebhook", e); err != nil {
		return webhook.Event{}, false, err
	}
	sh := s.webhooks.shard(e.ID)
	defer sh.mu.Unlock()
	return sh.record(e)
}

// record stores e unless its id is taken. The caller holds sh.mu. What
// it returns of a new record is e as stored, with e's own Params.
func (sh *webhookShard) record(e webhook.Event) (webhook.Event, bool, error) {
	if old, ok := sh.events[e.ID]; ok {
		return old.event(), false, nil
	}
	e.Unstored = false // never stored, as in Firestore
	e.ReceivedAt = records.Time(records.Or(e.ReceivedAt, time.Now()))
	sh.events[e.ID] = storeEvent(e)
	return e, true, nil
}

// RecordWebhookStop implements store.Webhooks: the users, suppressions and
// the record's shard are held locked together, so the STOP and the record
// are one step.
func (s *Store) RecordWebhookStop(ctx context.Context, e webhook.Event, lookup store.StopLookup, decide func(store.StopRead) (store.StopWrites, error)) (webhook.Event, bool, error) {
	if !records.ValidID(e.ID) {
		return webhook.Event{}, false, errs.E(errs.Invalid, "memstore.RecordWebhookStop: invalid event id %q", e.ID)
	}
	if err := records.CheckStopLookup("memstore.RecordWebhookStop", lookup); err != nil {
		return webhook.Event{}, false, err
	}
	if err := checkWebhook("memstore.RecordWebhookStop", e); err != nil {
		return webhook.Event{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.webhooks.shard(e.ID)
	defer sh.mu.Unlock()
	if old, ok := sh.events[e.ID]; ok {
		return old.event(), false, nil
	}
	read := store.StopRead{Users: map[string]user.User{}, Suppressed: map[string]bool{}}
	for _, p := range lookup.Numbers {
		if u, ok := s.users[p]; ok {
			read.Users[p] = copyUser(u)
		}
		if _, ok := s.suppressed[p]; ok {
			read.Suppressed[p] = true
		}
	}
	if len(lookup.ErasureKeys) > 0 {
		read.Erased = map[string]erasure.Record{}
		for _, k := range lookup.ErasureKeys {
			if r, ok := s.erased[k]; ok {
				read.Erased[k] = r
			}
		}
	}
	w, err := decide(read)
	if err != nil {
		return webhook.Event{}, false, err
	}
	for _, k := range w.Keywords {
		if err := checkKeyword("RecordWebhookStop", k); err != nil {
			return webhook.Event{}, false, err
		}
		if !slices.Contains(lookup.Numbers, k.Phone) {
			return webhook.Event{}, false, errs.E(errs.Invalid, "memstore.RecordWebhookStop: a keyword for a number not looked up")
		}
	}
	if w.Suppress != nil {
		if err := w.Suppress.Check(); err != nil {
			return webhook.Event{}, false, err
		}
		if !records.ValidID(w.Suppress.Phone) || !slices.Contains(lookup.Numbers, w.Suppress.Phone) {
			return webhook.Event{}, false, errs.E(errs.Invalid, "memstore.RecordWebhookStop: a suppression of a number not looked up")
		}
	}
	if err := records.CheckErasedWrite("memstore.RecordWebhookStop", lookup, w.Erased); err != nil {
		return webhook.Event{}, false, err
	}
	// Checked: nothing below fails, so all is written or nothing.
	for _, k := range w.Keywords {
		s.applyKeyword(k)
	}
	if w.Suppress != nil && !read.Suppressed[w.Suppress.Phone] {
		s.suppress(*w.Suppress)
	}
	if r := w.Erased; r != nil {
		if s.erased == nil {
			s.erased = map[string]erasure.Record{}
		}
		rec := *r
		rec.ErasedAt = records.Time(rec.ErasedAt)
		s.erased[r.Key] = rec
	}
	if w.Scrub {
		e = records.ScrubbedWebhook(e)
	}
	return sh.record(e)
}

// checkWebhook refuses, as Firestore does, a record that is not UTF-8 or
// is larger than a document can be.
func checkWebhook(op string, e webhook.Event) error {
	if err := records.CheckWebhookText(op, e); err != nil {
		return err
	}
	if n := records.WebhookBytes(e); n > records.MaxDocumentBytes {
		return errs.E(errs.Invalid, "%s: a record of %d bytes, more than a document's %d", op, n, records.MaxDocumentBytes)
	}
	return nil
}

// MarkWebhookPublished implements store.Webhooks.
func (s *Store) MarkWebhookPublished(ctx context.Context, id string) error {
	sh := s.webhooks.shard(id)
	defer sh.mu.Unlock()
	e, ok := sh.events[id]
	if !ok {
		return notExist("MarkWebhookPublished", "event "+id)
	}
	e.Published = true
	sh.events[id] = e
	return nil
}

// ListWebhooks implements store.Webhooks.
func (s *Store) ListWebhooks(ctx context.Context, kind webhook.Kind, limit int) ([]webhook.Event, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.ListWebhooks: limit must be at least 1")
	}
	es := s.webhooks.all(func(e webhook.Event) bool { return e.Kind == kind })
	slices.SortFunc(es, func(a, b webhook.Event) int { return newestFirst(a.ReceivedAt, b.ReceivedAt, a.ID, b.ID) })
	return append([]webhook.Event{}, es[:min(limit, len(es))]...), nil
}

// ListUnpublished implements store.Webhooks.
func (s *Store) ListUnpublished(ctx context.Context, before time.Time, limit int) ([]webhook.Event, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.ListUnpublished: limit must be at least 1")
	}
	es := s.webhooks.all(func(e webhook.Event) bool { return !e.Published && e.ReceivedAt.Before(before) })
	slices.SortFunc(es, func(a, b webhook.Event) int { return -newestFirst(a.ReceivedAt, b.ReceivedAt, a.ID, b.ID) })
	return append([]webhook.Event{}, es[:min(limit, len(es))]...), nil
}
