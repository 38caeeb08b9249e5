package memstore

import (
	"context"
	"encoding/json"

	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/errs"
)

// storedDryRun is a campaign's latest dry run as the Firestore store
// keeps it: the result as JSON (so a caller's result never aliases the
// stored one) and where its read goes on beside it.
type storedDryRun struct {
	result []byte
	next   string
}

func (s *Store) putDryRun(r dryrun.Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "memstore.putDryRun")
	}
	if s.dryRuns == nil {
		s.dryRuns = map[string]storedDryRun{}
	}
	s.dryRuns[r.CampaignID] = storedDryRun{result: b, next: r.Next}
	return nil
}

// StartDryRun implements store.DryRuns.
func (s *Store) StartDryRun(ctx context.Context, r dryrun.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putDryRun(r)
}

// AdvanceDryRun implements store.DryRuns.
func (s *Store) AdvanceDryRun(ctx context.Context, r dryrun.Result, from int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.dryRun(r.CampaignID)
	if err != nil || cur.RunID != r.RunID || cur.Read != from || cur.Status != dryrun.Running {
		return errs.E(errs.Conflict, "memstore.AdvanceDryRun: dry run %s of campaign %s is not the latest at %d read", r.RunID, r.CampaignID, from)
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
	d, ok := s.dryRuns[campaignID]
	if !ok {
		return dryrun.Result{}, notExist("GetDryRun", "dry run of campaign "+campaignID)
	}
	var r dryrun.Result
	if err := json.Unmarshal(d.result, &r); err != nil {
		return dryrun.Result{}, err
	}
	r.Next = d.next
	return r, nil
}
