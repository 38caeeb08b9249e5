package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
)

// maxJSON bounds a JSON request body (bulk imports stream instead).
const maxJSON = 1 << 20

// decode reads a strict JSON body into v: unknown fields, trailing data
// and wrong types are errors that say which field.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errs.E(errs.Invalid, "the body must hold one JSON object")
	}
	return nil
}

// decodeOptional is decode for a body that may be left out: an empty
// body leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSON))
	if err != nil {
		return jsonError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decode(w, r, v)
}

// jsonError turns a decoding error into an Invalid error naming where.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return errs.E(errs.Invalid, "the body is empty: send a JSON object")
	case errors.As(err, &syn):
		return errs.WithDetails(errs.Invalid, "malformed JSON",
			[]errs.Detail{{Message: fmt.Sprintf("syntax error at byte %d: %v", syn.Offset, syn)}})
	case errors.As(err, &typ):
		return errs.WithDetails(errs.Invalid, "wrong type",
			[]errs.Detail{{Field: typ.Field, Message: "must be " + jsonType(typ.Type.String())}})
	case errors.As(err, &big):
		return errs.E(errs.Invalid, "the body is larger than %d bytes", big.Limit)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.WithDetails(errs.Invalid, "unknown field",
			[]errs.Detail{{Field: field, Message: "is not a field of this resource"}})
	}
	return errs.Wrap(errs.Invalid, err, "malformed JSON")
}

func jsonType(goType string) string {
	switch {
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"), goType == "json.Number":
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// page reads ?page= and ?per_page= (defaults 1 and 50, at most 200).
func page(r *http.Request) (store.Page, error) {
	p := store.Page{Page: 1, PerPage: 50}
	var d []errs.Detail
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			d = append(d, errs.Detail{Field: "page", Message: "must be a whole number from 1"})
		}
		p.Page = n
	}
	if v := r.URL.Query().Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			d = append(d, errs.Detail{Field: "per_page", Message: "must be a whole number from 1 to 200"})
		}
		p.PerPage = n
	}
	if len(d) > 0 {
		return p, errs.WithDetails(errs.Invalid, "invalid paging", d)
	}
	return p, nil
}

// limit reads ?limit= (default def, at most max).
func limit(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, errs.WithDetails(errs.Invalid, "invalid limit",
			[]errs.Detail{{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d", max)}})
	}
	return n, nil
}

// list renders a page of items under their plural name.
func list[T any](w http.ResponseWriter, plural string, items []T, total int, p store.Page) {
	if items == nil {
		items = []T{}
	}
	respond(w, http.StatusOK, map[string]any{
		plural: items, "total": total, "page": p.Page, "per_page": p.PerPage,
		"has_next": p.Offset()+len(items) < total,
	})
}

// notFound turns a store's NotExist into "no <what> <id>".
func notFound(err error, what, id string) error {
	if errs.Is(err, errs.NotExist) {
		return errs.E(errs.NotExist, "no %s with id %q", what, id)
	}
	return err
}

// flexID reads an id given as a JSON string or, as the seed's clients
// send, a number.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: typeOfString}
	}
	*f = flexID(n.String())
	return nil
}
