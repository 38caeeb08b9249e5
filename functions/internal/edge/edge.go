// Package edge is what every function does at its boundary: build its
// server lazily (and again after a failure), carry a request-scoped logger,
// and turn a Pub/Sub CloudEvent into an events.Message and the handler's
// error into ack or retry.
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/render"
	"github.com/sethvargo/go-envconfig"
)

// Lazy builds a value on first use. Unlike sync.OnceValues it tries again
// after a failure, so a function that started before a dependency was
// reachable recovers by itself. Clients are never built in init: every
// deployed function runs the init of every function package.
type Lazy[T any] struct {
	Build func(context.Context) (T, error)

	mu   sync.Mutex
	done bool
	v    T
}

// Get returns the built value, building it if needed. The build runs on
// a context that outlives ctx (keeping its values): Google Cloud clients
// keep the context they were built with for refreshing credentials and
// reconnecting, and a request's context ends with the request.
func (l *Lazy[T]) Get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return l.v, nil
	}
	v, err := l.Build(context.WithoutCancel(ctx))
	if err != nil {
		var zero T
		return zero, err
	}
	l.v, l.done = v, true
	return v, nil
}

var project = os.Getenv("GOOGLE_CLOUD_PROJECT")

// HTTP wraps a lazily built handler: a request-scoped logger carrying the
// function's name and the request's trace, and a 503 JSON answer while the
// handler cannot be built.
func HTTP(name string, l *Lazy[http.Handler]) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		log := logging.FromContext(r.Context()).With("function", name)
		if a, ok := logging.TraceAttr(project, r.Header.Get("X-Cloud-Trace-Context")); ok {
			log = log.With(a)
		}
		r = r.WithContext(logging.WithLogger(r.Context(), log))
		h, err := l.Get(r.Context())
		if err != nil {
			log.Error("function not ready", "error", err)
			render.Error(w, r, errs.Wrap(errs.Transient, err, name+" is starting"))
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		logRequest(log, r, sw, time.Since(start))
	}
}

// statusWriter remembers what a handler answered, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status, size int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += n
	return n, err
}

// logRequest writes one line per request in Cloud Logging's httpRequest
// shape. The route pattern stands in for the URL, whose path or query may
// hold a phone number.
func logRequest(log *slog.Logger, r *http.Request, w *statusWriter, took time.Duration) {
	level := slog.LevelInfo
	switch {
	case w.status >= 500:
		level = slog.LevelError
	case r.Pattern == "GET /health":
		level = slog.LevelDebug // polled; only its failures matter
	}
	route := r.Pattern
	if route == "" {
		route = r.Method + " (no route)"
	}
	log.Log(r.Context(), level, "request", "route", route, slog.Group("httpRequest",
		"requestMethod", r.Method, "status", w.status, "responseSize", strconv.Itoa(w.size),
		"latency", strconv.FormatFloat(took.Seconds(), 'f', 6, 64)+"s",
		"userAgent", r.UserAgent()))
}

// Handler handles one Pub/Sub message; the same handler serves a push
// subscription (through Event) and a pull loop.
type Handler func(context.Context, events.Message) error

// Event adapts a lazily built Handler to a CloudEvent function. A message
// that cannot be read, and a handler's permanent failure, are logged and
// acked (nil); a transient failure returns its error, so Pub/Sub delivers
// the message again, up to its subscription's dead-letter policy. An event
// published longer ago than EVENT_MAX_AGE is given up, loudly, so that no
// retry loops for ever.
func Event(name string, l *Lazy[Handler]) func(context.Context, event.Event) error {
	return eventWith(name, l, maxAge, time.Now)
}

func eventWith(name string, l *Lazy[Handler], maxAge func() (time.Duration, error), now func() time.Time) func(context.Context, event.Event) error {
	return func(ctx context.Context, e event.Event) error {
		log := logging.FromContext(ctx).With("function", name, "event_id", e.ID())
		ctx = logging.WithLogger(ctx, log)
		limit, err := maxAge()
		if err != nil {
			log.Error("function not ready", "error", err)
			return err
		}
		m, err := pubsubevents.FromCloudEvent(e)
		if err != nil {
			log.Error("unreadable event dropped", "error", err)
			return nil
		}
		// A zero time is unknown, not old; a time ahead of ours is skew.
		if t := e.Time(); !t.IsZero() && now().Sub(t) > limit {
			log.Error("retried past "+EnvMaxAge+"; giving up", "topic", topicOf(e),
				"age", now().Sub(t).Round(time.Second).String(), "max_age", limit.String())
			return nil
		}
		h, err := l.Get(ctx)
		if err != nil {
			log.Error("function not ready", "error", err)
			return err
		}
		return Decide(ctx, h(ctx, m))
	}
}

