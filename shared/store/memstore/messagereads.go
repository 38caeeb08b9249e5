package memstore

import (
	"context"
	"slices"
	"strings"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
)

// ScanMessages implements store.Messages.
func (s *Store) ScanMessages(ctx context.Context, campaignID, after string, limit int) ([]message.Message, error) {
	if campaignID == "" || limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.ScanMessages: campaign id and a limit of at least 1 are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := slices.DeleteFunc(s.campaignMessages(campaignID), func(m message.Message) bool { return m.ID <= after })
	slices.SortFunc(ms, func(a, b message.Message) int { return strings.Compare(a.ID, b.ID) })
	return copyMessages(ms[:min(limit, len(ms))]), nil
}

// MessagesByStatus implements store.Messages.
func (s *Store) MessagesByStatus(ctx context.Context, st message.Status, campaignID, after string, limit int) ([]message.Message, error) {
	if st == "" || limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.MessagesByStatus: a status and a limit of at least 1 are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ms []message.Message
	for _, m := range s.messages {
		if m.Status == st && m.ID > after && (campaignID == "" || m.CampaignID == campaignID) {
			ms = append(ms, m)
		}
	}
	slices.SortFunc(ms, func(a, b message.Message) int { return strings.Compare(a.ID, b.ID) })
	return copyMessages(ms[:min(limit, len(ms))]), nil
}

// CountByStatus implements store.Messages.
func (s *Store) CountByStatus(ctx context.Context, st message.Status, campaignID string) (int, error) {
	if st == "" {
		return 0, errs.E(errs.Invalid, "memstore.CountByStatus: a status is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.messages {
		if m.Status == st && (campaignID == "" || m.CampaignID == campaignID) {
			n++
		}
	}
	return n, nil
}

// MessagesTo implements store.Messages.
func (s *Store) MessagesTo(ctx context.Context, phone string, limit int) ([]message.Message, error) {
	if phone == "" || limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.MessagesTo: a phone and a limit of at least 1 are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ms []message.Message
	for _, m := range s.messages {
		if m.Phone == phone {
			ms = append(ms, m)
		}
	}
	slices.SortFunc(ms, func(a, b message.Message) int { return newestFirst(a.CreatedAt, b.CreatedAt, a.ID, b.ID) })
	return copyMessages(ms[:min(limit, len(ms))]), nil
}

func copyMessages(ms []message.Message) []message.Message {
	out := make([]message.Message, 0, len(ms))
	for _, m := range ms {
		out = append(out, copyMessage(m))
	}
	return out
}
