package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/template"
)

// copyCampaign copies c, sharing nothing with it: the snapshots are
// copied deeply. Pending changes are not kept. The times and snapshots
// are copied into one allocation: a campaign is copied for every message
// the fan-out queues (UpdateMessageInCampaign).
func copyCampaign(c campaign.Campaign) campaign.Campaign {
	block := new(struct {
		times [6]time.Time
		tmpl  template.Template
		seg   segment.Segment
	})
	c.CreatedAt = records.Time(c.CreatedAt)
	c.UpdatedAt = records.Time(c.UpdatedAt)
	for i, p := range []**time.Time{&c.StartedAt, &c.CompletedAt, &c.EndedAt, &c.ScheduleTime, &c.QueueCreatedAt, &c.QueueReleasedAt} {
		if *p != nil {
			block.times[i] = records.Time(**p)
			*p = &block.times[i]
		}
	}
	c.FanoutSlices = slices.Clone(c.FanoutSlices)
	c.SlicesDone = slices.Clone(c.SlicesDone)
	c.HeldPages = maps.Clone(c.HeldPages)
	if c.Template != nil {
		block.tmpl = copyTemplate(*c.Template)
		c.Template = &block.tmpl
	}
	if c.Segment != nil {
		block.seg = *c.Segment
		block.seg.CreatedAt, block.seg.UpdatedAt = records.Time(block.seg.CreatedAt), records.Time(block.seg.UpdatedAt)
		block.seg.Definition = copyDefinition(block.seg.Definition)
		c.Segment = &block.seg
	}
	c.Changes = nil
	return c
}

// storedCampaign is copyCampaign for a campaign being written: the
// segment snapshot's definition goes through its JSON, as Firestore keeps
// it. Reads then copy it without JSON, which costs a campaign read (one a
// message, as the fan-out queues them) about a hundred times less.
func storedCampaign(c campaign.Campaign) campaign.Campaign {
	c = copyCampaign(c)
	if c.Segment != nil {
		b, err := json.Marshal(c.Segment.Definition)
		if err == nil {
			c.Segment.Definition = segment.Definition{}
			err = json.Unmarshal(b, &c.Segment.Definition)
		}
		if err != nil {
			panic(fmt.Sprintf("memstore: segment snapshot: %v", err)) // a definition always round-trips
		}
	}
	return c
}

// copyDefinition copies d deeply. Its values are strings, numbers,
// booleans, times and durations, or lists of them (segment.Definition).
func copyDefinition(d segment.Definition) segment.Definition {
	if v, ok := d.Value.([]any); ok {
		d.Value = slices.Clone(v)
	}
	if d.Conditions != nil {
		cs := make([]segment.Definition, len(d.Conditions))
		for i, c := range d.Conditions {
			cs[i] = copyDefinition(c)
		}
		d.Conditions = cs
	}
	if d.Not != nil {
		n := copyDefinition(*d.Not)
		d.Not = &n
	}
	return d
}

// record appends c's pending changes to its history. The caller holds mu.
func (s *Store) record(c campaign.Campaign) {
	for _, ch := range c.Changes {
		s.changes[c.ID] = append(s.changes[c.ID], records.Change(ch))
	}
}

// CreateCampaign implements store.Campaigns.
func (s *Store) CreateCampaign(ctx context.Context, c campaign.Campaign) (campaign.Campaign, error) {
	changes := c.Changes
	c = storedCampaign(c)
	c.ID = newID()
	c.CreatedAt = records.Or(c.CreatedAt, time.Now())
	c.UpdatedAt = records.Or(c.UpdatedAt, c.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.campaigns[c.ID] = c
	c.Changes = changes
	s.record(c)
	return copyCampaign(c), nil
}

// GetCampaign implements store.Campaigns.
func (s *Store) GetCampaign(ctx context.Context, id string) (campaign.Campaign, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.campaigns[id]
	if !ok {
		return campaign.Campaign{}, notExist("GetCampaign", "campaign "+id)
	}
	return copyCampaign(c), nil
}

// CountCampaigns implements store.Campaigns.
func (s *Store) CountCampaigns(ctx context.Context, st campaign.Status) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.campaigns {
		if st == "" || c.Status == st {
			n++
		}
	}
	return n, nil
}

