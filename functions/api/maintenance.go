package api

import (
	"cmp"
	"net/http"
	"time"

	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
)

// republishAge is how old an unpublished callback must be before a sweep
// takes it: younger ones may still be in their webhook's hands.
const republishAge = 30 * time.Second

// republishWebhooks hands on callbacks that were stored but never
// published (their webhook died between the two, and Twilio does not
// retry): run it every minute (Cloud Scheduler in production).
func (s *Server) republishWebhooks(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	evs, err := s.Store.ListUnpublished(ctx, s.now().Add(-republishAge), 500)
	if err != nil {
		fail(w, r, err)
		return
	}
	n := 0
	for _, e := range evs {
		if err := s.Events.Publish(ctx, events.WebhookTopic(e.Kind), e); err != nil {
			fail(w, r, err)
			return
		}
		if err := s.Store.MarkWebhookPublished(ctx, e.ID); err != nil {
			fail(w, r, err)
			return
		}
		n++
	}
	if n > 0 {
		logging.FromContext(ctx).Warn("republished stored callbacks", "count", n)
	}
	respond(w, http.StatusOK, map[string]any{"republished": n})
}

// checkCampaigns asks again for the settling of campaigns a pause, resume
// or cancel left unsettled (campaignrun.Resettle), and for the sender's
// ceiling to be shared again (a sharing is best-effort: this puts right
// one that failed) and for the stranded-message sweep, then reports the
// running campaigns that stopped
// moving (campaignrun.FindStuck), each also logged at ERROR for the
// alert: run it every few minutes (Cloud Scheduler in production).
func (s *Server) checkCampaigns(w http.ResponseWriter, r *http.Request) {
	resettled, err := s.Runner.Resettle(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	if s.SenderMPS > 0 {
		// ProcessRecipients shares it: the API has no Cloud Tasks client
		// deployed.
		if err := s.Runner.ShareCeilingAgain(r.Context()); err != nil {
			// The next check asks again; the stuck report matters more.
			logging.FromContext(r.Context()).Warn("sender's ceiling: sharing again not requested", "error", err)
		}
	}
	// ProcessRecipients sweeps, with its queue client: messages left
	// without a task get one again (campaignrun.SweepStranded).
	if err := s.Runner.SweepStrandedSoon(r.Context()); err != nil {
		// The next check asks again.
		logging.FromContext(r.Context()).Warn("stranded-message sweep not requested", "error", err)
	}
	after := cmp.Or(s.StuckAfter, campaignrun.DefaultStuckAfter)
	stuck, err := s.Runner.FindStuck(r.Context(), after)
	if err != nil {
		fail(w, r, err)
		return
	}
	if stuck == nil {
		stuck = []campaignrun.Stuck{}
	}
	respond(w, http.StatusOK, map[string]any{"stuck": stuck, "stuck_after": after.String(), "resettled": resettled})
}

// launchScheduled launches the scheduled campaigns whose schedule_time has
// come (campaignrun.LaunchDue): run it every minute (Cloud Scheduler in
// production), which is how late a campaign may start.
func (s *Server) launchScheduled(w http.ResponseWriter, r *http.Request) {
	launched, err := s.Runner.LaunchDue(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusOK, map[string]any{"launched": launched})
}
