package gcpfirestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
)

func (s *Store) jobRef(id string) *firestore.DocumentRef {
	return s.c.Collection(colJobs).Doc(id)
}

// CreateImportJob implements store.Imports. The job's counts are not
// stored: GetImportJob tallies them from the batches.
func (s *Store) CreateImportJob(ctx context.Context, j userimport.Job) error {
	if !records.ValidID(j.ID) {
		return errs.E(errs.Invalid, "gcpfirestore.CreateImportJob: invalid job id %q", j.ID)
	}
	j.CreatedAt = records.Or(j.CreatedAt, time.Now())
	j.UpdatedAt = records.Or(j.UpdatedAt, j.CreatedAt)
	_, err := s.jobRef(j.ID).Create(ctx, toJobDoc(j))
	if status.Code(err) == codes.AlreadyExists {
		return errs.E(errs.Exist, "gcpfirestore.CreateImportJob: job %s exists", j.ID)
	}
	return classify("CreateImportJob", err)
}

// UpdateImportJob implements store.Imports.
func (s *Store) UpdateImportJob(ctx context.Context, j userimport.Job, from userimport.State) error {
	if !records.ValidID(j.ID) {
		return notExist("UpdateImportJob", "job "+j.ID)
	}
	ref := s.jobRef(j.ID)
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return notExist("UpdateImportJob", "job "+j.ID)
		}
		if err != nil {
			return err
		}
		var old jobDoc
		if err := snap.DataTo(&old); err != nil {
			return err
		}
		if userimport.State(old.State) != from {
			return errs.E(errs.Conflict, "gcpfirestore.UpdateImportJob: job %s is %s, not %s", j.ID, old.State, from)
		}
		j.CreatedAt = old.CreatedAt
		j.UpdatedAt = records.Or(j.UpdatedAt, time.Now())
		return tx.Set(ref, toJobDoc(j))
	})
	if errs.Is(err, errs.NotExist) || errs.Is(err, errs.Conflict) {
		return err
	}
	return classify("UpdateImportJob", err)
}

// PeekImportJob implements store.Imports.
func (s *Store) PeekImportJob(ctx context.Context, id string) (userimport.Job, error) {
	if !records.ValidID(id) {
		return userimport.Job{}, notExist("PeekImportJob", "job "+id)
	}
	snap, err := s.jobRef(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return userimport.Job{}, notExist("PeekImportJob", "job "+id)
	}
	if err != nil {
		return userimport.Job{}, classify("PeekImportJob", err)
	}
	var d jobDoc
	if err := snap.DataTo(&d); err != nil {
		return userimport.Job{}, fmt.Errorf("gcpfirestore.PeekImportJob: decode: %w", err)
	}
	return d.job(id), nil
}

// GetImportJob implements store.Imports: the job document and one
// aggregation query over its batch markers (their count and the sums of
// their results), run at once. Firestore bills the aggregation one read
// per 1,000 markers it scans, and its latency grows with them too, but
// no marker travels to the client. The two reads are not one snapshot:
// a batch applied between them counts, which is as if it were read a
// moment later.
func (s *Store) GetImportJob(ctx context.Context, id string) (userimport.Job, error) {
	if !records.ValidID(id) {
		return userimport.Job{}, notExist("GetImportJob", "job "+id)
	}
	var t userimport.Totals
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		t, err = s.batchTotals(gctx, id)
		return err
	})
	j, err := s.PeekImportJob(ctx, id)
	if gerr := g.Wait(); err == nil && gerr != nil {
		err = classify("GetImportJob", gerr)
	}
	if err != nil {
		return userimport.Job{}, err
	}
	j.Tally(t)
	return j, nil
}

// batchTotals sums the job's batch markers: count and five sums, in two
// queries run at once (one holds at most five aggregations). A marker
// without a field (refused, before it was kept) adds nothing to its sum.
func (s *Store) batchTotals(ctx context.Context, jobID string) (userimport.Totals, error) {
	var refused int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		res, err := s.jobRef(jobID).Collection(colBatches).NewAggregationQuery().WithSum("refused", "refused").Get(gctx)
		if err != nil {
			return err
		}
		var out struct {
			Refused int64 `firestore:"refused"`
		}
		if err := res.DataTo(&out); err != nil {
			return fmt.Errorf("decode refused rows: %w", err)
		}
		refused = out.Refused
		return nil
	})
	t, err := s.batchSums(ctx, jobID)
	if gerr := g.Wait(); err == nil {
		err = gerr
	}
	t.Refused = int(refused)
	return t, err
}

