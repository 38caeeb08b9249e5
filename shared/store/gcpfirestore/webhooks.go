package gcpfirestore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/webhook"
)

func (s *Store) webhooks() *firestore.CollectionRef { return s.c.Collection(colWebhooks) }

// RecordWebhook implements store.Webhooks. Create settles a race between
// two deliveries of one callback: exactly one creates, the other reads.
func (s *Store) RecordWebhook(ctx context.Context, e webhook.Event) (webhook.Event, bool, error) {
	if !records.ValidID(e.ID) {
		return webhook.Event{}, false, errs.E(errs.Invalid, "gcpfirestore.RecordWebhook: invalid event id %q", e.ID)
	}
	if err := records.CheckWebhookText("gcpfirestore.RecordWebhook", e); err != nil {
		return webhook.Event{}, false, err
	}
	e.ReceivedAt = records.Or(e.ReceivedAt, time.Now())
	d := toWebhookDoc(e)
	d.ExpireAt = expiry(d.ReceivedAt, s.retention.Webhooks)
	_, err := s.webhooks().Doc(e.ID).Create(ctx, d)
	if err == nil {
		return d.event(e.ID), true, nil
	}
	if status.Code(err) != codes.AlreadyExists {
		return webhook.Event{}, false, classify("RecordWebhook", err)
	}
	stored, err := get[webhookDoc](ctx, s, "RecordWebhook", colWebhooks, e.ID)
	if err != nil {
		return webhook.Event{}, false, err
	}
	return stored.event(e.ID), false, nil
}

// RecordWebhookStop implements store.Webhooks: one transaction reads the
// record, the users and the suppressions, then writes them all. A
// concurrent first write (the same callback twice, or the person
// created by an import) fails it with AlreadyExists, and it decides once
// more on what is stored then.
func (s *Store) RecordWebhookStop(ctx context.Context, e webhook.Event, lookup store.StopLookup, decide func(store.StopRead) (store.StopWrites, error)) (webhook.Event, bool, error) {
	if !records.ValidID(e.ID) {
		return webhook.Event{}, false, errs.E(errs.Invalid, "gcpfirestore.RecordWebhookStop: invalid event id %q", e.ID)
	}
	if err := records.CheckStopLookup("gcpfirestore.RecordWebhookStop", lookup); err != nil {
		return webhook.Event{}, false, err
	}
	if err := records.CheckWebhookText("gcpfirestore.RecordWebhookStop", e); err != nil {
		return webhook.Event{}, false, err
	}
	e.ReceivedAt = records.Or(e.ReceivedAt, time.Now())
	ref := s.webhooks().Doc(e.ID)
	users := s.userRefs(lookup.Numbers)
	var suppressions []*firestore.DocumentRef
	for _, u := range users {
		suppressions = append(suppressions, s.c.Collection(colSuppressed).Doc(u.ID))
	}
	var (
		out     webhook.Event
		created bool
	)
	record := func(ctx context.Context, tx *firestore.Transaction) error {
		out, created = webhook.Event{}, false
		snaps, err := tx.GetAll(append([]*firestore.DocumentRef{ref}, append(users, suppressions...)...))
		if err != nil {
			return err
		}
		if snaps[0].Exists() {
			var stored webhookDoc
			if err := snaps[0].DataTo(&stored); err != nil {
				return fmt.Errorf("decode %s: %w", e.ID, err)
			}
			out = stored.event(e.ID)
			return nil
		}
		read := store.StopRead{Users: map[string]user.User{}, Suppressed: map[string]bool{}}
		for i, snap := range snaps[1 : 1+len(users)] {
			if snap.Exists() {
				u, err := decodeUser(snap)
				if err != nil {
					return err
				}
				read.Users[u.Phone] = u
			}
			if snaps[1+len(users)+i].Exists() {
				read.Suppressed[users[i].ID] = true
			}
		}
		if len(lookup.ErasureKeys) > 0 {
			if read.Erased, err = s.erasedIn(tx, lookup.ErasureKeys); err != nil {
				return err
			}
		}
		w, err := decide(read)
		if err != nil {
			return err
		}
		if err := s.writeStop(tx, lookup, read, w); err != nil {
			return err
		}
		stored := e
		if w.Scrub {
			stored = records.ScrubbedWebhook(e)
		}
		d := toWebhookDoc(stored)
		d.ExpireAt = expiry(d.ReceivedAt, s.retention.Webhooks)
		out, created = d.event(e.ID), true
		return tx.Create(ref, d)
	}
	err := s.c.RunTransaction(ctx, record, firestore.MaxAttempts(txAttempts))
	if status.Code(err) == codes.AlreadyExists {
		err = s.c.RunTransaction(ctx, record, firestore.MaxAttempts(txAttempts))
	}
	if err != nil {
		return webhook.Event{}, false, classify("RecordWebhookStop", err)
	}
	return out, created, nil
}

