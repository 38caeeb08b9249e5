package readimport

import (
	"context"
	"fmt"
	"strings"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/importrun"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/uploads"
)

// New returns the handler: the object named in a notification of bucket
// is a client's upload, uploads/<job id>, which run reads and hands on.
// The import sweep sends the same message to resume a job, also for a file
// the API stored (direct/<job id>), so long reads never run in the API.
func New(run *importrun.Runner, bucket string) edge.Handler {
	return edge.Decoded(func(ctx context.Context, o events.ObjectFinalized) error {
		log := logging.FromContext(ctx)
		id, ok := strings.CutPrefix(o.Name, uploads.ClientFolder)
		if !ok {
			id, ok = strings.CutPrefix(o.Name, uploads.APIFolder)
		}
		if o.Bucket != bucket || !ok || id == "" || strings.Contains(id, "/") {
			// Not an upload of ours (the notification's filter should
			// keep these away): nothing to do, ever.
			log.Warn("notification for an object that is no upload", "bucket", o.Bucket, "object", o.Name)
			return nil
		}
		job, err := run.Run(ctx, id)
		switch {
		case errs.Is(err, errs.NotExist):
			// No such job (an object put without asking for a URL), or
			// the object is gone again: redelivery will not change that.
			return errs.Wrap(errs.Permanent, err, "readimport")
		case err != nil:
			return fmt.Errorf("readimport: %w", err)
		}
		log.Info("upload read", "job_id", id, "state", string(job.State), "rows", job.Rows, "batches", job.Batches)
		return nil
	})
}
