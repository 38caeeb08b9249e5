package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/eventstreamengine/ese/shared/logging"
)

// dashboard is the system at a glance, refreshing itself: the API's
// dashboard, /health, and the sent/delivered series of recent campaigns.
// The reads that do not depend on each other run side by side.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	var d, h answer
	var wg sync.WaitGroup
	wg.Go(func() { h = s.get(r, "/health", nil) })
	d = s.get(r, "/api/v1/monitoring/dashboard", nil)
	if !d.OK() {
		wg.Wait()
		s.failed(w, r, "Dashboard unavailable", d)
		return
	}
	var ids []string
	if cs, ok := d.Body["campaigns"].(map[string]any); ok {
		recent, _ := cs["recent"].([]any)
		for _, c := range recent {
			if m, ok := c.(map[string]any); ok {
				ids = append(ids, fmt.Sprint(m["id"]))
			}
		}
	}
	ser, err := s.cachedSeries(r.Context(), ids, s.now())
	wg.Wait()
	if err != nil {
		s.problem(w, r, http.StatusBadGateway, "Dashboard unavailable", "The messages could not be read.")
		return
	}
	s.render(w, r, http.StatusOK, "dashboard", page{Title: "Dashboard", Nav: "dashboard", Refresh: 30,
		Data: map[string]any{"D": d.Body, "Health": h.Body, "Chart": ser.chart()}})
}

// refreshHeader marks the page's own automatic refresh (console.js).
const refreshHeader = "X-Console-Refresh"

// monitoring is the inbound stream, recent failures and the work that is
// stuck or dead-lettered, read side by side. Listing dead letters waits
// on Pub/Sub for a moment and reads up to 1,000 per topic, so the
// automatic refresh leaves them out and the page keeps the list it has
// (data-keep), with the operator's Replay and Discard links in place.
func (s *Server) monitoring(w http.ResponseWriter, r *http.Request) {
	var in, d, dl answer
	var failures []failure
	var ferr error
	var wg sync.WaitGroup
	refresh := r.Header.Get(refreshHeader) != ""
	wg.Go(func() { d = s.get(r, "/api/v1/monitoring/dashboard", nil) })
	if !refresh {
		wg.Go(func() { dl = s.get(r, "/api/v1/monitoring/dead-letters", nil) })
	}
	wg.Go(func() { failures, ferr = s.recentFailures(r.Context(), 50) })
	var stuck []stuckMessage
	var left []leftImport
	var serr, lerr error
	wg.Go(func() { stuck, serr = s.stuckMessages(r.Context(), stuckShown) })
	wg.Go(func() { left, lerr = s.leftImports(r.Context(), stuckShown) })
	in = s.get(r, "/api/v1/monitoring/inbound", url.Values{"limit": {"50"}})
	wg.Wait()
	if !in.OK() {
		s.failed(w, r, "Monitoring unavailable", in)
		return
	}
	if ferr != nil {
		s.problem(w, r, http.StatusBadGateway, "Monitoring unavailable", "The messages could not be read.")
		return
	}
	// A list that could not be read is said so on its card: the rest of
	// the page still shows.
	log := logging.FromContext(r.Context())
	var stuckProblem, leftProblem string
	if serr != nil {
		log.Error("console: stuck messages", "error", serr.Error())
		stuckProblem = "The stuck messages could not be read."
	}
	if lerr != nil {
		log.Error("console: imports left behind", "error", lerr.Error())
		leftProblem = "The imports could not be read."
	}
	s.render(w, r, http.StatusOK, "monitoring", page{Title: "Monitoring", Nav: "monitoring", Refresh: 15,
		Data: map[string]any{"Inbound": in.Body["messages"], "D": d.Body, "DeadLetters": dl.Body, "DeadLettersProblem": dl.Message(), "Failures": failures, "KeepDeadLetters": refresh,
			"Stuck": stuck, "StuckProblem": stuckProblem, "StuckShown": stuckShown, "LeftImports": left, "LeftProblem": leftProblem}})
}

var deadLetterText = map[string]confirm{
	"replay":  {Question: "Replay this event?", Button: "Replay", Detail: "It is published to its topic again and handled as it was first meant to be; every handler is idempotent."},
	"discard": {Question: "Discard this event?", Button: "Discard", Danger: true, Detail: "It is removed for good: do this only for an event no handler will ever take."},
}

func (s *Server) confirmDeadLetter(w http.ResponseWriter, r *http.Request) {
	topic, id, action := r.PathValue("topic"), r.PathValue("id"), r.URL.Query().Get("action")
	c, ok := deadLetterText[action]
	if !ok {
		s.notFound(w, r)
		return
	}
	c.Action, c.Back = "/monitoring/dead-letters/"+url.PathEscape(topic)+"/"+url.PathEscape(id)+"/"+action, "/monitoring"
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "monitoring", Data: map[string]any{"C": c, "Subject": topic + " " + id}})
}

// deadLetter replays or discards a dead letter (the API's).
func (s *Server) deadLetter(w http.ResponseWriter, r *http.Request) {
	topic, id, action := r.PathValue("topic"), r.PathValue("id"), r.PathValue("action")
	if _, ok := deadLetterText[action]; !ok {
		s.notFound(w, r)
		return
	}
	a := s.call(r, http.MethodPost, apiPath("/api/v1/monitoring/dead-letters", topic, id, action), nil, nil)
	if !a.OK() {
		s.problem(w, r, a.Status, "Not done", a.Message())
		return
	}
	http.Redirect(w, r, "/monitoring?done="+action, http.StatusSeeOther)
}
