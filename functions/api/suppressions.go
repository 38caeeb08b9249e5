package api

import (
	"net/http"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/suppression"
)

// listSuppressions pages the do-not-message list, newest first.
func (s *Server) listSuppressions(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	es, total, err := s.Store.ListSuppressions(r.Context(), p)
	if err != nil {
		fail(w, r, err)
		return
	}
	list(w, "suppressions", nonNil(es), total, p)
}

// suppress adds a number to the do-not-message list (again: a new
// reason), whoever the person is and whatever their consent says.
func (s *Server) suppress(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Phone  string `json:"phone_number"`
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	p, err := phone.Normalize(body.Phone)
	if err != nil {
		fail(w, r, errs.WithDetails(errs.Invalid, "invalid suppression", []errs.Detail{{Field: "phone_number", Message: err.Error()}}))
		return
	}
	// Who, as authenticated (or As) put it in the context: the Console's
	// in-process request carries no Authorization header to read again.
	e, err := s.Store.Suppress(r.Context(), suppression.Entry{Phone: p, Reason: body.Reason, By: callerOf(r.Context()), CreatedAt: s.now()})
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusCreated, e)
}

// unsuppress takes a number off the list; 404 if it is not on it.
func (s *Server) unsuppress(w http.ResponseWriter, r *http.Request) {
	p, err := phone.Normalize(r.PathValue("phone"))
	if err != nil {
		fail(w, r, errs.WithDetails(errs.Invalid, "invalid number", []errs.Detail{{Field: "phone", Message: err.Error()}}))
		return
	}
	if err := s.Store.Unsuppress(r.Context(), p); err != nil {
		fail(w, r, notFound(err, "suppression", p))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
