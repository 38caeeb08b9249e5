// Package render writes JSON answers. It encodes into a buffer first, so a
// failed encode never sends half a response, and turns errors into
// {"error": ..., "details": [...]} with the status their kind maps to.
package render

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
)

// JSON writes v with status.
func JSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		slog.Error("render.JSON: encode", "error", err)
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ErrorBody is the shape of every error answer.
type ErrorBody struct {
	Error   string        `json:"error"`
	Details []errs.Detail `json:"details"` // always a list, empty when there is nothing to add
}

// Error writes err with the status of its kind. Unclassified errors are
// logged and answered without their text, which may hold internals.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	status := errs.HTTPStatus(err)
	body := ErrorBody{Error: err.Error(), Details: errs.DetailsOf(err)}
	if status >= 500 {
		logging.FromContext(r.Context()).Error("request failed", "error", err)
		body = ErrorBody{Error: http.StatusText(status)}
	}
	if body.Details == nil {
		body.Details = []errs.Detail{}
	}
	JSON(w, status, body)
}

// ErrorMessage writes an error answer with status and msg.
func ErrorMessage(w http.ResponseWriter, status int, msg string) {
	JSON(w, status, ErrorBody{Error: msg, Details: []errs.Detail{}})
}
