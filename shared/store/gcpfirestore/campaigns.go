package gcpfirestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
)

// colCampaignHistory holds a campaign's changes: campaigns/{id}/history/{n}, n zero-padded so
// that the documents' own order is the history's.
const colCampaignHistory = "history"

func (s *Store) campaigns() *firestore.CollectionRef { return s.c.Collection(colCampaigns) }

// writeChanges adds c's pending changes to its history in tx, numbered
// from d.HistoryLen, and counts them in d.
func (s *Store) writeChanges(tx *firestore.Transaction, ref *firestore.DocumentRef, d *campaignDoc, c campaign.Campaign) error {
	for _, ch := range c.Changes {
		entry := ref.Collection(colCampaignHistory).Doc(fmt.Sprintf("%06d", d.HistoryLen))
		if err := tx.Create(entry, toChangeEntryDoc(ch)); err != nil {
			return err
		}
		d.HistoryLen++
	}
	return nil
}

// CreateCampaign implements store.Campaigns: the campaign and its first
// history entries in one transaction.
func (s *Store) CreateCampaign(ctx context.Context, c campaign.Campaign) (campaign.Campaign, error) {
	ref := s.campaigns().NewDoc()
	stamp(&c.CreatedAt, &c.UpdatedAt)
	d, err := toCampaignDoc(c)
	if err != nil {
		return campaign.Campaign{}, errs.Wrap(errs.Invalid, err, "gcpfirestore.CreateCampaign")
	}
	err = s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		d.HistoryLen = 0
		if err := s.writeChanges(tx, ref, &d, c); err != nil {
			return err
		}
		return tx.Create(ref, d)
	})
	if err != nil {
		return campaign.Campaign{}, classify("CreateCampaign", err)
	}
	out, err := d.campaign(ref.ID)
	if err != nil {
		return campaign.Campaign{}, fmt.Errorf("gcpfirestore.CreateCampaign: %w", err)
	}
	return out, nil
}

// GetCampaign implements store.Campaigns.
func (s *Store) GetCampaign(ctx context.Context, id string) (campaign.Campaign, error) {
	d, err := get[campaignDoc](ctx, s, "GetCampaign", colCampaigns, id)
	if err != nil {
		return campaign.Campaign{}, err
	}
	c, err := d.campaign(id)
	if err != nil {
		return campaign.Campaign{}, fmt.Errorf("gcpfirestore.GetCampaign: %w", err)
	}
	return c, nil
}

// ListCampaigns implements store.Campaigns.
func (s *Store) ListCampaigns(ctx context.Context, p store.Page) ([]campaign.Campaign, int, error) {
	return listNewest(ctx, s, "ListCampaigns", colCampaigns, p, func(id string, d campaignDoc) (campaign.Campaign, error) {
		return d.campaign(id)
	})
}

// CountCampaigns implements store.Campaigns.
func (s *Store) CountCampaigns(ctx context.Context, st campaign.Status) (int, error) {
	q := s.campaigns().Query
	if st != "" {
		q = q.Where("status", "==", string(st))
	}
	n, err := count(ctx, q)
	if err != nil {
		return 0, classify("CountCampaigns", err)
	}
	return n, nil
}

// CampaignsIn implements store.Campaigns: an equality filter, served by
// the automatic index on status.
func (s *Store) CampaignsIn(ctx context.Context, st campaign.Status, limit int) ([]campaign.Campaign, error) {
	return s.findCampaigns(ctx, "CampaignsIn", s.campaigns().Where("status", "==", string(st)), limit)
}

// DueCampaigns implements store.Campaigns, on the (status, schedule_time)
// index.
func (s *Store) DueCampaigns(ctx context.Context, before time.Time, limit int) ([]campaign.Campaign, error) {
	q := s.campaigns().Where("status", "==", string(campaign.Scheduled)).
		Where("schedule_time", "<=", records.Time(before)).OrderBy("schedule_time", firestore.Asc)
	return s.findCampaigns(ctx, "DueCampaigns", q, limit)
}

