package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// progressEvery is how many batches the reader publishes between writes
// of the job (a heartbeat for the batches waiting on it).
const progressEvery = 50

// maxBatchBytes bounds one batch's rows by their size too (Row.Size),
// far under a Pub/Sub message's 10 MB, whatever the rows' width.
const maxBatchBytes = 1 << 20

// maxStoredRowErrors bounds the row errors a job keeps; every bad row is
// still counted.
const maxStoredRowErrors = 1000

// bulkImport reads a contact file, streaming: a multipart "file" part
// (format from the file name's extension, else sniffed; never from the
// part's content type) or a JSON array body. Valid rows go out in batches
// as they are read, but batches are applied only once the whole file has
// been read without a fatal error: a malformed file applies nothing.
func (s *Server) bulkImport(w http.ResponseWriter, r *http.Request) {
	src, filename, err := importSource(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(512)
	format, err := userimport.DetectFormat(filename, head)
	if err != nil {
		fail(w, r, err)
		return
	}
	// Upload options are query parameters, whatever the body's shape; a bad
	// one is refused before any job exists.
	q := r.URL.Query()
	opts := []userimport.Option{userimport.WithDefaultRegion(q.Get("default_region")), userimport.WithEncoding(q.Get("encoding"))}
	if err := userimport.CheckOptions(opts...); err != nil {
		fail(w, r, err)
		return
	}
	now := s.now()
	job := userimport.Job{
		ID: uuid.NewString(), State: userimport.Receiving, Filename: filename,
		Format: string(format), CreatedAt: now, UpdatedAt: now,
	}
	ctx := r.Context()
	if err := s.Store.CreateImportJob(ctx, job); err != nil {
		fail(w, r, err)
		return
	}
	size := s.ImportBatchSize
	if size <= 0 {
		size = 200
	}
	publish := func(rows []userimport.Row) error {
		b := events.ImportBatch{JobID: job.ID, Batch: job.Batches, Rows: rows}
		if err := s.Events.Publish(ctx, events.TopicUserImport, b); err != nil {
			return err
		}
		job.Batches++
		if job.Batches%progressEvery == 0 {
			// News for the batches waiting on this reader: it is alive.
			job.UpdatedAt = s.now()
			return s.Store.UpdateImportJob(ctx, job, userimport.Receiving)
		}
		return nil
	}
	rd := userimport.NewReader(br, format, opts...)
	var batch []userimport.Row
	var batchBytes int
	var fatal error
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *userimport.RowError
		if errors.As(err, &re) {
			job.Rows++
			job.Rejected++
			if len(job.Errors) < maxStoredRowErrors {
				job.Errors = append(job.Errors, errs.Detail{Row: re.Row, Field: re.Field, Message: re.Message})
			}
			continue
		}
		if err != nil {
			fatal = err
			break
		}
		job.Rows++
		job.Accepted++
		if len(batch) > 0 && batchBytes+row.Size() > maxBatchBytes {
			if fatal = publish(batch); fatal != nil {
				break
			}
			batch, batchBytes = nil, 0
		}
		batch = append(batch, row)
		batchBytes += row.Size()
		if len(batch) == size {
			if fatal = publish(batch); fatal != nil {
				break
			}
			batch, batchBytes = nil, 0
		}
	}
	if fatal == nil && len(batch) > 0 {
		fatal = publish(batch)
	}
	job.Duplicates = rd.Stats().Duplicates
	job.UpdatedAt = s.now()
	if fatal != nil {
		job.State = userimport.Failed
		job.Errors = append(job.Errors, errs.Detail{Message: fatal.Error()})
		job.Errors = append(job.Errors, errs.DetailsOf(fatal)...)
	} else {
		job.State = userimport.Queued
		if job.Batches == 0 {
			job.State = userimport.Completed
		}
	}
	// The job is written once more, at the end: that write releases the
	// batches (or, on failure, has them dropped). It must happen even if
	// the client has gone.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Store.UpdateImportJob(wctx, job, userimport.Receiving); err != nil {
		if errs.Is(err, errs.Conflict) {
			err = errs.E(errs.Conflict, "import %s was given up as abandoned before its file was read to the end; nothing was applied", job.ID)
		}
		fail(w, r, err)
		return
	}
	if fatal != nil {
		if errs.KindOf(fatal) == errs.Invalid {
			fail(w, r, errs.WithDetails(errs.Invalid, fmt.Sprintf("import %s failed: nothing was applied: %v", job.ID, fatal), errs.DetailsOf(fatal)))
			return
		}
		fail(w, r, fatal)
		return
	}
	respond(w, http.StatusAccepted, map[string]any{
		"id": job.ID, "task_id": job.ID, "state": job.State,
		"message":    "Bulk ingestion started",
		"status_url": "/api/v1/ingest/status/" + job.ID,
		"file_info": map[string]any{
			"filename": filename, "format": format, "records_preview": job.Accepted,
		},
		"total_rows": job.Rows, "valid_rows": job.Accepted, "rejected_rows": job.Rejected, "duplicates": job.Duplicates,
		"batches": job.Batches, "errors": nonNil(job.Errors),
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// importSource finds the file: the multipart "file" part, or the body.
func importSource(r *http.Request) (io.Reader, string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") {
		return r.Body, "", nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", errs.Wrap(errs.Invalid, err, "malformed multipart body")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", errs.WithDetails(errs.Invalid, "no file in the upload",
				[]errs.Detail{{Field: "file", Message: "send the contacts as a multipart part named file"}})
		}
		if err != nil {
			return nil, "", errs.Wrap(errs.Invalid, err, "malformed multipart body")
		}
		if part.FormName() == "file" {
			return part, part.FileName(), nil
		}
	}
}

func (s *Server) importStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	job, err := s.Store.GetImportJob(r.Context(), id)
	if err != nil {
		fail(w, r, notFound(err, "import", id))
		return
	}
	job.Errors = nonNil(job.Errors)
	respond(w, http.StatusOK, job)
}