func (s *Store) batchSums(ctx context.Context, jobID string) (userimport.Totals, error) {
	res, err := s.jobRef(jobID).Collection(colBatches).NewAggregationQuery().
		WithCount("batches").
		WithSum("created", "created").
		WithSum("updated", "updated").
		WithSum("unchanged", "unchanged").
		WithSum("consent_kept", "consent_kept").
		Get(ctx)
	if err != nil {
		return userimport.Totals{}, err
	}
	var out struct {
		Batches     int64 `firestore:"batches"`
		Created     int64 `firestore:"created"`
		Updated     int64 `firestore:"updated"`
		Unchanged   int64 `firestore:"unchanged"`
		ConsentKept int64 `firestore:"consent_kept"`
	}
	if err := res.DataTo(&out); err != nil {
		return userimport.Totals{}, fmt.Errorf("decode batch totals: %w", err)
	}
	return userimport.Totals{
		Batches: int(out.Batches), Created: int(out.Created), Updated: int(out.Updated),
		Unchanged: int(out.Unchanged), ConsentKept: int(out.ConsentKept),
	}, nil
}

// ApplyImportBatch implements store.Imports, in one of two transactions.
// The first reads only the job and creates the marker and every user: it
// commits only if none of them exists yet, when its result is the one
// reading them would give. The second reads the job, the marker and the
// users, then writes the users that changed, their consent history and
// the marker, or returns the marker's result. The second is the one to
// use when the first fails (Firestore refuses the whole commit if one
// document exists) and, since a failed first costs as much as a second,
// when the job's last batch here found people. The first spares a first
// import the locked reads of 200 users: a sixth of the emulator's work
// per batch (BenchmarkImportNewUsers).
func (s *Store) ApplyImportBatch(ctx context.Context, jobID string, batch int, rows []userimport.Row, at time.Time) (userimport.BatchResult, error) {
	switch {
	case batch < 0:
		return userimport.BatchResult{}, errs.E(errs.Invalid, "gcpfirestore.ApplyImportBatch: negative batch %d", batch)
	case len(rows) > store.MaxImportBatch:
		return userimport.BatchResult{}, errs.E(errs.Invalid, "gcpfirestore.ApplyImportBatch: %d rows, at most %d per batch", len(rows), store.MaxImportBatch)
	case !records.ValidID(jobID):
		return userimport.BatchResult{}, notExist("ApplyImportBatch", "job "+jobID)
	}
	for _, r := range rows {
		if err := records.CheckRow(r); err != nil {
			return userimport.BatchResult{}, fmt.Errorf("gcpfirestore.ApplyImportBatch: %w", err)
		}
	}
	b := importBatch{jobID: jobID, batch: batch, rows: rows, at: records.Or(at, time.Now())}
	var (
		res     userimport.BatchResult
		err     error
		readAll = s.foundPeople.has(jobID)
	)
	if !readAll {
		res, err = s.applyAllNew(ctx, b)
		readAll = status.Code(err) == codes.AlreadyExists
	}
	if readAll {
		var found bool
		res, found, err = s.applyRead(ctx, b)
		if err == nil {
			s.foundPeople.set(jobID, found)
		}
	}
	if err != nil {
		return userimport.BatchResult{}, classify("ApplyImportBatch", err)
	}
	return res, nil
}

// jobHints remembers, per job, whether its last batch read here found
// people: a hint to choose the faster transaction, never needed for a
// correct answer. It forgets everything past maxJobHints jobs.
type jobHints struct {
	mu   sync.Mutex
	jobs map[string]bool
}

const maxJobHints = 1000

func (h *jobHints) has(jobID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.jobs[jobID]
}

func (h *jobHints) set(jobID string, found bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !found {
		delete(h.jobs, jobID)
		return
	}
	if h.jobs == nil || len(h.jobs) >= maxJobHints {
		h.jobs = map[string]bool{}
	}
	h.jobs[jobID] = true
}

// importBatch is one ApplyImportBatch call's arguments.
type importBatch struct {
	jobID string
	batch int
	rows  []userimport.Row
	at    time.Time
}