// EnvMaxAge names the setting of how long after its publication an event
// is still worth handling.
const EnvMaxAge = "EVENT_MAX_AGE"

// DefaultMaxAge is EVENT_MAX_AGE when unset: far beyond any retry policy's
// reach, so it only stops an event that is looping.
const DefaultMaxAge = 24 * time.Hour

// maxAge is EVENT_MAX_AGE, read once.
var maxAge = sync.OnceValues(func() (time.Duration, error) { return ParseMaxAge(os.Getenv(EnvMaxAge)) })

// ParseMaxAge reads an EVENT_MAX_AGE: a Go duration above zero ("36h");
// empty is DefaultMaxAge.
func ParseMaxAge(s string) (time.Duration, error) {
	if s == "" {
		return DefaultMaxAge, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("edge: %s=%q must be a duration above zero, such as 24h", EnvMaxAge, s)
	}
	return d, nil
}

// topicOf reads the topic id from a Pub/Sub event's source
// (//pubsub.googleapis.com/projects/P/topics/T).
func topicOf(e event.Event) string {
	_, t, ok := strings.Cut(e.Source(), "/topics/")
	if !ok {
		return e.Source()
	}
	return t
}

// Decoded is a Handler that decodes the message's JSON payload into a T
// and passes it to handle; an unreadable payload is dropped, not retried.
func Decoded[T any](handle func(context.Context, T) error) Handler {
	return func(ctx context.Context, m events.Message) error {
		var v T
		if err := events.Decode(m, &v); err != nil {
			return err
		}
		return handle(ctx, v)
	}
}

// Builder builds a function's server from its environment (or from l).
type Builder[T any] func(ctx context.Context, l envconfig.Lookuper) (T, error)

// HTTPFunc is HTTP over a server built from the environment: at start
// when this process serves name alone, else on first use.
func HTTPFunc(name string, build Builder[http.Handler]) http.HandlerFunc {
	l := &Lazy[http.Handler]{Build: func(ctx context.Context) (http.Handler, error) { return build(ctx, nil) }}
	StartIfTarget(name, l)
	return HTTP(name, l)
}

// EventFunc is Event over a handler built from the environment, like
// HTTPFunc.
func EventFunc(name string, build Builder[Handler]) func(context.Context, event.Event) error {
	l := &Lazy[Handler]{Build: func(ctx context.Context) (Handler, error) { return build(ctx, nil) }}
	StartIfTarget(name, l)
	return Event(name, l)
}

// exit ends the process; tests replace it.
var exit = os.Exit

// StartIfTarget builds l at once when this process serves name alone
// (FUNCTION_TARGET, as deployed), so the first request finds its clients
// ready. A configuration the function cannot run with stops the process
// with a CRITICAL line naming the variable: a deploy then fails where it
// is made, instead of answering 503 to every request. Other build failures
// are retried on the next request, as a dependency may come back.
func StartIfTarget[T any](name string, l *Lazy[T]) {
	if os.Getenv("FUNCTION_TARGET") != name {
		return
	}
	go func() {
		if _, err := l.Get(context.Background()); errors.Is(err, setup.ErrConfig) {
			logging.FromContext(context.Background()).Log(context.Background(), logging.LevelCritical,
				"cannot start: "+err.Error(), "function", name)
			exit(1)
		}
	}()
}

// Decide logs a handler's error and says whether to retry: it returns the
// error for a transient failure and nil otherwise.
func Decide(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	log := logging.FromContext(ctx)
	if errs.Retry(err) {
		log.Warn("will retry", "error", err)
		return err
	}
	log.Error("dropped: retrying cannot help", "error", err, "kind", errs.KindOf(err).String())
	return nil
}
