package api

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/reporting"
	"github.com/eventstreamengine/ese/shared/uploads"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// MaxDirectUpload is the largest file the import route takes in its
// request body: what a Cloud Functions request allows. Larger files go
// through a signed upload (POST /api/v1/ingest/uploads).
const MaxDirectUpload = 32 << 20

// DefaultUploadURLTTL is how long a signed upload URL works when
// UPLOAD_URL_TTL is unset.
const DefaultUploadURLTTL = time.Hour

// importRunTimeout bounds reading an uploaded file and handing its batches
// on within the request; past it, the import sweep finishes the job.
const importRunTimeout = 5 * time.Minute

// bulkImport takes a contact file in the request: a multipart "file" part
// (format from the file name's extension, else sniffed; never from the
// part's content type) or the body itself. The file is stored, read whole
// and checked, and only then are its batches handed on: a malformed file
// applies nothing and is answered 400 (its job FAILED, saying why).
func (s *Server) bulkImport(w http.ResponseWriter, r *http.Request) {
	opts, err := uploadOptions(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxDirectUpload+1<<20) // room for multipart framing
	src, filename, err := importSource(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	ctx := r.Context()
	job := s.newJob(filename, uploads.APIFolder, opts)
	// The sweep leaves the job alone while the body may still be coming.
	job.UploadBy = job.CreatedAt.Add(importRunTimeout)
	if err := s.Store.CreateImportJob(ctx, job); err != nil {
		fail(w, r, err)
		return
	}
	tooLarge := errs.E(errs.Invalid, "the file is larger than the %d MB a request may carry: upload it through POST /api/v1/ingest/uploads", MaxDirectUpload>>20)
	n, err := s.Imports.Bucket.Write(ctx, job.Object, io.LimitReader(src, MaxDirectUpload+1))
	if err != nil {
		var big *http.MaxBytesError
		if errors.As(err, &big) {
			err = tooLarge
		}
		s.abandon(ctx, job, err)
		fail(w, r, err)
		return
	}
	if n > MaxDirectUpload {
		s.abandon(ctx, job, tooLarge)
		_ = s.Imports.Bucket.Delete(ctx, job.Object)
		fail(w, r, tooLarge)
		return
	}
	// The file is stored: reading it and handing it on must finish even if
	// the client goes (else the sweep does).
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), importRunTimeout)
	defer cancel()
	ran, err := s.Imports.Run(rctx, job.ID)
	if err != nil {
		// The file is kept: the sweep finishes the job. Saying so (202)
		// keeps a client from importing it twice by retrying.
		logging.FromContext(ctx).Warn("import left to the sweep", "job_id", job.ID, "error", err.Error())
		respond(w, http.StatusAccepted, map[string]any{
			"id": job.ID, "task_id": job.ID, "state": job.State, "status_url": statusURL(job.ID),
			"message": "Bulk ingestion started: the file is stored and will be read shortly",
		})
		return
	}
	job = ran
	if job.State == userimport.Failed {
		fail(w, r, failedImport(job))
		return
	}
	respond(w, http.StatusAccepted, map[string]any{
		"id": job.ID, "task_id": job.ID, "state": job.State,
		"message":    "Bulk ingestion started",
		"status_url": statusURL(job.ID),
		"file_info": map[string]any{
			"filename": filename, "format": job.Format, "records_preview": job.Accepted,
		},
		"total_rows": job.Rows, "valid_rows": job.Accepted, "rejected_rows": job.Rejected, "duplicates": job.Duplicates,
		"batches": job.Batches, "errors": nonNil(job.Errors),
	})
}

func statusURL(id string) string { return "/api/v1/ingest/status/" + id }

// uploadOptions reads an upload's options from the query, whatever the
// body's shape; a bad one is refused before any job exists.
func uploadOptions(r *http.Request) (userimport.Job, error) {
	q := r.URL.Query()
	o := userimport.Job{DefaultRegion: q.Get("default_region"), Encoding: q.Get("encoding")}
	if err := userimport.CheckOptions(o.Options()...); err != nil {
		return o, err
	}
	return o, nil
}

