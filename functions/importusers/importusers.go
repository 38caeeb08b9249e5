// Package importusers is the ImportUsers function: it applies one batch of
// an import's rows (topic user-import). Batches are handed on only once
// their file was read whole and found sound (importrun), so none waits.
package importusers

import (
	"context"
	"fmt"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/userimport"
)

func init() {
	functions.CloudEvent("ImportUsers", Handle)
}

// Handle serves the ImportUsers function.
var Handle = edge.EventFunc("ImportUsers", Build)

// Config is what ImportUsers reads from its environment.
type Config struct {
	setup.Project
	setup.Events // read by edge.EventFunc
	// Erasure: rows of people erased while opted out come back opted out.
	setup.Erasure
}

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	var cfg Config
	st, h, err := setup.LoadStoreAndHasher(ctx, &cfg, l)
	if err != nil {
		return nil, err
	}
	return New(st, h), nil
}

// Store is what ImportUsers reads and writes.
type Store interface {
	store.Imports
}

// New returns the handler over st; h keys erased people's opt-outs.
func New(st Store, h erasure.Hasher) edge.Handler {
	return edge.Decoded(func(ctx context.Context, b events.ImportBatch) error {
		job, err := st.PeekImportJob(ctx, b.JobID)
		if err != nil {
			if errs.Is(err, errs.NotExist) {
				return errs.Wrap(errs.Permanent, err, "importusers")
			}
			return fmt.Errorf("importusers: %w", err)
		}
		switch job.State {
		case userimport.Receiving:
			// Batches go out only once their file was read whole
			// (importrun): one that comes sooner was not sent by us.
			return errs.E(errs.Permanent, "import %s: a batch came before its file was read whole", b.JobID)
		case userimport.Failed:
			return nil
		}
		now := time.Now().UTC()
		// The store reads each new person's erased record by this key in
		// the transaction that creates them.
		erasure.StampKeys(h, b.Rows)
		res, err := st.ApplyImportBatch(ctx, b.JobID, b.Batch, b.Rows, now)
		if k := errs.KindOf(err); k == errs.Invalid || k == errs.Permanent {
			// The store will never take this batch (a request Firestore
			// refuses): it is recorded as refused, so the job finishes
			// and says which rows, rather than retrying for ever.
			reason := masked(err.Error())
			logging.FromContext(ctx).Error("import batch refused", "job_id", b.JobID, "batch", b.Batch, "error", reason)
			if rerr := st.RefuseImportBatch(ctx, b.JobID, b.Batch, b.Rows, reason, now); rerr != nil {
				return fmt.Errorf("importusers: recording a refused batch: %w", rerr)
			}
			return nil
		}
		if err != nil {
			return errs.E(errs.KindOf(err), "importusers: %s", masked(err.Error()))
		}
		logging.FromContext(ctx).Info("import batch applied", "job_id", b.JobID, "batch", b.Batch,
			"created", res.Created, "updated", res.Updated, "unchanged", res.Unchanged, "refused", res.Refused)
		return nil
	})
}

// masked keeps whole numbers out of what is logged and kept (a store's
// error names users by their document paths).
func masked(s string) string { return phone.MaskIn(s) }