// applyAllNew applies b as if no user of it and not its marker existed,
// creating each: AlreadyExists when one does, and nothing is written.
func (s *Store) applyAllNew(ctx context.Context, b importBatch) (userimport.BatchResult, error) {
	jobRef := s.jobRef(b.jobID)
	var res userimport.BatchResult
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if _, err := tx.Get(jobRef); status.Code(err) == codes.NotFound {
			return notExist("ApplyImportBatch", "job "+b.jobID)
		} else if err != nil {
			return err
		}
		rb, resup, err := s.returning(tx, b, nil)
		if err != nil {
			return err
		}
		p := planBatch(rb, map[string]user.User{})
		res = p.res
		return s.writePlan(tx, rb, p, true, resup)
	}, firestore.MaxAttempts(txAttempts))
	return res, err
}

// applyRead applies b to the users as they are, or returns the result
// stored when b was applied before; found says whether any of b's users
// existed.
func (s *Store) applyRead(ctx context.Context, b importBatch) (res userimport.BatchResult, found bool, err error) {
	phones := make([]string, 0, len(b.rows))
	for _, r := range b.rows {
		phones = append(phones, r.Phone)
	}
	jobRef := s.jobRef(b.jobID)
	markerRef := s.markerRef(b.jobID, b.batch)
	userRefs := s.userRefs(phones)
	refs := append([]*firestore.DocumentRef{jobRef, markerRef}, userRefs...)

	err = s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		found = false
		snaps, err := tx.GetAll(refs)
		if err != nil {
			return err
		}
		if !snaps[0].Exists() {
			return notExist("ApplyImportBatch", "job "+b.jobID)
		}
		if snaps[1].Exists() {
			var d batchDoc
			if err := snaps[1].DataTo(&d); err != nil {
				return fmt.Errorf("decode batch marker: %w", err)
			}
			res = d.result()
			return nil
		}
		current := make(map[string]user.User, len(userRefs))
		for _, snap := range snaps[2:] {
			if !snap.Exists() {
				continue
			}
			u, err := decodeUser(snap)
			if err != nil {
				return err
			}
			current[u.Phone] = u
			found = true
		}
		rb, resup, err := s.returning(tx, b, current)
		if err != nil {
			return err
		}
		p := planBatch(rb, current)
		res = p.res
		return s.writePlan(tx, rb, p, false, resup)
	}, firestore.MaxAttempts(txAttempts))
	return res, found, err
}

func (s *Store) markerRef(jobID string, batch int) *firestore.DocumentRef {
	return s.jobRef(jobID).Collection(colBatches).Doc(strconv.Itoa(batch))
}

// batchPlan is what applying a batch's rows to the users as they were
// does: its result, the users to write (current holds them, as they
// end), in row order, and the consent changes.
type batchPlan struct {
	res     userimport.BatchResult
	current map[string]user.User
	touched []string
	changes []consent.Change
}

// planBatch applies b's rows, in order, to current (the batch's users
// that exist), which it changes: a row sees the rows before it.
func planBatch(b importBatch, current map[string]user.User) batchPlan {
	p := batchPlan{res: userimport.BatchResult{Batch: b.batch}, current: current}
	written := map[string]bool{}
	for _, r := range b.rows {
		cur, exists := current[r.Phone]
		if records.ConsentKept(cur, exists, r) {
			p.res.ConsentKept++
		}
		next, outcome, change := records.ApplyRow(cur, exists, r, b.jobID, b.at)
		outcome.Count(&p.res)
		if !outcome.Writes(change) {
			continue
		}
		if !written[r.Phone] {
			written[r.Phone] = true
			p.touched = append(p.touched, r.Phone)
		}
		current[r.Phone] = next
		if change != nil {
			p.changes = append(p.changes, *change)
		}
	}
	return p
}

// returning reads, in tx, the erased records of b's rows that create a
// user (none in current) and returns b with those rows readied by them
// (erasure.Returning), and the numbers whose suppression comes back.
// Reads only: it runs before any write of tx.
func (s *Store) returning(tx *firestore.Transaction, b importBatch, current map[string]user.User) (importBatch, []string, error) {
	var keys []string
	for _, r := range b.rows {
		if _, exists := current[r.Phone]; !exists && r.ErasureKey != "" {
			keys = append(keys, r.ErasureKey)
		}
	}
	if len(keys) == 0 {
		return b, nil, nil
	}
	recs, err := s.erasedIn(tx, keys)
	if err != nil || len(recs) == 0 {
		return b, nil, err
	}
	rows := slices.Clone(b.rows)
	var resup []string
	for i, r := range rows {
		rec, ok := recs[r.ErasureKey]
		if _, exists := current[r.Phone]; ok && !exists && erasure.Returning(&rows[i], rec) && !slices.Contains(resup, r.Phone) {
			resup = append(resup, r.Phone)
		}
	}
	b.rows = rows
	return b, resup, nil
}

