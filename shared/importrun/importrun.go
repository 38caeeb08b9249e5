// Package importrun moves a contact import from its stored file to its
// applied batches. It reads the file twice: a first pass validates every
// row, counts and keeps the errors and takes a census of the numbers; only
// if the file was read to its end does a second pass merge repeated
// numbers and hand the batches on. A malformed file applies nothing, and
// no batch ever waits on its file: nothing depends on redelivery timing.
//
// Every step may run again (a redelivered notification, a sweep after a
// crash) and picks up where the job's stored state says: the first pass's
// writes are the same each time, and a batch already applied is not
// handed on again.
package importrun

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/uploads"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// MaxFileBytes is the largest file an import reads: some 20 million
// contacts, read twice within ReadImport's time.
const MaxFileBytes = 1 << 30

// MaxBatchBytes bounds one batch's rows by their size (Row.Size) as well
// as their number: far under a Pub/Sub message's 10 MB whatever the rows'
// width.
const MaxBatchBytes = 1 << 20

// Runner reads imports' files and hands their batches on.
type Runner struct {
	Store  store.Imports
	Bucket uploads.Bucket
	// BucketName names Bucket in the messages that resume a job
	// (events.ObjectFinalized, as Cloud Storage notifies an arrival).
	BucketName string
	Events     events.Publisher

	// BatchRows is the most rows a batch holds; 0 means
	// store.MaxImportBatch.
	BatchRows int
	// Publishing is how many batches are handed on at once; 0 means 16.
	Publishing int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// Run reads job id's stored file and hands its batches on, doing what its
// state still asks: a RECEIVING job's file is read and counted, and then
// (if it was read whole) its batches go out and it becomes QUEUED; a
// PUBLISHING job resumes handing on; a QUEUED job has its unapplied
// batches handed on again. A job whose file is malformed becomes FAILED,
// and is returned with a nil error: that is the import's outcome, not a
// failure to run it. A file not yet stored is errs.NotExist.
func (r *Runner) Run(ctx context.Context, id string) (userimport.Job, error) {
	job, err := r.Store.PeekImportJob(ctx, id)
	if err != nil {
		return job, fmt.Errorf("importrun: %w", err)
	}
	if job.State.Done() {
		return job, nil
	}
	if job.Object == "" {
		// A job from before files were stored: nothing can resume it.
		return r.giveUp(ctx, job, noStoredFile)
	}
	obj, err := r.Bucket.Stat(ctx, job.Object)
	if err != nil {
		if errs.Is(err, errs.NotExist) && job.State != userimport.Receiving {
			return r.giveUp(ctx, job, "the uploaded file was deleted (uploads are kept a day) before every batch was applied: upload it again to import the rest")
		}
		return job, fmt.Errorf("importrun: %w", err)
	}
	if obj.Size > MaxFileBytes {
		return r.giveUp(ctx, job, fmt.Sprintf("the file is %d MB, more than the %d MB an import reads: split it", obj.Size>>20, MaxFileBytes>>20))
	}
	first, err := r.firstPass(ctx, job)
	if err != nil {
		return job, err
	}
	if first.fatal != nil {
		return r.fail(ctx, job, first)
	}
	if job.State == userimport.Receiving {
		first.counts(&job)
		job.ErrorChunks = first.chunks
		job.State = userimport.Publishing
		job.UpdatedAt = r.now()
		if err := r.Store.UpdateImportJob(ctx, job, userimport.Receiving); err != nil {
			return r.lost(ctx, job, err)
		}
	}
	return r.publish(ctx, job, first)
}

// pass1 is what the first pass found.
type pass1 struct {
	format userimport.Format
	stats  userimport.Stats
	errors []errs.Detail // the first userimport.MaxJobErrors
	chunks int           // error chunks stored
	census *userimport.Census
	fatal  error // why the file is refused (errs.Invalid), or nil
}

func (p pass1) counts(j *userimport.Job) {
	j.Format = string(p.format)
	j.Rows, j.Rejected, j.Duplicates = p.stats.Rows, p.stats.Rejected, p.stats.Duplicates
	j.Accepted = p.stats.Rows - p.stats.Rejected
	j.Errors = p.errors
}

// firstPass reads the whole file, keeping its row errors (all of them
// apart, in chunks, the first ones on the job) only while the job is
// RECEIVING: later runs read it for the census alone.
func (r *Runner) firstPass(ctx context.Context, job userimport.Job) (pass1, error) {
	keep := job.State == userimport.Receiving
	rd, format, closeFn, err := r.open(ctx, job)
	if err != nil {
		var p pass1
		if errs.KindOf(err) == errs.Invalid {
			p.fatal = err
			return p, nil
		}
		return p, err
	}
	defer closeFn()
	p := pass1{format: format}
	var chunk []errs.Detail
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if err := r.Store.PutImportErrors(ctx, job.ID, p.chunks, chunk); err != nil {
			return fmt.Errorf("importrun: keeping row errors of %s: %w", job.ID, err)
		}
		p.chunks++
		chunk = chunk[:0]
		return nil
	}
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *userimport.RowError
		if errors.As(err, &re) {
			if !keep {
				continue
			}
			d := re.Detail()
			if len(p.errors) < userimport.MaxJobErrors {
				p.errors = append(p.errors, d)
			}
			chunk = append(chunk, d)
			if len(chunk) == store.MaxImportErrorChunk {
				if err := flush(); err != nil {
					return p, err
				}
			}
			continue
		}
		if err != nil {
			if errs.KindOf(err) != errs.Invalid {
				return p, fmt.Errorf("importrun: reading %s: %w", job.ID, err)
			}
			p.fatal = err
			break
		}
	}
	p.stats = rd.Stats()
	if p.fatal == nil {
		p.census = rd.Census()
	}
	if keep {
		if err := flush(); err != nil {
			return p, err
		}
	}
	return p, nil
}

