package console

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

// TestSeries: sends and deliveries counted in buckets that fit the run:
// minutes for a short one, hours for one spread over a day; the last
// bucket is the one now is in.
func TestSeries(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 14, 30, 0, 0, time.UTC)
	cases := []struct {
		name      string
		sentAgo   []time.Duration
		wantStep  time.Duration
		wantSent  map[int]int // bucket -> count, the others 0
		wantTotal int
	}{
		{"minutes", []time.Duration{30 * time.Second, 90 * time.Second, 95 * time.Second}, time.Minute, map[int]int{28: 1, 27: 2}, 3},
		{"hours", []time.Duration{20 * time.Hour, time.Minute}, time.Hour, map[int]int{9: 1, 29: 1}, 2},
		{"older_than_a_day_left_out", []time.Duration{30 * time.Hour, time.Minute}, time.Minute, map[int]int{28: 1}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			var ms []message.Message
			for i, ago := range tc.sentAgo {
				at := now.Add(-ago)
				ms = append(ms, message.Message{ID: message.ID("c1", string(rune('a'+i))), CampaignID: "c1", Phone: "+9477123456" + string(rune('0'+i)),
					Status: message.Delivered, SentAt: &at, DeliveredAt: &at, CreatedAt: at, UpdatedAt: at})
			}
			if _, err := st.CreateMessages(context.Background(), ms); err != nil {
				t.Fatal(err)
			}
			s := &Server{Store: st}
			got, err := s.series(context.Background(), []string{"c1"}, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Step != tc.wantStep {
				t.Errorf("step %v, want %v", got.Step, tc.wantStep)
			}
			want := make([]int, 30)
			for i, n := range tc.wantSent {
				want[i] = n
			}
			if diff := cmp.Diff(want, got.Sent); diff != "" {
				t.Errorf("sent (-want, +got):\n%s", diff)
			}
			if c := got.chart(); c.TotalSent != tc.wantTotal || c.TotalDlv != tc.wantTotal {
				t.Errorf("chart totals %d sent, %d delivered; want %d each", c.TotalSent, c.TotalDlv, tc.wantTotal)
			}
		})
	}
}

// TestSeriesShare: a large campaign does not use the whole budget; each
// campaign's most recent activity is counted, and the chart says it was
// capped.
func TestSeriesShare(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 14, 30, 0, 0, time.UTC)
	st := memstore.New()
	var ms []message.Message
	add := func(campaign string, n int, ago time.Duration) {
		at, base := now.Add(-ago), len(ms)
		for i := range n {
			ph := fmt.Sprintf("+9477%07d", base+i)
			ms = append(ms, message.Message{ID: message.ID(campaign, ph), CampaignID: campaign, Phone: ph,
				Status: message.Sent, SentAt: &at, CreatedAt: at, UpdatedAt: at})
		}
	}
	add("big", seriesCap, 20*time.Minute) // older, and first by id
	add("big", 10, time.Minute)           // its latest sends
	add("small", 3, 2*time.Minute)
	if _, err := st.CreateMessages(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	s := &Server{Store: st}
	got, err := s.series(context.Background(), []string{"big", "small"}, now)
	if err != nil {
		t.Fatal(err)
	}
	per := seriesCap / 2
	want := make([]int, 30)
	want[29-20], want[29-2], want[29-1] = per-10, 3, 10
	if diff := cmp.Diff(want, got.Sent); diff != "" {
		t.Errorf("sent (-want, +got):\n%s", diff)
	}
	if c := got.chart(); !c.Capped || !strings.Contains(c.Summary, fmt.Sprintf("%d most recently updated", per)) {
		t.Errorf("chart: capped %v, summary %q; want it to say what it covers", c.Capped, c.Summary)
	}
}
