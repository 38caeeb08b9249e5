// Package logging builds the slog logger every function uses: JSON with the
// keys Cloud Logging reads (severity, message, time, trace), carried in the
// context so each request's lines share its trace.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
)

// New returns a JSON logger writing to w at level.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		AddSource:   false,
		ReplaceAttr: cloudKeys,
	}))
}

// FromEnv returns a logger to stderr at LOG_LEVEL (debug, info, warn,
// error; default info).
func FromEnv() *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		l = slog.LevelInfo
	}
	return New(os.Stderr, l)
}

// cloudKeys renames slog's keys to Cloud Logging's.
func cloudKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		if l, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(severity(l))
		}
	}
	return a
}

// LevelCritical is Cloud Logging's CRITICAL: the process cannot go on.
const LevelCritical = slog.LevelError + 4

func severity(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "CRITICAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

type ctxKey struct{}

var fallback = FromEnv()

// WithLogger returns ctx carrying l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns the logger in ctx, or the default one.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}

// TraceAttr turns an X-Cloud-Trace-Context header into the attribute Cloud
// Logging groups a request's lines by; ok is false when there is none.
func TraceAttr(project, header string) (slog.Attr, bool) {
	id, _, _ := strings.Cut(header, "/")
	if id == "" || project == "" {
		return slog.Attr{}, false
	}
	return slog.String("logging.googleapis.com/trace", "projects/"+project+"/traces/"+id), true
}
