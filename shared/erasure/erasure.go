// Package erasure forgets a person on request: their attributes, user
// document, consent history and send ledger are deleted, their messages
// kept for the campaigns' counts but with the number replaced by a marker
// and the bodies removed, and the webhook records from or about them
// deleted. Only one thing survives, and only for someone who had opted
// out or was suppressed: a record keyed by a keyed hash of the number
// (Hasher), so that a re-import or a new user of that number comes back
// opted out, never OPT_IN.
//
// A phone number has little entropy (a country's numbers are a few
// billion at most), so a plain hash of one is reversed by trying them
// all. The key is what keeps the record from naming the person: it is a
// secret (ERASURE_KEY, from Secret Manager deployed) that the database
// never holds, so a copy of the database alone cannot reverse a record.
// Whoever holds both can still test a given number, as they must: that
// is how a returning number is recognised. Changing the key forgets every
// record.
package erasure

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// MinKeyBytes is the shortest key a Hasher takes: a key as long as the
// hash, so that guessing it is no easier than guessing a hash.
const MinKeyBytes = 32

// Hasher turns a number into the key of its erased record: HMAC-SHA256
// under a secret key.
type Hasher struct{ key []byte }

// NewHasher returns a Hasher with key; Invalid for one shorter than
// MinKeyBytes.
func NewHasher(key []byte) (Hasher, error) {
	if len(key) < MinKeyBytes {
		return Hasher{}, errs.E(errs.Invalid, "erasure key: %d bytes, at least %d", len(key), MinKeyBytes)
	}
	return Hasher{key: append([]byte(nil), key...)}, nil
}

// Of returns the record key of an E.164 number: hex HMAC-SHA256 of it,
// under a version prefix so that the scheme can change without collisions.
func (h Hasher) Of(e164 string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("ese-erasure-v1:"))
	m.Write([]byte(e164))
	return hex.EncodeToString(m.Sum(nil))
}

// Record is what is kept of an erased person who had opted out: no
// number, attribute or date of theirs beyond when they were erased.
type Record struct {
	Key string `json:"key"` // Hasher.Of the number
	// Consent is the opt-out they had: STOP (their own word, lifted only
	// by their START) or OPT_OUT; empty when they were only suppressed.
	Consent consent.State `json:"consent_state,omitempty"`
	// Suppressed: the number was on the do-not-message list, which
	// comes back with them.
	Suppressed bool      `json:"suppressed"`
	ErasedAt   time.Time `json:"erased_at"`
}

// OptedOut reports whether the person had opted out or was suppressed:
// only then is a record kept.
func (r Record) OptedOut() bool {
	return r.Consent == consent.Stop || r.Consent == consent.OptOut || r.Suppressed
}

// Returning is the state a person coming back (a new user, a re-import)
// takes when r is their record: their opt-out, or OPT_OUT when they were
// only suppressed.
func (r Record) Returning() consent.State {
	if r.Consent == consent.Stop || r.Consent == consent.OptOut {
		return r.Consent
	}
	return consent.OptOut
}

// Batch is how many documents one step of an erasure writes: far under a
// Firestore commit's 500, so no step is an oversized transaction.
const Batch = 200

// Store is what an erasure reads and writes.
type Store interface {
	GetUser(ctx context.Context, phone string) (user.User, error)
	Suppressed(ctx context.Context, phones []string) (map[string]bool, error)
	// ScrubMessages replaces phone by marker on up to limit of the
	// messages to phone and removes their bodies, content variables and
	// provider error texts; it returns how many it changed (0: none are
	// left).
	ScrubMessages(ctx context.Context, phone, marker string, limit int) (int, error)
	// DeleteWebhooksOf deletes up to limit webhook records whose person
	// (the sender of an inbound message, the recipient a status callback
	// is about) is one of ids (+digits, as WhatsApp names them); it
	// returns how many (0: none are left).
	DeleteWebhooksOf(ctx context.Context, ids []string, limit int) (int, error)
	// DeleteConsentHistory deletes up to limit of phone's consent history
	// entries and returns how many.
	DeleteConsentHistory(ctx context.Context, phone string, limit int) (int, error)
	// ForgetUser deletes, in one transaction, phone's user document, any
	// consent history entry left, their send ledger and their suppression
	// entry, and stores r when it is not nil; NotExist when phone has
	// neither a user nor a suppression (nothing is written then).
	ForgetUser(ctx context.Context, phone string, r *Record) error
	// ErasedRecords returns the records kept under keys (at most
	// MaxLookup), by key; absent keys have none.
	ErasedRecords(ctx context.Context, keys []string) (map[string]Record, error)
}

