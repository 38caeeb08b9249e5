// Package userimport reads contact files (CSV, a JSON array or JSON Lines) row by row,
// normalising numbers and reporting each bad row by line and field, and
// tracks an import job's progress.
package userimport

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
)

// Row is one valid contact read from a file. Line is 1-based: the CSV line
// (the header is line 1) or the JSON array element.
type Row struct {
	Line       int            `json:"row"`
	Phone      string         `json:"phone_number"`
	Consent    consent.State  `json:"consent_state,omitempty"` // empty: not given
	Attributes map[string]any `json:"attributes,omitempty"`
	// KeptOptOut is the opt-out (STOP or OPT_OUT) of a person erased
	// while opted out (shared/erasure): set by ImportUsers before the
	// batch is applied, it is the state the row creates them in, whatever
	// Consent asks. A person who exists is left to Consent.
	KeptOptOut consent.State `json:"kept_opt_out,omitempty"`
	// ErasureKey is the key of the number's erased record
	// (erasure.StampKeys): a row that creates a user reads the record in
	// the same transaction and sets KeptOptOut from it.
	ErasureKey string `json:"-"`
	// KeptMarketingOptOut: the erased person had stopped marketing
	// messages in WhatsApp; the row creates them with that kept.
	KeptMarketingOptOut bool `json:"-"`
}

// MarshalJSON writes r with every float marked as one (30.0, 1e+20), so
// UnmarshalJSON gives back a float, never an integer or text.
func (r Row) MarshalJSON() ([]byte, error) {
	type plain Row
	p := plain(r)
	if len(r.Attributes) > 0 {
		p.Attributes = floatsMarked(r.Attributes).(map[string]any)
	}
	return json.Marshal(p)
}

// floatsMarked returns v with its float64s as json.Numbers that hold a
// point or an exponent; it copies only what it must.
func floatsMarked(v any) any {
	switch v := v.(type) {
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return json.Number(s)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = floatsMarked(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = floatsMarked(e)
		}
		return out
	}
	return v
}

