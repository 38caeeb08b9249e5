package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNew_cloud_logging_keys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		log   func(*slog.Logger)
		level slog.Level
		want  map[string]any
	}{
		{"info", func(l *slog.Logger) { l.Info("hello", "k", 1) }, slog.LevelInfo,
			map[string]any{"severity": "INFO", "message": "hello", "k": 1.0}},
		{"warn_is_warning", func(l *slog.Logger) { l.Warn("careful") }, slog.LevelInfo,
			map[string]any{"severity": "WARNING", "message": "careful"}},
		{"error", func(l *slog.Logger) { l.Error("broke") }, slog.LevelInfo,
			map[string]any{"severity": "ERROR", "message": "broke"}},
		{"critical", func(l *slog.Logger) { l.Log(context.Background(), LevelCritical, "cannot start") }, slog.LevelInfo,
			map[string]any{"severity": "CRITICAL", "message": "cannot start"}},
		{"debug_below_level_is_dropped", func(l *slog.Logger) { l.Debug("quiet") }, slog.LevelInfo, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tc.log(New(&buf, tc.level))
			var got map[string]any
			if buf.Len() > 0 {
				if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
					t.Fatalf("not JSON: %q", buf.String())
				}
				if _, ok := got["time"]; !ok {
					t.Errorf("no time in %v", got)
				}
				delete(got, "time")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want, +got):\n%s", diff)
			}
		})
	}
}

func TestTraceAttr(t *testing.T) {
	t.Parallel()
	got, ok := TraceAttr("p", "105445aa7843bc8bf206b12000100000/1;o=1")
	if !ok || got.Value.String() != "projects/p/traces/105445aa7843bc8bf206b12000100000" {
		t.Errorf("TraceAttr = %v, %v", got, ok)
	}
	if _, ok := TraceAttr("p", ""); ok {
		t.Error("TraceAttr of empty header reported ok")
	}
}