// MaxLookup is the most keys one ErasedRecords call takes.
const MaxLookup = 500

// Result is what an erasure did.
type Result struct {
	Messages       int  `json:"messages_scrubbed"`
	Webhooks       int  `json:"webhook_records_deleted"`
	ConsentChanges int  `json:"consent_changes_deleted"`
	OptOutKept     bool `json:"opt_out_kept"` // a hashed record was kept
}

// Erase forgets the person at phone (normalised): one with a user, or a
// number an admin suppressed without one. Each step is a batch of
// at most Batch documents, and the user document goes last, in the step
// that keeps the hashed record: an erasure cut short is done whole by
// the next, and once it is done the number names nothing, so a second
// one is NotExist, as for a number never known.
//
// Messages and webhook records that arrive while an erasure runs (a
// campaign still sending to the person) may escape it; the person has no
// user then, so no new campaign message is made for them.
func Erase(ctx context.Context, st Store, h Hasher, e164 string, now time.Time) (Result, error) {
	var res Result
	u, err := st.GetUser(ctx, e164)
	if err != nil && !errs.Is(err, errs.NotExist) {
		return res, fmt.Errorf("erasure.Erase: %w", err)
	}
	sup, serr := st.Suppressed(ctx, []string{e164})
	if serr != nil {
		return res, fmt.Errorf("erasure.Erase: %w", serr)
	}
	if err != nil && !sup[e164] {
		// Neither a user nor a suppression: nothing names the number
		// (never known, or erased already).
		return res, fmt.Errorf("erasure.Erase: %w", err)
	}
	marker, err := newMarker()
	if err != nil {
		return res, err
	}
	if res.Messages, err = drain(func() (int, error) { return st.ScrubMessages(ctx, e164, marker, Batch) }); err != nil {
		return res, fmt.Errorf("erasure.Erase: messages: %w", err)
	}
	ids := WhatsAppIDs(e164)
	if res.Webhooks, err = drain(func() (int, error) { return st.DeleteWebhooksOf(ctx, ids, Batch) }); err != nil {
		return res, fmt.Errorf("erasure.Erase: webhook records: %w", err)
	}
	if res.ConsentChanges, err = drain(func() (int, error) { return st.DeleteConsentHistory(ctx, e164, Batch) }); err != nil {
		return res, fmt.Errorf("erasure.Erase: consent history: %w", err)
	}
	rec := Record{Key: h.Of(e164), Suppressed: sup[e164], ErasedAt: now.UTC()}
	if u.Consent == consent.Stop || u.Consent == consent.OptOut {
		rec.Consent = u.Consent
	}
	var keep *Record
	if rec.OptedOut() {
		keep, res.OptOutKept = &rec, true
	}
	if err := st.ForgetUser(ctx, e164, keep); err != nil {
		return res, fmt.Errorf("erasure.Erase: %w", err)
	}
	return res, nil
}

// drain runs step until it does nothing, adding up what it did.
func drain(step func() (int, error)) (int, error) {
	total := 0
	for {
		n, err := step()
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// MarkerPrefix starts the number a scrubbed message carries instead of
// the person's: never a valid number, so nothing sends to it.
const MarkerPrefix = "erased:"

// newMarker is a random marker, one per erasure: it links the person's
// messages to each other (one recipient of the campaign) and to nothing
// else.
func newMarker() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("erasure: marker: %w", err)
	}
	return MarkerPrefix + hex.EncodeToString(b), nil
}

