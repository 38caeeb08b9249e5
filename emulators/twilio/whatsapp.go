package twilio

import (
	"cmp"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Error codes of messages accepted and then failed, with the messages
// Twilio gives them.
const (
	CodeUnknown        = 30008
	CodeQueueOverflow  = 30001
	CodeOutsideWindow  = 63016
	CodeParamsMismatch = 63028
	// CodeMarketingOptOut: a marketing template to a person who stopped
	// the business's marketing messages in WhatsApp (Meta's 131050).
	CodeMarketingOptOut = 63033
	codeFromQueueFull   = 21611
)

var errorMessages = map[int]string{
	CodeUnknown:         "Unknown error",
	CodeQueueOverflow:   "Queue overflow",
	CodeOutsideWindow:   "Failed to send freeform message because you are outside the allowed window. Please use a Template.",
	CodeParamsMismatch:  "Number of parameters provided does not match the expected number of parameters",
	CodeMarketingOptOut: "Recipient opted out to receive message",
}

// step is one status of a message's life; the one atSlot waits for the
// message's turn in its sender's queue instead of StatusStep.
type step struct {
	status string
	code   int // the ErrorCode of a failed step
	atSlot bool
}

var (
	delivered  = []step{{status: "queued"}, {status: "sent", atSlot: true}, {status: "delivered"}, {status: "read"}}
	failsLater = []step{{status: "queued"}, {status: "sent", atSlot: true}, {status: "failed", code: CodeUnknown}}
)

// failsWith is a life refused after acceptance: WhatsApp refuses it when
// the sender hands it on (atSlot), Twilio's queue at once otherwise.
func failsWith(code int, atSlot bool) []step {
	return []step{{status: "queued"}, {status: "failed", code: code, atSlot: atSlot}}
}

// queue is a sender's queue: Twilio hands a sender's messages on at its
// MPS, one every interval, holding the rest.
type queue struct {
	last    time.Time   // the latest turn given
	pending []time.Time // turns still ahead, in order
}

// turn gives the next message of sender its time to be handed on (sent):
// no sooner than the two status steps after now, and an interval after
// the turn before. It reports false, giving no turn, when the queue is
// full. With no SenderMPS every message is handed on at once.
func (s *Server) turn(sender string, now time.Time) (time.Time, bool) {
	if s.cfg.SenderMPS <= 0 {
		return time.Time{}, true
	}
	q := s.senders[sender]
	if q == nil {
		q = &queue{}
		s.senders[sender] = q
	}
	for len(q.pending) > 0 && !q.pending[0].After(now) {
		q.pending = q.pending[1:]
	}
	if len(q.pending) >= s.cfg.SenderQueue {
		return time.Time{}, false
	}
	interval := time.Duration(float64(time.Second) / s.cfg.SenderMPS)
	at := now.Add(2 * s.cfg.StatusStep)
	if !q.last.IsZero() {
		at = later(at, q.last.Add(interval))
	}
	q.last = at
	q.pending = append(q.pending, at)
	return at, true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// windowOpen reports whether person wrote to sender within the Window
// before now. Callers hold s.mu.
func (s *Server) windowOpen(person, sender string, now time.Time) bool {
	last, ok := s.inbound[pair{bare(person), bare(sender)}]
	return ok && now.Sub(last) <= s.cfg.Window
}

// OpenWindow records that person wrote to sender now, as an inbound
// message does, without posting to any webhook; sender "" is
// DefaultInboundTo.
func (s *Server) OpenWindow(person, sender string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inbound[pair{bare(person), bare(cmp.Or(sender, DefaultInboundTo))}] = s.cfg.Now()
}

// bare is a number without its channel.
func bare(number string) string { return strings.TrimPrefix(number, channel) }

// openWindow is POST /_standin/window (From, optional To): the person
// From has written to the sender To, now.
func (s *Server) openWindow(w http.ResponseWriter, r *http.Request) {
	in, err := readFields(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	person, sender := bare(in["from"]), bare(cmp.Or(in["to"], DefaultInboundTo))
	if !e164.MatchString(person) || !e164.MatchString(sender) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "From (and To, if given) must be E.164 numbers, e.g. +94771234577 or whatsapp:+94771234577"})
		return
	}
	s.OpenWindow(person, sender)
	s.log.Info("twilio stand-in: window opened", "from", mask(person))
	w.WriteHeader(http.StatusNoContent)
}

// AddContent makes the stand-in render the template sid as body, whose
// {{1}}-style variables take the message's ContentVariables.
func (s *Server) AddContent(sid, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.contents[sid] = body
}

// MarkMarketing records that WhatsApp approved the template sid in its
// MARKETING category: a person who stopped marketing messages
// (StopMarketing) is not sent it.
func (s *Server) MarkMarketing(sid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marketing[sid] = true
}

// StopMarketing makes person stop the business's marketing messages, as
// they can in WhatsApp: from now on a marketing template to them is
// accepted and then fails with 63033; others still reach them.
func (s *Server) StopMarketing(person string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stoppedMarketing[bare(person)] = true
}

// addContent is POST /_standin/contents (Sid, Body, optional Category:
// MARKETING, UTILITY or AUTHENTICATION, any case, as WhatsApp approved it).
func (s *Server) addContent(w http.ResponseWriter, r *http.Request) {
	in, err := readFields(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if !contentSIDPattern.MatchString(in["sid"]) || in["body"] == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Sid must be HX and 32 hex digits, and Body not empty"})
		return
	}
	category := strings.ToUpper(in["category"])
	switch category {
	case "", "MARKETING", "UTILITY", "AUTHENTICATION":
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Category must be MARKETING, UTILITY or AUTHENTICATION"})
		return
	}
	s.AddContent(in["sid"], in["body"])
	if category == "MARKETING" {
		s.MarkMarketing(in["sid"])
	}
	w.WriteHeader(http.StatusNoContent)
}

// stopMarketing is POST /_standin/stop-marketing (From): the person From
// stops the business's marketing messages (see StopMarketing).
func (s *Server) stopMarketing(w http.ResponseWriter, r *http.Request) {
	in, err := readFields(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	person := bare(in["from"])
	if !e164.MatchString(person) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "From must be an E.164 number, e.g. +94771234577 or whatsapp:+94771234577"})
		return
	}
	s.StopMarketing(person)
	s.log.Info("twilio stand-in: marketing messages stopped", "from", mask(person))
	w.WriteHeader(http.StatusNoContent)
}

var placeholder = regexp.MustCompile(`\{\{\s*([0-9A-Za-z_]+)\s*\}\}`)

// render fills template's variables from vars; ok is false when one has
// no value, which WhatsApp refuses (63028).
func render(template string, vars map[string]string) (string, bool) {
	ok := true
	out := placeholder.ReplaceAllStringFunc(template, func(m string) string {
		v, found := vars[placeholder.FindStringSubmatch(m)[1]]
		if !found || v == "" {
			ok = false
			return m // left as it was, to show what is missing
		}
		return v
	})
	return out, ok
}