// open opens job's file and a reader over it, detecting its format from
// the job's file name or the file's first bytes.
func (r *Runner) open(ctx context.Context, job userimport.Job, opts ...userimport.Option) (*userimport.Reader, userimport.Format, func(), error) {
	f, err := r.Bucket.Open(ctx, job.Object)
	if err != nil {
		return nil, "", nil, fmt.Errorf("importrun: opening the file of %s: %w", job.ID, err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		f.Close()
		return nil, "", nil, fmt.Errorf("importrun: reading the file of %s: %w", job.ID, err)
	}
	format, err := userimport.DetectFormat(job.Filename, head)
	if err != nil {
		f.Close()
		return nil, "", nil, err
	}
	rd := userimport.NewReader(br, format, append(job.Options(), opts...)...)
	return rd, format, func() { f.Close() }, nil
}

// fail records why job's file was refused. Only a job still RECEIVING can
// fail: a file once read whole is not read differently later.
func (r *Runner) fail(ctx context.Context, job userimport.Job, p pass1) (userimport.Job, error) {
	if job.State != userimport.Receiving {
		return job, fmt.Errorf("importrun: the file of %s, read whole before, is now refused (was it replaced?): %w", job.ID, p.fatal)
	}
	p.counts(&job)
	job.State = userimport.Failed
	job.Errors = append(job.Errors, errs.Detail{Message: p.fatal.Error()})
	job.Errors = append(job.Errors, errs.DetailsOf(p.fatal)...)
	if n := len(job.Errors) - userimport.MaxJobErrors; n > 0 {
		// Keep why it failed; drop row errors (all kept apart) instead.
		job.Errors = append(job.Errors[:userimport.MaxJobErrors-len(errs.DetailsOf(p.fatal))-1], job.Errors[len(job.Errors)-len(errs.DetailsOf(p.fatal))-1:]...)
	}
	job.UpdatedAt = r.now()
	if err := r.Store.UpdateImportJob(ctx, job, userimport.Receiving); err != nil {
		return r.lost(ctx, job, err)
	}
	logging.FromContext(ctx).Warn("import refused", "job_id", job.ID, "reason", p.fatal.Error())
	return job, nil
}

// noStoredFile is why a job from before files were kept is given up.
const noStoredFile = "the import was begun before files were kept, and cannot be resumed: upload the file again"

// giveUp fails a job no run can finish, saying why; the batches applied
// before (if any) stay, and the job says how many.
func (r *Runner) giveUp(ctx context.Context, job userimport.Job, reason string) (userimport.Job, error) {
	from := job.State
	job.State = userimport.Failed
	if len(job.Errors) >= userimport.MaxJobErrors {
		job.Errors = job.Errors[:userimport.MaxJobErrors-1]
	}
	job.Errors = append(job.Errors, errs.Detail{Message: reason})
	job.UpdatedAt = r.now()
	if err := r.Store.UpdateImportJob(ctx, job, from); err != nil {
		return r.lost(ctx, job, err)
	}
	logging.FromContext(ctx).Error("import given up", "job_id", job.ID, "was", string(from), "reason", reason)
	return job, nil
}

// lost handles an update that found the job moved on meanwhile (another
// run of the same step): the job as stored now is the outcome.
func (r *Runner) lost(ctx context.Context, job userimport.Job, err error) (userimport.Job, error) {
	if !errs.Is(err, errs.Conflict) {
		return job, fmt.Errorf("importrun: %w", err)
	}
	now, perr := r.Store.PeekImportJob(ctx, job.ID)
	if perr != nil {
		return job, fmt.Errorf("importrun: %w", perr)
	}
	return now, nil
}

// publish is the second pass: it merges repeated numbers and hands on
// every batch not yet applied, then records the batches as final.
func (r *Runner) publish(ctx context.Context, job userimport.Job, first pass1) (userimport.Job, error) {
	applied, err := r.Store.AppliedImportBatches(ctx, job.ID)
	if err != nil {
		return job, fmt.Errorf("importrun: %w", err)
	}
	rd, _, closeFn, err := r.open(ctx, job, userimport.MergeDuplicates(first.census))
	if err != nil {
		return job, err
	}
	defer closeFn()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp.Or(r.Publishing, 16))
	maxRows := cmp.Or(r.BatchRows, store.MaxImportBatch)
	n, sent := 0, 0
	var late []errs.Detail // rows the merge refused (too large together)
	var rows []userimport.Row
	size := 0
	send := func() {
		b := events.ImportBatch{JobID: job.ID, Batch: n, Rows: rows}
		n++
		rows, size = nil, 0
		if _, done := slices.BinarySearch(applied, b.Batch); done {
			return
		}
		sent++
		g.Go(func() error { return r.Events.Publish(gctx, events.TopicUserImport, b) })
	}
	var readErr error
	for gctx.Err() == nil {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *userimport.RowError
		if errors.As(err, &re) {
			if re.Merged {
				late = append(late, re.Detail())
			}
			continue
		}
		if err != nil {
			readErr = err
			break
		}
		if len(rows) > 0 && size+row.Size() > MaxBatchBytes {
			send()
		}
		rows = append(rows, row)
		size += row.Size()
		if len(rows) == maxRows {
			send()
		}
	}
	if readErr == nil && gctx.Err() == nil && len(rows) > 0 {
		send()
	}
	if err := g.Wait(); err != nil {
		return job, fmt.Errorf("importrun: handing on the batches of %s: %w", job.ID, err)
	}
	if readErr != nil {
		return job, fmt.Errorf("importrun: the file of %s, read whole before, failed on the second pass (was it replaced?): %w", job.ID, readErr)
	}
	if err := ctx.Err(); err != nil {
		return job, err
	}
	from := job.State
	if from == userimport.Publishing {
		job.Batches = n
		job.State = userimport.Queued
		if err := r.lateErrors(ctx, &job, first, late); err != nil {
			return job, err
		}
	}
	job.PublishedAt = r.now()
	job.UpdatedAt = job.PublishedAt
	if err := r.Store.UpdateImportJob(ctx, job, from); err != nil {
		return r.lost(ctx, job, err)
	}
	logging.FromContext(ctx).Info("import handed on", "job_id", job.ID, "batches", n, "sent", sent, "already_applied", n-sent)
	return job, nil
}

// lateErrors counts the rows only the second pass could refuse (a
// number's rows too large merged) and keeps their errors after the first
// pass's.
func (r *Runner) lateErrors(ctx context.Context, job *userimport.Job, first pass1, late []errs.Detail) error {
	if len(late) == 0 {
		return nil
	}
	job.Rejected += len(late)
	job.Accepted -= len(late)
	for i := 0; i < len(late); i += store.MaxImportErrorChunk {
		chunk := late[i:min(i+store.MaxImportErrorChunk, len(late))]
		if err := r.Store.PutImportErrors(ctx, job.ID, job.ErrorChunks+i/store.MaxImportErrorChunk, chunk); err != nil {
			return fmt.Errorf("importrun: keeping row errors of %s: %w", job.ID, err)
		}
	}
	room := max(0, userimport.MaxJobErrors-len(job.Errors))
	job.Errors = append(job.Errors, late[:min(room, len(late))]...)
	return nil
}
