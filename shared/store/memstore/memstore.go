// Package memstore is an in-memory store.Store for unit tests and
// benchmarks. It passes the same conformance suite (storetest) as the
// Firestore store, so code tested against it behaves alike in production.
//
// Everything is copied on the way in and on the way out: a caller can never
// change stored state through a map, slice or pointer it holds.
package memstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/health"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// Store keeps everything in maps behind one mutex, but webhook records,
// which sit behind locks of their own (see webhookShards). The zero value
// is not usable; call New.
type Store struct {
	mu    sync.Mutex
	users map[string]user.User
	// phones is every user's phone in order, sorted again only when
	// phonesStale (see phoneIndex).
	phones      []string
	phonesStale bool
	history     map[string][]consent.Change
	jobs        map[string]userimport.Job
	batches     map[string]map[int]userimport.BatchResult
	jobErrors   map[string]map[int][]errs.Detail
	refusals    map[string]map[int]errs.Detail
	segments    map[string]storedSegment
	templates   map[string]template.Template
	campaigns   map[string]campaign.Campaign
	changes     map[string][]campaign.Change // each campaign's history
	messages    map[string]message.Message
	webhooks    webhookShards // their own locks: see webhooks.go
	erasureKey  string        // CheckErasureKey's fingerprint
	problems    map[string]health.Problem
	suppressed  map[string]suppression.Entry // made on first use
	ledgers     map[string]ledger            // by phone; made on first use
	dryRuns     map[string]storedDryRun      // by campaign id; made on first use
	erased      map[string]erasure.Record    // by key; made on first use
}

// storedSegment keeps the definition as JSON text, as Firestore does, so
// that the copy out shares nothing with the copy in.
type storedSegment struct {
	seg        segment.Segment
	definition []byte
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		users:     map[string]user.User{},
		history:   map[string][]consent.Change{},
		jobs:      map[string]userimport.Job{},
		batches:   map[string]map[int]userimport.BatchResult{},
		jobErrors: map[string]map[int][]errs.Detail{},
		refusals:  map[string]map[int]errs.Detail{},
		segments:  map[string]storedSegment{},
		templates: map[string]template.Template{},
		campaigns: map[string]campaign.Campaign{},
		changes:   map[string][]campaign.Change{},
		messages:  map[string]message.Message{},
		webhooks:  webhookShards{seed: maphash.MakeSeed()},
	}
}

// newID returns a random id shaped like a Firestore auto id.
func newID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func notExist(op, what string) error {
	return errs.E(errs.NotExist, "memstore.%s: %s not found", op, what)
}

// page returns the items of p from all.
func page[T any](all []T, p store.Page) []T {
	off := min(p.Offset(), len(all))
	end := min(off+p.PerPage, len(all))
	return all[off:end]
}

// Users

func copyUser(u user.User) user.User {
	u.Attributes = records.Attributes(u.Attributes)
	u.CreatedAt = records.Time(u.CreatedAt)
	u.UpdatedAt = records.Time(u.UpdatedAt)
	u.KeywordAt = records.TimePtr(u.KeywordAt)
	u.LastInboundAt = records.TimePtr(u.LastInboundAt)
	if u.MarketingOptOut != nil {
		o := *u.MarketingOptOut
		o.At = records.Time(o.At)
		u.MarketingOptOut = &o
	}
	return u
}

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u user.User, src consent.Source, ref string) error {
	u, err := checkNewUser(u)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createUser(u, src, ref)
}

// checkNewUser is u, checked and with its defaults, as CreateUser stores it.
func checkNewUser(u user.User) (user.User, error) {
	if !records.ValidID(u.Phone) {
		return u, errs.E(errs.Invalid, "memstore.CreateUser: phone_number cannot name a user")
	}
	if u.Consent == "" {
		u.Consent = consent.OptIn
	}
	if !u.Consent.Valid() {
		return u, errs.E(errs.Invalid, "memstore.CreateUser: unknown consent_state %q", u.Consent)
	}
	u = copyUser(u)
	u.CreatedAt = records.Or(u.CreatedAt, time.Now())
	u.UpdatedAt = records.Or(u.UpdatedAt, u.CreatedAt)
	return u, nil
}

