package gcpfirestore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
)

// erasedDoc is an erasure.Record as stored.
type erasedDoc struct {
	Consent    string    `firestore:"consent_state,omitempty"`
	Suppressed bool      `firestore:"suppressed"`
	ErasedAt   time.Time `firestore:"erased_at"`
}

// eachInTx runs q (at most limit documents) in one transaction and hands
// each document found to write, returning how many: one batch of an
// erasure, never past a commit's limits.
func (s *Store) eachInTx(ctx context.Context, op string, q firestore.Query, limit int,
	write func(tx *firestore.Transaction, snap *firestore.DocumentSnapshot) error) (int, error) {
	if limit < 1 || limit > 400 {
		return 0, errs.E(errs.Invalid, "gcpfirestore.%s: limit %d, want 1 to 400", op, limit)
	}
	n := 0
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snaps, err := tx.Documents(q.Limit(limit)).GetAll()
		if err != nil {
			return err
		}
		n = len(snaps)
		for _, snap := range snaps {
			if err := write(tx, snap); err != nil {
				return err
			}
		}
		return nil
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return 0, classify(op, err)
	}
	return n, nil
}

// ScrubMessages implements store.Erasures.
func (s *Store) ScrubMessages(ctx context.Context, phone, marker string, limit int) (int, error) {
	if phone == "" {
		return 0, errs.E(errs.Invalid, "gcpfirestore.ScrubMessages: a phone is required")
	}
	q := s.messages().Where("phone_number", "==", phone)
	return s.eachInTx(ctx, "ScrubMessages", q, limit, func(tx *firestore.Transaction, snap *firestore.DocumentSnapshot) error {
		return tx.Update(snap.Ref, []firestore.Update{
			{Path: "phone_number", Value: marker},
			{Path: "body", Value: ""},
			{Path: "content_variables", Value: firestore.Delete},
			{Path: "error_message", Value: ""},
		})
	})
}

// DeleteWebhooksOf implements store.Erasures, on the records' derived
// party (webhookDoc.Party).
func (s *Store) DeleteWebhooksOf(ctx context.Context, ids []string, limit int) (int, error) {
	if len(ids) == 0 || len(ids) > records.MaxIn {
		return 0, errs.E(errs.Invalid, "gcpfirestore.DeleteWebhooksOf: 1 to %d ids are required", records.MaxIn)
	}
	q := s.webhooks().Where("party", "in", ids)
	return s.eachInTx(ctx, "DeleteWebhooksOf", q, limit, func(tx *firestore.Transaction, snap *firestore.DocumentSnapshot) error {
		return tx.Delete(snap.Ref)
	})
}

// DeleteConsentHistory implements store.Erasures.
func (s *Store) DeleteConsentHistory(ctx context.Context, phone string, limit int) (int, error) {
	if !records.ValidID(phone) {
		return 0, nil
	}
	return s.eachInTx(ctx, "DeleteConsentHistory", s.historyCol(phone).Query, limit,
		func(tx *firestore.Transaction, snap *firestore.DocumentSnapshot) error { return tx.Delete(snap.Ref) })
}

// forgetTail is the most consent history entries ForgetUser deletes in
// its own transaction: those written after DeleteConsentHistory ran.
const forgetTail = 100

// ForgetUser implements store.Erasures.
func (s *Store) ForgetUser(ctx context.Context, phone string, r *erasure.Record) error {
	if !records.ValidID(phone) {
		return notExist("ForgetUser", "user")
	}
	ref, supRef := s.userRef(phone), s.c.Collection(colSuppressed).Doc(phone)
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snaps, err := tx.GetAll([]*firestore.DocumentRef{ref, supRef})
		if err != nil {
			return err
		}
		if !snaps[0].Exists() && !snaps[1].Exists() {
			return notExist("ForgetUser", "user or suppression")
		}
		tail, err := tx.Documents(s.historyCol(phone).Limit(forgetTail)).GetAll()
		if err != nil {
			return err
		}
		for _, snap := range tail {
			if err := tx.Delete(snap.Ref); err != nil {
				return err
			}
		}
		for _, d := range []*firestore.DocumentRef{ref, s.ledger(phone), supRef} {
			if err := tx.Delete(d); err != nil {
				return err
			}
		}
		if r == nil {
			return nil
		}
		if !records.ValidID(r.Key) {
			return errs.E(errs.Invalid, "gcpfirestore.ForgetUser: record key %q", r.Key)
		}
		return tx.Set(s.c.Collection(colErased).Doc(r.Key), erasedDoc{
			Consent: string(r.Consent), Suppressed: r.Suppressed, ErasedAt: records.Time(r.ErasedAt),
		})
	}, firestore.MaxAttempts(txAttempts))
	return classify("ForgetUser", err)
}

// ErasedRecords implements store.Erasures: one batched read.
func (s *Store) ErasedRecords(ctx context.Context, keys []string) (map[string]erasure.Record, error) {
	if len(keys) > erasure.MaxLookup {
		return nil, errs.E(errs.Invalid, "gcpfirestore.ErasedRecords: %d keys, at most %d", len(keys), erasure.MaxLookup)
	}
	out := map[string]erasure.Record{}
	refs := make([]*firestore.DocumentRef, 0, len(keys))
	for _, k := range records.Distinct(keys) {
		if records.ValidID(k) {
			refs = append(refs, s.c.Collection(colErased).Doc(k))
		}
	}
	if len(refs) == 0 {
		return out, nil
	}
	snaps, err := s.c.GetAll(ctx, refs)
	if err != nil {
		return nil, classify("ErasedRecords", err)
	}
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		var d erasedDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("gcpfirestore.ErasedRecords: decode: %w", err)
		}
		out[snap.Ref.ID] = erasure.Record{Key: snap.Ref.ID, Consent: consent.State(d.Consent), Suppressed: d.Suppressed, ErasedAt: records.Time(d.ErasedAt)}
	}
	return out, nil
}