// WhatsAppIDs lists the sender ids WhatsApp may name the person at e164
// by (phone.FromWhatsApp maps each back to it): the number itself, and
// the old forms of a Mexican, Brazilian or Argentine mobile number.
func WhatsAppIDs(e164 string) []string {
	ids := []string{e164}
	d := e164[min(1, len(e164)):]
	switch {
	case len(d) == 12 && d[:2] == "52": // +52 and ten digits: +52 1 ...
		ids = append(ids, "+521"+d[2:])
	case len(d) == 13 && d[:2] == "55" && d[4] == '9' && d[5] >= '6': // +55 AA 9 8 digits
		ids = append(ids, "+55"+d[2:4]+d[5:])
	case len(d) == 12 && d[:2] == "54" && d[2] != '9': // +54 fixed-line form of a +54 9 mobile
		ids = append(ids, "+549"+d[2:])
	case len(d) == 13 && d[:3] == "549":
		ids = append(ids, "+54"+d[3:])
	}
	out := ids[:0]
	for _, id := range ids {
		if s, err := phone.FromWhatsApp(id); err == nil && s.Number != "" && contains(s.Numbers(), e164) {
			out = append(out, id)
		} else if id == e164 {
			out = append(out, id)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Remembered returns, for each of phones that had opted out (or was
// suppressed) when it was erased, its record, by phone: batched lookups
// of MaxLookup.
func Remembered(ctx context.Context, st interface {
	ErasedRecords(ctx context.Context, keys []string) (map[string]Record, error)
}, h Hasher, phones []string) (map[string]Record, error) {
	out := map[string]Record{}
	for start := 0; start < len(phones); start += MaxLookup {
		chunk := phones[start:min(start+MaxLookup, len(phones))]
		byKey := make(map[string]string, len(chunk))
		keys := make([]string, 0, len(chunk))
		for _, p := range chunk {
			k := h.Of(p)
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = p
		}
		recs, err := st.ErasedRecords(ctx, keys)
		if err != nil {
			return nil, fmt.Errorf("erasure.Remembered: %w", err)
		}
		for k, r := range recs {
			if r.OptedOut() {
				out[byKey[k]] = r
			}
		}
	}
	return out, nil
}

// Resuppress puts the number of a person coming back on the
// do-not-message list again when their record says it was (an admin's
// suppression outlives the erasure).
func Resuppress(ctx context.Context, st interface {
	Suppress(ctx context.Context, e suppression.Entry) (suppression.Entry, error)
}, r Record, e164 string, now time.Time) error {
	if !r.Suppressed {
		return nil
	}
	_, err := st.Suppress(ctx, suppression.Entry{Phone: e164, Reason: SuppressedReason, By: "erasure", CreatedAt: now})
	if err != nil {
		return fmt.Errorf("erasure.Resuppress: %w", err)
	}
	return nil
}

// SuppressedReason is the reason of a suppression that came back with
// an erased person: the admin's own reason was erased with them.
const SuppressedReason = "suppressed before an erasure of this number"

// ImportStore is what KeepOptOuts reads and writes.
type ImportStore interface {
	ErasedRecords(ctx context.Context, keys []string) (map[string]Record, error)
	GetUsers(ctx context.Context, phones []string) (map[string]user.User, error)
	Suppress(ctx context.Context, e suppression.Entry) (suppression.Entry, error)
}

// KeepOptOuts readies a batch of import rows for the people among them
// who were erased while opted out and have no user now: each such row
// gets KeptOptOut (the store creates the user with it, and counts the row
// in the job's consent_kept), and a suppression they had comes back
// before the batch is applied. Two batched reads; it returns how many
// rows it marked.
func KeepOptOuts(ctx context.Context, st ImportStore, h Hasher, rows []userimport.Row, now time.Time) (int, error) {
	phones := make([]string, len(rows))
	for i, r := range rows {
		phones[i] = r.Phone
	}
	kept, err := Remembered(ctx, st, h, phones)
	if err != nil || len(kept) == 0 {
		return 0, err
	}
	returning := make([]string, 0, len(kept))
	for p := range kept {
		returning = append(returning, p)
	}
	users, err := st.GetUsers(ctx, returning)
	if err != nil {
		return 0, fmt.Errorf("erasure.KeepOptOuts: %w", err)
	}
	n := 0
	for i, r := range rows {
		rec, ok := kept[r.Phone]
		if _, exists := users[r.Phone]; !ok || exists {
			continue
		}
		if err := Resuppress(ctx, st, rec, r.Phone, now); err != nil {
			return n, err
		}
		rows[i].KeptOptOut = rec.Returning()
		n++
	}
	return n, nil
}
