// Package records holds the rules both store implementations apply to
// what they keep, so that memstore and Firestore cannot drift: the form of
// times, ids and attributes, what an import row does to a user, and the
// stages a message has reached.
package records

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// Time returns t as the stores keep it: UTC, to the microsecond
// (Firestore's precision). The zero time stays zero.
func Time(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	if t.Location() == time.UTC && t.Nanosecond()%1000 == 0 && !hasMonotonic(t) {
		return t // as kept already: stores copy every time on every read
	}
	return t.UTC().Truncate(time.Microsecond)
}

// hasMonotonic reports whether t carries a monotonic clock reading, which
// Truncate strips.
func hasMonotonic(t time.Time) bool { return t != t.Round(0) }

// TimePtr is Time for an optional time, returning a fresh pointer.
func TimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := Time(*t)
	return &v
}

// Or returns t as kept, or now when t is zero.
func Or(t, now time.Time) time.Time {
	if t.IsZero() {
		return Time(now)
	}
	return Time(t)
}

// ValidID reports whether id can name a Firestore document: not empty,
// no slash, not "." or "..", not __reserved__, at most 1,500 bytes.
// Both stores refuse the same ids so that they answer alike.
func ValidID(id string) bool {
	switch {
	case id == "", id == ".", id == "..", len(id) > 1500, strings.Contains(id, "/"):
		return false
	case len(id) >= 4 && strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"):
		return false
	}
	return true
}

// MaxIn is the most values a Firestore "in" filter takes; both stores
// refuse a longer list alike.
const MaxIn = 30

// Distinct returns xs without repeats, in first-seen order.
func Distinct[T comparable](xs []T) []T {
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// CheckPage refuses a page before the first or of no size.
func CheckPage(p store.Page) error {
	if p.Page < 1 || p.PerPage < 1 {
		return errs.E(errs.Invalid, "page %d of %d: page and per_page must be at least 1", p.Page, p.PerPage)
	}
	return nil
}

// Attributes returns a deep copy of m in the forms Firestore gives values
// back in (see Value). It never returns nil, so callers may add keys.
func Attributes(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = Value(v)
	}
	return out
}

// Value returns a deep copy of v in the form Firestore reads it back:
// integers as int64, floats as float64, strings (json.Number too) as
// string, maps as map[string]any, slices as []any, pointers followed.
// Other types are kept as they are.
func Value(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string, bool, int64, float64:
		return x
	case time.Time:
		return Time(x)
	case []byte:
		return append([]byte(nil), x...)
	case map[string]any:
		return Attributes(x)
	case []any:
		if x == nil {
			return nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Value(e)
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return int64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.String:
		return rv.String()
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return Value(rv.Elem().Interface())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = Value(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return v
		}
		if rv.IsNil() {
			return nil
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			out[it.Key().String()] = Value(it.Value().Interface())
		}
		return out
	}
	return v
}

// Outcome is what an import row did to its user.
type Outcome int

const (
	Unchanged Outcome = iota
	Created
	Updated
	Refused // the merged attributes pass what a contact holds: nothing written
)

// Refusal is the error entry of a batch of rows first..last (n of them)
// that the store refused whole.
func Refusal(first, last, n int, reason string) errs.Detail {
	return errs.Detail{Row: first, Message: fmt.Sprintf("rows %d to %d (%d valid rows) were not applied: %s", first, last, n, reason)}
}

// Writes reports whether a row's outcome o, with its consent change c,
// changes the stored user.
func (o Outcome) Writes(c *consent.Change) bool {
	return o == Created || o == Updated || (o == Refused && c != nil)
}

// Count adds o to r.
func (o Outcome) Count(r *userimport.BatchResult) {
	switch o {
	case Created:
		r.Created++
	case Updated:
		r.Updated++
	case Refused:
		r.Refused++
	default:
		r.Unchanged++
	}
}

// CheckRow refuses a row the stores cannot apply: the parser should
// never send one, so this guards the data rather than the person.
func CheckRow(r userimport.Row) error {
	if !ValidID(r.Phone) {
		return errs.E(errs.Invalid, "row %d: phone_number cannot name a user", r.Line)
	}
	if r.Consent != "" && !r.Consent.Valid() {
		return errs.E(errs.Invalid, "row %d: unknown consent_state %q", r.Line, r.Consent)
	}
	return nil
}

