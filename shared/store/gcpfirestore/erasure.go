package gcpfirestore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/user"
)

// erasedDoc is an erasure.Record as stored.
type erasedDoc struct {
	Consent         string    `firestore:"consent_state,omitempty"`
	Suppressed      bool      `firestore:"suppressed"`
	MarketingOptOut bool      `firestore:"marketing_opt_out,omitempty"`
	ErasedAt        time.Time `firestore:"erased_at"`
	// ExpireAt, on a record that keeps nothing, is when the TTL policy
	// deletes it (erasure.Record.ExpiresAt); every write sets the whole
	// document, so a record that comes to keep an opt-out loses it.
	ExpireAt *time.Time `firestore:"expire_at,omitempty"`
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
func (s *Store) ScrubMessages(ctx context.Context, phone, marker string, at time.Time, limit int) (int, error) {
	if phone == "" {
		return 0, errs.E(errs.Invalid, "gcpfirestore.ScrubMessages: a phone is required")
	}
	q := s.messages().Where("phone_number", "==", phone)
	return s.eachInTx(ctx, "ScrubMessages", q, limit, func(tx *firestore.Transaction, snap *firestore.DocumentSnapshot) error {
		var prev messageDoc
		if err := snap.DataTo(&prev); err != nil {
			return fmt.Errorf("decode message: %w", err)
		}
		m := prev.message(snap.Ref.ID)
		return tx.Set(snap.Ref, keepExpiry(prev, records.Scrubbed(m, marker, at)))
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

// ForgetUser implements store.Erasures: the record kept is built from
// the user and suppression read in the transaction that deletes them.
func (s *Store) ForgetUser(ctx context.Context, phone, key string, at time.Time) (*erasure.Record, error) {
	if !records.ValidID(phone) {
		return nil, notExist("ForgetUser", "user")
	}
	if !records.ValidID(key) {
		return nil, errs.E(errs.Invalid, "gcpfirestore.ForgetUser: record key %q", key)
	}
	ref, supRef, recRef := s.userRef(phone), s.c.Collection(colSuppressed).Doc(phone), s.c.Collection(colErased).Doc(key)
	var kept *erasure.Record
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		kept = nil
		snaps, err := tx.GetAll([]*firestore.DocumentRef{ref, supRef})
		if err != nil {
			return err
		}
		if !snaps[0].Exists() && !snaps[1].Exists() {
			return notExist("ForgetUser", "user or suppression")
		}
		var u user.User
		if snaps[0].Exists() {
			if u, err = decodeUser(snaps[0]); err != nil {
				return err
			}
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
		kept = erasure.Keep(key, u.Consent, snaps[1].Exists(), u.MarketingOptOut != nil, records.Time(at))
		if kept == nil {
			// An older record says what is no longer so: only the
			// erasure is kept (erasure.Erased).
			return tx.Set(recRef, toErasedDoc(erasure.Erased(key, records.Time(at))))
		}
		return tx.Set(recRef, toErasedDoc(*kept))
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return nil, classify("ForgetUser", err)
	}
	return kept, nil
}

func toErasedDoc(r erasure.Record) erasedDoc {
	d := erasedDoc{Consent: string(r.Consent), Suppressed: r.Suppressed, MarketingOptOut: r.MarketingOptOut, ErasedAt: records.Time(r.ErasedAt)}
	if t := r.ExpiresAt(); !t.IsZero() {
		t = records.Time(t)
		d.ExpireAt = &t
	}
	return d
}

func (d erasedDoc) record(key string) erasure.Record {
	return erasure.Record{Key: key, Consent: consent.State(d.Consent), Suppressed: d.Suppressed, MarketingOptOut: d.MarketingOptOut, ErasedAt: records.Time(d.ErasedAt)}
}

// CreateReturningUser implements store.Erasures: one transaction reads
// the record and creates the user (and the suppression it had).
func (s *Store) CreateReturningUser(ctx context.Context, u user.User, src consent.Source, key string) (*erasure.Record, error) {
	u, err := checkNewUser(u)
	if err != nil {
		return nil, err
	}
	var kept *erasure.Record
	err = s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		kept = nil
		recs, err := s.erasedIn(tx, []string{key})
		if err != nil {
			return err
		}
		nu, ref := u, ""
		if rec, ok := recs[key]; ok && rec.Kept() {
			kept = &rec
			if rec.OptedOut() {
				nu.Consent, ref = rec.Returning(), erasure.KeptOptOutRef
			}
			if rec.MarketingOptOut {
				nu.MarketingOptOut = &user.MarketingOptOut{At: nu.CreatedAt, Source: user.SourceKeptFromErasure}
			}
		}
		if err := s.createUserIn(tx, nu, src, ref); err != nil {
			return err
		}
		if kept != nil && kept.Suppressed {
			return s.resuppressIn(tx, u.Phone, u.CreatedAt)
		}
		return nil
	}, firestore.MaxAttempts(txAttempts))
	if status.Code(err) == codes.AlreadyExists {
		return nil, errs.E(errs.Exist, "gcpfirestore.CreateUser: user exists")
	}
	if err != nil {
		return nil, classify("CreateReturningUser", err)
	}
	return kept, nil
}

// erasedIn reads the records under keys in tx, by key; keys that cannot
// name a document have none.
func (s *Store) erasedIn(tx *firestore.Transaction, keys []string) (map[string]erasure.Record, error) {
	out := map[string]erasure.Record{}
	var refs []*firestore.DocumentRef
	for _, k := range records.Distinct(keys) {
		if k != "" && records.ValidID(k) {
			refs = append(refs, s.c.Collection(colErased).Doc(k))
		}
	}
	if len(refs) == 0 {
		return out, nil
	}
	snaps, err := tx.GetAll(refs)
	if err != nil {
		return nil, err
	}
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		var d erasedDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("decode erased record: %w", err)
		}
		out[snap.Ref.ID] = d.record(snap.Ref.ID)
	}
	return out, nil
}

// resuppressIn puts phone back on the do-not-message list in tx, for an
// erased person who comes back suppressed. Set, not Create: an entry
// made meanwhile is as good.
func (s *Store) resuppressIn(tx *firestore.Transaction, phone string, at time.Time) error {
	return tx.Set(s.c.Collection(colSuppressed).Doc(phone), suppressionDoc{
		Reason: erasure.SuppressedReason, By: "erasure", CreatedAt: records.Time(at),
	})
}

// keyDoc is the erasure key's fingerprint, in erasure_key/fingerprint.
type keyDoc struct {
	Fingerprint string    `firestore:"fingerprint"`
	RecordedAt  time.Time `firestore:"recorded_at"`
}

// CheckErasureKey implements store.Erasures.
func (s *Store) CheckErasureKey(ctx context.Context, fingerprint string) error {
	ref := s.c.Collection(colErasureKey).Doc("fingerprint")
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return tx.Create(ref, keyDoc{Fingerprint: fingerprint, RecordedAt: records.Time(time.Now())})
		}
		if err != nil {
			return err
		}
		var d keyDoc
		if err := snap.DataTo(&d); err != nil {
			return fmt.Errorf("decode erasure key fingerprint: %w", err)
		}
		if d.Fingerprint != fingerprint {
			return errs.E(errs.Conflict, "gcpfirestore.CheckErasureKey: the erasure key differs from the one records were kept under (recorded %s)", d.RecordedAt.Format(time.RFC3339))
		}
		return nil
	}, firestore.MaxAttempts(txAttempts))
	return classify("CheckErasureKey", err)
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
		out[snap.Ref.ID] = d.record(snap.Ref.ID)
	}
	return out, nil
}