// writePlan stages p's writes in tx: each suppression that comes back
// with an erased person, each user (created when allNew, so
// that the commit fails if one exists; else set over what tx read), each
// consent change, and the marker, which must not exist.
func (s *Store) writePlan(tx *firestore.Transaction, b importBatch, p batchPlan, allNew bool, resuppress []string) error {
	for _, phone := range resuppress {
		if err := s.resuppressIn(tx, phone, b.at); err != nil {
			return err
		}
	}
	for _, phone := range p.touched {
		ref, d := s.userRef(phone), toUserDoc(p.current[phone])
		var err error
		if allNew {
			err = tx.Create(ref, d)
		} else {
			err = tx.Set(ref, d)
		}
		if err != nil {
			return err
		}
	}
	for _, c := range p.changes {
		if err := tx.Create(s.historyCol(c.Phone).NewDoc(), toChangeDoc(c)); err != nil {
			return err
		}
	}
	r := p.res
	return tx.Create(s.markerRef(b.jobID, b.batch), batchDoc{
		Batch: r.Batch, Created: r.Created, Updated: r.Updated, Unchanged: r.Unchanged, ConsentKept: r.ConsentKept,
		Refused: r.Refused, AppliedAt: b.at,
	})
}

// AppliedImportBatches implements store.Imports: the markers' names
// only. A marker exists only under a job that does (ApplyImportBatch
// reads the job in its transaction), so the job is read only when there
// are none, to tell an unknown job from one with nothing applied.
func (s *Store) AppliedImportBatches(ctx context.Context, jobID string) ([]int, error) {
	if !records.ValidID(jobID) {
		return nil, notExist("AppliedImportBatches", "job "+jobID)
	}
	snaps, err := s.jobRef(jobID).Collection(colBatches).Select().Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("AppliedImportBatches", err)
	}
	out := make([]int, 0, len(snaps))
	for _, snap := range snaps {
		n, err := strconv.Atoi(snap.Ref.ID)
		if err != nil {
			return nil, fmt.Errorf("gcpfirestore.AppliedImportBatches: marker %q is not a batch number", snap.Ref.ID)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		if err := s.jobExists(ctx, "AppliedImportBatches", jobID); err != nil {
			return nil, err
		}
	}
	slices.Sort(out) // by name, "10" comes before "2"
	return out, nil
}

// jobExists returns NotExist, named after op, when the job is absent.
func (s *Store) jobExists(ctx context.Context, op, jobID string) error {
	_, err := s.jobRef(jobID).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return notExist(op, "job "+jobID)
	}
	return classify(op, err)
}

// errorsRef names chunk n of a job's row errors; the name is padded for
// whoever reads the console, and queries order by the chunk field.
func (s *Store) errorsRef(jobID string, chunk int) *firestore.DocumentRef {
	return s.jobRef(jobID).Collection(colErrors).Doc(fmt.Sprintf("%06d", chunk))
}

// PutImportErrors implements store.Imports: one document per chunk,
// written in a transaction that checks the job exists.
func (s *Store) PutImportErrors(ctx context.Context, jobID string, chunk int, details []errs.Detail) error {
	switch {
	case chunk < 0:
		return errs.E(errs.Invalid, "gcpfirestore.PutImportErrors: negative chunk %d", chunk)
	case len(details) > store.MaxImportErrorChunk:
		return errs.E(errs.Invalid, "gcpfirestore.PutImportErrors: %d errors, at most %d per chunk", len(details), store.MaxImportErrorChunk)
	case !records.ValidID(jobID):
		return notExist("PutImportErrors", "job "+jobID)
	}
	d := errorsDoc{Chunk: chunk, Details: make([]detailDoc, len(details))}
	for i, e := range details {
		d.Details[i] = detailDoc(e)
	}
	jobRef, ref := s.jobRef(jobID), s.errorsRef(jobID, chunk)
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if _, err := tx.Get(jobRef); status.Code(err) == codes.NotFound {
			return notExist("PutImportErrors", "job "+jobID)
		} else if err != nil {
			return err
		}
		return tx.Set(ref, d)
	}, firestore.MaxAttempts(txAttempts))
	return classify("PutImportErrors", err)
}

