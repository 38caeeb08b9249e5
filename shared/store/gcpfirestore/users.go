package gcpfirestore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/user"
)

// getAllChunk bounds the documents asked for in one BatchGetDocuments.
const getAllChunk = 300

func (s *Store) userRef(phone string) *firestore.DocumentRef {
	return s.c.Collection(colUsers).Doc(phone)
}

func (s *Store) historyCol(phone string) *firestore.CollectionRef {
	return s.userRef(phone).Collection(colHistory)
}

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u user.User, src consent.Source, ref string) error {
	u, err := checkNewUser(u)
	if err != nil {
		return err
	}
	// One commit for both; Create fails it when the phone is taken.
	err = s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		return s.createUserIn(tx, u, src, ref)
	})
	if status.Code(err) == codes.AlreadyExists {
		return errs.E(errs.Exist, "gcpfirestore.CreateUser: user exists")
	}
	return classify("CreateUser", err)
}

// checkNewUser is u, checked and with its defaults, as CreateUser stores it.
func checkNewUser(u user.User) (user.User, error) {
	if !records.ValidID(u.Phone) {
		return u, errs.E(errs.Invalid, "gcpfirestore.CreateUser: phone_number cannot name a user")
	}
	if u.Consent == "" {
		u.Consent = consent.OptIn
	}
	if !u.Consent.Valid() {
		return u, errs.E(errs.Invalid, "gcpfirestore.CreateUser: unknown consent_state %q", u.Consent)
	}
	u.CreatedAt = records.Or(u.CreatedAt, time.Now())
	u.UpdatedAt = records.Or(u.UpdatedAt, u.CreatedAt)
	return u, nil
}

// createUserIn stages u and its first consent entry in tx.
func (s *Store) createUserIn(tx *firestore.Transaction, u user.User, src consent.Source, ref string) error {
	if err := tx.Create(s.userRef(u.Phone), toUserDoc(u)); err != nil {
		return err
	}
	first := consent.Change{Phone: u.Phone, To: u.Consent, Source: src, Ref: ref, At: u.CreatedAt}
	return tx.Create(s.historyCol(u.Phone).NewDoc(), toChangeDoc(first))
}

// GetUser implements store.Users.
func (s *Store) GetUser(ctx context.Context, phone string) (user.User, error) {
	if !records.ValidID(phone) {
		return user.User{}, notExist("GetUser", "user")
	}
	snap, err := s.userRef(phone).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return user.User{}, notExist("GetUser", "user")
	}
	if err != nil {
		return user.User{}, classify("GetUser", err)
	}
	return decodeUser(snap)
}

func decodeUser(snap *firestore.DocumentSnapshot) (user.User, error) {
	var d userDoc
	if err := snap.DataTo(&d); err != nil {
		return user.User{}, fmt.Errorf("gcpfirestore: decode user: %w", err)
	}
	return d.user(snap.Ref.ID), nil
}

// GetUsers implements store.Users.
func (s *Store) GetUsers(ctx context.Context, phones []string) (map[string]user.User, error) {
	refs := s.userRefs(phones)
	out := make(map[string]user.User, len(refs))
	for start := 0; start < len(refs); start += getAllChunk {
		snaps, err := s.c.GetAll(ctx, refs[start:min(start+getAllChunk, len(refs))])
		if err != nil {
			return nil, classify("GetUsers", err)
		}
		for _, snap := range snaps {
			if !snap.Exists() {
				continue
			}
			u, err := decodeUser(snap)
			if err != nil {
				return nil, fmt.Errorf("gcpfirestore.GetUsers: %w", err)
			}
			out[u.Phone] = u
		}
	}
	return out, nil
}

// userRefs returns a ref per distinct valid phone; an id Firestore cannot
// hold names no user.
func (s *Store) userRefs(phones []string) []*firestore.DocumentRef {
	seen := make(map[string]bool, len(phones))
	refs := make([]*firestore.DocumentRef, 0, len(phones))
	for _, p := range phones {
		if seen[p] || !records.ValidID(p) {
			continue
		}
		seen[p] = true
		refs = append(refs, s.userRef(p))
	}
	return refs
}

func (s *Store) userQuery(f store.UserFilter) firestore.Query {
	q := s.inIDs(s.c.Collection(colUsers).Query, f.IDs)
	if f.Consent != "" {
		q = q.Where("consent_state", "==", string(f.Consent))
	}
	return q
}

