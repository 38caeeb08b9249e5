package memstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
)

// stale reports since when m waits for a send, and whether that is before
// before (StaleMessages).
func stale(m message.Message, before time.Time) (time.Time, bool) {
	switch m.Status {
	case message.Pending, message.Queued:
		return m.UpdatedAt, m.UpdatedAt.Before(before)
	case message.Deferred:
		if m.ScheduledAt != nil {
			return *m.ScheduledAt, m.ScheduledAt.Before(before)
		}
	}
	return time.Time{}, false
}

// StaleMessages implements store.Messages: as Firestore's two queries, the
// PENDING and QUEUED ones first, then the DEFERRED ones.
func (s *Store) StaleMessages(ctx context.Context, campaignID string, before time.Time, limit int) ([]message.Message, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.StaleMessages: limit must be at least 1")
	}
	s.mu.Lock()
	var waiting, deferred []message.Message
	for _, m := range s.messages {
		if _, ok := stale(m, before); ok && m.CampaignID == campaignID {
			if m.Status == message.Deferred {
				deferred = append(deferred, copyMessage(m))
			} else {
				waiting = append(waiting, copyMessage(m))
			}
		}
	}
	s.mu.Unlock()
	since := func(a, b message.Message) int {
		ta, _ := stale(a, before)
		tb, _ := stale(b, before)
		return cmp.Or(ta.Compare(tb), strings.Compare(a.ID, b.ID))
	}
	slices.SortFunc(waiting, since)
	slices.SortFunc(deferred, since)
	out := append(waiting, deferred...)
	return out[:min(len(out), limit)], nil
}

// CountStale implements store.Messages.
func (s *Store) CountStale(ctx context.Context, campaignID string, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.messages {
		if _, ok := stale(m, before); ok && m.CampaignID == campaignID {
			n++
		}
	}
	return n, nil
}
