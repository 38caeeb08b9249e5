package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/user"
)

// ScrubMessages implements store.Erasures.
func (s *Store) ScrubMessages(ctx context.Context, phone, marker string, at time.Time, limit int) (int, error) {
	if phone == "" || limit < 1 {
		return 0, errs.E(errs.Invalid, "memstore.ScrubMessages: a phone and a limit of at least 1 are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, m := range s.messages {
		if n == limit {
			break
		}
		if m.Phone == phone {
			s.messages[id] = records.Scrubbed(m, marker, at)
			n++
		}
	}
	return n, nil
}

// DeleteWebhooksOf implements store.Erasures.
func (s *Store) DeleteWebhooksOf(ctx context.Context, ids []string, limit int) (int, error) {
	if len(ids) == 0 || len(ids) > records.MaxIn || limit < 1 {
		return 0, errs.E(errs.Invalid, "memstore.DeleteWebhooksOf: 1 to %d ids and a limit of at least 1 are required", records.MaxIn)
	}
	n := 0
	for i := range s.webhooks.shards {
		sh := &s.webhooks.shards[i]
		sh.mu.Lock()
		for id, e := range sh.events {
			if n == limit {
				break
			}
			if p := records.WebhookParty(e.event()); p != "" && slices.Contains(ids, p) {
				delete(sh.events, id)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n, nil
}

// DeleteConsentHistory implements store.Erasures.
func (s *Store) DeleteConsentHistory(ctx context.Context, phone string, limit int) (int, error) {
	if limit < 1 {
		return 0, errs.E(errs.Invalid, "memstore.DeleteConsentHistory: limit must be at least 1")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history[phone]
	n := min(limit, len(h))
	if n == len(h) {
		delete(s.history, phone)
	} else {
		s.history[phone] = slices.Clone(h[n:])
	}
	return n, nil
}

// ForgetUser implements store.Erasures.
func (s *Store) ForgetUser(ctx context.Context, phone, key string, at time.Time) (*erasure.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, isUser := s.users[phone]
	_, isSuppressed := s.suppressed[phone]
	if !isUser && !isSuppressed {
		return nil, notExist("ForgetUser", "user or suppression")
	}
	delete(s.users, phone)
	s.phonesStale = true
	delete(s.history, phone)
	delete(s.ledgers, phone)
	delete(s.suppressed, phone)
	if s.erased == nil {
		s.erased = map[string]erasure.Record{}
	}
	r := erasure.Keep(key, u.Consent, isSuppressed, u.MarketingOptOut != nil, records.Time(at))
	if r == nil {
		s.erased[key] = erasure.Erased(key, records.Time(at))
		return nil, nil
	}
	s.erased[key] = *r
	return r, nil
}

// CreateReturningUser implements store.Erasures: the record is read
// and the user created under one hold of the lock.
func (s *Store) CreateReturningUser(ctx context.Context, u user.User, src consent.Source, key string) (*erasure.Record, error) {
	u, err := checkNewUser(u)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.erased[key]
	if !ok || !rec.Kept() {
		return nil, s.createUser(u, src, "")
	}
	u, ref := returningUser(u, rec)
	if err := s.createUser(u, src, ref); err != nil {
		return nil, err
	}
	if rec.Suppressed {
		s.resuppress(u.Phone, u.CreatedAt)
	}
	return &rec, nil
}

// returningUser is u as its record r brings them back, with the ref of
// their first consent entry.
func returningUser(u user.User, r erasure.Record) (user.User, string) {
	ref := ""
	if r.OptedOut() {
		u.Consent, ref = r.Returning(), erasure.KeptOptOutRef
	}
	if r.MarketingOptOut {
		u.MarketingOptOut = &user.MarketingOptOut{At: u.CreatedAt, Source: user.SourceKeptFromErasure}
	}
	return u, ref
}

// resuppress puts phone back on the do-not-message list for an erased
// person who comes back (erasure.Returning); s.mu is held.
func (s *Store) resuppress(phone string, at time.Time) {
	if _, ok := s.suppressed[phone]; ok {
		return
	}
	if s.suppressed == nil {
		s.suppressed = map[string]suppression.Entry{}
	}
	s.suppressed[phone] = suppression.Entry{Phone: phone, Reason: erasure.SuppressedReason, By: "erasure", CreatedAt: records.Time(at)}
}

// CheckErasureKey implements store.Erasures.
func (s *Store) CheckErasureKey(ctx context.Context, fingerprint string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.erasureKey {
	case "":
		s.erasureKey = fingerprint
	case fingerprint:
	default:
		return errs.E(errs.Conflict, "memstore.CheckErasureKey: the erasure key differs from the one records were kept under")
	}
	return nil
}

// ErasedRecords implements store.Erasures.
func (s *Store) ErasedRecords(ctx context.Context, keys []string) (map[string]erasure.Record, error) {
	if len(keys) > erasure.MaxLookup {
		return nil, errs.E(errs.Invalid, "memstore.ErasedRecords: %d keys, at most %d", len(keys), erasure.MaxLookup)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]erasure.Record{}
	for _, k := range keys {
		if r, ok := s.erased[k]; ok {
			out[k] = r
		}
	}
	return out, nil
}