// CampaignsIn implements store.Campaigns.
func (s *Store) CampaignsIn(ctx context.Context, st campaign.Status, limit int) ([]campaign.Campaign, error) {
	return s.findCampaigns("CampaignsIn", limit, func(c campaign.Campaign) bool { return c.Status == st }, nil)
}

// DueCampaigns implements store.Campaigns.
func (s *Store) DueCampaigns(ctx context.Context, before time.Time, limit int) ([]campaign.Campaign, error) {
	return s.findCampaigns("DueCampaigns", limit, func(c campaign.Campaign) bool { return c.Due(before) },
		func(a, b campaign.Campaign) int {
			if d := a.ScheduleTime.Compare(*b.ScheduleTime); d != 0 {
				return d
			}
			return cmp.Compare(a.ID, b.ID)
		})
}

// UnsettledCampaigns implements store.Campaigns.
func (s *Store) UnsettledCampaigns(ctx context.Context, limit int) ([]campaign.Campaign, error) {
	return s.findCampaigns("UnsettledCampaigns", limit, func(c campaign.Campaign) bool { return c.Unsettled }, nil)
}

// findCampaigns lists up to limit campaigns that match, in order when
// order is given.
func (s *Store) findCampaigns(op string, limit int, match func(campaign.Campaign) bool, order func(a, b campaign.Campaign) int) ([]campaign.Campaign, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.%s: limit must be at least 1", op)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []campaign.Campaign
	for _, c := range s.campaigns {
		if match(c) {
			out = append(out, copyCampaign(c))
		}
	}
	if order != nil {
		slices.SortFunc(out, order)
	}
	return out[:min(limit, len(out))], nil
}

// ListCampaigns implements store.Campaigns.
func (s *Store) ListCampaigns(ctx context.Context, p store.Page) ([]campaign.Campaign, int, error) {
	if err := records.CheckPage(p); err != nil {
		return nil, 0, fmt.Errorf("memstore.ListCampaigns: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]campaign.Campaign, 0, len(s.campaigns))
	for _, c := range s.campaigns {
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b campaign.Campaign) int { return newestFirst(a.CreatedAt, b.CreatedAt, a.ID, b.ID) })
	out := []campaign.Campaign{}
	for _, c := range page(all, p) {
		out = append(out, copyCampaign(c))
	}
	return out, len(all), nil
}

// UpdateCampaign implements store.Campaigns. fn runs under the store's
// lock, so it must not call the store.
func (s *Store) UpdateCampaign(ctx context.Context, id string, fn func(*campaign.Campaign) error) (campaign.Campaign, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.campaigns[id]
	if !ok {
		return campaign.Campaign{}, notExist("UpdateCampaign", "campaign "+id)
	}
	next := copyCampaign(cur)
	if err := fn(&next); err != nil {
		if errors.Is(err, store.Unchanged) {
			return copyCampaign(cur), nil
		}
		return campaign.Campaign{}, err
	}
	next.ID = id
	if err := records.CheckChanges(cur, next); err != nil {
		return campaign.Campaign{}, fmt.Errorf("memstore.UpdateCampaign: %w", err)
	}
	s.record(next)
	next = storedCampaign(next)
	s.campaigns[id] = next
	return copyCampaign(next), nil
}

// CampaignHistory implements store.Campaigns.
func (s *Store) CampaignHistory(ctx context.Context, id string) ([]campaign.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.campaigns[id]; !ok {
		return nil, notExist("CampaignHistory", "campaign "+id)
	}
	return slices.Clone(s.changes[id]), nil
}
