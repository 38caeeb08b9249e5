package gcpfirestore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
)

// ledgerDoc is a person's sends as stored in send_ledger/{phone}: small
// (a cap's worth of entries), one per person, so claims for different
// people never contend.
type ledgerDoc struct {
	Sends      map[string]time.Time `firestore:"sends,omitempty"` // message id → claim time
	LastSentAt time.Time            `firestore:"last_sent_at"`
	// ExpireAt lets the TTL policy delete a ledger LedgerKeep after its
	// last send, when no cap or count can need it.
	ExpireAt time.Time `firestore:"expire_at"`
}

// ledgerClaim is what ClaimMessage records with a claim.
type ledgerClaim struct {
	now func() time.Time
	cap store.FrequencyCap
}

func (s *Store) ledger(phone string) *firestore.DocumentRef {
	return s.c.Collection(colLedger).Doc(phone)
}

// ClaimMessage implements store.SendLedger: UpdateMessageInCampaign's
// transaction, reading the person after the campaign. Firestore locks
// what a transaction reads: a STOP or a suppression written meanwhile
// either committed first and is read, or waits for the claim. Two claims
// for one person both read the ledger and both write it, so one of them
// is retried and counts the other.
func (s *Store) ClaimMessage(ctx context.Context, id string, now func() time.Time, limit store.FrequencyCap, fn func(store.Claim, *message.Message) error) (message.Message, error) {
	if err := records.CheckCap(limit); err != nil {
		return message.Message{}, err
	}
	if now == nil {
		now = time.Now
	}
	return s.updateInCampaign(ctx, "ClaimMessage", id, &ledgerClaim{now: now, cap: limit}, fn)
}

// readPerson reads, in tx and in one round trip, phone's user document,
// suppression entry and (withLedger) send ledger into c. A phone that
// cannot name a document has none of them.
func (s *Store) readPerson(tx *firestore.Transaction, phone string, withLedger bool, c *store.Claim) (map[string]time.Time, error) {
	if !records.ValidID(phone) {
		return nil, nil
	}
	refs := []*firestore.DocumentRef{s.userRef(phone), s.c.Collection(colSuppressed).Doc(phone)}
	if withLedger {
		refs = append(refs, s.ledger(phone))
	}
	snaps, err := tx.GetAll(refs)
	if err != nil {
		return nil, err
	}
	if snaps[0].Exists() {
		if c.User, err = decodeUser(snaps[0]); err != nil {
			return nil, err
		}
		c.HasUser = true
	}
	c.Suppressed = snaps[1].Exists()
	if !withLedger || !snaps[2].Exists() {
		return nil, nil
	}
	var d ledgerDoc
	if err := snaps[2].DataTo(&d); err != nil {
		return nil, fmt.Errorf("decode ledger: %w", err)
	}
	return d.Sends, nil
}

// readLedger reads phone's sends in tx; none for a person without a
// ledger (or a phone that cannot name one).
func (s *Store) readLedger(tx *firestore.Transaction, phone string) (map[string]time.Time, error) {
	if !records.ValidID(phone) {
		return nil, nil
	}
	snap, err := tx.Get(s.ledger(phone))
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d ledgerDoc
	if err := snap.DataTo(&d); err != nil {
		return nil, fmt.Errorf("decode ledger: %w", err)
	}
	return d.Sends, nil
}

// recordClaim writes the claim into phone's ledger in tx. Capped, the
// ledger was read: it is rewritten pruned, with the claim's entry.
// Without a cap nothing was read, and only the last send time is merged
// in (a blind write, which contends with nothing).
func (s *Store) recordClaim(tx *firestore.Transaction, phone, id string, at time.Time, limit store.FrequencyCap, sends map[string]time.Time) error {
	if !records.ValidID(phone) {
		return nil
	}
	expire := at.Add(store.LedgerKeep)
	if !limit.On() {
		return tx.Set(s.ledger(phone), map[string]any{"last_sent_at": at, "expire_at": expire}, firestore.MergeAll)
	}
	kept := records.PruneSends(sends, at.Add(-limit.Window))
	kept[id] = at
	return tx.Set(s.ledger(phone), ledgerDoc{Sends: kept, LastSentAt: at, ExpireAt: expire})
}

// ForgetSend implements store.SendLedger: the entry is deleted by its
// field path, in a transaction that checks it is the claim's.
func (s *Store) ForgetSend(ctx context.Context, phone, id string, claimedAt time.Time) error {
	if !records.ValidID(phone) {
		return nil
	}
	claimedAt = records.Time(claimedAt)
	ref := s.ledger(phone)
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		sends, err := s.readLedger(tx, phone)
		if err != nil {
			return err
		}
		if t, ok := sends[id]; !ok || !t.Equal(claimedAt) {
			return nil
		}
		return tx.Update(ref, []firestore.Update{{FieldPath: firestore.FieldPath{"sends", id}, Value: firestore.Delete}})
	}, firestore.MaxAttempts(txAttempts))
	return classify("ForgetSend", err)
}

// SendsSince implements store.SendLedger: one batched read.
func (s *Store) SendsSince(ctx context.Context, phones []string, since time.Time) (map[string]int, error) {
	since = records.Time(since)
	out := map[string]int{}
	err := s.eachLedger(ctx, "SendsSince", phones, func(phone string, d ledgerDoc) {
		if n := records.SendsAfter(d.Sends, since, ""); n > 0 {
			out[phone] = n
		}
	})
	return out, err
}

// MessagedSince implements store.SendLedger: one batched read.
func (s *Store) MessagedSince(ctx context.Context, phones []string, since time.Time) (map[string]bool, error) {
	since = records.Time(since)
	out := map[string]bool{}
	err := s.eachLedger(ctx, "MessagedSince", phones, func(phone string, d ledgerDoc) {
		if !d.LastSentAt.IsZero() && !d.LastSentAt.Before(since) {
			out[phone] = true
		}
	})
	return out, err
}

// eachLedger reads the ledgers of phones (at most MaxSuppressedLookup) in
// one GetAll and hands fn each that exists.
func (s *Store) eachLedger(ctx context.Context, op string, phones []string, fn func(phone string, d ledgerDoc)) error {
	if len(phones) > store.MaxSuppressedLookup {
		return errs.E(errs.Invalid, "gcpfirestore.%s: %d numbers, at most %d", op, len(phones), store.MaxSuppressedLookup)
	}
	refs := make([]*firestore.DocumentRef, 0, len(phones))
	for _, p := range phones {
		if records.ValidID(p) {
			refs = append(refs, s.ledger(p))
		}
	}
	if len(refs) == 0 {
		return nil
	}
	snaps, err := s.c.GetAll(ctx, refs)
	if err != nil {
		return classify(op, err)
	}
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		var d ledgerDoc
		if err := snap.DataTo(&d); err != nil {
			return classify(op, fmt.Errorf("decode ledger: %w", err))
		}
		fn(snap.Ref.ID, d)
	}
	return nil
}

// PeopleMessagedSince implements store.SendLedger: a count aggregation on
// last_sent_at's automatic index (one field: no composite needed). That
// value rises with every claim, which holds the ledger's writes to about
// 500/s: above a WhatsApp sender's throughput (80/s by default).
func (s *Store) PeopleMessagedSince(ctx context.Context, since time.Time) (int, error) {
	n, err := count(ctx, s.c.Collection(colLedger).Where("last_sent_at", ">=", records.Time(since)))
	return n, classify("PeopleMessagedSince", err)
}
