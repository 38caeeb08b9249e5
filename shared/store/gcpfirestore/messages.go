package gcpfirestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
)

func (s *Store) messages() *firestore.CollectionRef { return s.c.Collection(colMessages) }

// CreateMessages implements store.Messages. A BulkWriter creates each
// message on its own: a taken id fails only its own write, which counts
// as skipped; any other failure is returned after the rest are written,
// so the caller retries the whole slice and the retry skips what landed.
func (s *Store) CreateMessages(ctx context.Context, ms []message.Message) (int, error) {
	for _, m := range ms {
		if !records.ValidID(m.ID) {
			return 0, errs.E(errs.Invalid, "gcpfirestore.CreateMessages: invalid message id %q", m.ID)
		}
	}
	if len(ms) == 0 {
		return 0, nil
	}
	now := time.Now()
	seen := make(map[string]bool, len(ms))
	bw := s.c.BulkWriter(ctx)
	jobs := make([]*firestore.BulkWriterJob, 0, len(ms))
	for _, m := range ms {
		if seen[m.ID] {
			continue // one write per document per BulkWriter; the first wins
		}
		seen[m.ID] = true
		m.CreatedAt = records.Or(m.CreatedAt, now)
		m.UpdatedAt = records.Or(m.UpdatedAt, m.CreatedAt)
		j, err := bw.Create(s.messages().Doc(m.ID), s.messageDoc(m))
		if err != nil {
			bw.End()
			return 0, classify("CreateMessages", err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	n := 0
	var failures []error
	for _, j := range jobs {
		_, err := j.Results()
		switch {
		case err == nil:
			n++
		case status.Code(err) == codes.AlreadyExists:
		default:
			failures = append(failures, err)
		}
	}
	if len(failures) > 0 {
		return n, classify("CreateMessages", fmt.Errorf("%d of %d writes failed: %w", len(failures), len(jobs), failures[0]))
	}
	return n, nil
}

// GetMessage implements store.Messages.
func (s *Store) GetMessage(ctx context.Context, id string) (message.Message, error) {
	d, err := get[messageDoc](ctx, s, "GetMessage", colMessages, id)
	if err != nil {
		return message.Message{}, err
	}
	return d.message(id), nil
}

// GetMessages implements store.Messages.
func (s *Store) GetMessages(ctx context.Context, ids []string) ([]message.Message, error) {
	refs := make([]*firestore.DocumentRef, len(ids))
	for i, id := range ids {
		if !records.ValidID(id) {
			return nil, notExist("GetMessages", "messages/"+id)
		}
		refs[i] = s.messages().Doc(id)
	}
	out := make([]message.Message, 0, len(ids))
	for start := 0; start < len(refs); start += getAllChunk {
		snaps, err := s.c.GetAll(ctx, refs[start:min(start+getAllChunk, len(refs))])
		if err != nil {
			return nil, classify("GetMessages", err)
		}
		for _, snap := range snaps {
			if !snap.Exists() {
				return nil, notExist("GetMessages", "messages/"+snap.Ref.ID)
			}
			m, err := decodeMessage(snap)
			if err != nil {
				return nil, fmt.Errorf("gcpfirestore.GetMessages: %w", err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

func decodeMessage(snap *firestore.DocumentSnapshot) (message.Message, error) {
	var d messageDoc
	if err := snap.DataTo(&d); err != nil {
		return message.Message{}, fmt.Errorf("decode message %s: %w", snap.Ref.ID, err)
	}
	return d.message(snap.Ref.ID), nil
}

// UpdateMessage implements store.Messages. fn may run more than once (a
// contended transaction is retried), so it must only change m.
func (s *Store) UpdateMessage(ctx context.Context, id string, fn func(*message.Message) error) (message.Message, error) {
	if !records.ValidID(id) {
		return message.Message{}, notExist("UpdateMessage", "messages/"+id)
	}
	ref := s.messages().Doc(id)
	var out message.Message
	var fnErr error
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		fnErr = nil
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return notExist("UpdateMessage", "messages/"+id)
		}
		if err != nil {
			return err
		}
		var d messageDoc
		if err := snap.DataTo(&d); err != nil {
			return fmt.Errorf("decode %s: %w", id, err)
		}
		cur, next := d.message(id), d.message(id) // fn may change next and then refuse
		if err := fn(&next); err != nil {
			if errors.Is(err, store.Unchanged) {
				out = cur
				return nil
			}
			fnErr = err
			return err
		}
		sidRef, err := s.sidFree(tx, "UpdateMessage", id, cur, next)
		if err != nil {
			if errs.Is(err, errs.Conflict) || errs.Is(err, errs.Invalid) {
				fnErr = err
			}
			return err
		}
		next.ID = id
		enc := keepExpiry(d, next)
		out = enc.message(id)
		if err := tx.Set(ref, enc); err != nil {
			return err
		}
		if sidRef == nil {
			return nil
		}
		return tx.Set(sidRef, providerSIDDoc{MessageID: id, ExpireAt: enc.ExpireAt})
	}, firestore.MaxAttempts(txAttempts))
	if fnErr != nil && errors.Is(err, fnErr) {
		return message.Message{}, fnErr
	}
	if err != nil {
		return message.Message{}, classify("UpdateMessage", err)
	}
	return out, nil
}

// providerSIDDoc, at provider_sids/{sid}, names the message that records
// a provider sid: created in the transaction that records it, so two
// messages cannot both take one send however they race (a point read and
// write, which locks only that sid). It expires with its message.
type providerSIDDoc struct {
	MessageID string     `firestore:"message_id"`
	ExpireAt  *time.Time `firestore:"expire_at,omitempty"`
}

// sidFree refuses next's provider sid, newly recorded on message id, when
// another message took it; it returns the sid's document to write with
// the message when it is not written yet. A read: call before any write.
func (s *Store) sidFree(tx *firestore.Transaction, op, id string, cur, next message.Message) (*firestore.DocumentRef, error) {
	if next.ProviderSID == "" || next.ProviderSID == cur.ProviderSID {
		return nil, nil
	}
	if !records.ValidID(next.ProviderSID) {
		return nil, errs.E(errs.Invalid, "gcpfirestore.%s: provider sid %q", op, next.ProviderSID)
	}
	ref := s.c.Collection(colProviderSIDs).Doc(next.ProviderSID)
	snap, err := tx.Get(ref)
	if status.Code(err) == codes.NotFound {
		return ref, nil
	}
	if err != nil {
		return nil, err
	}
	var d providerSIDDoc
	if err := snap.DataTo(&d); err != nil {
		return nil, fmt.Errorf("decode provider_sids/%s: %w", next.ProviderSID, err)
	}
	if d.MessageID != id {
		return nil, errs.E(errs.Conflict, "gcpfirestore.%s: provider sid %s is recorded on another message", op, next.ProviderSID)
	}
	return nil, nil
}

// messageDoc is a new message as stored, with its expiry.
func (s *Store) messageDoc(m message.Message) messageDoc {
	d := toMessageDoc(m)
	d.ExpireAt = expiry(d.CreatedAt, s.retention.Messages)
	return d
}

// keepExpiry encodes an updated message with the expiry it was created
// with: it is decided once, by the function that creates messages, so
// the others need no retention setting of their own.
func keepExpiry(prev messageDoc, m message.Message) messageDoc {
	d := toMessageDoc(m)
	d.ExpireAt = prev.ExpireAt
	return d
}

// UpdateMessageInCampaign implements store.Messages: one transaction
// reads the message, then its campaign, and writes the message. Firestore
// locks what a transaction reads, so a campaign update (a pause) either
// commits first and is seen, or waits for this one to commit.
func (s *Store) UpdateMessageInCampaign(ctx context.Context, id string, fn func(campaign.Campaign, *message.Message) error) (message.Message, error) {
	return s.updateInCampaign(ctx, "UpdateMessageInCampaign", id, nil, func(c store.Claim, m *message.Message) error {
		return fn(c.Campaign, m)
	})
}

// updateInCampaign is UpdateMessageInCampaign, and ClaimMessage when
// claim is set: then the person is read after the campaign (their ledger
// only with a cap), the claim's time taken, and the ledger written with
// the message when fn claims it.
func (s *Store) updateInCampaign(ctx context.Context, op, id string, claim *ledgerClaim, fn func(store.Claim, *message.Message) error) (message.Message, error) {
	if !records.ValidID(id) {
		return message.Message{}, notExist(op, "messages/"+id)
	}
	ref := s.messages().Doc(id)
	var out message.Message
	var fnErr error
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		fnErr = nil
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return notExist(op, "messages/"+id)
		}
		if err != nil {
			return err
		}
		var d messageDoc
		if err := snap.DataTo(&d); err != nil {
			return fmt.Errorf("decode %s: %w", id, err)
		}
		if !records.ValidID(d.CampaignID) {
			return notExist(op, "campaigns/"+d.CampaignID)
		}
		_, c, err := readCampaign(tx, s.campaigns().Doc(d.CampaignID), op)
		if err != nil {
			return err
		}
		read := store.Claim{Campaign: c}
		var sends map[string]time.Time
		if claim != nil {
			if sends, err = s.readPerson(tx, d.Phone, claim.cap.On(), &read); err != nil {
				return err
			}
			// Taken in every attempt, after its reads: the attempt that
			// commits is the claim, and the provider is called after it.
			read.At = records.Time(claim.now())
			if claim.cap.On() {
				read.RecentSends = records.SendsAfter(sends, read.At.Add(-claim.cap.Window), id)
			}
		}
		cur, next := d.message(id), d.message(id)
		if err := fn(read, &next); err != nil {
			if errors.Is(err, store.Unchanged) {
				out = cur
				return nil
			}
			fnErr = err
			return err
		}
		sidRef, err := s.sidFree(tx, op, id, cur, next)
		if err != nil {
			if errs.Is(err, errs.Conflict) || errs.Is(err, errs.Invalid) {
				fnErr = err
			}
			return err
		}
		next.ID = id
		enc := keepExpiry(d, next)
		out = enc.message(id)
		if err := tx.Set(ref, enc); err != nil {
			return err
		}
		if sidRef != nil {
			if err := tx.Set(sidRef, providerSIDDoc{MessageID: id, ExpireAt: enc.ExpireAt}); err != nil {
				return err
			}
		}
		if claim == nil || next.Status != message.Sending {
			return nil
		}
		return s.recordClaim(tx, d.Phone, id, read.At, claim.cap, sends)
	}, firestore.MaxAttempts(txAttempts))
	if fnErr != nil && errors.Is(err, fnErr) {
		return message.Message{}, fnErr
	}
	if err != nil {
		return message.Message{}, classify(op, err)
	}
	return out, nil
}

// MessagesIn implements store.Messages, on CountMessages' (campaign_id,
// status) index.
func (s *Store) MessagesIn(ctx context.Context, campaignID string, statuses []message.Status, limit int) ([]message.Message, error) {
	if limit < 1 || len(statuses) == 0 || len(records.Distinct(statuses)) > records.MaxIn {
		return nil, errs.E(errs.Invalid, "gcpfirestore.MessagesIn: want a limit of at least 1 and 1 to %d statuses", records.MaxIn)
	}
	in := make([]string, 0, len(statuses))
	for _, st := range records.Distinct(statuses) {
		in = append(in, string(st))
	}
	snaps, err := s.messages().Where("campaign_id", "==", campaignID).Where("status", "in", in).
		Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("MessagesIn", err)
	}
	out := make([]message.Message, 0, len(snaps))
	for _, snap := range snaps {
		m, err := decodeMessage(snap)
		if err != nil {
			return nil, fmt.Errorf("gcpfirestore.MessagesIn: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// RecentSends implements store.Messages: the last n claims by the
// (campaign_id, claimed_at) index, reading two fields of each. A message
// never claimed holds a null claimed_at, which sorts after every time
// here and is not counted.
func (s *Store) RecentSends(ctx context.Context, campaignID string, n int) (int, int, error) {
	if n < 1 {
		return 0, 0, errs.E(errs.Invalid, "gcpfirestore.RecentSends: n must be at least 1")
	}
	snaps, err := s.messages().Where("campaign_id", "==", campaignID).OrderBy("claimed_at", firestore.Desc).
		Select("status", "claimed_at").Limit(n).Documents(ctx).GetAll()
	if err != nil {
		return 0, 0, classify("RecentSends", err)
	}
	sends, failed := 0, 0
	for _, snap := range snaps {
		if v, _ := snap.DataAt("claimed_at"); v == nil {
			continue
		}
		sends++
		if v, _ := snap.DataAt("status"); v == string(message.Failed) {
			failed++
		}
	}
	return sends, failed, nil
}

// MessageByProviderSID implements store.Messages.
func (s *Store) MessageByProviderSID(ctx context.Context, sid string) (message.Message, error) {
	if sid == "" {
		return message.Message{}, notExist("MessageByProviderSID", "message")
	}
	snaps, err := s.messages().Where("provider_sid", "==", sid).Limit(1).Documents(ctx).GetAll()
	if err != nil {
		return message.Message{}, classify("MessageByProviderSID", err)
	}
	if len(snaps) == 0 {
		return message.Message{}, notExist("MessageByProviderSID", "message "+sid)
	}
	m, err := decodeMessage(snaps[0])
	if err != nil {
		return message.Message{}, fmt.Errorf("gcpfirestore.MessageByProviderSID: %w", err)
	}
	return m, nil
}

// ListMessages implements store.Messages.
func (s *Store) ListMessages(ctx context.Context, f store.MessageFilter) ([]message.Message, error) {
	if f.CampaignID == "" || f.Limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.ListMessages: campaign id and a limit of at least 1 are required")
	}
	snaps, err := s.messages().Where("campaign_id", "==", f.CampaignID).
		OrderBy("updated_at", firestore.Desc).Limit(f.Limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("ListMessages", err)
	}
	out := make([]message.Message, 0, len(snaps))
	for _, snap := range snaps {
		m, err := decodeMessage(snap)
		if err != nil {
			return nil, fmt.Errorf("gcpfirestore.ListMessages: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// HasUnconcluded implements store.Messages.
func (s *Store) HasUnconcluded(ctx context.Context, campaignID string) (bool, error) {
	snaps, err := s.messages().Where("campaign_id", "==", campaignID).Where("concluded", "==", false).
		Select().Limit(1).Documents(ctx).GetAll()
	if err != nil {
		return false, classify("HasUnconcluded", err)
	}
	return len(snaps) > 0, nil
}

// ListUnconcluded implements store.Messages, on HasUnconcluded's index.
func (s *Store) ListUnconcluded(ctx context.Context, campaignID string, limit int) ([]message.Message, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.ListUnconcluded: limit must be at least 1")
	}
	snaps, err := s.messages().Where("campaign_id", "==", campaignID).Where("concluded", "==", false).
		Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("ListUnconcluded", err)
	}
	out := make([]message.Message, 0, len(snaps))
	for _, snap := range snaps {
		m, err := decodeMessage(snap)
		if err != nil {
			return nil, fmt.Errorf("gcpfirestore.ListUnconcluded: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// CountMessages implements store.Messages with one count aggregation per
// figure, run together; the figures are read at nearly, not exactly, the
// same moment. Error codes are tallied from at most
// records.ErrorCodeScanCap failed messages, reading that field only.
func (s *Store) CountMessages(ctx context.Context, campaignID string) (store.Counts, error) {
	c := store.Counts{Skipped: map[message.SkipReason]int{}, ErrorCodes: map[string]int{}, DeferredBy: map[message.DeferReason]int{}}
	base := s.messages().Where("campaign_id", "==", campaignID)
	skipped := base.Where("status", "==", string(message.Skipped))
	failed := base.Where("status", "==", string(message.Failed))
	var skippedTotal int
	perReason := make([]int, len(message.SkipReasons))
	counts := []struct {
		dst *int
		q   firestore.Query
	}{
		{&c.Recipients, base},
		{&c.Queued, base.Where("reached_queued", "==", true)},
		{&c.Sent, base.Where("reached_sent", "==", true)},
		{&c.Delivered, base.Where("reached_delivered", "==", true)},
		{&c.Read, base.Where("reached_read", "==", true)},
		{&c.Failed, failed},
		{&c.Deferred, base.Where("status", "==", string(message.Deferred))},
		{&c.Held, base.Where("status", "==", string(message.Held))},
		{&skippedTotal, skipped},
	}
	for i, r := range message.SkipReasons {
		counts = append(counts, struct {
			dst *int
			q   firestore.Query
		}{&perReason[i], skipped.Where("skip_reason", "==", string(r))})
	}
	perDefer := make([]int, len(message.DeferReasons))
	for i, r := range message.DeferReasons {
		counts = append(counts, struct {
			dst *int
			q   firestore.Query
		}{&perDefer[i], base.Where("deferred_by", "==", string(r))})
	}

	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		failures   []error
		codeCounts map[string]int
	)
	fail := func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}
	for _, cq := range counts {
		wg.Go(func() {
			n, err := count(ctx, cq.q)
			if err != nil {
				fail(err)
				return
			}
			*cq.dst = n
		})
	}
	wg.Go(func() {
		var err error
		if codeCounts, err = tally(ctx, failed, "error_code"); err != nil {
			fail(err)
		}
	})
	wg.Wait()
	if len(failures) > 0 {
		return store.Counts{}, classify("CountMessages", errors.Join(failures...))
	}
	for code, n := range codeCounts {
		if code != "" {
			c.ErrorCodes[code] = n
		}
	}

	for i, r := range message.DeferReasons {
		if perDefer[i] > 0 {
			c.DeferredBy[r] = perDefer[i]
		}
	}
	known := 0
	for i, r := range message.SkipReasons {
		known += perReason[i]
		if perReason[i] > 0 {
			c.Skipped[r] = perReason[i]
		}
	}
	if known != skippedTotal {
		// A reason message.SkipReasons does not list (one kept by an
		// older version): read them all, at most ErrorCodeScanCap.
		reasons, err := tally(ctx, skipped, "skip_reason")
		if err != nil {
			return store.Counts{}, classify("CountMessages", err)
		}
		clear(c.Skipped)
		for r, n := range reasons {
			c.Skipped[message.SkipReason(r)] = n
		}
	}
	return c, nil
}

// tally counts the values of the string field among at most
// records.ErrorCodeScanCap documents of q, reading that field only.
func tally(ctx context.Context, q firestore.Query, field string) (map[string]int, error) {
	it := q.Select(field).Limit(records.ErrorCodeScanCap).Documents(ctx)
	defer it.Stop()
	out := map[string]int{}
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		v, _ := snap.Data()[field].(string)
		out[v]++
	}
}
