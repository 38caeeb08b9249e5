package gcpfirestore

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/suppression"
)

// suppressionDoc is a suppression.Entry as stored in suppressions/{phone}.
type suppressionDoc struct {
	Reason    string    `firestore:"reason"`
	By        string    `firestore:"by"`
	CreatedAt time.Time `firestore:"created_at"`
}

func (d suppressionDoc) entry(phone string) suppression.Entry {
	return suppression.Entry{Phone: phone, Reason: d.Reason, By: d.By, CreatedAt: records.Time(d.CreatedAt)}
}

// Suppress implements store.Suppressions.
func (s *Store) Suppress(ctx context.Context, e suppression.Entry) (suppression.Entry, error) {
	if err := e.Check(); err != nil {
		return e, err
	}
	if !records.ValidID(e.Phone) {
		return e, errs.E(errs.Invalid, "gcpfirestore.Suppress: %q cannot name a number", e.Phone)
	}
	e.CreatedAt = records.Or(e.CreatedAt, time.Now())
	ref := s.c.Collection(colSuppressed).Doc(e.Phone)
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return err
		default:
			var old suppressionDoc
			if err := snap.DataTo(&old); err != nil {
				return err
			}
			e.CreatedAt = records.Time(old.CreatedAt)
		}
		return tx.Set(ref, suppressionDoc{Reason: e.Reason, By: e.By, CreatedAt: e.CreatedAt})
	})
	return e, classify("Suppress", err)
}

// Unsuppress implements store.Suppressions.
func (s *Store) Unsuppress(ctx context.Context, phone string) error {
	if !records.ValidID(phone) {
		return notExist("Unsuppress", "suppression "+phone)
	}
	_, err := s.c.Collection(colSuppressed).Doc(phone).Delete(ctx, firestore.Exists)
	if status.Code(err) == codes.NotFound {
		return notExist("Unsuppress", "suppression "+phone)
	}
	return classify("Unsuppress", err)
}

// ListSuppressions implements store.Suppressions: newest first (ties by
// number, descending, as Firestore orders them), counted by aggregation.
func (s *Store) ListSuppressions(ctx context.Context, p store.Page) ([]suppression.Entry, int, error) {
	if err := records.CheckPage(p); err != nil {
		return nil, 0, err
	}
	col := s.c.Collection(colSuppressed)
	res, err := col.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return nil, 0, classify("ListSuppressions", err)
	}
	var count struct {
		N int64 `firestore:"n"`
	}
	if err := res.DataTo(&count); err != nil {
		return nil, 0, classify("ListSuppressions", err)
	}
	snaps, err := col.OrderBy("created_at", firestore.Desc).Offset(p.Offset()).Limit(p.PerPage).Documents(ctx).GetAll()
	if err != nil {
		return nil, 0, classify("ListSuppressions", err)
	}
	out := make([]suppression.Entry, 0, len(snaps))
	for _, snap := range snaps {
		var d suppressionDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, 0, classify("ListSuppressions", err)
		}
		out = append(out, d.entry(snap.Ref.ID))
	}
	return out, int(count.N), nil
}

// Suppressed implements store.Suppressions: one batched read.
func (s *Store) Suppressed(ctx context.Context, phones []string) (map[string]bool, error) {
	if len(phones) > store.MaxSuppressedLookup {
		return nil, errs.E(errs.Invalid, "gcpfirestore.Suppressed: %d numbers, at most %d", len(phones), store.MaxSuppressedLookup)
	}
	refs := make([]*firestore.DocumentRef, 0, len(phones))
	for _, p := range phones {
		if records.ValidID(p) {
			refs = append(refs, s.c.Collection(colSuppressed).Doc(p))
		}
	}
	out := map[string]bool{}
	if len(refs) == 0 {
		return out, nil
	}
	snaps, err := s.c.GetAll(ctx, refs)
	if err != nil {
		return nil, classify("Suppressed", err)
	}
	for _, snap := range snaps {
		if snap.Exists() {
			out[snap.Ref.ID] = true
		}
	}
	return out, nil
}