// UnsettledCampaigns implements store.Campaigns.
func (s *Store) UnsettledCampaigns(ctx context.Context, limit int) ([]campaign.Campaign, error) {
	return s.findCampaigns(ctx, "UnsettledCampaigns", s.campaigns().Where("unsettled", "==", true), limit)
}

func (s *Store) findCampaigns(ctx context.Context, op string, q firestore.Query, limit int) ([]campaign.Campaign, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.%s: limit must be at least 1", op)
	}
	snaps, err := q.Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify(op, err)
	}
	out := make([]campaign.Campaign, 0, len(snaps))
	for _, snap := range snaps {
		var d campaignDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("gcpfirestore.%s: decode %s: %w", op, snap.Ref.ID, err)
		}
		c, err := d.campaign(snap.Ref.ID)
		if err != nil {
			return nil, fmt.Errorf("gcpfirestore.%s: %w", op, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// UpdateCampaign implements store.Campaigns: the campaign and the history
// entries of the changes fn made, in one transaction. fn may run more
// than once (a contended transaction is retried), so it must only change
// c.
func (s *Store) UpdateCampaign(ctx context.Context, id string, fn func(*campaign.Campaign) error) (campaign.Campaign, error) {
	const op = "UpdateCampaign"
	if !records.ValidID(id) {
		return campaign.Campaign{}, notExist(op, "campaigns/"+id)
	}
	ref := s.campaigns().Doc(id)
	var out campaign.Campaign
	var fnErr error
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		fnErr = nil
		d, cur, err := readCampaign(tx, ref, op)
		if err != nil {
			return err
		}
		next, _ := d.campaign(id) // a second copy: fn may change it and then refuse
		if err := fn(&next); err != nil {
			if errors.Is(err, store.Unchanged) {
				out = cur
				return nil
			}
			fnErr = err
			return err
		}
		next.ID = id
		if err := records.CheckChanges(cur, next); err != nil {
			fnErr = fmt.Errorf("gcpfirestore.%s: %w", op, err)
			return fnErr
		}
		enc, err := toCampaignDoc(next)
		if err != nil {
			fnErr = errs.Wrap(errs.Invalid, err, "gcpfirestore."+op)
			return fnErr
		}
		enc.HistoryLen = d.HistoryLen
		if err := s.writeChanges(tx, ref, &enc, next); err != nil {
			return err
		}
		if out, err = enc.campaign(id); err != nil {
			return err
		}
		return tx.Set(ref, enc)
	}, firestore.MaxAttempts(txAttempts))
	if fnErr != nil && errors.Is(err, fnErr) {
		return campaign.Campaign{}, fnErr
	}
	if err != nil {
		return campaign.Campaign{}, classify(op, err)
	}
	return out, nil
}

// readCampaign reads a campaign in tx: its document and the campaign.
func readCampaign(tx *firestore.Transaction, ref *firestore.DocumentRef, op string) (campaignDoc, campaign.Campaign, error) {
	var d campaignDoc
	snap, err := tx.Get(ref)
	if status.Code(err) == codes.NotFound {
		return d, campaign.Campaign{}, notExist(op, ref.Parent.ID+"/"+ref.ID)
	}
	if err != nil {
		return d, campaign.Campaign{}, err
	}
	if err := snap.DataTo(&d); err != nil {
		return d, campaign.Campaign{}, fmt.Errorf("decode %s: %w", ref.ID, err)
	}
	c, err := d.campaign(ref.ID)
	return d, c, err
}

// CampaignHistory implements store.Campaigns: the history documents in
// their names' order, which is the order they were written in.
func (s *Store) CampaignHistory(ctx context.Context, id string) ([]campaign.Change, error) {
	if _, err := s.GetCampaign(ctx, id); err != nil {
		return nil, err
	}
	snaps, err := s.campaigns().Doc(id).Collection(colCampaignHistory).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("CampaignHistory", err)
	}
	out := make([]campaign.Change, 0, len(snaps))
	for _, snap := range snaps {
		var d changeEntryDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("gcpfirestore.CampaignHistory: decode %s: %w", snap.Ref.ID, err)
		}
		out = append(out, d.change())
	}
	return out, nil
}
