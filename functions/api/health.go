package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
)

// healthTTL is how long a health answer is reused: /health is open, and
// must not let anyone drive calls to Twilio and the rest at will.
const healthTTL = 5 * time.Second

type healthCache struct {
	mu   sync.Mutex
	at   time.Time
	code int
	body map[string]any
}

// health answers healthy only when every dependency answers: the store,
// the topics and subscriptions, the send queues and the provider.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	c := &s.healthCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body == nil || time.Since(c.at) > healthTTL {
		c.code, c.body = s.checkHealth(r.Context())
		c.at = time.Now()
	}
	respond(w, c.code, c.body)
}

func (s *Server) checkHealth(ctx context.Context) (int, map[string]any) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	checks := make(map[string]string, len(s.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range s.Checks {
		wg.Go(func() {
			state := "ok"
			if err := check(ctx); err != nil {
				// Details go to the log, not to this open endpoint.
				logging.FromContext(ctx).Error("health check failed", "check", name, "error", err)
				state = checkState(err)
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
	return code, map[string]any{"status": status, "checks": checks, "time": s.now()}
}

// checkState names what is wrong with a dependency, so that an operator
// tells a misconfiguration (fix a role, a location) from an outage (wait).
func checkState(err error) string {
	switch errs.KindOf(err) {
	case errs.Permission:
		return "permission_denied"
	case errs.Unauthenticated:
		return "unauthenticated"
	case errs.NotExist:
		return "not_found"
	}
	return "unavailable"
}
