// Package erasure forgets a person on request: their attributes, user
// document, consent history and send ledger are deleted, their messages
// kept for the campaigns' counts but with the number replaced by a marker
// and the bodies removed, and the webhook records from or about them
// deleted. Only one thing survives: a record keyed by a keyed hash of the
// number (Hasher), holding for someone who had opted out or was
// suppressed that opt-out, so that a re-import or a new user of that
// number comes back opted out, never OPT_IN; for anyone else only when
// they were erased, so that a STOP they sent before the erasure and
// processed after it (one handed on unstored, or redelivered) is kept
// there, never bringing their number back (Record.Before).
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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/phone"
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

// Of returns the record key of an E.164 number: hex HMAC-SHA256 of its
// canonical form (Canonical), under a version prefix so that the scheme
// can change without collisions. Two forms of one person's number give
// one key, so either finds the record.
func (h Hasher) Of(e164 string) string {
	return h.sum("ese-erasure-v1:", Canonical(e164))
}

func (h Hasher) sum(domain, s string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(domain))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

// Canonical is the one form of a number that people stored under
// several forms of it share (phone.FromWhatsApp treats them as one
// person): an Argentine mobile, +54 9 and ten digits, is its fixed-line
// form +54 and the ten digits. Every other number is itself. (Mexico's
// +52 1 and Brazil's eight-digit forms are not valid numbers, so no
// user is stored under them.)
func Canonical(e164 string) string {
	if rest, ok := strings.CutPrefix(e164, "+549"); ok && len(rest) == 10 {
		if fixed, err := phone.Normalize("+54" + rest); err == nil {
			return fixed
		}
	}
	return e164
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
	Suppressed bool `json:"suppressed"`
	// MarketingOptOut: they had stopped this business's marketing
	// messages in WhatsApp (user.MarketingOptOut), which comes back with
	// them too.
	MarketingOptOut bool      `json:"marketing_opt_out,omitempty"`
	ErasedAt        time.Time `json:"erased_at"`
}

// Fingerprint names the key without revealing it (an HMAC of a fixed
// text under it): stored once, it lets a function with another key
// refuse to start rather than silently forget every record.
func (h Hasher) Fingerprint() string {
	return h.sum("ese-erasure-fingerprint-v1", "")[:32]
}

// Keep is the record an erasure keeps of a person whose consent was c,
// whose number was (or not) suppressed and who had (or not) stopped
// marketing messages, read in the store's transaction that forgets them;
// nil when there is nothing to keep (they never opted out).
func Keep(key string, c consent.State, suppressed, marketing bool, at time.Time) *Record {
	r := Record{Key: key, Suppressed: suppressed, MarketingOptOut: marketing, ErasedAt: at.UTC()}
	if c == consent.Stop || c == consent.OptOut {
		r.Consent = c
	}
	if !r.Kept() {
		return nil
	}
	return &r
}

// Erased is the record kept of an erased person with nothing else to
// keep: only that (and when) they were erased, until ErasedOnlyKeep has
// passed.
func Erased(key string, at time.Time) Record {
	return Record{Key: key, ErasedAt: at.UTC()}
}

// ErasedOnlyKeep is how long a record that keeps nothing (Kept false)
// lasts: long enough for whatever the person sent before their erasure to
// arrive and be recognised (Pub/Sub keeps an undelivered message 7 days,
// and its dead letter 7 more, within which an operator may replay it),
// after which the store's TTL policy deletes it. A record that keeps an
// opt-out never expires: it lasts as long as the number may be messaged.
const ErasedOnlyKeep = 30 * 24 * time.Hour

// ExpiresAt is when r may be deleted: zero for a record that keeps
// something.
func (r Record) ExpiresAt() time.Time {
	if r.Kept() {
		return time.Time{}
	}
	return r.ErasedAt.Add(ErasedOnlyKeep)
}

// Before reports whether something the person sent at t predates their
// erasure: processed now, it is kept in r (a STOP, as r's opt-out) or
// not at all, never bringing them back.
func (r Record) Before(t time.Time) bool { return t.Before(r.ErasedAt) }

// Stopped is r with the person's STOP kept: an opt-out they already had
// (STOP, or an admin's OPT_OUT) stands; ok is false when r holds it
// already and nothing is to be written.
func (r Record) Stopped() (_ Record, ok bool) {
	if r.Consent == consent.Stop || r.Consent == consent.OptOut {
		return r, false
	}
	r.Consent = consent.Stop
	return r, true
}

