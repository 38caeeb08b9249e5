// Package userimport reads contact files (CSV, a JSON array or JSON Lines) row by row,
// normalising numbers and reporting each bad row by line and field, and
// tracks an import job's progress.
package userimport

import (
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
	Receiving  State = "RECEIVING"  // the file is still being read; batches wait
	Queued     State = "QUEUED"     // read; batches published
	Processing State = "PROCESSING" // some batches applied
	Completed  State = "COMPLETED"  // every batch applied
	Failed     State = "FAILED"     // nothing could be read
)

// BatchResult is what applying one batch did.
type BatchResult struct {
	Batch     int `json:"batch"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	// ConsentKept counts rows asking to opt in a person whose STOP or
	// OPT_OUT an import never lifts.
	ConsentKept int `json:"consent_kept"`
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
	ConsentKept int           `json:"consent_kept"`
	Errors      []errs.Detail `json:"errors"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

// Tally folds applied batch results into j and sets its state.
func (j *Job) Tally(results []BatchResult) {
	j.Applied, j.Created, j.Updated, j.Unchanged, j.ConsentKept = len(results), 0, 0, 0, 0
	for _, r := range results {
		j.Created += r.Created
		j.Updated += r.Updated
		j.Unchanged += r.Unchanged
		j.ConsentKept += r.ConsentKept
	}
	switch {
	case j.State == Failed || j.State == Receiving:
	case j.Applied >= j.Batches:
		j.State = Completed
	case j.Applied > 0:
		j.State = Processing
	}
}
