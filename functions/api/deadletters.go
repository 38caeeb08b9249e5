package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/render"
)

// deadLetter is a dead letter as the API shows it. Its payload may hold
// phone numbers and message bodies: the API is for admins, so it is shown,
// but it is never logged.
type deadLetter struct {
	Topic           string     `json:"topic"`
	ID              string     `json:"id"`
	PublishTime     *time.Time `json:"publish_time"` // null when unknown
	DeliveryAttempt int        `json:"delivery_attempt"`
	// Reason says why a handler gave it up; absent when its deliveries ran
	// out.
	Reason string `json:"reason,omitempty"`
	// OriginalID is the id the handler's log lines name, when it was
	// buried.
	OriginalID string            `json:"original_id,omitempty"`
	Attributes map[string]string `json:"attributes"`
	// Exactly one of these: the payload as JSON when it is JSON, else
	// its bytes in base64.
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadBase64 *string         `json:"payload_base64,omitempty"`
}

func viewDeadLetter(d events.DeadLetter) deadLetter {
	v := deadLetter{Topic: d.Topic, ID: d.ID, DeliveryAttempt: d.DeliveryAttempts, Reason: d.Reason, OriginalID: d.OriginalID, Attributes: d.Attributes}
	if !d.PublishTime.IsZero() {
		t := d.PublishTime.UTC()
		v.PublishTime = &t
	}
	if v.Attributes == nil {
		v.Attributes = map[string]string{}
	}
	if len(d.Data) > 0 && json.Valid(d.Data) {
		v.Payload = d.Data
	} else {
		b := base64.StdEncoding.EncodeToString(d.Data)
		v.PayloadBase64 = &b
	}
	return v
}

// listDeadLetters shows the events that ran out of delivery attempts,
// oldest first, without taking them: ?topic= narrows to one topic,
// ?limit= (default 50, at most 200).
func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	if !s.hasDeadLetters(w) {
		return
	}
	n, err := limit(r, 50, 200)
	if err != nil {
		fail(w, r, err)
		return
	}
	topic := r.URL.Query().Get("topic")
	if topic != "" && !slices.Contains(events.Topics, topic) {
		fail(w, r, errs.WithDetails(errs.Invalid, "unknown topic", []errs.Detail{
			{Field: "topic", Message: "must be one of " + strings.Join(events.Topics, ", ")}}))
		return
	}
	dls, err := s.DeadLetters.List(r.Context(), topic, n)
	if err != nil {
		fail(w, r, err)
		return
	}
	out := make([]deadLetter, 0, len(dls))
	for _, d := range dls {
		out = append(out, viewDeadLetter(d))
	}
	respond(w, http.StatusOK, map[string]any{"dead_letters": out, "count": len(out)})
}

// replayDeadLetter publishes a dead letter to its topic again, then
// removes it from the dead letters.
func (s *Server) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	s.actOnDeadLetter(w, r, "replayed", events.DeadLetters.Replay)
}

// discardDeadLetter removes a dead letter no handler will ever take (a
// replay would only fail again), so that the alert on waiting dead
// letters stops.
func (s *Server) discardDeadLetter(w http.ResponseWriter, r *http.Request) {
	s.actOnDeadLetter(w, r, "discarded", events.DeadLetters.Discard)
}

func (s *Server) actOnDeadLetter(w http.ResponseWriter, r *http.Request, done string, act func(d events.DeadLetters, ctx context.Context, topic, id string) error) {
	if !s.hasDeadLetters(w) {
		return
	}
	topic, id := r.PathValue("topic"), r.PathValue("id")
	if !slices.Contains(events.Topics, topic) {
		fail(w, r, errs.E(errs.NotExist, "no topic %q", topic))
		return
	}
	if err := act(s.DeadLetters, r.Context(), topic, id); err != nil {
		if errs.Is(err, errs.NotExist) {
			err = errs.E(errs.NotExist, "no dead letter %q of topic %q", id, topic)
		}
		fail(w, r, err)
		return
	}
	logging.FromContext(r.Context()).Warn("dead letter "+done, "topic", topic, "message_id", id)
	respond(w, http.StatusOK, map[string]any{done: true, "topic": topic, "id": id})
}

// hasDeadLetters answers 501 for a server built without dead letters.
func (s *Server) hasDeadLetters(w http.ResponseWriter) bool {
	if s.DeadLetters == nil {
		render.ErrorMessage(w, http.StatusNotImplemented, "dead letters are not configured on this server")
		return false
	}
	return true
}
