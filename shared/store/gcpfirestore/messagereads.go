package gcpfirestore

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
)

// ScanMessages implements store.Messages: the campaign_id equality
// ordered by document id, which campaign_id's single-field index serves.
func (s *Store) ScanMessages(ctx context.Context, campaignID, after string, limit int) ([]message.Message, error) {
	if campaignID == "" || limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.ScanMessages: campaign id and a limit of at least 1 are required")
	}
	q := s.messages().Where("campaign_id", "==", campaignID).OrderBy(firestore.DocumentID, firestore.Asc).Limit(limit)
	if after != "" {
		q = q.StartAfter(after)
	}
	return s.readMessages(ctx, "ScanMessages", q)
}

// MessagesByStatus implements store.Messages: equality filters ordered
// by document id, which single-field indexes serve.
func (s *Store) MessagesByStatus(ctx context.Context, st message.Status, campaignID, after string, limit int) ([]message.Message, error) {
	if st == "" || limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.MessagesByStatus: a status and a limit of at least 1 are required")
	}
	q := s.messages().Where("status", "==", string(st))
	if campaignID != "" {
		q = q.Where("campaign_id", "==", campaignID)
	}
	q = q.OrderBy(firestore.DocumentID, firestore.Asc).Limit(limit)
	if after != "" {
		q = q.StartAfter(after)
	}
	return s.readMessages(ctx, "MessagesByStatus", q)
}

// CountByStatus implements store.Messages by a count aggregation on the
// queries MessagesByStatus pages.
func (s *Store) CountByStatus(ctx context.Context, st message.Status, campaignID string) (int, error) {
	if st == "" {
		return 0, errs.E(errs.Invalid, "gcpfirestore.CountByStatus: a status is required")
	}
	q := s.messages().Where("status", "==", string(st))
	if campaignID != "" {
		q = q.Where("campaign_id", "==", campaignID)
	}
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, classify("CountByStatus", err)
	}
	var c struct {
		N int64 `firestore:"n"`
	}
	if err := res.DataTo(&c); err != nil {
		return 0, classify("CountByStatus", err)
	}
	return int(c.N), nil
}

// MessagesTo implements store.Messages on the (phone_number, created_at)
// index; a tie goes by document id, descending, as the index orders it.
func (s *Store) MessagesTo(ctx context.Context, phone string, limit int) ([]message.Message, error) {
	if phone == "" || limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.MessagesTo: a phone and a limit of at least 1 are required")
	}
	q := s.messages().Where("phone_number", "==", phone).OrderBy("created_at", firestore.Desc).Limit(limit)
	return s.readMessages(ctx, "MessagesTo", q)
}

func (s *Store) readMessages(ctx context.Context, op string, q firestore.Query) ([]message.Message, error) {
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, classify(op, err)
	}
	out := make([]message.Message, 0, len(snaps))
	for _, snap := range snaps {
		m, err := decodeMessage(snap)
		if err != nil {
			return nil, fmt.Errorf("gcpfirestore.%s: %w", op, err)
		}
		out = append(out, m)
	}
	return out, nil
}