// newJob starts a job whose file will be stored in folder.
func (s *Server) newJob(filename, folder string, opts userimport.Job) userimport.Job {
	now := s.now()
	id := uuid.NewString()
	return userimport.Job{
		ID: id, State: userimport.Receiving, Filename: filename, Object: folder + id,
		DefaultRegion: opts.DefaultRegion, Encoding: opts.Encoding, CreatedAt: now, UpdatedAt: now,
	}
}

// abandon fails a job whose file could not be stored, so it never waits
// for the sweep to say so.
func (s *Server) abandon(ctx context.Context, job userimport.Job, cause error) {
	job.State = userimport.Failed
	job.Errors = []errs.Detail{{Message: "the file was not received whole: " + cause.Error()}}
	job.UpdatedAt = s.now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.Store.UpdateImportJob(wctx, job, userimport.Receiving); err != nil {
		logging.FromContext(ctx).Warn("could not fail an import whose file was not stored", "job_id", job.ID, "error", err.Error())
	}
}

// failedImport is the 400 for a job whose file was refused: why, and
// every error the job shows.
func failedImport(job userimport.Job) error {
	reason := "the file was refused"
	for _, d := range job.Errors {
		if d.Row == 0 {
			reason = d.Message
			break
		}
	}
	return errs.WithDetails(errs.Invalid, fmt.Sprintf("import %s failed: nothing was applied: %s", job.ID, reason), job.Errors)
}

// createUpload starts an import whose file the client puts itself, of
// any size, through the signed URL answered; the file's arrival starts
// the import (ReadImport).
func (s *Server) createUpload(w http.ResponseWriter, r *http.Request) {
	opts, err := uploadOptions(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	filename := r.URL.Query().Get("filename")
	if strings.ContainsAny(filename, "/\\") || len(filename) > 255 {
		fail(w, r, errs.WithDetails(errs.Invalid, "bad filename", []errs.Detail{{Field: "filename", Message: "a file name without folders, at most 255 bytes"}}))
		return
	}
	job := s.newJob(filename, uploads.ClientFolder, opts)
	job.UploadBy = job.CreatedAt.Add(cmp.Or(s.UploadURLTTL, DefaultUploadURLTTL))
	ctx := r.Context()
	url, err := s.Imports.Bucket.SignedPutURL(ctx, job.Object, job.UploadBy)
	if err != nil {
		fail(w, r, err)
		return
	}
	if err := s.Store.CreateImportJob(ctx, job); err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusCreated, map[string]any{
		"id": job.ID, "upload_url": url, "method": http.MethodPut, "expires_at": job.UploadBy,
		"status_url": statusURL(job.ID), "state": job.State,
	})
}

// checkImports moves on the imports a crash or a lost message left
// behind (importrun.Sweep): run it every minute (Cloud Scheduler in
// production).
func (s *Server) checkImports(w http.ResponseWriter, r *http.Request) {
	swept, err := s.Imports.Sweep(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	swept.Resumed, swept.Completed, swept.Failed = nonNil(swept.Resumed), nonNil(swept.Completed), nonNil(swept.Failed)
	respond(w, http.StatusOK, swept)
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

// importErrors downloads every error of an import as CSV: the row errors
// in file order, then what failed the job, if it failed.
func (s *Server) importErrors(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	job, err := s.Store.PeekImportJob(ctx, id)
	if err != nil {
		fail(w, r, notFound(err, "import", id))
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="import-%s-errors.csv"`, id))
	cw := csv.NewWriter(w)
	write := func(d errs.Detail) error {
		row := ""
		if d.Row > 0 {
			row = strconv.Itoa(d.Row)
		}
		return cw.Write([]string{row, reporting.SpreadsheetSafe(d.Field), reporting.SpreadsheetSafe(d.Message)})
	}
	_ = cw.Write([]string{"row", "field", "message"})
	err = s.Store.ImportErrors(ctx, id, write)
	if err == nil {
		for _, d := range job.Errors {
			if d.Row == 0 {
				if err = write(d); err != nil {
					break
				}
			}
		}
	}
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		// The header is sent: all that can be done is to cut the answer
		// short, which the client sees as a broken download.
		logging.FromContext(ctx).Error("import errors download failed", "job_id", id, "error", err.Error())
		panic(http.ErrAbortHandler)
	}
}