// ApplyRow returns the user that import row r leaves, given the current
// user cur (when exists), what the row did, and the consent change it
// made, if any. Attributes merge key by key; consent moves only as
// consent.Imported allows.
func ApplyRow(cur user.User, exists bool, r userimport.Row, jobID string, at time.Time) (user.User, Outcome, *consent.Change) {
	at = Time(at)
	if !exists {
		u := user.User{
			Phone:      r.Phone,
			Consent:    cmp.Or(r.KeptOptOut, consent.Imported("", r.Consent, false)),
			Attributes: Attributes(r.Attributes),
			CreatedAt:  at,
			UpdatedAt:  at,
		}
		if r.KeptMarketingOptOut {
			u.MarketingOptOut = &user.MarketingOptOut{At: at, Source: user.SourceKeptFromErasure}
		}
		c := &consent.Change{Phone: u.Phone, To: u.Consent, Source: consent.SourceImport, Ref: jobID, At: at}
		return u, Created, c
	}
	next := cur
	next.Attributes = Attributes(cur.Attributes)
	changed := false
	for k, v := range r.Attributes {
		nv := Value(v)
		if old, ok := next.Attributes[k]; ok && reflect.DeepEqual(old, nv) {
			continue
		}
		next.Attributes[k] = nv
		changed = true
	}
	var c *consent.Change
	if to := consent.Imported(cur.Consent, r.Consent, true); to != cur.Consent {
		c = &consent.Change{Phone: cur.Phone, From: cur.Consent, To: to, Source: consent.SourceImport, Ref: jobID, At: at}
		next.Consent = to
		changed = true
	}
	if !changed {
		return cur, Unchanged, nil
	}
	if !userimport.FitsContact(next.Attributes) {
		// The row alone fit (the reader checks); merged with what the
		// person holds it does not, and Firestore would refuse the batch.
		// Its attributes are refused; a consent it lowers still holds.
		if c == nil {
			return cur, Refused, nil
		}
		next.Attributes = cur.Attributes
		next.UpdatedAt = at
		return next, Refused, c
	}
	next.UpdatedAt = at
	return next, Updated, c
}

// ConsentKept reports whether row asks to opt in a person whose STOP or
// OPT_OUT an import never lifts, or creates an erased person again with
// the opt-out they had (KeptOptOut): what an import job counts as kept.
func ConsentKept(cur user.User, exists bool, r userimport.Row) bool {
	if !exists {
		// An erased person's opt-out, kept over a row that asked them in
		// (one that asked an opt-out itself had nothing refused).
		return r.KeptOptOut != "" && r.Consent != consent.OptOut && r.Consent != consent.Stop
	}
	return r.Consent == consent.OptIn &&
		(cur.Consent == consent.Stop || cur.Consent == consent.OptOut) &&
		consent.Imported(cur.Consent, r.Consent, true) == cur.Consent
}

// Stages is how far a message got; a message counts in every stage it
// reached, so a read message is also delivered, sent and queued.
type Stages struct {
	Queued, Sent, Delivered, Read bool
}

// StagesOf reads m's stages from its stage times and its status, either
// of which is enough.
func StagesOf(m message.Message) Stages {
	var s Stages
	s.Read = m.ReadAt != nil || m.Status == message.Read
	s.Delivered = s.Read || m.DeliveredAt != nil || m.Status == message.Delivered
	s.Sent = s.Delivered || m.SentAt != nil || m.Status == message.Sent
	s.Queued = s.Sent || m.QueuedAt != nil ||
		m.Status == message.Queued || m.Status == message.Sending || m.Status == message.Reconcile
	return s
}

// ErrorCodeScanCap bounds how many failed messages a count reads to tally
// error codes: past it the tally is partial, the Failed total is not.
const ErrorCodeScanCap = 10000

// CheckChanges refuses an update of a campaign from cur to next whose new
// changes (next.Changes) do not account for its status: they must chain
// from cur's status to next's, each naming who made it, so that the
// history misses no move and invents none.
func CheckChanges(cur, next campaign.Campaign) error {
	at := cur.Status
	for _, c := range next.Changes {
		if c.From != at || c.To == "" || c.By == "" {
			return errs.E(errs.Invalid, "campaign %s: change %s -> %s by %q does not follow from %s", next.ID, c.From, c.To, c.By, at)
		}
		at = c.To
	}
	if at != next.Status {
		return errs.E(errs.Invalid, "campaign %s: status moved from %s to %s without a recorded change", next.ID, cur.Status, next.Status)
	}
	return nil
}

// Change returns c as the stores keep it.
func Change(c campaign.Change) campaign.Change {
	c.At = Time(c.At)
	return c
}