// ImportErrors implements store.Imports. The query's results stream:
// one chunk is decoded at a time, however many the job has. Chunks
// exist only under a job that does, so the job is read only when there
// are none.
func (s *Store) ImportErrors(ctx context.Context, jobID string, fn func(errs.Detail) error) error {
	if !records.ValidID(jobID) {
		return notExist("ImportErrors", "job "+jobID)
	}
	it := s.jobRef(jobID).Collection(colErrors).OrderBy("chunk", firestore.Asc).Documents(ctx)
	defer it.Stop()
	found := false
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return classify("ImportErrors", err)
		}
		found = true
		var d errorsDoc
		if err := snap.DataTo(&d); err != nil {
			return fmt.Errorf("gcpfirestore.ImportErrors: decode chunk %s: %w", snap.Ref.ID, err)
		}
		for _, e := range d.Details {
			if err := fn(errs.Detail(e)); err != nil {
				return err
			}
		}
	}
	if !found {
		if err := s.jobExists(ctx, "ImportErrors", jobID); err != nil {
			return err
		}
	}
	refused, err := s.refusals(ctx, jobID)
	if err != nil {
		return classify("ImportErrors", err)
	}
	for _, d := range refused {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// ListImportJobs implements store.Imports. Index: state, updated_at (see
// Indexes).
func (s *Store) ListImportJobs(ctx context.Context, states []userimport.State, before time.Time, limit int) ([]userimport.Job, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "gcpfirestore.ListImportJobs: limit %d: must be at least 1", limit)
	}
	in := records.Distinct(states)
	switch {
	case len(in) == 0:
		return nil, nil
	case len(in) > records.MaxIn:
		return nil, errs.E(errs.Invalid, "gcpfirestore.ListImportJobs: %d states, at most %d", len(in), records.MaxIn)
	}
	snaps, err := s.c.Collection(colJobs).
		Where("state", "in", in).
		Where("updated_at", "<", records.Time(before)).
		OrderBy("updated_at", firestore.Asc).
		OrderBy(firestore.DocumentID, firestore.Asc).
		Limit(limit).
		Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("ListImportJobs", err)
	}
	out := make([]userimport.Job, 0, len(snaps))
	for _, snap := range snaps {
		var d jobDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("gcpfirestore.ListImportJobs: decode %s: %w", snap.Ref.ID, err)
		}
		out = append(out, d.job(snap.Ref.ID))
	}
	return out, nil
}

// RefuseImportBatch implements store.Imports: the marker says the batch
// was refused, so the job can finish; a batch applied or refused before
// keeps its marker.
func (s *Store) RefuseImportBatch(ctx context.Context, jobID string, batch int, rows []userimport.Row, reason string, at time.Time) error {
	if batch < 0 {
		return errs.E(errs.Invalid, "gcpfirestore.RefuseImportBatch: negative batch %d", batch)
	}
	if err := s.jobExists(ctx, "RefuseImportBatch", jobID); err != nil {
		return err
	}
	d := batchDoc{Batch: batch, Refused: len(rows), Reason: reason, AppliedAt: records.Or(at, time.Now())}
	if len(rows) > 0 {
		d.FirstRow, d.LastRow = rows[0].Line, rows[len(rows)-1].Line
	}
	_, err := s.markerRef(jobID, batch).Create(ctx, d)
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return classify("RefuseImportBatch", err)
}

// refusals lists the details of the job's batches refused whole.
func (s *Store) refusals(ctx context.Context, jobID string) ([]errs.Detail, error) {
	snaps, err := s.jobRef(jobID).Collection(colBatches).Where("reason", ">", "").Documents(ctx).GetAll()
	if err != nil {
		return nil, err
	}
	var out []errs.Detail
	for _, snap := range snaps {
		var d batchDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("decode batch marker: %w", err)
		}
		out = append(out, records.Refusal(d.FirstRow, d.LastRow, d.Refused, d.Reason))
	}
	slices.SortFunc(out, func(a, b errs.Detail) int { return a.Row - b.Row })
	return out, nil
}