// createUser stores u and its first consent entry; s.mu is held.
func (s *Store) createUser(u user.User, src consent.Source, ref string) error {
	if _, ok := s.users[u.Phone]; ok {
		return errs.E(errs.Exist, "memstore.CreateUser: user exists")
	}
	s.putUser(u)
	s.history[u.Phone] = append(s.history[u.Phone], consent.Change{
		Phone: u.Phone, To: u.Consent, Source: src, Ref: ref, At: u.CreatedAt,
	})
	return nil
}

// GetUser implements store.Users.
func (s *Store) GetUser(ctx context.Context, phone string) (user.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[phone]
	if !ok {
		return user.User{}, notExist("GetUser", "user")
	}
	return copyUser(u), nil
}

// GetUsers implements store.Users.
func (s *Store) GetUsers(ctx context.Context, phones []string) (map[string]user.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]user.User, len(phones))
	for _, p := range phones {
		if u, ok := s.users[p]; ok {
			out[p] = copyUser(u)
		}
	}
	return out, nil
}

// sortedUsers returns the users matching f, by phone. The caller holds mu.
func (s *Store) sortedUsers(f store.UserFilter) []user.User {
	var us []user.User
	for _, p := range s.inRange(f.IDs) {
		if u := s.users[p]; f.Consent == "" || u.Consent == f.Consent {
			us = append(us, u)
		}
	}
	return us
}

