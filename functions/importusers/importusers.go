// Package importusers is the ImportUsers function: it applies one batch of
// an import's rows (topic user-import). Batches wait while their file is
// still being read, and are dropped if the file turned out malformed, so
// an import is applied whole or not at all.
package importusers

import (
	"context"
	"fmt"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
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
}

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	st, err := setup.LoadStore(ctx, &Config{}, l)
	if err != nil {
		return nil, err
	}
	return New(st), nil
}

// abandonedAfter is how long a job may go without news from its reader
// (which writes every few batches) before its batches give up waiting and
// fail it.
const abandonedAfter = time.Hour

// New returns the handler over st.
func New(st store.Imports) edge.Handler {
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
			if time.Since(job.UpdatedAt) > abandonedAfter {
				// Its reader died before saying how the file ended:
				// nothing of it may apply.
				job.State = userimport.Failed
				job.Errors = append(job.Errors, errs.Detail{Message: "the upload was not read to its end"})
				job.UpdatedAt = time.Now().UTC()
				err := st.UpdateImportJob(ctx, job, userimport.Receiving)
				switch {
				case err == nil:
					return nil
				case errs.Is(err, errs.Conflict):
					// The reader finished meanwhile: decide again.
					return errs.E(errs.Transient, "import %s: state changed; retry", b.JobID)
				}
				return fmt.Errorf("importusers: %w", err)
			}
			return errs.E(errs.Transient, "import %s is still being read", b.JobID)
		case userimport.Failed:
			return nil
		}
		res, err := st.ApplyImportBatch(ctx, b.JobID, b.Batch, b.Rows, time.Now().UTC())
		if err != nil {
			return fmt.Errorf("importusers: %w", err)
		}
		logging.FromContext(ctx).Info("import batch applied", "job_id", b.JobID, "batch", b.Batch,
			"created", res.Created, "updated", res.Updated, "unchanged", res.Unchanged)
		return nil
	})
}
