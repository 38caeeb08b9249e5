package memstore

import (
	"context"
	"encoding/json"

	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/errs"
)

// dryRuns holds each campaign's latest dry run as JSON, as the Firestore
// store does, so a caller's result never aliases the stored one.
func (s *Store) putDryRun(r dryrun.Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "memstore.putDryRun")
	}
	if s.dryRuns == nil {
		s.dryRuns = map[string][]byte{}
	}
	s.dryRuns[r.CampaignID] = b
	return nil
}

// StartDryRun implements store.DryRuns.
func (s *Store) StartDryRun(ctx context.Context, r dryrun.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putDryRun(r)
}

// FinishDryRun implements store.DryRuns.
func (s *Store) FinishDryRun(ctx context.Context, r dryrun.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.dryRun(r.CampaignID)
	if err != nil || cur.RunID != r.RunID {
		return errs.E(errs.Conflict, "memstore.FinishDryRun: dry run %s of campaign %s is not the latest", r.RunID, r.CampaignID)
	}
	return s.putDryRun(r)
}

// GetDryRun implements store.DryRuns.
func (s *Store) GetDryRun(ctx context.Context, campaignID string) (dryrun.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dryRun(campaignID)
}

func (s *Store) dryRun(campaignID string) (dryrun.Result, error) {
	b, ok := s.dryRuns[campaignID]
	if !ok {
		return dryrun.Result{}, notExist("GetDryRun", "dry run of campaign "+campaignID)
	}
	var r dryrun.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return dryrun.Result{}, err
	}
	return r, nil
}