// ListUsers implements store.Users.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter, p store.Page) ([]user.User, int, error) {
	if err := records.CheckPage(p); err != nil {
		return nil, 0, fmt.Errorf("memstore.ListUsers: %w", err)
	}
	if err := records.CheckRange(f.IDs); err != nil {
		return nil, 0, fmt.Errorf("memstore.ListUsers: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.sortedUsers(f)
	out := []user.User{}
	for _, u := range page(all, p) {
		out = append(out, copyUser(u))
	}
	return out, len(all), nil
}

// ScanUsers implements store.Users.
func (s *Store) ScanUsers(ctx context.Context, after string, limit int) ([]user.User, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.ScanUsers: limit must be at least 1")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	phones := s.phoneIndex()
	start := sort.Search(len(phones), func(i int) bool { return phones[i] > after })
	out := []user.User{}
	for _, p := range phones[start:min(start+limit, len(phones))] {
		out = append(out, copyUser(s.users[p]))
	}
	return out, nil
}

// SetConsent implements store.Users.
func (s *Store) SetConsent(ctx context.Context, c consent.Change) (user.User, bool, error) {
	if !c.To.Valid() {
		return user.User{}, false, errs.E(errs.Invalid, "memstore.SetConsent: unknown consent_state %q", c.To)
	}
	c.At = records.Or(c.At, time.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[c.Phone]
	if !ok {
		return user.User{}, false, notExist("SetConsent", "user")
	}
	if c.From != "" && u.Consent != c.From {
		return copyUser(u), false, nil
	}
	if u.Consent == c.To {
		return copyUser(u), false, nil
	}
	c.From = u.Consent
	u.Consent = c.To
	u.UpdatedAt = c.At
	s.putUser(u)
	s.history[u.Phone] = append(s.history[u.Phone], c)
	return copyUser(u), true, nil
}

// ApplyKeyword implements store.Users.
func (s *Store) ApplyKeyword(ctx context.Context, k consent.Keyword) (user.User, bool, error) {
	if err := checkKeyword("ApplyKeyword", k); err != nil {
		return user.User{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, changed := s.applyKeyword(k)
	return u, changed, nil
}

func checkKeyword(op string, k consent.Keyword) error {
	if !records.ValidID(k.Phone) {
		return errs.E(errs.Invalid, "memstore.%s: phone_number cannot name a user", op)
	}
	if k.Intent != consent.IntentOptOut && k.Intent != consent.IntentOptIn {
		return errs.E(errs.Invalid, "memstore.%s: intent %q is not STOP or START", op, k.Intent)
	}
	return nil
}

// applyKeyword applies a checked keyword. The caller holds mu.
func (s *Store) applyKeyword(k consent.Keyword) (user.User, bool) {
	at := records.Time(records.Or(k.At, time.Now()))
	u, ok := s.users[k.Phone]
	if !ok {
		if k.Intent != consent.IntentOptOut {
			return user.User{}, false
		}
		u = user.User{Phone: k.Phone, Consent: consent.Stop, Attributes: map[string]any{}, CreatedAt: at, UpdatedAt: at, KeywordAt: &at}
		s.putUser(u)
		s.history[k.Phone] = append(s.history[k.Phone], consent.Change{Phone: k.Phone, To: consent.Stop, Source: consent.SourceInbound, Ref: k.Ref, At: at})
		return copyUser(u), true
	}
	if u.KeywordAt != nil && !at.After(*u.KeywordAt) {
		return copyUser(u), false // superseded by the person's later word, or a replay
	}
	u.KeywordAt = &at
	to, change := consent.AfterIntent(u.Consent, k.Intent)
	if change {
		s.history[k.Phone] = append(s.history[k.Phone], consent.Change{Phone: k.Phone, From: u.Consent, To: to, Source: consent.SourceInbound, Ref: k.Ref, At: at})
		u.Consent, u.UpdatedAt = to, at
	}
	s.putUser(u)
	return copyUser(u), change
}

// RecordInbound implements store.Users.
func (s *Store) RecordInbound(ctx context.Context, phone string, at time.Time) error {
	at = records.Time(records.Or(at, time.Now()))
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[phone]
	if !ok || (u.LastInboundAt != nil && !at.After(*u.LastInboundAt)) {
		return nil
	}
	u.LastInboundAt = &at
	s.users[phone] = u
	return nil
}

// ConsentHistory implements store.Users.
func (s *Store) ConsentHistory(ctx context.Context, phone string) ([]consent.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.history[phone])
	slices.SortStableFunc(out, func(a, b consent.Change) int { return a.At.Compare(b.At) })
	if out == nil {
		out = []consent.Change{}
	}
	return out, nil
}

// SetMarketingOptOut implements store.Users.
func (s *Store) SetMarketingOptOut(ctx context.Context, phone string, o user.MarketingOptOut) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[phone]
	if !ok || u.MarketingOptOut != nil {
		return false, nil
	}
	o.At = records.Time(o.At)
	u.MarketingOptOut = &o
	s.users[phone] = u
	return true, nil
}

// CountOptOuts implements store.Users.
func (s *Store) CountOptOuts(ctx context.Context, from, to time.Time) (int, error) {
	from, to = records.Time(from), records.Time(to)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.history {
		for _, c := range h {
			if c.From == consent.OptIn && (c.To == consent.Stop || c.To == consent.OptOut) &&
				!c.At.Before(from) && !c.At.After(to) {
				n++
			}
		}
	}
	return n, nil
}

// CountUsers implements store.Users.
func (s *Store) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	if err := records.CheckRange(f.IDs); err != nil {
		return 0, fmt.Errorf("memstore.CountUsers: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Consent == "" {
		return len(s.inRange(f.IDs)), nil
	}
	return len(s.sortedUsers(f)), nil
}

// Imports

func copyJob(j userimport.Job) userimport.Job {
	j.Errors = slices.Clone(j.Errors)
	j.CreatedAt = records.Time(j.CreatedAt)
	j.UpdatedAt = records.Time(j.UpdatedAt)
	j.UploadBy = records.Time(j.UploadBy)
	j.PublishedAt = records.Time(j.PublishedAt)
	return j
}

// withoutCounts clears what the rows did: counts come from the batches
// (see GetImportJob), never from the job, as Firestore keeps them.
func withoutCounts(j userimport.Job) userimport.Job {
	j.Applied, j.Created, j.Updated, j.Unchanged, j.ConsentKept = 0, 0, 0, 0, 0
	return j
}

// CreateImportJob implements store.Imports.
func (s *Store) CreateImportJob(ctx context.Context, j userimport.Job) error {
	if !records.ValidID(j.ID) {
		return errs.E(errs.Invalid, "memstore.CreateImportJob: invalid job id %q", j.ID)
	}
	j = withoutCounts(copyJob(j))
	j.CreatedAt = records.Or(j.CreatedAt, time.Now())
	j.UpdatedAt = records.Or(j.UpdatedAt, j.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[j.ID]; ok {
		return errs.E(errs.Exist, "memstore.CreateImportJob: job %s exists", j.ID)
	}
	s.jobs[j.ID] = j
	return nil
}

// UpdateImportJob implements store.Imports.
func (s *Store) UpdateImportJob(ctx context.Context, j userimport.Job, from userimport.State) error {
	j = withoutCounts(copyJob(j))
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.jobs[j.ID]
	if !ok {
		return errs.E(errs.NotExist, "memstore.UpdateImportJob: job %s not found", j.ID)
	}
	if old.State != from {
		return errs.E(errs.Conflict, "memstore.UpdateImportJob: job %s is %s, not %s", j.ID, old.State, from)
	}
	j.CreatedAt = old.CreatedAt
	j.UpdatedAt = records.Or(j.UpdatedAt, time.Now())
	s.jobs[j.ID] = j
	return nil
}

// GetImportJob implements store.Imports.
func (s *Store) GetImportJob(ctx context.Context, id string) (userimport.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return userimport.Job{}, notExist("GetImportJob", "job "+id)
	}
	j = copyJob(j)
	var t userimport.Totals
	for _, r := range s.batches[id] {
		t.Add(r)
	}
	j.Tally(t)
	return j, nil
}

// PeekImportJob implements store.Imports.
func (s *Store) PeekImportJob(ctx context.Context, id string) (userimport.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return userimport.Job{}, notExist("PeekImportJob", "job "+id)
	}
	return copyJob(j), nil
}

// ApplyImportBatch implements store.Imports.
func (s *Store) ApplyImportBatch(ctx context.Context, jobID string, batch int, rows []userimport.Row, at time.Time) (userimport.BatchResult, error) {
	switch {
	case batch < 0:
		return userimport.BatchResult{}, errs.E(errs.Invalid, "memstore.ApplyImportBatch: negative batch %d", batch)
	case len(rows) > store.MaxImportBatch:
		return userimport.BatchResult{}, errs.E(errs.Invalid, "memstore.ApplyImportBatch: %d rows, at most %d per batch", len(rows), store.MaxImportBatch)
	}
	for _, r := range rows {
		if err := records.CheckRow(r); err != nil {
			return userimport.BatchResult{}, fmt.Errorf("memstore.ApplyImportBatch: %w", err)
		}
	}
	at = records.Or(at, time.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[jobID]; !ok {
		return userimport.BatchResult{}, notExist("ApplyImportBatch", "job "+jobID)
	}
	if r, ok := s.batches[jobID][batch]; ok {
		return r, nil
	}
	res := userimport.BatchResult{Batch: batch}
	for _, row := range rows {
		cur, exists := s.users[row.Phone]
		if rec, ok := s.erased[row.ErasureKey]; ok && !exists && row.ErasureKey != "" {
			if erasure.Returning(&row, rec) {
				s.resuppress(row.Phone, at)
			}
		}
		if records.ConsentKept(cur, exists, row) {
			res.ConsentKept++
		}
		next, outcome, change := records.ApplyRow(cur, exists, row, jobID, at)
		outcome.Count(&res)
		if !outcome.Writes(change) {
			continue
		}
		s.putUser(next)
		if change != nil {
			s.history[next.Phone] = append(s.history[next.Phone], *change)
		}
	}
	if s.batches[jobID] == nil {
		s.batches[jobID] = map[int]userimport.BatchResult{}
	}
	s.batches[jobID][batch] = res
	return res, nil
}

// RefuseImportBatch implements store.Imports.
func (s *Store) RefuseImportBatch(ctx context.Context, jobID string, batch int, rows []userimport.Row, reason string, at time.Time) error {
	if batch < 0 {
		return errs.E(errs.Invalid, "memstore.RefuseImportBatch: negative batch %d", batch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[jobID]; !ok {
		return notExist("RefuseImportBatch", "job "+jobID)
	}
	if _, ok := s.batches[jobID][batch]; ok {
		return nil
	}
	if s.batches[jobID] == nil {
		s.batches[jobID] = map[int]userimport.BatchResult{}
	}
	s.batches[jobID][batch] = userimport.BatchResult{Batch: batch, Refused: len(rows), Reason: reason}
	first, last := 0, 0
	if len(rows) > 0 {
		first, last = rows[0].Line, rows[len(rows)-1].Line
	}
	if s.refusals[jobID] == nil {
		s.refusals[jobID] = map[int]errs.Detail{}
	}
	s.refusals[jobID][batch] = records.Refusal(first, last, len(rows), reason)
	return nil
}

// AppliedImportBatches implements store.Imports.
func (s *Store) AppliedImportBatches(ctx context.Context, jobID string) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[jobID]; !ok {
		return nil, notExist("AppliedImportBatches", "job "+jobID)
	}
	out := make([]int, 0, len(s.batches[jobID]))
	for b := range s.batches[jobID] {
		out = append(out, b)
	}
	slices.Sort(out)
	return out, nil
}

// PutImportErrors implements store.Imports.
func (s *Store) PutImportErrors(ctx context.Context, jobID string, chunk int, details []errs.Detail) error {
	switch {
	case chunk < 0:
		return errs.E(errs.Invalid, "memstore.PutImportErrors: negative chunk %d", chunk)
	case len(details) > store.MaxImportErrorChunk:
		return errs.E(errs.Invalid, "memstore.PutImportErrors: %d errors, at most %d per chunk", len(details), store.MaxImportErrorChunk)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[jobID]; !ok {
		return notExist("PutImportErrors", "job "+jobID)
	}
	if s.jobErrors[jobID] == nil {
		s.jobErrors[jobID] = map[int][]errs.Detail{}
	}
	s.jobErrors[jobID][chunk] = slices.Clone(details)
	return nil
}

// ImportErrors implements store.Imports.
func (s *Store) ImportErrors(ctx context.Context, jobID string, fn func(errs.Detail) error) error {
	s.mu.Lock()
	if _, ok := s.jobs[jobID]; !ok {
		s.mu.Unlock()
		return notExist("ImportErrors", "job "+jobID)
	}
	chunks := s.jobErrors[jobID]
	keys := slices.Sorted(maps.Keys(chunks))
	all := make([][]errs.Detail, 0, len(keys)+1)
	for _, k := range keys {
		all = append(all, slices.Clone(chunks[k]))
	}
	refused := slices.Collect(maps.Values(s.refusals[jobID]))
	slices.SortFunc(refused, func(a, b errs.Detail) int { return a.Row - b.Row })
	all = append(all, refused)
	s.mu.Unlock()
	for _, c := range all {
		for _, d := range c {
			if err := fn(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListImportJobs implements store.Imports.
func (s *Store) ListImportJobs(ctx context.Context, states []userimport.State, before time.Time, limit int) ([]userimport.Job, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.ListImportJobs: limit %d: must be at least 1", limit)
	}
	if n := len(records.Distinct(states)); n > records.MaxIn {
		return nil, errs.E(errs.Invalid, "memstore.ListImportJobs: %d states, at most %d", n, records.MaxIn)
	}
	before = records.Time(before) // compared as Firestore keeps times
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []userimport.Job
	for _, j := range s.jobs {
		if slices.Contains(states, j.State) && j.UpdatedAt.Before(before) {
			out = append(out, copyJob(j))
		}
	}
	slices.SortFunc(out, func(a, b userimport.Job) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.ID, b.ID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Segments

func (s *Store) segmentOut(st storedSegment) (segment.Segment, error) {
	seg := st.seg
	seg.Definition = segment.Definition{}
	if err := json.Unmarshal(st.definition, &seg.Definition); err != nil {
		return segment.Segment{}, fmt.Errorf("memstore: segment %s definition: %w", seg.ID, err)
	}
	return seg, nil
}

// CreateSegment implements store.Segments.
func (s *Store) CreateSegment(ctx context.Context, seg segment.Segment) (segment.Segment, error) {
	def, err := json.Marshal(seg.Definition)
	if err != nil {
		return segment.Segment{}, errs.Wrap(errs.Invalid, err, "memstore.CreateSegment: definition")
	}
	seg.ID = newID()
	seg.CreatedAt = records.Or(seg.CreatedAt, time.Now())
	seg.UpdatedAt = records.Or(seg.UpdatedAt, seg.CreatedAt)
	st := storedSegment{seg: seg, definition: def}
	out, err := s.segmentOut(st)
	if err != nil {
		return segment.Segment{}, fmt.Errorf("memstore.CreateSegment: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.segments[seg.ID] = st
	return out, nil
}

// GetSegment implements store.Segments.
func (s *Store) GetSegment(ctx context.Context, id string) (segment.Segment, error) {
	s.mu.Lock()
	st, ok := s.segments[id]
	s.mu.Unlock()
	if !ok {
		return segment.Segment{}, notExist("GetSegment", "segment "+id)
	}
	out, err := s.segmentOut(st)
	if err != nil {
		return segment.Segment{}, fmt.Errorf("memstore.GetSegment: %w", err)
	}
	return out, nil
}

// newestFirst orders by creation time, newest first, then by id
// descending (as Firestore breaks ties).
func newestFirst(at1, at2 time.Time, id1, id2 string) int {
	if c := at2.Compare(at1); c != 0 {
		return c
	}
	return cmp.Compare(id2, id1)
}

// ListSegments implements store.Segments.
func (s *Store) ListSegments(ctx context.Context, p store.Page) ([]segment.Segment, int, error) {
	if err := records.CheckPage(p); err != nil {
		return nil, 0, fmt.Errorf("memstore.ListSegments: %w", err)
	}
	s.mu.Lock()
	all := make([]storedSegment, 0, len(s.segments))
	for _, st := range s.segments {
		all = append(all, st)
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b storedSegment) int {
		return newestFirst(a.seg.CreatedAt, b.seg.CreatedAt, a.seg.ID, b.seg.ID)
	})
	out := []segment.Segment{}
	for _, st := range page(all, p) {
		seg, err := s.segmentOut(st)
		if err != nil {
			return nil, 0, fmt.Errorf("memstore.ListSegments: %w", err)
		}
		out = append(out, seg)
	}
	return out, len(all), nil
}

// UpdateSegment implements store.Segments.
func (s *Store) UpdateSegment(ctx context.Context, id string, fn func(*segment.Segment) error) (segment.Segment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.segments[id]
	if !ok {
		return segment.Segment{}, notExist("UpdateSegment", "segment "+id)
	}
	cur, err := s.segmentOut(st)
	if err != nil {
		return segment.Segment{}, fmt.Errorf("memstore.UpdateSegment: %w", err)
	}
	next, err := s.segmentOut(st) // a second copy: fn may change it and then refuse
	if err != nil {
		return segment.Segment{}, fmt.Errorf("memstore.UpdateSegment: %w", err)
	}
	if err := fn(&next); err != nil {
		if errors.Is(err, store.Unchanged) {
			return cur, nil
		}
		return segment.Segment{}, err
	}
	def, err := json.Marshal(next.Definition)
	if err != nil {
		return segment.Segment{}, errs.Wrap(errs.Invalid, err, "memstore.UpdateSegment: definition")
	}
	next.ID = id
	next.CreatedAt = records.Time(next.CreatedAt)
	next.UpdatedAt = records.Time(next.UpdatedAt)
	st = storedSegment{seg: next, definition: def}
	out, err := s.segmentOut(st)
	if err != nil {
		return segment.Segment{}, fmt.Errorf("memstore.UpdateSegment: %w", err)
	}
	s.segments[id] = st
	return out, nil
}

// Templates

func copyTemplate(t template.Template) template.Template {
	t.Variables = slices.Clone(t.Variables)
	t.ContentVariables = maps.Clone(t.ContentVariables)
	t.Locales = maps.Clone(t.Locales)
	t.CreatedAt = records.Time(t.CreatedAt)
	t.UpdatedAt = records.Time(t.UpdatedAt)
	return t
}

// CreateTemplate implements store.Templates.
func (s *Store) CreateTemplate(ctx context.Context, t template.Template) (template.Template, error) {
	t = copyTemplate(t)
	t.ID = newID()
	t.CreatedAt = records.Or(t.CreatedAt, time.Now())
	t.UpdatedAt = records.Or(t.UpdatedAt, t.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templates[t.ID] = t
	return copyTemplate(t), nil
}

// GetTemplate implements store.Templates.
func (s *Store) GetTemplate(ctx context.Context, id string) (template.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.templates[id]
	if !ok {
		return template.Template{}, notExist("GetTemplate", "template "+id)
	}
	return copyTemplate(t), nil
}

// UpdateTemplate implements store.Templates.
func (s *Store) UpdateTemplate(ctx context.Context, id string, fn func(*template.Template) error) (template.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.templates[id]
	if !ok {
		return template.Template{}, notExist("UpdateTemplate", "template "+id)
	}
	next := copyTemplate(cur)
	if err := fn(&next); err != nil {
		if errors.Is(err, store.Unchanged) {
			return copyTemplate(cur), nil
		}
		return template.Template{}, err
	}
	next = copyTemplate(next)
	next.ID = id
	s.templates[id] = next
	return copyTemplate(next), nil
}

// ListTemplates implements store.Templates.
func (s *Store) ListTemplates(ctx context.Context, p store.Page) ([]template.Template, int, error) {
	if err := records.CheckPage(p); err != nil {
		return nil, 0, fmt.Errorf("memstore.ListTemplates: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]template.Template, 0, len(s.templates))
	for _, t := range s.templates {
		all = append(all, t)
	}
	slices.SortFunc(all, func(a, b template.Template) int { return newestFirst(a.CreatedAt, b.CreatedAt, a.ID, b.ID) })
	out := []template.Template{}
	for _, t := range page(all, p) {
		out = append(out, copyTemplate(t))
	}
	return out, len(all), nil
}

// Messages

func copyMessage(m message.Message) message.Message {
	m.ContentVariables = maps.Clone(m.ContentVariables)
	m.CreatedAt = records.Time(m.CreatedAt)
	m.UpdatedAt = records.Time(m.UpdatedAt)
	for _, p := range []**time.Time{&m.ScheduledAt, &m.QueuedAt, &m.ClaimedAt, &m.SentAt, &m.DeliveredAt, &m.ReadAt, &m.FailedAt, &m.RequeuedAt, &m.HeldAt, &m.ResentFrom} {
		*p = records.TimePtr(*p)
	}
	m.PriorSIDs = slices.Clone(m.PriorSIDs)
	m.DuplicateSIDs = slices.Clone(m.DuplicateSIDs)
	m.Resolutions = slices.Clone(m.Resolutions)
	for i := range m.Resolutions {
		m.Resolutions[i].At = records.Time(m.Resolutions[i].At)
	}
	return m
}

// CreateMessages implements store.Messages.
func (s *Store) CreateMessages(ctx context.Context, ms []message.Message) (int, error) {
	for _, m := range ms {
		if !records.ValidID(m.ID) {
			return 0, errs.E(errs.Invalid, "memstore.CreateMessages: invalid message id %q", m.ID)
		}
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range ms {
		if _, ok := s.messages[m.ID]; ok {
			continue
		}
		m = copyMessage(m)
		m.CreatedAt = records.Or(m.CreatedAt, now)
		m.UpdatedAt = records.Or(m.UpdatedAt, m.CreatedAt)
		s.messages[m.ID] = m
		n++
	}
	return n, nil
}

// GetMessage implements store.Messages.
func (s *Store) GetMessage(ctx context.Context, id string) (message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return message.Message{}, notExist("GetMessage", "message "+id)
	}
	return copyMessage(m), nil
}

// GetMessages implements store.Messages.
func (s *Store) GetMessages(ctx context.Context, ids []string) ([]message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]message.Message, 0, len(ids))
	for _, id := range ids {
		m, ok := s.messages[id]
		if !ok {
			return nil, notExist("GetMessages", "message "+id)
		}
		out = append(out, copyMessage(m))
	}
	return out, nil
}

// UpdateMessage implements store.Messages. fn runs under the store's
// lock, so it must not call the store.
func (s *Store) UpdateMessage(ctx context.Context, id string, fn func(*message.Message) error) (message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.messages[id]
	if !ok {
		return message.Message{}, notExist("UpdateMessage", "message "+id)
	}
	next := copyMessage(cur)
	if err := fn(&next); err != nil {
		if errors.Is(err, store.Unchanged) {
			return copyMessage(cur), nil
		}
		return message.Message{}, err
	}
	if err := s.sidFree("UpdateMessage", id, cur, next); err != nil {
		return message.Message{}, err
	}
	next = copyMessage(next)
	next.ID = id
	s.messages[id] = next
	return copyMessage(next), nil
}

// sidFree refuses next's provider sid, newly recorded on message id, when
// another message records it. The caller holds mu.
func (s *Store) sidFree(op, id string, cur, next message.Message) error {
	if next.ProviderSID == "" || next.ProviderSID == cur.ProviderSID {
		return nil
	}
	for oid, m := range s.messages {
		if oid != id && m.ProviderSID == next.ProviderSID {
			return errs.E(errs.Conflict, "memstore.%s: provider sid %s is recorded on another message", op, next.ProviderSID)
		}
	}
	return nil
}

// UpdateMessageInCampaign implements store.Messages. fn runs under the
// store's lock, which makes it exact against campaign updates.
func (s *Store) UpdateMessageInCampaign(ctx context.Context, id string, fn func(campaign.Campaign, *message.Message) error) (message.Message, error) {
	return s.updateInCampaign("UpdateMessageInCampaign", id, nil, func(c store.Claim, m *message.Message) error {
		return fn(c.Campaign, m)
	})
}

// MessagesIn implements store.Messages.
func (s *Store) MessagesIn(ctx context.Context, campaignID string, statuses []message.Status, limit int) ([]message.Message, error) {
	if limit < 1 || len(statuses) == 0 || len(records.Distinct(statuses)) > records.MaxIn {
		return nil, errs.E(errs.Invalid, "memstore.MessagesIn: want a limit of at least 1 and 1 to %d statuses", records.MaxIn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []message.Message
	for _, m := range s.messages {
		if m.CampaignID == campaignID && slices.Contains(statuses, m.Status) && len(out) < limit {
			out = append(out, copyMessage(m))
		}
	}
	return out, nil
}

// RecentSends implements store.Messages.
func (s *Store) RecentSends(ctx context.Context, campaignID string, n int) (int, int, error) {
	if n < 1 {
		return 0, 0, errs.E(errs.Invalid, "memstore.RecentSends: n must be at least 1")
	}
	s.mu.Lock()
	var claimed []message.Message
	for _, m := range s.messages {
		if m.CampaignID == campaignID && m.ClaimedAt != nil {
			claimed = append(claimed, m)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(claimed, func(a, b message.Message) int { return newestFirst(*a.ClaimedAt, *b.ClaimedAt, a.ID, b.ID) })
	claimed = claimed[:min(n, len(claimed))]
	failed := 0
	for _, m := range claimed {
		if m.Status == message.Failed {
			failed++
		}
	}
	return len(claimed), failed, nil
}

// MessageByProviderSID implements store.Messages.
func (s *Store) MessageByProviderSID(ctx context.Context, sid string) (message.Message, error) {
	if sid == "" {
		return message.Message{}, notExist("MessageByProviderSID", "message")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.ProviderSID == sid {
			return copyMessage(m), nil
		}
	}
	return message.Message{}, notExist("MessageByProviderSID", "message "+sid)
}

// campaignMessages returns campaignID's messages. The caller holds mu.
func (s *Store) campaignMessages(campaignID string) []message.Message {
	var ms []message.Message
	for _, m := range s.messages {
		if m.CampaignID == campaignID {
			ms = append(ms, m)
		}
	}
	return ms
}

// ListMessages implements store.Messages.
func (s *Store) ListMessages(ctx context.Context, f store.MessageFilter) ([]message.Message, error) {
	if f.CampaignID == "" || f.Limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.ListMessages: campaign id and a limit of at least 1 are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.campaignMessages(f.CampaignID)
	slices.SortFunc(ms, func(a, b message.Message) int { return newestFirst(a.UpdatedAt, b.UpdatedAt, a.ID, b.ID) })
	out := []message.Message{}
	for _, m := range ms[:min(f.Limit, len(ms))] {
		out = append(out, copyMessage(m))
	}
	return out, nil
}

// HasUnconcluded implements store.Messages.
func (s *Store) HasUnconcluded(ctx context.Context, campaignID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.CampaignID == campaignID && !m.Status.Concluded() {
			return true, nil
		}
	}
	return false, nil
}

// ListUnconcluded implements store.Messages.
func (s *Store) ListUnconcluded(ctx context.Context, campaignID string, limit int) ([]message.Message, error) {
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "memstore.ListUnconcluded: limit must be at least 1")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []message.Message
	for _, m := range s.messages {
		if m.CampaignID == campaignID && !m.Status.Concluded() && len(out) < limit {
			out = append(out, copyMessage(m))
		}
	}
	return out, nil
}

// CountMessages implements store.Messages.
func (s *Store) CountMessages(ctx context.Context, campaignID string) (store.Counts, error) {
	c := store.Counts{Skipped: map[message.SkipReason]int{}, ErrorCodes: map[string]int{}, DeferredBy: map[message.DeferReason]int{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.CampaignID != campaignID {
			continue
		}
		c.Recipients++
		if m.DeferredBy != "" {
			c.DeferredBy[m.DeferredBy]++
		}
		st := records.StagesOf(m)
		c.Queued += b2i(st.Queued)
		c.Sent += b2i(st.Sent)
		c.Delivered += b2i(st.Delivered)
		c.Read += b2i(st.Read)
		switch m.Status {
		case message.Failed:
			c.Failed++
			if m.ErrorCode != "" {
				c.ErrorCodes[m.ErrorCode]++
			}
		case message.Deferred:
			c.Deferred++
		case message.Held:
			c.Held++
		case message.Skipped:
			c.Skipped[m.SkipReason]++
		}
	}
	return c, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
