package api

import (
	"encoding/json"
	"net/http"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/segment"
)

func (s *Server) createSegment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name       string          `json:"name"`
		Definition json.RawMessage `json:"definition_json"`
	}
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	var d []errs.Detail
	if body.Name == "" {
		d = append(d, errs.Detail{Field: "name", Message: "is required"})
	}
	var def segment.Definition
	if len(body.Definition) == 0 {
		d = append(d, errs.Detail{Field: "definition_json", Message: "is required"})
	} else if parsed, err := segment.Parse(body.Definition); err != nil {
		d = append(d, detailsOr(err, "definition_json")...)
	} else {
		def = parsed
	}
	if len(d) > 0 {
		fail(w, r, errs.WithDetails(errs.Invalid, "invalid segment", d))
		return
	}
	now := s.now()
	seg, err := s.Store.CreateSegment(r.Context(), segment.Segment{Name: body.Name, Definition: def, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusCreated, seg)
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

// previewSegment evaluates a segment now: how many people match, by
// consent state, with a few masked numbers.
func (s *Server) previewSegment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	seg, err := s.Store.GetSegment(r.Context(), id)
	if err != nil {
		fail(w, r, notFound(err, "segment", id))
		return
	}
	const pageSize, maxScanned = 500, 200_000
	matched, scanned := 0, 0
	byConsent := map[string]int{}
	sample := []string{}
	after := ""
	now := s.now()
	for scanned < maxScanned {
		us, err := s.Store.ScanUsers(r.Context(), after, pageSize)
		if err != nil {
			fail(w, r, err)
			return
		}
		for _, u := range us {
			if seg.Definition.Match(u, now) {
				matched++
				byConsent[string(u.Consent)]++
				if len(sample) < 10 {
					sample = append(sample, phone.Mask(u.Phone))
				}
			}
		}
		scanned += len(us)
		if len(us) < pageSize {
			break
		}
		after = us[len(us)-1].Phone
	}
	respond(w, http.StatusOK, map[string]any{
		"segment_id": id, "matching_users": matched, "by_consent_state": byConsent,
		"sample": sample, "users_scanned": scanned, "complete": scanned < maxScanned,
	})
}
