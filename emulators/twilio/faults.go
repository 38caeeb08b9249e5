package twilio

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Faults makes the stand-in misbehave as Twilio and the network can, for
// chaos tests; every field is a fraction from 0 to 1, drawn from one
// random source seeded with Seed (the draws follow the order requests
// arrive in, so a seed reproduces the mix of faults, not which message
// meets which). The zero value injects nothing. Set it with Config.Faults,
// SetFaults or POST /_standin/faults (this struct as JSON); GET
// /_standin/faults says what was set and what was injected so far.
type Faults struct {
	Seed uint64 `json:"seed"`
	// Throttle answers a Messages API call 429 (code 20429), and
	// ServerError answers it 500 (code 20500); neither creates anything.
	Throttle    float64 `json:"throttle"`
	ServerError float64 `json:"server_error"`
	// Drop creates the message (its life and callbacks go on) and then
	// closes the connection without answering, as a network that fails
	// after Twilio accepted the send: the caller cannot know it was sent.
	Drop float64 `json:"drop"`
	// FailLater accepts a message and fails it after it was sent (30008),
	// as WhatsApp may.
	FailLater float64 `json:"fail_later"`
	// Callbacks is the share of status callbacks that misbehave, each in
	// one of three ways chosen alike: posted late (after the message's
	// later statuses), posted twice, or posted just after the next one
	// (out of order).
	Callbacks float64 `json:"callbacks"`
}

// Injected counts the faults injected so far.
type Injected struct {
	Throttled          int `json:"throttled"`
	ServerErrors       int `json:"server_errors"`
	Dropped            int `json:"dropped"`
	FailedLater        int `json:"failed_later"`
	CallbacksLate      int `json:"callbacks_late"`
	CallbacksTwice     int `json:"callbacks_twice"`
	CallbacksReordered int `json:"callbacks_reordered"`
}

// chaos is the stand-in's fault state.
type chaos struct {
	mu       sync.Mutex
	faults   Faults
	rng      *rand.Rand
	injected Injected
}

func (c *chaos) set(f Faults) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults, c.rng, c.injected = f, rand.New(rand.NewPCG(f.Seed, 0x5eed)), Injected{}
}

// draw reports whether an event of probability p happens, counting it in
// *count when it does.
func (c *chaos) draw(p func(Faults) float64, count func(*Injected) *int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rng == nil || p(c.faults) <= 0 || c.rng.Float64() >= p(c.faults) {
		return false
	}
	*count(&c.injected)++
	return true
}

// callbackFault picks how one status callback misbehaves: "" (it does
// not), "late", "twice" or "reordered".
func (c *chaos) callbackFault() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rng == nil || c.faults.Callbacks <= 0 || c.rng.Float64() >= c.faults.Callbacks {
		return ""
	}
	switch c.rng.IntN(3) {
	case 0:
		c.injected.CallbacksLate++
		return "late"
	case 1:
		c.injected.CallbacksTwice++
		return "twice"
	}
	c.injected.CallbacksReordered++
	return "reordered"
}

// SetFaults replaces the faults injected from now on, and resets the
// counts and the random source to f.Seed.
func (s *Server) SetFaults(f Faults) { s.chaos.set(f) }

// InjectedFaults counts the faults injected since the last SetFaults.
func (s *Server) InjectedFaults() Injected {
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	return s.chaos.injected
}

// apiFault answers a Messages API call as Throttle or ServerError says,
// reporting whether it did (then the call is over).
func (s *Server) apiFault(w http.ResponseWriter) bool {
	switch {
	case s.chaos.draw(func(f Faults) float64 { return f.Throttle }, func(i *Injected) *int { return &i.Throttled }):
		writeError(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
	case s.chaos.draw(func(f Faults) float64 { return f.ServerError }, func(i *Injected) *int { return &i.ServerErrors }):
		writeError(w, http.StatusInternalServerError, 20500, "Internal Server Error")
	default:
		return false
	}
	s.log.Info("twilio stand-in: fault injected in an API call")
	return true
}

// drop closes the connection of w without an answer, reporting whether it
// could (an HTTP/2 or test recorder cannot be hijacked).
func drop(w http.ResponseWriter) bool {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// deliverCallback posts m's status callback, misbehaving as Faults.Callbacks
// says: a late or reordered one is posted later by its own goroutine, so
// the message's life (and its next callbacks) goes on without it.
func (s *Server) deliverCallback(m Message) {
	var after time.Duration
	switch s.chaos.callbackFault() {
	case "":
		s.callback(m)
		return
	case "twice":
		s.callback(m)
		after = s.cfg.StatusStep / 2
	case "reordered":
		// Just after the next status's callback.
		after = s.cfg.StatusStep + s.cfg.StatusStep/2
	case "late":
		// After the rest of the message's life.
		after = 4*s.cfg.StatusStep + time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if s.sleep(after) {
			s.callback(m)
		}
	}()
}

// postFaults is POST /_standin/faults: a Faults as JSON.
func (s *Server) postFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxForm)).Decode(&f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want a JSON object of faults: " + err.Error()})
		return
	}
	for _, p := range []float64{f.Throttle, f.ServerError, f.Drop, f.FailLater, f.Callbacks} {
		if !(p >= 0 && p <= 1) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "every fault is a fraction from 0 to 1"})
			return
		}
	}
	s.SetFaults(f)
	s.log.Info("twilio stand-in: faults set", "seed", f.Seed, "throttle", f.Throttle, "server_error", f.ServerError,
		"drop", f.Drop, "fail_later", f.FailLater, "callbacks", f.Callbacks)
	w.WriteHeader(http.StatusNoContent)
}

// getFaults is GET /_standin/faults: what is set and what was injected.
func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) {
	s.chaos.mu.Lock()
	out := struct {
		Faults   Faults   `json:"faults"`
		Injected Injected `json:"injected"`
	}{s.chaos.faults, s.chaos.injected}
	s.chaos.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// faulty answers a Messages API call with an injected fault (Throttle,
// ServerError) instead of next, when one is drawn.
func (s *Server) faulty(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.apiFault(w) {
			next(w, r)
		}
	}
}
