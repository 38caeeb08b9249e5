package memstore

import (
	"context"
	"errors"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
)

// ledger is one person's sends: message id to claim time, and the last.
type ledger struct {
	sends map[string]time.Time
	last  time.Time
}

// claim is what ClaimMessage records with a claim.
type claim struct {
	now func() time.Time
	cap store.FrequencyCap
}

// ClaimMessage implements store.SendLedger. fn runs under the store's
// lock, which makes what it reads exact against every other write: the
// count against other claims, consent and suppression against a STOP.
func (s *Store) ClaimMessage(ctx context.Context, id string, now func() time.Time, limit store.FrequencyCap, fn func(store.Claim, *message.Message) error) (message.Message, error) {
	if err := records.CheckCap(limit); err != nil {
		return message.Message{}, err
	}
	if now == nil {
		now = time.Now
	}
	return s.updateInCampaign("ClaimMessage", id, &claim{now: now, cap: limit}, fn)
}

// updateInCampaign is UpdateMessageInCampaign, and ClaimMessage when cl
// is set.
func (s *Store) updateInCampaign(op, id string, cl *claim, fn func(store.Claim, *message.Message) error) (message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.messages[id]
	if !ok {
		return message.Message{}, notExist(op, "message "+id)
	}
	c, ok := s.campaigns[cur.CampaignID]
	if !ok {
		return message.Message{}, notExist(op, "campaign "+cur.CampaignID)
	}
	l := s.ledgers[cur.Phone]
	read := store.Claim{Campaign: copyCampaign(c)}
	if cl != nil {
		read.At = records.Time(cl.now())
		if cl.cap.On() {
			read.RecentSends = records.SendsAfter(l.sends, read.At.Add(-cl.cap.Window), id)
		}
		if u, ok := s.users[cur.Phone]; ok {
			read.User, read.HasUser = copyUser(u), true
		}
		_, read.Suppressed = s.suppressed[cur.Phone]
	}
	next := copyMessage(cur)
	if err := fn(read, &next); err != nil {
		if errors.Is(err, store.Unchanged) {
			return copyMessage(cur), nil
		}
		return message.Message{}, err
	}
	if err := s.sidFree(op, id, cur, next); err != nil {
		return message.Message{}, err
	}
	next = copyMessage(next)
	next.ID = id
	s.messages[id] = next
	if cl != nil && next.Status == message.Sending {
		if s.ledgers == nil {
			s.ledgers = map[string]ledger{}
		}
		if cl.cap.On() {
			l.sends = records.PruneSends(l.sends, read.At.Add(-cl.cap.Window))
			l.sends[id] = read.At
		}
		l.last = read.At
		s.ledgers[cur.Phone] = l
	}
	return copyMessage(next), nil
}

// ForgetSend implements store.SendLedger.
func (s *Store) ForgetSend(ctx context.Context, phone, id string, claimedAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.ledgers[phone].sends[id]; ok && t.Equal(records.Time(claimedAt)) {
		delete(s.ledgers[phone].sends, id)
	}
	return nil
}

// SendsSince implements store.SendLedger.
func (s *Store) SendsSince(ctx context.Context, phones []string, since time.Time) (map[string]int, error) {
	if len(phones) > store.MaxSuppressedLookup {
		return nil, errs.E(errs.Invalid, "memstore.SendsSince: %d numbers, at most %d", len(phones), store.MaxSuppressedLookup)
	}
	since = records.Time(since)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, p := range phones {
		if n := records.SendsAfter(s.ledgers[p].sends, since, ""); n > 0 {
			out[p] = n
		}
	}
	return out, nil
}

// MessagedSince implements store.SendLedger.
func (s *Store) MessagedSince(ctx context.Context, phones []string, since time.Time) (map[string]bool, error) {
	if len(phones) > store.MaxSuppressedLookup {
		return nil, errs.E(errs.Invalid, "memstore.MessagedSince: %d numbers, at most %d", len(phones), store.MaxSuppressedLookup)
	}
	since = records.Time(since)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, p := range phones {
		if l, ok := s.ledgers[p]; ok && !l.last.IsZero() && !l.last.Before(since) {
			out[p] = true
		}
	}
	return out, nil
}

// PeopleMessagedSince implements store.SendLedger.
func (s *Store) PeopleMessagedSince(ctx context.Context, since time.Time) (int, error) {
	since = records.Time(since)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.ledgers {
		if !l.last.Before(since) {
			n++
		}
	}
	return n, nil
}
