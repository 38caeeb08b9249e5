package gcpfirestore

import (
	"context"
	"encoding/json"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
)

// dryRunDoc is a campaign's latest dry run, in dry_runs/{campaign id}. A
// report read whole and never queried: its result is kept as the JSON the
// API serves, with what AdvanceDryRun checks (run id, people read) and
// where the read goes on beside it.
type dryRunDoc struct {
	RunID     string    `firestore:"run_id"`
	Status    string    `firestore:"status"`
	Read      int       `firestore:"read"`
	Next      string    `firestore:"next"`
	Result    string    `firestore:"result"`
	UpdatedAt time.Time `firestore:"updated_at"`
	// ExpireAt lets the TTL policy delete a report dryRunKeep after its
	// last write: a prediction that old says nothing about a launch now.
	ExpireAt time.Time `firestore:"expire_at"`
}

// dryRunKeep is how long a dry run report is kept after its last write.
const dryRunKeep = 30 * 24 * time.Hour

func toDryRunDoc(r dryrun.Result) (dryRunDoc, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return dryRunDoc{}, errs.Wrap(errs.Invalid, err, "gcpfirestore.toDryRunDoc")
	}
	now := time.Now().UTC()
	return dryRunDoc{RunID: r.RunID, Status: string(r.Status), Read: r.Read, Next: r.Next, Result: string(b), UpdatedAt: now, ExpireAt: now.Add(dryRunKeep)}, nil
}

func (s *Store) dryRunRef(campaignID string) (*firestore.DocumentRef, bool) {
	if !records.ValidID(campaignID) {
		return nil, false
	}
	return s.c.Collection(colDryRuns).Doc(campaignID), true
}

// StartDryRun implements store.DryRuns.
func (s *Store) StartDryRun(ctx context.Context, r dryrun.Result) error {
	ref, ok := s.dryRunRef(r.CampaignID)
	if !ok {
		return errs.E(errs.Invalid, "gcpfirestore.StartDryRun: %q cannot name a campaign", r.CampaignID)
	}
	d, err := toDryRunDoc(r)
	if err != nil {
		return err
	}
	_, err = ref.Set(ctx, d)
	return classify("StartDryRun", err)
}

// AdvanceDryRun implements store.DryRuns: in a transaction, so that of
// two deliveries reading the same part of the audience one advances the
// run, and an older run never overwrites a newer.
func (s *Store) AdvanceDryRun(ctx context.Context, r dryrun.Result, from int) error {
	ref, ok := s.dryRunRef(r.CampaignID)
	if !ok {
		return errs.E(errs.Invalid, "gcpfirestore.AdvanceDryRun: %q cannot name a campaign", r.CampaignID)
	}
	d, err := toDryRunDoc(r)
	if err != nil {
		return err
	}
	stale := errs.E(errs.Conflict, "gcpfirestore.AdvanceDryRun: dry run %s of campaign %s is not the latest at %d read", r.RunID, r.CampaignID, from)
	err = s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return stale
		}
		if err != nil {
			return err
		}
		var cur dryRunDoc
		if err := snap.DataTo(&cur); err != nil {
			return err
		}
		if cur.RunID != r.RunID || cur.Read != from || cur.Status != string(dryrun.Running) {
			return stale
		}
		return tx.Set(ref, d)
	})
	if errs.Is(err, errs.Conflict) {
		return err
	}
	return classify("AdvanceDryRun", err)
}

// GetDryRun implements store.DryRuns.
func (s *Store) GetDryRun(ctx context.Context, campaignID string) (dryrun.Result, error) {
	ref, ok := s.dryRunRef(campaignID)
	if !ok {
		return dryrun.Result{}, notExist("GetDryRun", "dry run of campaign "+campaignID)
	}
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return dryrun.Result{}, notExist("GetDryRun", "dry run of campaign "+campaignID)
	}
	if err != nil {
		return dryrun.Result{}, classify("GetDryRun", err)
	}
	var d dryRunDoc
	if err := snap.DataTo(&d); err != nil {
		return dryrun.Result{}, classify("GetDryRun", err)
	}
	var r dryrun.Result
	if err := json.Unmarshal([]byte(d.Result), &r); err != nil {
		return dryrun.Result{}, errs.Wrap(errs.Permanent, err, "gcpfirestore.GetDryRun")
	}
	r.Next = d.Next
	return r, nil
}
