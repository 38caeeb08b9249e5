package importrun

import (
	"context"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// How the sweep judges a job left behind.
const (
	// StaleAfter is how long a job may go unwritten before the sweep
	// looks at it: far longer than reading the largest file takes.
	StaleAfter = 5 * time.Minute
	// RepublishAfter is how long a QUEUED job's unapplied batches wait
	// before they are handed on again: Pub/Sub retries a refused batch
	// itself, so this only catches a batch lost on its way.
	RepublishAfter = 10 * time.Minute
	// UploadGrace is how long after its signed URL expires a client's
	// upload may still arrive (a PUT begun just in time).
	UploadGrace = 15 * time.Minute
	sweepLimit  = 100
)

// Swept is what one sweep did, job ids by outcome.
type Swept struct {
	Resumed   []string `json:"resumed"`   // read or handed on again
	Completed []string `json:"completed"` // every batch applied: recorded
	Failed    []string `json:"failed"`    // the file never came
}

// Sweep moves on the jobs a crash or a lost message left behind: a file
// stored but never read (its notification lost, or the reader died), a
// job that stopped handing on its batches, batches lost on their way, a
// client upload that never came; and it records the jobs whose batches
// are all applied as COMPLETED. It runs from a scheduler, every minute or
// so; each job it takes is safe to take again.
func (r *Runner) Sweep(ctx context.Context) (Swept, error) {
	now := r.now()
	jobs, err := r.Store.ListImportJobs(ctx, []userimport.State{userimport.Receiving, userimport.Publishing, userimport.Queued}, now.Add(-StaleAfter), sweepLimit)
	if err != nil {
		return Swept{}, fmt.Errorf("importrun.Sweep: %w", err)
	}
	var out Swept
	for _, job := range jobs {
		outcome, err := r.sweepOne(ctx, job, now)
		if err != nil {
			// One job's trouble must not hold the others back.
			logging.FromContext(ctx).Error("import sweep failed for a job", "job_id", job.ID, "err", err.Error())
			continue
		}
		switch outcome {
		case "resumed":
			out.Resumed = append(out.Resumed, job.ID)
		case "completed":
			out.Completed = append(out.Completed, job.ID)
		case "failed":
			out.Failed = append(out.Failed, job.ID)
		}
	}
	return out, nil
}

func (r *Runner) sweepOne(ctx context.Context, job userimport.Job, now time.Time) (string, error) {
	switch job.State {
	case userimport.Receiving:
		if !job.UploadBy.IsZero() && now.Before(job.UploadBy.Add(UploadGrace)) {
			return "", nil // the client may still put its file
		}
		if _, err := r.Bucket.Stat(ctx, job.Object); errs.Is(err, errs.NotExist) {
			job.State = userimport.Failed
			job.Errors = append(job.Errors, errs.Detail{Message: "the file never arrived: nothing was imported"})
			job.UpdatedAt = now
			if err := r.Store.UpdateImportJob(ctx, job, userimport.Receiving); err != nil {
				return "", err
			}
			logging.FromContext(ctx).Warn("import failed: its file never arrived", "job_id", job.ID)
			return "failed", nil
		} else if err != nil {
			return "", err
		}
	case userimport.Queued:
		tallied, err := r.Store.GetImportJob(ctx, job.ID)
		if err != nil {
			return "", err
		}
		if tallied.State == userimport.Completed {
			tallied.UpdatedAt = now
			if err := r.Store.UpdateImportJob(ctx, tallied, userimport.Queued); err != nil {
				return "", err
			}
			return "completed", nil
		}
		if now.Sub(job.PublishedAt) < RepublishAfter {
			return "", nil
		}
	}
	if _, err := r.Run(ctx, job.ID); err != nil {
		return "", err
	}
	logging.FromContext(ctx).Warn("import resumed by the sweep", "job_id", job.ID, "state", string(job.State))
	return "resumed", nil
}
