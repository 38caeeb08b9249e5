package importrun

import (
	"context"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// How the sweep judges a job left behind.
const (
	// StaleAfter is how long a job may go unwritten before the sweep
	// looks at it: longer than a ReadImport run may last (540 s), so the
	// sweep never resumes a job a reader is still on.
	StaleAfter = 15 * time.Minute
	// RepublishAfter is how long a QUEUED job's unapplied batches wait
	// before they are handed on again: Pub/Sub retries a refused batch
	// itself, so this only catches a batch lost on its way.
	RepublishAfter = 15 * time.Minute
	// UploadGrace is how long after its upload deadline a file may still
	// arrive (a PUT begun just in time).
	UploadGrace = 15 * time.Minute
	sweepLimit  = 100
)

// Outcome is what the sweep did with a job.
type Outcome string

const (
	Left      Outcome = ""          // nothing due yet
	Resumed   Outcome = "resumed"   // handed to ReadImport to read or hand on again
	Completed Outcome = "completed" // every batch applied: recorded
	Failed    Outcome = "failed"    // the file never came, or no run can finish it
)

// Swept is what one sweep did, job ids by outcome.
type Swept struct {
	Resumed   []string `json:"resumed"`
	Completed []string `json:"completed"`
	Failed    []string `json:"failed"`
}

// Sweep moves on the jobs a crash or a lost message left behind: a file
// stored but never read (its notification lost, or the reader died), a
// job that stopped handing on its batches, batches lost on their way, a
// client upload that never came; and it records the jobs whose batches
// are all applied as COMPLETED. It runs from a scheduler every minute and
// does no reading itself: it claims a job (its updated_at, so the next
// sweeps leave it for StaleAfter) and sends ReadImport the message Cloud
// Storage sends on an arrival. Each state is listed on its own, so jobs
// left waiting in one never hide those of another.
func (r *Runner) Sweep(ctx context.Context) (Swept, error) {
	now := r.now()
	var out Swept
	for _, state := range []userimport.State{userimport.Publishing, userimport.Queued, userimport.Receiving} {
		jobs, err := r.Store.ListImportJobs(ctx, []userimport.State{state}, now.Add(-StaleAfter), sweepLimit)
		if err != nil {
			return out, fmt.Errorf("importrun.Sweep: %w", err)
		}
		for _, job := range jobs {
			outcome, err := r.sweepOne(ctx, job, now)
			if err != nil {
				// One job's trouble must not hold the others back.
				logging.FromContext(ctx).Error("import sweep failed for a job", "job_id", job.ID, "error", err.Error())
				continue
			}
			switch outcome {
			case Resumed:
				out.Resumed = append(out.Resumed, job.ID)
			case Completed:
				out.Completed = append(out.Completed, job.ID)
			case Failed:
				out.Failed = append(out.Failed, job.ID)
			}
		}
	}
	return out, nil
}

func (r *Runner) sweepOne(ctx context.Context, job userimport.Job, now time.Time) (Outcome, error) {
	if job.Object == "" {
		failed, err := r.giveUp(ctx, job, noStoredFile)
		return outcomeOf(failed), err
	}
	switch job.State {
	case userimport.Receiving:
		if !job.UploadBy.IsZero() && now.Before(job.UploadBy.Add(UploadGrace)) {
			return Left, nil // the file may still come
		}
		if _, err := r.Bucket.Stat(ctx, job.Object); errs.Is(err, errs.NotExist) {
			failed, err := r.giveUp(ctx, job, "the file never arrived: nothing was imported")
			return outcomeOf(failed), err
		} else if err != nil {
			return Left, err
		}
	case userimport.Queued:
		tallied, err := r.Store.GetImportJob(ctx, job.ID)
		if err != nil {
			return Left, err
		}
		if tallied.State == userimport.Completed {
			tallied.UpdatedAt = now
			if err := r.Store.UpdateImportJob(ctx, tallied, userimport.Queued); err != nil {
				return Left, err
			}
			return Completed, nil
		}
		if now.Sub(job.PublishedAt) < RepublishAfter {
			return Left, nil
		}
	}
	// Claim the job, then hand it to ReadImport.
	job.UpdatedAt = now
	if err := r.Store.UpdateImportJob(ctx, job, job.State); err != nil {
		if errs.Is(err, errs.Conflict) {
			return Left, nil // it moved on meanwhile
		}
		return Left, err
	}
	if err := r.Events.Publish(ctx, events.TopicImportUpload, events.ObjectFinalized{Bucket: r.BucketName, Name: job.Object}); err != nil {
		return Left, err
	}
	logging.FromContext(ctx).Warn("import resumed by the sweep", "job_id", job.ID, "state", string(job.State))
	return Resumed, nil
}

func outcomeOf(j userimport.Job) Outcome {
	if j.State == userimport.Failed {
		return Failed
	}
	return Left
}

// LeftBehind lists up to limit of the jobs the sweep would look at now:
// not finished and unwritten for StaleAfter, by the sweep's own reads,
// less the client uploads whose file may still come.
func (r *Runner) LeftBehind(ctx context.Context, limit int) ([]userimport.Job, error) {
	now := r.now()
	var out []userimport.Job
	for _, state := range []userimport.State{userimport.Publishing, userimport.Queued, userimport.Receiving} {
		if len(out) >= limit {
			break
		}
		jobs, err := r.Store.ListImportJobs(ctx, []userimport.State{state}, now.Add(-StaleAfter), limit-len(out))
		if err != nil {
			return nil, fmt.Errorf("importrun.LeftBehind: %w", err)
		}
		for _, job := range jobs {
			if job.State == userimport.Receiving && !job.UploadBy.IsZero() && now.Before(job.UploadBy.Add(UploadGrace)) {
				continue
			}
			out = append(out, job)
		}
	}
	return out, nil
}