// CheckCap refuses a frequency cap the ledger cannot keep: a negative
// limit, or a window longer than the ledger keeps sends for.
func CheckCap(c store.FrequencyCap) error {
	if c.Limit < 0 || (c.On() && (c.Window <= 0 || c.Window > store.LedgerKeep)) {
		return errs.E(errs.Invalid, "frequency cap %d in %v: want a limit of 0 or more and a window up to %v", c.Limit, c.Window, store.LedgerKeep)
	}
	return nil
}

// SendsAfter counts the sends in a ledger claimed after since, leaving
// out the entry of message skip (the claim being decided).
func SendsAfter(sends map[string]time.Time, since time.Time, skip string) int {
	n := 0
	for id, t := range sends {
		if id != skip && t.After(since) {
			n++
		}
	}
	return n
}

// PruneSends returns a copy of a ledger's sends without those claimed at
// or before since, which no cap counts any more.
func PruneSends(sends map[string]time.Time, since time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(sends)+1)
	for id, t := range sends {
		if t.After(since) {
			out[id] = t
		}
	}
	return out
}

// WebhookParty is the person a webhook record is from or about, as
// +digits: the sender of an inbound message, the recipient of the message
// a status callback reports on (Twilio's From and To, without the
// "whatsapp:" prefix). Both stores derive it on every record, for erasure
// to find a person's records; "" when the form names nobody.
func WebhookParty(e webhook.Event) string {
	key := "From"
	if e.Kind == webhook.Status {
		key = "To"
	}
	v := strings.TrimSpace(e.Params[key])
	if len(v) >= len("whatsapp:") && strings.EqualFold(v[:len("whatsapp:")], "whatsapp:") {
		v = v[len("whatsapp:"):]
	}
	return v
}

// CheckWebhookText is Invalid for a record with a text that is not
// UTF-8, which Firestore's client cannot even send (its marshalling
// error reads as a transient Internal one, retried for ever): the
// callers store it trimmed instead. The error names no value.
func CheckWebhookText(op string, e webhook.Event) error {
	ok := utf8.ValidString(e.ID) && utf8.ValidString(e.MessageSID) && utf8.ValidString(e.MessageID) && utf8.ValidString(e.Status)
	for k, v := range e.Params {
		ok = ok && utf8.ValidString(k) && utf8.ValidString(v)
	}
	if !ok {
		return errs.E(errs.Invalid, "%s: a field of the record is not valid UTF-8", op)
	}
	return nil
}

// MaxDocumentBytes is Firestore's limit on a document's size, which
// memstore keeps too.
const MaxDocumentBytes = 1 << 20

// WebhookBytes is about what e takes as a document: its texts (the
// fixed fields' few bytes aside).
func WebhookBytes(e webhook.Event) int {
	n := len(e.ID) + len(e.MessageSID) + len(e.MessageID) + len(e.Status)
	for k, v := range e.Params {
		n += len(k) + len(v)
	}
	return n
}

// ScrubbedWebhook is e as stored for a sender erased after sending it
// (store.StopWrites.Scrub): without its form, which names them.
func ScrubbedWebhook(e webhook.Event) webhook.Event {
	e.Params, e.Erased = map[string]string{}, true
	return e
}

// CheckStopLookup is Invalid for a lookup RecordWebhookStop refuses.
func CheckStopLookup(op string, l store.StopLookup) error {
	if len(l.Numbers) > store.MaxStopLookup || len(l.ErasureKeys) > store.MaxStopLookup {
		return errs.E(errs.Invalid, "%s: %d numbers and %d erasure keys, at most %d each", op, len(l.Numbers), len(l.ErasureKeys), store.MaxStopLookup)
	}
	return nil
}

// CheckErasedWrite is Invalid for an erased record a STOP may not write:
// one under a key not looked up.
func CheckErasedWrite(op string, l store.StopLookup, r *erasure.Record) error {
	if r != nil && (!ValidID(r.Key) || !slices.Contains(l.ErasureKeys, r.Key)) {
		return errs.E(errs.Invalid, "%s: an erased record under a key not looked up", op)
	}
	return nil
}

// Scrubbed is m with its person taken out (erasure): the number replaced
// by marker, and the body, the content variables (their values are the
// person's attributes) and the provider's error text (which can quote
// the number) removed. Status, times and codes stay for the counts; a
// message no send has started for is concluded SKIPPED (erased) at at,
// so its campaign neither writes its body back nor sends it.
func Scrubbed(m message.Message, marker string, at time.Time) message.Message {
	m.Phone, m.Body, m.ContentVariables, m.ErrorText = marker, "", nil, ""
	if slices.Contains(message.Unsent, m.Status) {
		m.Status, m.SkipReason, m.UpdatedAt = message.Skipped, message.SkipErased, Time(at)
	}
	return m
}
