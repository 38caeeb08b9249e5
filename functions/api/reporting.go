package api

import (
	"net/http"
	"time"

	"github.com/eventstreamengine/ese/functions/internal/twilioform"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/reporting"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/webhook"
)

func (s *Server) campaignSummary(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := s.Store.GetCampaign(r.Context(), id)
	if err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	sum, err := reporting.CampaignSummary(r.Context(), s.Store, c, s.now(),
		reporting.Codes{Class: twilioform.FailureClass, Meaning: twilioform.ErrorMeaning})
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusOK, sum)
}

func (s *Server) messageStatus(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("campaign_id")
	if id == "" {
		fail(w, r, errs.WithDetails(errs.Invalid, "campaign_id is required",
			[]errs.Detail{{Field: "campaign_id", Message: "is required"}}))
		return
	}
	n, err := limit(r, 100, 1000)
	if err != nil {
		fail(w, r, err)
		return
	}
	if _, err := s.Store.GetCampaign(r.Context(), id); err != nil {
		fail(w, r, notFound(err, "campaign", id))
		return
	}
	ms, err := s.Store.ListMessages(r.Context(), store.MessageFilter{CampaignID: id, Limit: n})
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusOK, map[string]any{"messages": nonNil(ms), "campaign_id": id, "count": len(ms)})
}

// inboundJSON is one inbound message as a monitor shows it: the number
// masked.
type inboundJSON struct {
	ID             string    `json:"id"`
	MessageSID     string    `json:"message_sid"`
	Phone          string    `json:"phone_number"`
	Body           string    `json:"body"`
	Classification string    `json:"classification"`
	ReceivedAt     time.Time `json:"received_at"`
}

func (s *Server) inbound(r *http.Request, n int) ([]inboundJSON, error) {
	evs, err := s.Store.ListWebhooks(r.Context(), webhook.Inbound, n)
	if err != nil {
		return nil, err
	}
	out := make([]inboundJSON, 0, len(evs))
	for _, e := range evs {
		m := twilioform.Inbound(e)
		from := m.From
		if p, err := phone.Normalize(from); err == nil {
			from = p
		}
		out = append(out, inboundJSON{
			ID: e.ID, MessageSID: m.ProviderSID, Phone: phone.Mask(from), Body: m.Body,
			Classification: inbound.Classification(m.Body), ReceivedAt: m.ReceivedAt,
		})
	}
	return out, nil
}

func (s *Server) monitorInbound(w http.ResponseWriter, r *http.Request) {
	n, err := limit(r, 50, 500)
	if err != nil {
		fail(w, r, err)
		return
	}
	msgs, err := s.inbound(r, n)
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusOK, map[string]any{"messages": msgs, "count": len(msgs)})
}

// dashboard is the system at a glance: people by consent, campaigns by
// status with the latest, the latest inbound messages, and the messages
// stranded without a task (campaignrun.Runner.StuckMessages: counted, not
// read).
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	users := map[string]int{}
	total, err := s.Store.CountUsers(ctx, store.UserFilter{})
	if err != nil {
		fail(w, r, err)
		return
	}
	users["total"] = total
	for _, c := range []consent.State{consent.OptIn, consent.Stop, consent.OptOut} {
		n, err := s.Store.CountUsers(ctx, store.UserFilter{Consent: c})
		if err != nil {
			fail(w, r, err)
			return
		}
		users[string(c)] = n
	}
	cs, ctotal, err := s.Store.ListCampaigns(ctx, store.Page{Page: 1, PerPage: 5})
	if err != nil {
		fail(w, r, err)
		return
	}
	byStatus := map[campaign.Status]int{}
	for _, st := range []campaign.Status{campaign.Draft, campaign.Scheduled, campaign.Running, campaign.Paused, campaign.Completed, campaign.Cancelled, campaign.Failed} {
		n, err := s.Store.CountCampaigns(ctx, st)
		if err != nil {
			fail(w, r, err)
			return
		}
		if n > 0 {
			byStatus[st] = n
		}
	}
	recent := []map[string]any{}
	for _, c := range cs {
		recent = append(recent, campaignJSON(c))
	}
	in, err := s.inbound(r, 10)
	if err != nil {
		fail(w, r, err)
		return
	}
	stuck, err := s.Runner.StuckMessages(ctx)
	if err != nil {
		fail(w, r, err)
		return
	}
	unknown, err := s.Store.CountByStatus(ctx, message.Reconcile, "")
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusOK, map[string]any{
		"users":                    users,
		"campaigns":                map[string]any{"total": ctotal, "by_status": byStatus, "recent": recent},
		"stuck_messages":           stuck,
		"unknown_outcome_messages": unknown,
		"inbound":                  map[string]any{"recent": in},
		"generated_at":             s.now(),
	})
}
