package gcpfirestore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/webhook"
)

func (s *Store) webhooks() *firestore.CollectionRef { return s.c.Collection(colWebhooks) }

// RecordWebhook implements store.Webhooks. Create settles a race between
// two deliveries of one callback: exactly one creates, the other reads.
func (s *Store) RecordWebhook(ctx context.Context, e webhook.Event) (webhook.Event, bool, error) {
	if !records.ValidID(e.ID) {
		return webhook.Event{}, false, errs.E(errs.Invalid, "gcpfirestore.RecordWebhook: invalid event id %q", e.ID)
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
