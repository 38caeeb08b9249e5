package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/user"
)

// putUser stores u, marking the phone index stale when u is new. The
// caller holds mu.
func (s *Store) putUser(u user.User) {
	if _, ok := s.users[u.Phone]; !ok {
		s.phonesStale = true
	}
	s.users[u.Phone] = u
}

// phoneIndex returns every phone in order. It sorts again only after
// users were added, so paging through a million users sorts them once,
// not once a page. The caller holds mu.
func (s *Store) phoneIndex() []string {
	if s.phonesStale || len(s.phones) != len(s.users) {
		s.phones = s.phones[:0]
		for p := range s.users {
			s.phones = append(s.phones, p)
		}
		slices.Sort(s.phones)
		s.phonesStale = false
	}
	return s.phones
}

// inRange returns the index's phones in r. The caller holds mu.
func (s *Store) inRange(r segment.Range) []string {
	phones := s.phoneIndex()
	lo := sort.SearchStrings(phones, r.From)
	hi := len(phones)
	if r.To != "" {
		hi = sort.SearchStrings(phones, r.To)
	}
	if hi < lo {
		return nil
	}
	return phones[lo:hi]
}

// ScanUsersWhere implements store.Users: always by phone, reading the
// filters as records.Passes does.
func (s *Store) ScanUsersWhere(ctx context.Context, q store.UserScan) ([]user.User, string, error) {
	if _, err := records.CheckScan(q); err != nil {
		return nil, "", fmt.Errorf("memstore.ScanUsersWhere: %w", err)
	}
	after := ""
	if q.After != "" {
		var err error
		if _, after, err = records.DecodeCursor(q.After, false); err != nil {
			return nil, "", fmt.Errorf("memstore.ScanUsersWhere: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	phones := s.inRange(q.IDs)
	start := sort.Search(len(phones), func(i int) bool { return phones[i] > after })
	var out []user.User
	for i, p := range phones[start:] {
		u := s.users[p]
		if !records.PassesAll(u, q.Filters) {
			continue
		}
		if len(out) == q.Limit {
			return out, records.EncodeCursor(nil, out[len(out)-1].Phone), nil
		}
		if out == nil {
			out = make([]user.User, 0, min(q.Limit, len(phones)-start-i))
		}
		out = append(out, copyUser(u))
	}
	return out, "", nil
}
