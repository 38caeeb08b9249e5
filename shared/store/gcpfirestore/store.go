// Package gcpfirestore is the Firestore store.Store: production, and the
// emulator in tests. Domain types are mapped to document structs here (see
// docs.go); nothing outside this package sees a Firestore document.
//
// Layout:
//
//	users/{E.164}                      a contact
//	users/{E.164}/consent_history/{*}  its consent changes
//	import_jobs/{id}                   an import job
//	import_jobs/{id}/batches/{n}       what batch n did (its marker)
//	import_jobs/{id}/errors/{chunk}    up to 1,000 of its row errors
//	segments/{id}, templates/{id}, campaigns/{id}
//	campaigns/{id}/history/{n}         its status changes, in order
//	messages/{id}                      one per recipient, with campaign_id
//	webhook_events/{id}                one per Twilio callback
//	send_ledger/{E.164}                a person's recent sends (frequency cap)
//	erased_opt_outs/{key}              an erased person's opt-out, by keyed hash (erasure)
//
// No document is written once per message or per row of an import: job
// counts are tallied from batch markers and campaign counts are
// aggregation queries over messages, using the stage fields kept on each
// message for that purpose (reached_queued, reached_sent, ...).
//
// The composite indexes production needs, the fields queries use and the
// TTL fields are listed in indexes.go (Indexes, Queried, TTLFields), where
// infra's consistency test reads them: a new query updates that list.
package gcpfirestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/grpckind"
	"github.com/eventstreamengine/ese/shared/store"
)

// Collection names.
const (
	colUsers      = "users"
	colHistory    = "consent_history"
	colJobs       = "import_jobs"
	colBatches    = "batches"
	colErrors     = "errors"
	colSegments   = "segments"
	colTemplates  = "templates"
	colCampaigns  = "campaigns"
	colMessages   = "messages"
	colWebhooks   = "webhook_events"
	colProblems   = "problems"
	colSuppressed = "suppressions"
	colLedger     = "send_ledger"
	colDryRuns    = "dry_runs"
	colErased     = "erased_opt_outs"
	colErasureKey = "erasure_key" // its fingerprint: CheckErasureKey
	// colProviderSIDs: provider_sids/{sid}, the message that records it.
	colProviderSIDs = "provider_sids"
)

// txAttempts bounds how often a contended transaction is tried: a message
// can take several status callbacks at once, and the client's default of
// five can run out under load.
const txAttempts = 10

// Store is the Firestore store.
type Store struct {
	c           *firestore.Client
	retention   Retention
	foundPeople jobHints // see ApplyImportBatch
}

// Retention is how long messages and webhook records are kept: each such
// document carries an expire_at that Firestore's TTL policy deletes it
// after (see TTLField). Zero keeps them for good. Consent history has no
// retention: the proof of an opt-out lasts as long as the number may be
// messaged.
type Retention struct {
	Messages, Webhooks time.Duration
}

// TTLField is the field the TTL policies on messages and webhook_events
// name.
const TTLField = "expire_at"

// WithRetention makes s write expiry times by r; call it before use.
func (s *Store) WithRetention(r Retention) *Store {
	s.retention = r
	return s
}

// expiry is when a document made at t expires, nil when kept for good.
func expiry(t time.Time, keep time.Duration) *time.Time {
	if keep <= 0 || t.IsZero() {
		return nil
	}
	at := t.Add(keep).UTC()
	return &at
}

var _ store.Store = (*Store)(nil)

// New returns a store over client; the caller owns the client.
func New(client *firestore.Client) *Store { return &Store{c: client} }

// Open connects to projectID's default database (the emulator when
// FIRESTORE_EMULATOR_HOST is set). Close the store when done.
func Open(ctx context.Context, projectID string) (*Store, error) {
	c, err := firestore.NewClient(ctx, projectID)
	if err != nil {
		return nil, fmt.Errorf("gcpfirestore.Open: %w", err)
	}
	return New(c), nil
}

// Close closes the client.
func (s *Store) Close() error { return s.c.Close() }

// classify gives a Firestore error the kind callers decide on, naming op.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if errs.KindOf(err) != errs.Other {
		return err // ours, already named
	}
	k := grpckind.Of(err)
	switch k {
	// Invalid: Firestore refused the request itself (a document past
	// 1 MiB, a query it cannot run); sending it again cannot succeed.
	case errs.NotExist, errs.Exist, errs.Transient, errs.Invalid:
	default:
		return fmt.Errorf("gcpfirestore.%s: %w", op, err)
	}
	return errs.Wrap(k, err, "gcpfirestore."+op)
}

func notExist(op, what string) error {
	return errs.E(errs.NotExist, "gcpfirestore.%s: %s not found", op, what)
}

// runUpdate is the transaction UpdateCampaign and UpdateMessage share:
// read the document, let fn change it, write it back unless fn says
// Unchanged; fn's other errors come back as they are. encode sees the
// document as read, to carry what the domain type does not hold.
func runUpdate[D any, T any](ctx context.Context, s *Store, op string, ref *firestore.DocumentRef,
	decode func(d D, id string) T, encode func(prev D, next T) D, setID func(*T), fn func(*T) error) (T, error) {
	var out T
	var fnErr error
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		fnErr = nil
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return notExist(op, ref.Parent.ID+"/"+ref.ID)
		}
		if err != nil {
			return err
		}
		var d D
		if err := snap.DataTo(&d); err != nil {
			return fmt.Errorf("decode %s: %w", ref.ID, err)
		}
		cur := decode(d, ref.ID)
		next := decode(d, ref.ID) // a second copy: fn may change it and then refuse
		if err := fn(&next); err != nil {
			if errors.Is(err, store.Unchanged) {
				out = cur
				return nil
			}
			fnErr = err
			return err
		}
		setID(&next)
		enc := encode(d, next)
		out = decode(enc, ref.ID)
		return tx.Set(ref, enc)
	}, firestore.MaxAttempts(txAttempts))
	if fnErr != nil && errors.Is(err, fnErr) {
		var zero T
		return zero, fnErr
	}
	if err != nil {
		var zero T
		return zero, classify(op, err)
	}
	return out, nil
}
