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

// Unwrap lets http.ResponseController reach the connection (to flush).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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

// EventHandler is what an event function serves: its Handler, and what
// becomes of an event too old to handle.
type EventHandler struct {
	Handle Handler
	// MaxAge (EVENT_MAX_AGE): an event published longer ago is not handled
	// but buried; zero handles every event.
	MaxAge time.Duration
	// Bury keeps an event given up on among its topic's dead letters
	// (events.DeadLetters.Bury). Without it such an event is retried, to
	// be dead-lettered by its subscription.
	Bury func(ctx context.Context, topic string, m events.Message, published time.Time, reason string) error
	Now  func() time.Time
}

// Event adapts a lazily built EventHandler to a CloudEvent function. A
// message that cannot be read, and a handler's permanent failure, are
// logged and acked (nil); a transient failure returns its error, so
// Pub/Sub delivers the message again, up to its subscription's dead-letter
// policy. An event published longer ago than MaxAge (a backlog that waited
// out an outage, or a loop) is not handled: it is buried among its topic's
// dead letters with an ERROR line, so it is neither lost nor retried for
// ever, and an admin replays it.
func Event(name string, l *Lazy[EventHandler]) func(context.Context, event.Event) error {
	return func(ctx context.Context, e event.Event) error {
		log := logging.FromContext(ctx).With("function", name, "event_id", e.ID())
		ctx = logging.WithLogger(ctx, log)
		m, err := pubsubevents.FromCloudEvent(e)
		if err != nil {
			log.Error("unreadable event dropped", "error", err)
			return nil
		}
		h, err := l.Get(ctx)
		if err != nil {
			log.Error("function not ready", "error", err)
			return err
		}
		now := time.Now()
		if h.Now != nil {
			now = h.Now()
		}
		// A zero time is unknown, not old; a time ahead of ours is skew.
		if t := e.Time(); h.MaxAge > 0 && !t.IsZero() && now.Sub(t) > h.MaxAge {
			return giveUp(ctx, h, topicOf(e), m, t, now.Sub(t))
		}
		return Decide(ctx, h.Handle(ctx, m))
	}
}

// giveUp buries an event older than h.MaxAge; it is retried while it
// cannot be buried.
func giveUp(ctx context.Context, h EventHandler, topic string, m events.Message, published time.Time, age time.Duration) error {
	log := logging.FromContext(ctx).With("topic", topic, "age", age.Round(time.Second).String(), "max_age", h.MaxAge.String())
	reason := fmt.Sprintf("not handled %s after it was published (%s is %s)", age.Round(time.Second), setup.EnvEventMaxAge, h.MaxAge)
	if h.Bury == nil {
		log.Error("past " + setup.EnvEventMaxAge + ", and nowhere to bury it: retried until its subscription dead-letters it")
		return errs.E(errs.Transient, "edge: %s", reason)
	}
	if err := h.Bury(ctx, topic, m, published, reason); err != nil {
		log.Error("past "+setup.EnvEventMaxAge+", but burying it failed: retried", "error", err)
		return err
	}
	log.Error("past " + setup.EnvEventMaxAge + ": given up and kept among the dead letters")
	return nil
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
// HTTPFunc, with its EVENT_MAX_AGE and its topic's dead letters to bury
// in.
func EventFunc(name string, build Builder[Handler]) func(context.Context, event.Event) error {
	l := &Lazy[EventHandler]{Build: func(ctx context.Context) (_ EventHandler, err error) {
		var opened setup.Opened
		defer opened.CloseIf(&err)
		var cfg struct {
			setup.Project
			setup.Events
		}
		if err := setup.Load(ctx, &cfg, nil); err != nil {
			return EventHandler{}, err
		}
		psc, _, err := setup.PubSub(ctx, cfg.Project)
		if err != nil {
			return EventHandler{}, err
		}
		opened.Add(psc.Close)
		h, err := build(ctx, nil)
		if err != nil {
			return EventHandler{}, err
		}
		return EventHandler{Handle: h, MaxAge: cfg.MaxAge, Bury: pubsubevents.NewDeadLetters(psc, events.Topics).Bury}, nil
	}}
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
