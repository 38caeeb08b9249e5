package api

import (
	"encoding/json"
	"net/http"

	"github.com/eventstreamengine/ese/shared/audience"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/segment"
)

// segmentBody is what a person sets of a segment, in POST and PUT.
type segmentBody struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Definition  json.RawMessage `json:"definition_json"`
}

// segment checks the body, naming each bad field (a definition's by the
// path of its bad node).
func (b segmentBody) segment() (segment.Segment, error) {
	var d []errs.Detail
	if b.Name == "" {
		d = append(d, errs.Detail{Field: "name", Message: "is required"})
	}
	def, err := parseDefinition(b.Definition)
	if err != nil {
		d = append(d, detailsOr(err, "definition_json")...)
	}
	if len(d) > 0 {
		return segment.Segment{}, errs.WithDetails(errs.Invalid, "invalid segment", d)
	}
	return segment.Segment{Name: b.Name, Description: b.Description, Definition: def}, nil
}

func parseDefinition(raw json.RawMessage) (segment.Definition, error) {
	if len(raw) == 0 {
		return segment.Definition{}, errs.WithDetails(errs.Invalid, "invalid segment definition", []errs.Detail{{Field: "definition_json", Message: "is required"}})
	}
	return segment.Parse(raw)
}

func (s *Server) createSegment(w http.ResponseWriter, r *http.Request) {
	var body segmentBody
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	seg, err := body.segment()
	if err != nil {
		fail(w, r, err)
		return
	}
	seg.CreatedAt = s.now()
	seg.UpdatedAt = seg.CreatedAt
	seg, err = s.Store.CreateSegment(r.Context(), seg)
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusCreated, seg)
}

// updateSegment replaces what a person sets of a segment (name,
// description, definition), as POST takes it; the id and creation time
// stay.
func (s *Server) updateSegment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body segmentBody
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	next, err := body.segment()
	if err != nil {
		fail(w, r, err)
		return
	}
	now := s.now()
	seg, err := s.Store.UpdateSegment(r.Context(), id, func(cur *segment.Segment) error {
		next.ID, next.CreatedAt, next.UpdatedAt = cur.ID, cur.CreatedAt, now
		*cur = next
		return nil
	})
	if err != nil {
		fail(w, r, notFound(err, "segment", id))
		return
	}
	respond(w, http.StatusOK, seg)
}

// detailsOr returns err's details, or one detail for field.
func detailsOr(err error, field string) []errs.Detail {
	if d := errs.DetailsOf(err); len(d) > 0 {
		return d
	}
	return []errs.Detail{{Field: field, Message: err.Error()}}
}

func (s *Server) listSegments(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	items, total, err := s.Store.ListSegments(r.Context(), p)
	if err != nil {
		fail(w, r, err)
		return
	}
	list(w, "segments", items, total, p)
}

func (s *Server) getSegment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	seg, err := s.Store.GetSegment(r.Context(), id)
	if err != nil {
		fail(w, r, notFound(err, "segment", id))
		return
	}
	respond(w, http.StatusOK, seg)
}

// maxPreviewRead bounds the users one preview reads, so that it answers
// within a request; "complete" says whether it read them all.
const maxPreviewRead = 200_000

// previewSegment evaluates a saved segment now: how many people match, by
// consent state, with a few masked numbers.
func (s *Server) previewSegment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	seg, err := s.Store.GetSegment(r.Context(), id)
	if err != nil {
		fail(w, r, notFound(err, "segment", id))
		return
	}
	s.previewAudience(w, r, seg.Definition, map[string]any{"segment_id": id})
}

// previewDefinition evaluates an unsaved definition as previewSegment does
// a saved one, so a segment can be tried before it is kept.
func (s *Server) previewDefinition(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Definition json.RawMessage `json:"definition_json"`
	}
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	def, err := parseDefinition(body.Definition)
	if err != nil {
		fail(w, r, err)
		return
	}
	s.previewAudience(w, r, def, map[string]any{})
}

func (s *Server) previewAudience(w http.ResponseWriter, r *http.Request, def segment.Definition, out map[string]any) {
	sum, err := audience.Preview(r.Context(), s.Store, def, maxPreviewRead, s.now())
	if err != nil {
		fail(w, r, err)
		return
	}
	byConsent := map[string]int{}
	for st, n := range sum.ByConsent {
		byConsent[string(st)] = n
	}
	out["matching_users"], out["by_consent_state"], out["sample"] = sum.Matching, byConsent, sum.Sample
	out["users_scanned"], out["complete"] = sum.Read, sum.Complete
	respond(w, http.StatusOK, out)
}
