package cloudtasks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/cloudtasks"
)

// BenchmarkPacing queues 300 sends on a campaign queue at 10 a second on
// the Cloud Tasks emulator and reports how the queue paced them: the most
// dispatches in any one-second window (the rate holds if it is about 10)
// and the seconds from the first to the last (about 30). It measures the
// queue's pacing, which no timed test asserts. Run with
// scripts/bench Pacing ./shared/sendqueue/cloudtasks/ (half a minute).
func BenchmarkPacing(b *testing.B) {
	const sends, rate = 300, 10
	var (
		mu  sync.Mutex
		got []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, time.Now())
		mu.Unlock()
	}))
	defer srv.Close()
	q, err := cloudtasks.New(context.Background(), cloudtasks.Config{
		Project: emulatortest.ProjectID(b), Location: location, Endpoint: emulatortest.CloudTasks(b), TargetURL: srv.URL,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	var maxWindow, span float64
	for n := range b.N {
		queue := fmt.Sprintf("campaign-pacing-%d", n)
		if err := q.EnsureQueue(context.Background(), queue, rate); err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		got = nil
		mu.Unlock()
		for i := range sends {
			if _, err := q.Enqueue(context.Background(), sendqueue.Task{Queue: queue, CampaignID: "pacing", MessageID: fmt.Sprintf("m%d-%d", n, i)}); err != nil {
				b.Fatal(err)
			}
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			done := len(got)
			mu.Unlock()
			if done >= sends {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d sends dispatched in two minutes", done, sends)
			}
			time.Sleep(100 * time.Millisecond)
		}
		mu.Lock()
		times := slices.Clone(got)
		mu.Unlock()
		w, s := pacing(times)
		maxWindow, span = max(maxWindow, float64(w)), max(span, s)
	}
	b.ReportMetric(maxWindow, "max-sends/1s-window")
	b.ReportMetric(span, "s-first-to-last")
	b.ReportMetric(float64(sends)/rate, "s-at-rate")
}

// pacing returns the most times in any one-second window and the seconds
// from the first time to the last.
func pacing(times []time.Time) (int, float64) {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	most, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	if len(times) == 0 {
		return 0, 0
	}
	return most, times[len(times)-1].Sub(times[0]).Seconds()
}

func TestPacingWindow(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, tc := range []struct {
		times []time.Time
		most  int
		span  float64
	}{
		{nil, 0, 0},
		{at(0), 1, 0},
		{at(0, 999, 1000), 2, 1},
		{at(1000, 0, 500, 1500, 1600), 3, 1.6},
	} {
		most, span := pacing(tc.times)
		if most != tc.most || span != tc.span {
			t.Errorf("pacing(%v) = %d, %v; want %d, %v", tc.times, most, span, tc.most, tc.span)
		}
	}
}