// ListUsers implements store.Users. Offset paging reads (and bills) the
// skipped documents; lists past a few thousand users will want keyset
// paging (ScanUsers' shape) instead.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter, p store.Page) ([]user.User, int, error) {
	if err := records.CheckPage(p); err != nil {
		return nil, 0, fmt.Errorf("gcpfirestore.ListUsers: %w", err)
	}
	if err := records.CheckRange(f.IDs); err != nil {
		return nil, 0, fmt.Errorf("gcpfirestore.ListUsers: %w", err)
	}
	q := s.userQuery(f)
	total, err := count(ctx, q)
	if err != nil {
		return nil, 0, classify("ListUsers", err)
	}
	us, err := s.users(ctx, q.OrderBy(firestore.DocumentID, firestore.Asc).Offset(p.Offset()).Limit(p.PerPage))
	if err != nil {
		return nil, 0, classify("ListUsers", err)
	}
	return us, total, nil
}

// ScanUsers implements store.Users.
func (s *Store) ScanUsers(ctx context.Context, after string, limit int) ([]user.User, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.ScanUsers: limit must be at least 1")
	}
	q := s.c.Collection(colUsers).OrderBy(firestore.DocumentID, firestore.Asc).Limit(limit)
	if after != "" {
		q = q.StartAfter(after)
	}
	us, err := s.users(ctx, q)
	if err != nil {
		return nil, classify("ScanUsers", err)
	}
	return us, nil
}

func (s *Store) users(ctx context.Context, q firestore.Query) ([]user.User, error) {
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, err
	}
	out := make([]user.User, 0, len(snaps))
	for _, snap := range snaps {
		u, err := decodeUser(snap)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// SetConsent implements store.Users.
func (s *Store) SetConsent(ctx context.Context, c consent.Change) (user.User, bool, error) {
	if !c.To.Valid() {
		return user.User{}, false, errs.E(errs.Invalid, "gcpfirestore.SetConsent: unknown consent_state %q", c.To)
	}
	if !records.ValidID(c.Phone) {
		return user.User{}, false, notExist("SetConsent", "user")
	}
	c.At = records.Or(c.At, time.Now())
	ref := s.userRef(c.Phone)
	var (
		out     user.User
		changed bool
	)
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return notExist("SetConsent", "user")
		}
		if err != nil {
			return err
		}
		u, err := decodeUser(snap)
		if err != nil {
			return err
		}
		out, changed = u, false
		if c.From != "" && u.Consent != c.From {
			return nil // decided on a state that has moved on
		}
		if u.Consent == c.To {
			return nil // no change
		}
		entry := c
		entry.From = u.Consent
		u.Consent, u.UpdatedAt = c.To, c.At
		if err := tx.Update(ref, []firestore.Update{
			{Path: "consent_state", Value: string(u.Consent)},
			{Path: "updated_at", Value: u.UpdatedAt},
		}); err != nil {
			return err
		}
		out, changed = u, true
		return tx.Create(s.historyCol(c.Phone).NewDoc(), toChangeDoc(entry))
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return user.User{}, false, classify("SetConsent", err)
	}
	return out, changed, nil
}

// ConsentHistory implements store.Users.
func (s *Store) ConsentHistory(ctx context.Context, phone string) ([]consent.Change, error) {
	out := []consent.Change{}
	if !records.ValidID(phone) {
		return out, nil
	}
	it := s.historyCol(phone).OrderBy("at", firestore.Asc).Documents(ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, classify("ConsentHistory", err)
		}
		var d changeDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("gcpfirestore.ConsentHistory: decode: %w", err)
		}
		out = append(out, d.change(phone))
	}
}

// CountUsers implements store.Users.
func (s *Store) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	if err := records.CheckRange(f.IDs); err != nil {
		return 0, fmt.Errorf("gcpfirestore.CountUsers: %w", err)
	}
	n, err := count(ctx, s.userQuery(f))
	if err != nil {
		return 0, classify("CountUsers", err)
	}
	return n, nil
}

// count runs a count aggregation over q.
func count(ctx context.Context, q firestore.Query) (int, error) {
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, err
	}
	var out struct {
		N int64 `firestore:"n"`
	}
	if err := res.DataTo(&out); err != nil {
		return 0, fmt.Errorf("decode count: %w", err)
	}
	return int(out.N), nil
}

// ApplyKeyword implements store.Users. The user document is written
// whenever the keyword is newer than the last, so two keywords of one
// person processed at once conflict and run one after the other.
func (s *Store) ApplyKeyword(ctx context.Context, k consent.Keyword) (user.User, bool, error) {
	if err := checkKeyword("ApplyKeyword", k); err != nil {
		return user.User{}, false, err
	}
	ref := s.userRef(k.Phone)
	var (
		out     user.User
		changed bool
	)
	apply := func(ctx context.Context, tx *firestore.Transaction) error {
		out, changed = user.User{}, false
		snap, err := tx.Get(ref)
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		var u *user.User
		if snap != nil && snap.Exists() {
			d, err := decodeUser(snap)
			if err != nil {
				return err
			}
			u = &d
		}
		out, changed, err = s.applyKeyword(tx, k, u)
		return err
	}
	err := s.c.RunTransaction(ctx, apply, firestore.MaxAttempts(txAttempts))
	if status.Code(err) == codes.AlreadyExists {
		// The user was created meanwhile (an import): decide again on it.
		err = s.c.RunTransaction(ctx, apply, firestore.MaxAttempts(txAttempts))
	}
	if err != nil {
		return user.User{}, false, classify("ApplyKeyword", err)
	}
	return out, changed, nil
}

