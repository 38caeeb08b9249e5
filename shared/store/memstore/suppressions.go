package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/suppression"
)

// Suppress implements store.Suppressions.
func (s *Store) Suppress(ctx context.Context, e suppression.Entry) (suppression.Entry, error) {
	if err := e.Check(); err != nil {
		return e, err
	}
	if !records.ValidID(e.Phone) {
		return e, errs.E(errs.Invalid, "memstore.Suppress: %q cannot name a number", e.Phone)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.suppress(e), nil
}

// suppress stores a checked entry. The caller holds mu.
func (s *Store) suppress(e suppression.Entry) suppression.Entry {
	if s.suppressed == nil {
		s.suppressed = map[string]suppression.Entry{}
	}
	e.CreatedAt = records.Or(e.CreatedAt, time.Now())
	if old, ok := s.suppressed[e.Phone]; ok {
		e.CreatedAt = old.CreatedAt
	}
	s.suppressed[e.Phone] = e
	return e
}

// Unsuppress implements store.Suppressions.
func (s *Store) Unsuppress(ctx context.Context, phone string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.suppressed[phone]; !ok {
		return notExist("Unsuppress", "suppression "+phone)
	}
	delete(s.suppressed, phone)
	return nil
}

// ListSuppressions implements store.Suppressions.
func (s *Store) ListSuppressions(ctx context.Context, p store.Page) ([]suppression.Entry, int, error) {
	if err := records.CheckPage(p); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	all := make([]suppression.Entry, 0, len(s.suppressed))
	for _, e := range s.suppressed {
		all = append(all, e)
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b suppression.Entry) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.Phone, a.Phone)) // as Firestore: __name__ follows the last order
	})
	from := min(p.Offset(), len(all))
	return all[from:min(from+p.PerPage, len(all))], len(all), nil
}

// Suppressed implements store.Suppressions.
func (s *Store) Suppressed(ctx context.Context, phones []string) (map[string]bool, error) {
	if len(phones) > store.MaxSuppressedLookup {
		return nil, errs.E(errs.Invalid, "memstore.Suppressed: %d numbers, at most %d", len(phones), store.MaxSuppressedLookup)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, p := range phones {
		if _, ok := s.suppressed[p]; ok {
			out[p] = true
		}
	}
	return out, nil
}
