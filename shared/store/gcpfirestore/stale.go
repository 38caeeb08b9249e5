package gcpfirestore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"golang.org/x/sync/errgroup"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
)

// staleQueries are StaleMessages' two reads, each on its composite index:
// PENDING or QUEUED by updated_at, DEFERRED by scheduled_at.
func (s *Store) staleQueries(campaignID string, before time.Time) []firestore.Query {
	base := s.messages().Where("campaign_id", "==", campaignID)
	return []firestore.Query{
		base.Where("status", "in", []string{string(message.Pending), string(message.Queued)}).
			Where("updated_at", "<", before).OrderBy("updated_at", firestore.Asc),
		base.Where("status", "==", string(message.Deferred)).
			Where("scheduled_at", "<", before).OrderBy("scheduled_at", firestore.Asc),
	}
}

// StaleMessages implements store.Messages: the PENDING and QUEUED ones
// first, then the DEFERRED ones, up to limit in all.
func (s *Store) StaleMessages(ctx context.Context, campaignID string, before time.Time, limit int) ([]message.Message, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.StaleMessages: limit must be at least 1")
	}
	var out []message.Message
	for _, q := range s.staleQueries(campaignID, before) {
		if len(out) >= limit {
			break
		}
		snaps, err := q.Limit(limit - len(out)).Documents(ctx).GetAll()
		if err != nil {
			return nil, classify("StaleMessages", err)
		}
		for _, snap := range snaps {
			m, err := decodeMessage(snap)
			if err != nil {
				return nil, fmt.Errorf("gcpfirestore.StaleMessages: %w", err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// CountStale implements store.Messages with a count aggregation on each
// of StaleMessages' queries, run together.
func (s *Store) CountStale(ctx context.Context, campaignID string, before time.Time) (int, error) {
	qs := s.staleQueries(campaignID, before)
	counts := make([]int64, len(qs))
	g, gctx := errgroup.WithContext(ctx)
	for i, q := range qs {
		g.Go(func() error {
			res, err := q.NewAggregationQuery().WithCount("n").Get(gctx)
			if err != nil {
				return classify("CountStale", err)
			}
			var c struct {
				N int64 `firestore:"n"`
			}
			if err := res.DataTo(&c); err != nil {
				return classify("CountStale", err)
			}
			counts[i] = c.N
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return int(counts[0] + counts[1]), nil
}
