package api

import (
	"fmt"
	"net/http"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/reporting"
	"github.com/eventstreamengine/ese/shared/user"
)

// personHistory answers what happened to one number: consent changes,
// messages and compliance decisions, oldest first, with the newest
// ?limit= messages (100 by default, at most 1000). A number with no user
// but messages (skipped as unknown_user, say) still has a history.
func (s *Server) personHistory(w http.ResponseWriter, r *http.Request) {
	p, err := phoneParam(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	n, err := limit(r, 100, 1000)
	if err != nil {
		fail(w, r, err)
		return
	}
	ctx := r.Context()
	var state consent.State
	var marketing *user.MarketingOptOut
	switch u, err := s.Store.GetUser(ctx, p); {
	case err == nil:
		state, marketing = u.Consent, u.MarketingOptOut
	case !errs.Is(err, errs.NotExist):
		fail(w, r, err)
		return
	}
	h, err := reporting.PersonHistory(ctx, s.Store, p, n)
	if err != nil {
		fail(w, r, err)
		return
	}
	h.Entries = reporting.WithMarketingOptOut(h.Entries, marketing)
	if state == "" && len(h.Entries) == 0 {
		fail(w, r, errs.E(errs.NotExist, "no user or message with number %q", p))
		return
	}
	respond(w, http.StatusOK, struct {
		reporting.History
		Consent consent.State `json:"consent_state,omitempty"` // now; absent without a user
	}{h, state})
}

// exportMessages streams every message of a campaign as CSV, a page of
// the store at a time, every cell spreadsheet-safe.
func (s *Server) exportMessages(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	if _, err := s.Store.GetCampaign(ctx, id); err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="campaign-%s-messages.csv"`, id))
	out := &sentWriter{w: w}
	n, err := reporting.ExportMessages(ctx, out, s.Store, id)
	if err == nil {
		return
	}
	if !out.sent {
		// The first page failed: nothing is sent, so the error can be.
		w.Header().Del("Content-Disposition")
		fail(w, r, err)
		return
	}
	// The header is sent: all that can be done is to cut the answer
	// short, which the client sees as a broken download.
	logging.FromContext(ctx).Error("messages export failed", "campaign_id", id, "written", n, "error", err.Error())
	panic(http.ErrAbortHandler)
}

// sentWriter records whether anything was written through it.
type sentWriter struct {
	w    http.ResponseWriter
	sent bool
}

func (s *sentWriter) Write(b []byte) (int, error) {
	s.sent = s.sent || len(b) > 0
	return s.w.Write(b)
}
