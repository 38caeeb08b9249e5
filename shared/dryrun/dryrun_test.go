package dryrun

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/message"
)

// Add counts each decision where the campaign's summary would, names at
// most SamplePerStep blocked people a step with their numbers masked, and
// counts by channel only what would go.
func TestAdd(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	r := New("c1", "run", at, at)
	for i := range 7 {
		r.Add(fmt.Sprintf("+9477000000%d", i), compliance.Decision{Action: compliance.Skip, Reason: message.SkipNoConsent})
	}
	r.Add("+94771111111", compliance.Decision{Action: compliance.Skip, Reason: message.SkipSuppressed})
	r.Add("+94772222222", compliance.Decision{Action: compliance.Skip, Reason: message.SkipChannelPolicy})
	r.Add("+94773333333", compliance.Decision{Action: compliance.Send, Channel: "template"})
	r.Add("+94774444444", compliance.Decision{Action: compliance.Defer, Channel: "session"})
	// A reason no step gives is counted under itself, never dropped.
	r.Add("+94775555555", compliance.Decision{Action: compliance.Skip, Reason: message.SkipCancelled})

	got := []any{r.Recipients, r.SendNow, r.Deferred, r.Blocked, r.BlockedByReason, r.Channels, len(r.Sample)}
	want := []any{12, 1, 1,
		map[string]int{"consent": 8, "duplicate": 0, "frequency_cap": 0, "content": 0, "channel_policy": 1, "cancelled": 1},
		map[string]int{"no_consent": 7, "suppressed": 1, "channel_policy": 1, "cancelled": 1},
		map[string]int{"template": 1, "session": 1},
		SamplePerStep + 1 + 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recipients, send_now, deferred, blocked, by reason, channels, sample size (-want +got):\n%s", diff)
	}
	for _, b := range r.Sample {
		if b.Phone == "" || b.Phone[len(b.Phone)-4:] == b.Phone || len(b.Phone) != 12 || b.Phone[3] != '*' {
			t.Errorf("sample number %q is not masked", b.Phone)
		}
	}
	r.Next = "+94775555555"
	r.Finish(at.Add(time.Minute))
	if r.Status != Done || r.CompletedAt == nil || r.Next != "" {
		t.Errorf("after Finish: %s, completed %v, next %q; want done, a time, no cursor", r.Status, r.CompletedAt, r.Next)
	}
	r.Fail(at.Add(2*time.Minute), "gone")
	if r.Status != Failed || r.Error != "gone" {
		t.Errorf("after Fail: %s %q", r.Status, r.Error)
	}
}