// UnmarshalJSON reads a row as Marshal wrote it (a batch on its way to
// be applied) with its attributes' types intact: whole numbers come back
// as int64, never float64, so 9007199254740993 is not rounded and an
// integer column stays integers.
func (r *Row) UnmarshalJSON(b []byte) error {
	type plain Row
	var raw struct {
		plain
		Attributes json.RawMessage `json:"attributes,omitempty"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*r = Row(raw.plain)
	r.Attributes = nil
	if len(raw.Attributes) == 0 || string(raw.Attributes) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Attributes))
	dec.UseNumber()
	var attrs map[string]any
	if err := dec.Decode(&attrs); err != nil {
		return err
	}
	v, err := jsonValue(attrs, 0, false)
	if err != nil {
		return err
	}
	r.Attributes = v.(map[string]any)
	return nil
}

// Size estimates, generously, the bytes r takes in a JSON batch (twice
// its stored size, for quotes and escapes), for sizing batches by bytes as
// well as rows: a few wide rows must not make one batch past what a
// Pub/Sub message (10 MB) carries.
func (r Row) Size() int {
	return 64 + len(r.Phone) + len(r.Consent) + 2*storedSize(r.Attributes)
}

// State is where an import job is.
type State string

const (
	Receiving  State = "RECEIVING"  // waiting for the file, or reading it the first time
	Publishing State = "PUBLISHING" // read whole and valid; batches being handed on
	Queued     State = "QUEUED"     // every batch handed on; Batches is final
	Processing State = "PROCESSING" // some batches applied
	Completed  State = "COMPLETED"  // every batch applied
	Failed     State = "FAILED"     // the file was malformed or never came: nothing applied
)

// Done reports whether s is final: nothing more happens to the job.
func (s State) Done() bool { return s == Completed || s == Failed }

// BatchResult is what applying one batch did.
type BatchResult struct {
	Batch     int `json:"batch"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	// ConsentKept counts rows asking to opt in a person whose STOP or
	// OPT_OUT an import never lifts.
	ConsentKept int `json:"consent_kept"`
	// Refused counts rows the store would not take: a person whose
	// attributes, merged with the row's, pass what a contact holds, or a
	// whole batch the store refused as a request (Reason says why).
	Refused int    `json:"refused"`
	Reason  string `json:"reason,omitempty"`
}

// Job is one import. Counts of what the rows did come from its applied
// batches, so no single document is written once per row.
type Job struct {
	ID       string `json:"id"`
	State    State  `json:"state"`
	Filename string `json:"filename,omitempty"`
	Format   string `json:"format"`
	Rows     int    `json:"total_rows"`    // rows read, good and bad
	Accepted int    `json:"valid_rows"`    // rows sent on to be applied
	Rejected int    `json:"rejected_rows"` // rows with errors
	// Duplicates counts good rows whose number an earlier row had.
	Duplicates int `json:"duplicates"`
	Batches    int `json:"batches"`       // batches published
	Applied    int `json:"batches_done"`  // batches applied
	Created    int `json:"users_created"` // from applied batches
	Updated    int `json:"users_updated"` // from applied batches
	Unchanged  int `json:"users_unchanged"`
	// ConsentKept counts, from applied batches, the users whose STOP or
	// OPT_OUT stayed although their row said OPT_IN.
	ConsentKept int `json:"consent_kept"`
	// Refused counts, from applied batches, the valid rows the store
	// would not take (BatchResult.Refused).
	Refused int `json:"refused_rows"`
	// Errors holds the first MaxJobErrors row errors (and, for a failed
	// job, what failed it); every one is kept apart (store.Imports'
	// ImportErrors).
	Errors []errs.Detail `json:"errors"`

	// Object names the stored file in the uploads bucket.
	Object string `json:"-"`
	// DefaultRegion and Encoding are the upload's options (see
	// WithDefaultRegion, WithEncoding).
	DefaultRegion string `json:"default_region,omitempty"`
	Encoding      string `json:"encoding,omitempty"`
	// UploadBy is when a client's signed upload URL expires: a job still
	// RECEIVING well after it never got its file.
	UploadBy time.Time `json:"upload_by,omitzero"`
	// ErrorChunks is how many chunks of row errors reading the file
	// stored (store.Imports' PutImportErrors).
	ErrorChunks int `json:"-"`
	// PublishedAt is when the batches were last handed on (the first
	// time, or again for those not yet applied).
	PublishedAt time.Time `json:"published_at,omitzero"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MaxJobErrors is how many row errors a job shows; the rest are counted
// and kept apart, for errors.csv.
const MaxJobErrors = 1000

// Options returns the reader options the job was uploaded with.
func (j Job) Options() []Option {
	return []Option{WithDefaultRegion(j.DefaultRegion), WithEncoding(j.Encoding)}
}

// Totals sums the results of a job's applied batches.
type Totals struct {
	Batches, Created, Updated, Unchanged, ConsentKept, Refused int
}

// Add folds r into t.
func (t *Totals) Add(r BatchResult) {
	t.Batches++
	t.Created += r.Created
	t.Updated += r.Updated
	t.Unchanged += r.Unchanged
	t.ConsentKept += r.ConsentKept
	t.Refused += r.Refused
}

// Tally sets j's counts from its applied batches, and its state.
func (j *Job) Tally(t Totals) {
	j.Applied, j.Created, j.Updated, j.Unchanged, j.ConsentKept, j.Refused = t.Batches, t.Created, t.Updated, t.Unchanged, t.ConsentKept, t.Refused
	switch {
	case j.State == Failed || j.State == Receiving:
	case j.State != Publishing && j.Applied >= j.Batches:
		// Batches is final only once every batch was handed on.
		j.State = Completed
	case j.Applied > 0:
		j.State = Processing
	}
}