// Kept reports whether r holds anything that comes back with the person:
// an opt-out, a suppression or a marketing opt-out.
func (r Record) Kept() bool { return r.OptedOut() || r.MarketingOptOut }

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
	// ScrubMessages replaces phone by marker on up to limit of the
	// messages to phone and removes their bodies, content variables and
	// provider error texts; a message no send has started for
	// (message.Unsent) is concluded SKIPPED (message.SkipErased) at at,
	// so no later step of its campaign writes to it or sends it. It
	// returns how many it changed (0: none are left).
	ScrubMessages(ctx context.Context, phone, marker string, at time.Time, limit int) (int, error)
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
	// entry, and keeps under key the Record (Keep) built from the consent
	// and suppression it reads in that same transaction, so a STOP or a
	// suppression that lands during the erasure is kept; when there is
	// nothing to keep, the record under key (replacing an older one) is
	// Erased's, that of the erasure alone. It returns the record kept
	// (nil: only the erasure's); NotExist when phone has neither a user
	// nor a suppression (nothing is written then).
	ForgetUser(ctx context.Context, phone, key string, at time.Time) (*Record, error)
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

// Erase forgets the person at phone (normalised): one with a user, a
// number an admin suppressed without one, or one only known from its
// messages and webhook records. Each step is a batch of at most Batch
// documents; the user document goes in the step that keeps the hashed
// record, which reads their opt-out there. Messages and webhook records
// are scrubbed before it and once more after it, for what work in flight
// wrote meanwhile. An erasure cut short is done whole by the next; a
// second one scrubs what arrived since and is NotExist only when nothing
// at all named the number.
//
// What escapes it: a message or webhook record written after its last
// scrub (a fan-out page read before the user went, a status callback
// arriving late). Erasing again reaches those.
func Erase(ctx context.Context, st Store, h Hasher, e164 string, now time.Time) (Result, error) {
	var res Result
	marker := h.Marker(e164)
	ids := WhatsAppIDs(e164)
	scrub := func() error {
		n, err := drain(func() (int, error) { return st.ScrubMessages(ctx, e164, marker, now, Batch) })
		res.Messages += n
		if err != nil {
			return fmt.Errorf("erasure.Erase: messages: %w", err)
		}
		n, err = drain(func() (int, error) { return st.DeleteWebhooksOf(ctx, ids, Batch) })
		res.Webhooks += n
		if err != nil {
			return fmt.Errorf("erasure.Erase: webhook records: %w", err)
		}
		return nil
	}
	if err := scrub(); err != nil {
		return res, err
	}
	var err error
	if res.ConsentChanges, err = drain(func() (int, error) { return st.DeleteConsentHistory(ctx, e164, Batch) }); err != nil {
		return res, fmt.Errorf("erasure.Erase: consent history: %w", err)
	}
	kept, err := st.ForgetUser(ctx, e164, h.Of(e164), now)
	known := err == nil
	if err != nil && !errs.Is(err, errs.NotExist) {
		return res, fmt.Errorf("erasure.Erase: %w", err)
	}
	res.OptOutKept = kept != nil
	if err := scrub(); err != nil {
		return res, err
	}
	// ForgetUser deletes a bounded tail of consent history in its
	// transaction; whatever was written past it goes here.
	n, err := drain(func() (int, error) { return st.DeleteConsentHistory(ctx, e164, Batch) })
	res.ConsentChanges += n
	if err != nil {
		return res, fmt.Errorf("erasure.Erase: consent history: %w", err)
	}
	if !known && res == (Result{}) {
		// Nothing names the number (never known, or erased already and
		// nothing came since).
		return res, errs.E(errs.NotExist, "erasure.Erase: nothing names this number")
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

// Marker is the number the person's scrubbed messages carry instead of
// theirs: it links them to each other (one recipient of the campaign) and,
// without the key, to nothing else. It is the same for every erasure of
// the number, so a retried or repeated erasure does not split one
// person's messages between two markers.
func (h Hasher) Marker(e164 string) string {
	return MarkerPrefix + h.sum("ese-erasure-marker-v1:", Canonical(e164))[:24]
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
			if r.Kept() {
				out[byKey[k]] = r
			}
		}
	}
	return out, nil
}

// SuppressedReason is the reason of a suppression that came back with
// an erased person: the admin's own reason was erased with them.
const SuppressedReason = "suppressed before an erasure of this number"

// KeptOptOutRef is the reference of the first consent entry of a person
// who comes back after an erasure with their opt-out.
const KeptOptOutRef = "opt-out kept from before an erasure"

// StampKeys gives each import row the key of its number's record
// (Hasher.Of): the store reads the record in the transaction that
// creates the user, so a person erased while opted out comes back opted
// out even when the erasure and the import race.
func StampKeys(h Hasher, rows []userimport.Row) {
	for i := range rows {
		rows[i].ErasureKey = h.Of(rows[i].Phone)
	}
}

// Returning readies row, whose person has no user, for their record r
// (read in the store's transaction): the row creates them opted out as
// they were (KeptOptOut) and with a marketing opt-out they had
// (KeptMarketingOptOut), and it reports whether their suppression
// comes back too.
func Returning(row *userimport.Row, r Record) (resuppress bool) {
	row.KeptMarketingOptOut = r.MarketingOptOut
	if !r.OptedOut() {
		return false
	}
	row.KeptOptOut = r.Returning()
	return r.Suppressed
}
