package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// Through the console, a file's request must fit Cloud Run's limit on an
// HTTP/1 request (32 MiB): the page sends a file of up to
// importThroughMax this way, and a larger one straight to Cloud Storage;
// importBodyMax bounds the whole request (the file, the form's fields
// and the multipart framing).
const (
	importThroughMax = 31 << 20
	importBodyMax    = 32 << 20
)

// limitImport refuses an import's request over importBodyMax before
// anything reads it, and bounds what is read of one that does not say
// its length.
func (s *Server) limitImport(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > importBodyMax {
			s.fileTooLarge(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, importBodyMax)
		next(w, r)
	}
}

// fileTooLarge answers a request over importBodyMax: 413, saying where a
// large file goes.
func (s *Server) fileTooLarge(w http.ResponseWriter, r *http.Request) {
	s.problem(w, r, http.StatusRequestEntityTooLarge, "File too large",
		fmt.Sprintf("A file over %d MB cannot go through the console: choose it on the users page, which sends it straight to Cloud Storage.", importThroughMax>>20))
}

// importUsers hands the file the users page sent (a multipart form, its
// CSRF token beside the file) to the API's bulk import, then shows the
// import's progress.
func (s *Server) importUsers(w http.ResponseWriter, r *http.Request) {
	f, hdr, err := r.FormFile("file")
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		s.fileTooLarge(w, r)
		return
	}
	if err != nil {
		s.renderUsersWithErrors(w, r, answer{Status: http.StatusBadRequest, Body: map[string]any{
			"error": "Choose a CSV or JSON file.", "details": []any{map[string]any{"field": "file", "message": "choose a CSV or JSON file"}}}})
		return
	}
	defer f.Close()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("file", hdr.Filename)
	if err == nil {
		_, err = io.Copy(part, f)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		s.problem(w, r, http.StatusBadRequest, "Upload failed", "The file could not be read.")
		return
	}
	q := url.Values{}
	if v := strings.TrimSpace(r.PostFormValue("default_region")); v != "" {
		q.Set("default_region", v)
	}
	a := s.callRaw(r, http.MethodPost, "/api/v1/ingest/users/bulk", q, mw.FormDataContentType(), &buf)
	id, _ := a.Body["id"].(string)
	if !a.OK() && id == "" {
		s.renderUsersWithErrors(w, r, a)
		return
	}
	http.Redirect(w, r, "/imports/"+url.PathEscape(id), http.StatusSeeOther)
}

// uploadURL asks the API for a signed URL the browser PUTs a large file
// to, straight into Cloud Storage; the file's arrival starts its import.
// It answers JSON: {id, upload_url} or {errors}.
func (s *Server) uploadURL(w http.ResponseWriter, r *http.Request) {
	q := url.Values{"filename": {r.PostFormValue("filename")}}
	if v := strings.TrimSpace(r.PostFormValue("default_region")); v != "" {
		q.Set("default_region", v)
	}
	a := s.call(r, http.MethodPost, "/api/v1/ingest/uploads", q, nil)
	out := map[string]any{"id": a.Body["id"], "upload_url": a.Body["upload_url"]}
	if !a.OK() {
		out = map[string]any{"errors": a.FieldErrors()}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(statusOf(a))
	_ = json.NewEncoder(w).Encode(out)
}

// importPage is one import's progress, counts and row errors; it
// refreshes itself until the import is done.
func (s *Server) importPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a := s.get(r, apiPath("/api/v1/ingest/status", id), nil)
	if !a.OK() {
		s.failed(w, r, "No such import", a)
		return
	}
	state := fmt.Sprint(a.Body["state"])
	done := state == "COMPLETED" || state == "FAILED"
	p := page{Title: "Import " + id, Nav: "users", Data: map[string]any{"J": a.Body, "Done": done}}
	if !done {
		p.Refresh = 2
	}
	s.render(w, r, http.StatusOK, "import", p)
}

// importErrors hands on the API's errors.csv as a download.
func (s *Server) importErrors(w http.ResponseWriter, r *http.Request) {
	s.download(w, r, apiPath("/api/v1/ingest/status", r.PathValue("id"), "errors.csv"), "No such import")
}
