package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/eventstreamengine/ese/shared/logging"
)

// health answers healthy only when every dependency answers: the store,
// the topics and subscriptions, the send queues and the provider.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := make(map[string]string, len(s.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range s.Checks {
		wg.Go(func() {
			state := "ok"
			if err := check(ctx); err != nil {
				// Details go to the log, not to this open endpoint.
				logging.FromContext(ctx).Warn("health check failed", "check", name, "error", err)
				state = "unavailable"
			}
			mu.Lock()
			checks[name] = state
			mu.Unlock()
		})
	}
	wg.Wait()
	status, code := "healthy", http.StatusOK
	for _, v := range checks {
		if v != "ok" {
			status, code = "unhealthy", http.StatusServiceUnavailable
		}
	}
	respond(w, code, map[string]any{"status": status, "checks": checks, "time": s.now()})
}
