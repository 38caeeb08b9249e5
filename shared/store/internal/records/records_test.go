package records

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/message"
)

func TestValue(t *testing.T) {
	t.Parallel()
	type str string
	n := 7
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"int", 3, int64(3)},
		{"uint8", uint8(3), int64(3)},
		{"float32", float32(1.5), 1.5},
		{"named_string", str("x"), "x"},
		{"json_number", json.Number("12"), "12"},
		{"pointer", &n, int64(7)},
		{"nil_pointer", (*int)(nil), nil},
		{"time", time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.FixedZone("X", 3600)), time.Date(2025, 1, 2, 2, 4, 5, 678901000, time.UTC)},
		{"string_slice", []string{"a", "b"}, []any{"a", "b"}},
		{"nested_map", map[string]int{"a": 1}, map[string]any{"a": int64(1)}},
		{"any_map", map[string]any{"a": []int{1}}, map[string]any{"a": []any{int64(1)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Value(tc.in)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Value(%#v) (-want, +got):\n%s", tc.in, d)
			}
		})
	}
}

func TestAttributesCopies(t *testing.T) {
	t.Parallel()
	in := map[string]any{"m": map[string]any{"k": "v"}, "s": []any{"a"}}
	got := Attributes(in)
	in["m"].(map[string]any)["k"] = "changed"
	in["s"].([]any)[0] = "changed"
	want := map[string]any{"m": map[string]any{"k": "v"}, "s": []any{"a"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Attributes shares state with its input (-want, +got):\n%s", d)
	}
	if Attributes(nil) == nil {
		t.Error("Attributes(nil) = nil, want an empty map")
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"+94771234567", true},
		{"job-1", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"__name__", false},
		{"__", true},
	}
	for _, tc := range tests {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestStagesOf(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		m    message.Message
		want Stages
	}{
		{"pending", message.Message{Status: message.Pending}, Stages{}},
		{"deferred", message.Message{Status: message.Deferred}, Stages{}},
		{"sending", message.Message{Status: message.Sending}, Stages{Queued: true}},
		{"read_by_status", message.Message{Status: message.Read}, Stages{Queued: true, Sent: true, Delivered: true, Read: true}},
		{"failed_after_sent", message.Message{Status: message.Failed, QueuedAt: &at, SentAt: &at}, Stages{Queued: true, Sent: true}},
		{"failed_before_queue", message.Message{Status: message.Failed}, Stages{}},
		{"skipped", message.Message{Status: message.Skipped}, Stages{}},
	}
	for _, tc := range tests {
		if got := StagesOf(tc.m); got != tc.want {
			t.Errorf("%s: StagesOf = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestTime compares with ==, not Equal: the stores must keep the same
// representation (UTC, no monotonic reading), not just the same instant.
func TestTime(t *testing.T) {
	t.Parallel()
	kept := time.Date(2026, 3, 8, 7, 0, 0, 123456000, time.UTC)
	// UTC and to the microsecond, but with a monotonic reading.
	mono := time.Now().UTC()
	mono = mono.Add(-time.Duration(mono.Nanosecond() % 1000))
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"zero", time.Time{}, time.Time{}},
		{"kept_already", kept, kept},
		{"other_zone", kept.In(time.FixedZone("X", 3600)), kept},
		{"local", kept.Local(), kept},
		{"nanoseconds", kept.Add(789 * time.Nanosecond), kept},
		{"monotonic", mono, mono.Round(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Time(tc.in); got != tc.want {
				t.Errorf("Time(%#v) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}
