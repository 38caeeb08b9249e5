package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/health"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/sendqueue/cloudtasks"
	"github.com/eventstreamengine/ese/shared/store"
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
	var problems []health.Problem
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range s.Checks {
		wg.Go(func() {
			state := "ok"
			err := check(ctx)
			if err != nil {
				// Error texts go to the log; the answer names the state,
				// and a misconfiguration's hint, which holds no secret.
				logging.FromContext(ctx).Error("health check failed", "check", name, "error", err)
				state = checkState(err)
			}
			mu.Lock()
			checks[name] = state
			if p, ok := misconfiguration(name, err); ok {
				problems = append(problems, p)
			}
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
	body := map[string]any{"status": status, "checks": checks, "time": s.now()}
	if len(problems) > 0 {
		// What to fix, for the operator (deployed, /health is behind IAM).
		slices.SortFunc(problems, func(a, b health.Problem) int { return strings.Compare(a.Dependency, b.Dependency) })
		body["problems"] = problems
	}
	return code, body
}

// recordedProblem is a problem another function recorded, as a check's
// error.
type recordedProblem health.Problem

func (p recordedProblem) Error() string {
	return fmt.Sprintf("%s: %s, seen by %s at %s: %s", p.Dependency, p.Kind, p.Reporter, p.At.Format(time.RFC3339), p.Hint)
}

// recordedProblems checks dependency by the problems the functions using
// it recorded in the last health.Window, then by ready when given.
func recordedProblems(st store.Problems, dependency string, ready func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		ps, err := st.ListProblems(ctx, time.Now().Add(-health.Window))
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Dependency == dependency {
				return recordedProblem(p)
			}
		}
		if ready != nil {
			return ready(ctx)
		}
		return nil
	}
}

// misconfiguration describes a check's error when it is one an operator
// fixes by configuration.
func misconfiguration(check string, err error) (health.Problem, bool) {
	var rec recordedProblem
	var own *cloudtasks.Problem
	switch {
	case errors.As(err, &rec):
		return health.Problem(rec), true
	case errors.As(err, &own):
		return health.Problem{Dependency: check, Kind: string(own.Kind), Hint: own.Hint, Reporter: "API", At: own.At}, true
	}
	return health.Problem{}, false
}

// checkState names what is wrong with a dependency, so that an operator
// tells a misconfiguration (fix a role, a location) from an outage (wait).
func checkState(err error) string {
	if p, ok := misconfiguration("", err); ok {
		return p.Kind
	}
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
