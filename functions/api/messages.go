package api

import (
	"net/http"
	"regexp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
)

// listMessages pages the messages held with an unknown outcome
// (status=RECONCILE: the operator's queue under UNKNOWN_OUTCOME=hold),
// across campaigns or one (campaign_id), by id: ?after= is the last id
// of the page before, given back as next_after while there may be more.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if st := q.Get("status"); st != string(message.Reconcile) {
		fail(w, r, errs.WithDetails(errs.Invalid, "status must be RECONCILE",
			[]errs.Detail{{Field: "status", Message: "must be RECONCILE (the messages awaiting an operator); a campaign's messages are at /api/v1/reporting/messages/status"}}))
		return
	}
	n, err := limit(r, 50, 200)
	if err != nil {
		fail(w, r, err)
		return
	}
	cid := q.Get("campaign_id")
	if cid != "" {
		if _, err := s.Store.GetCampaign(r.Context(), cid); err != nil {
			fail(w, r, notFound(err, "campaign", cid))
			return
		}
	}
	page, err := s.Store.MessagesByStatus(r.Context(), message.Reconcile, cid, q.Get("after"), n)
	if err != nil {
		fail(w, r, err)
		return
	}
	// Only those the Sender held for an operator: a RECONCILE message
	// not yet held is still being reconciled, and not theirs to decide.
	var ms []message.Message
	for _, m := range page {
		if m.HeldAt != nil {
			ms = append(ms, m)
		}
	}
	out := map[string]any{"messages": nonNil(ms), "count": len(ms), "status": message.Reconcile}
	if cid != "" {
		out["campaign_id"] = cid
	}
	if len(page) == n {
		out["next_after"] = page[len(page)-1].ID
	}
	respond(w, http.StatusOK, out)
}

// providerSID is how Twilio names a message.
var providerSID = regexp.MustCompile(`^(SM|MM)[0-9a-f]{32}$`)

// resolveMessage records an operator's decision on a message held with
// an unknown outcome, on the attempt they saw listed ("attempts", required):
// {"outcome": "sent"} (optionally with its "message_sid") records it SENT;
// {"outcome": "resend"} gives it a new claim generation and a task; an
// optional "note" is kept with the decision. 409 when that attempt is not
// held for an operator (still being reconciled, or a later one); the same
// decision on the same attempt again is answered as the first.
func (s *Server) resolveMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body struct {
		Outcome    string `json:"outcome"`
		MessageSID string `json:"message_sid"`
		Attempts   int    `json:"attempts"`
		Note       string `json:"note"`
	}
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	var d []errs.Detail
	switch message.Outcome(body.Outcome) {
	case message.OutcomeSent:
		if body.MessageSID != "" && !providerSID.MatchString(body.MessageSID) {
			d = append(d, errs.Detail{Field: "message_sid", Message: "must be Twilio's message SID: SM (or MM) and 32 hex digits"})
		}
	case message.OutcomeResend:
		if body.MessageSID != "" {
			d = append(d, errs.Detail{Field: "message_sid", Message: `goes only with outcome "sent"`})
		}
	default:
		d = append(d, errs.Detail{Field: "outcome", Message: `must be "sent" or "resend"`})
	}
	if body.Attempts < 1 {
		d = append(d, errs.Detail{Field: "attempts", Message: "required: the held message's attempts, as listed (the decision is about that attempt)"})
	}
	if len(body.Note) > 1000 {
		d = append(d, errs.Detail{Field: "note", Message: "at most 1000 characters"})
	}
	if len(d) > 0 {
		fail(w, r, errs.WithDetails(errs.Invalid, "invalid resolution", d))
		return
	}
	m, retask, err := sending.Resolve(r.Context(), s.Store, sending.Resolution{
		MessageID: id, Attempts: body.Attempts, Outcome: message.Outcome(body.Outcome), ProviderSID: body.MessageSID,
		By: callerOf(r.Context()), Note: body.Note,
	}, s.now())
	if err != nil {
		fail(w, r, notFound(err, "message", id))
		return
	}
	if retask || m.Status.Concluded() {
		// Asked again by a repeated request while the message waits; the
		// stranded-message sweep makes it too, should both fail. After
		// "sent" the same request checks the campaign's completion (the
		// message may have been its last open one), again on a repeat.
		if err := s.Runner.RetaskSoon(r.Context(), m.CampaignID, []string{m.ID}); err != nil {
			fail(w, r, err)
			return
		}
	}
	respond(w, http.StatusOK, m)
}