// writeStop writes w in tx, decided on read.
func (s *Store) writeStop(tx *firestore.Transaction, lookup store.StopLookup, read store.StopRead, w store.StopWrites) error {
	if err := records.CheckErasedWrite("gcpfirestore.RecordWebhookStop", lookup, w.Erased); err != nil {
		return err
	}
	for _, k := range w.Keywords {
		if err := checkKeyword("RecordWebhookStop", k); err != nil {
			return err
		}
		if !slices.Contains(lookup.Numbers, k.Phone) {
			return errs.E(errs.Invalid, "gcpfirestore.RecordWebhookStop: a keyword for a number not looked up")
		}
		var u *user.User
		if found, ok := read.Users[k.Phone]; ok {
			u = &found
		}
		if _, _, err := s.applyKeyword(tx, k, u); err != nil {
			return err
		}
	}
	if e := w.Suppress; e != nil {
		if err := e.Check(); err != nil {
			return err
		}
		if !records.ValidID(e.Phone) || !slices.Contains(lookup.Numbers, e.Phone) {
			return errs.E(errs.Invalid, "gcpfirestore.RecordWebhookStop: a suppression of a number not looked up")
		}
		if !read.Suppressed[e.Phone] { // else kept as it is: an admin's reason stands
			created := records.Or(e.CreatedAt, time.Now())
			if err := tx.Create(s.c.Collection(colSuppressed).Doc(e.Phone), suppressionDoc{Reason: e.Reason, By: e.By, CreatedAt: created}); err != nil {
				return err
			}
		}
	}
	if r := w.Erased; r != nil {
		return tx.Set(s.c.Collection(colErased).Doc(r.Key), toErasedDoc(*r))
	}
	return nil
}

// MarkWebhookPublished implements store.Webhooks.
func (s *Store) MarkWebhookPublished(ctx context.Context, id string) error {
	if !records.ValidID(id) {
		return notExist("MarkWebhookPublished", "webhook_events/"+id)
	}
	_, err := s.webhooks().Doc(id).Update(ctx, []firestore.Update{{Path: "published", Value: true}})
	if status.Code(err) == codes.NotFound {
		return notExist("MarkWebhookPublished", "webhook_events/"+id)
	}
	return classify("MarkWebhookPublished", err)
}

// ListWebhooks implements store.Webhooks.
func (s *Store) ListWebhooks(ctx context.Context, kind webhook.Kind, limit int) ([]webhook.Event, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.ListWebhooks: limit must be at least 1")
	}
	snaps, err := s.webhooks().Where("kind", "==", string(kind)).
		OrderBy("received_at", firestore.Desc).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("ListWebhooks", err)
	}
	out := make([]webhook.Event, 0, len(snaps))
	for _, snap := range snaps {
		var d webhookDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("gcpfirestore.ListWebhooks: decode %s: %w", snap.Ref.ID, err)
		}
		out = append(out, d.event(snap.Ref.ID))
	}
	return out, nil
}

// ListUnpublished implements store.Webhooks.
func (s *Store) ListUnpublished(ctx context.Context, before time.Time, limit int) ([]webhook.Event, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.ListUnpublished: limit must be at least 1")
	}
	snaps, err := s.webhooks().Where("published", "==", false).Where("received_at", "<", records.Time(before)).
		OrderBy("received_at", firestore.Asc).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("ListUnpublished", err)
	}
	out := make([]webhook.Event, 0, len(snaps))
	for _, snap := range snaps {
		var d webhookDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("gcpfirestore.ListUnpublished: decode %s: %w", snap.Ref.ID, err)
		}
		out = append(out, d.event(snap.Ref.ID))
	}
	return out, nil
}