func checkKeyword(op string, k consent.Keyword) error {
	if !records.ValidID(k.Phone) {
		return errs.E(errs.Invalid, "gcpfirestore.%s: phone_number cannot name a user", op)
	}
	if k.Intent != consent.IntentOptOut && k.Intent != consent.IntentOptIn {
		return errs.E(errs.Invalid, "gcpfirestore.%s: intent %q is not STOP or START", op, k.Intent)
	}
	return nil
}

// applyKeyword writes, in tx, what a checked keyword does to the person
// as tx read them (nil: no user): only writes, so that a transaction
// doing its reads first can apply several.
func (s *Store) applyKeyword(tx *firestore.Transaction, k consent.Keyword, read *user.User) (user.User, bool, error) {
	at := records.Time(records.Or(k.At, time.Now()))
	ref := s.userRef(k.Phone)
	if read == nil {
		if k.Intent != consent.IntentOptOut {
			return user.User{}, false, nil
		}
		u := user.User{Phone: k.Phone, Consent: consent.Stop, Attributes: map[string]any{}, CreatedAt: at, UpdatedAt: at, KeywordAt: &at}
		if err := tx.Create(ref, toUserDoc(u)); err != nil {
			return user.User{}, false, err
		}
		first := consent.Change{Phone: k.Phone, To: consent.Stop, Source: consent.SourceInbound, Ref: k.Ref, At: at}
		return u, true, tx.Create(s.historyCol(k.Phone).NewDoc(), toChangeDoc(first))
	}
	u := *read
	if u.KeywordAt != nil && !at.After(*u.KeywordAt) {
		return u, false, nil // superseded by the person's later word, or a replay
	}
	updates := []firestore.Update{{Path: "keyword_at", Value: at}}
	u.KeywordAt = &at
	changed := false
	if to, change := consent.AfterIntent(u.Consent, k.Intent); change {
		entry := consent.Change{Phone: k.Phone, From: u.Consent, To: to, Source: consent.SourceInbound, Ref: k.Ref, At: at}
		u.Consent, u.UpdatedAt = to, at
		updates = append(updates,
			firestore.Update{Path: "consent_state", Value: string(to)},
			firestore.Update{Path: "updated_at", Value: at})
		if err := tx.Create(s.historyCol(k.Phone).NewDoc(), toChangeDoc(entry)); err != nil {
			return user.User{}, false, err
		}
		changed = true
	}
	return u, changed, tx.Update(ref, updates)
}

// RecordInbound implements store.Users, in a transaction so that the
// latest of two messages processed at once stands.
func (s *Store) RecordInbound(ctx context.Context, phone string, at time.Time) error {
	if !records.ValidID(phone) {
		return nil // names no user
	}
	at = records.Time(records.Or(at, time.Now()))
	ref := s.userRef(phone)
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		u, err := decodeUser(snap)
		if err != nil {
			return err
		}
		if u.LastInboundAt != nil && !at.After(*u.LastInboundAt) {
			return nil
		}
		return tx.Update(ref, []firestore.Update{{Path: "last_inbound_at", Value: at}})
	}, firestore.MaxAttempts(txAttempts))
	return classify("RecordInbound", err)
}

// CountOptOuts implements store.Users: one count over the consent_history
// collection group, on its (from, to, at) index.
func (s *Store) CountOptOuts(ctx context.Context, from, to time.Time) (int, error) {
	q := s.c.CollectionGroup(colHistory).
		Where("from", "==", string(consent.OptIn)).
		Where("to", "in", []string{string(consent.Stop), string(consent.OptOut)}).
		Where("at", ">=", records.Time(from)).Where("at", "<=", records.Time(to))
	n, err := count(ctx, q)
	if err != nil {
		return 0, classify("CountOptOuts", err)
	}
	return n, nil
}

// SetMarketingOptOut implements store.Users, in a transaction so that two
// reports at once record one.
func (s *Store) SetMarketingOptOut(ctx context.Context, phone string, o user.MarketingOptOut) (bool, error) {
	if !records.ValidID(phone) {
		return false, nil
	}
	ref := s.userRef(phone)
	recorded := false
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		recorded = false
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		u, err := decodeUser(snap)
		if err != nil {
			return err
		}
		if u.MarketingOptOut != nil {
			return nil
		}
		recorded = true
		return tx.Update(ref, []firestore.Update{{Path: "marketing_opt_out", Value: toMarketingDoc(&o)}})
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return false, classify("SetMarketingOptOut", err)
	}
	return recorded, nil
}
