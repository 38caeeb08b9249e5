package console

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/store"
)

// seriesCap bounds the messages a chart reads: counts over time have no
// aggregation in the store, so the chart reads messages, and says when it
// stopped short. Each campaign charted gets an equal share of it, read
// most recently updated first (a send or a delivery updates a message),
// so one large campaign neither crowds out the others nor shows its
// oldest activity. A series is kept for seriesTTL, so open dashboards
// cost at most seriesCap reads a minute per instance.
const (
	seriesCap = 2000
	seriesTTL = time.Minute
)

// seriesCache keeps the latest series per set of campaigns.
type seriesCache struct {
	mu   sync.Mutex
	kept map[string]keptSeries
}

type keptSeries struct {
	at time.Time
	s  series
}

// cachedSeries is series, read again only when the one kept for ids is
// older than seriesTTL.
func (s *Server) cachedSeries(ctx context.Context, ids []string, now time.Time) (series, error) {
	key := strings.Join(ids, ",")
	s.charts.mu.Lock()
	k, ok := s.charts.kept[key]
	s.charts.mu.Unlock()
	if ok && now.Sub(k.at) < seriesTTL {
		return k.s, nil
	}
	se, err := s.series(ctx, ids, now)
	if err != nil {
		return series{}, err
	}
	s.charts.mu.Lock()
	defer s.charts.mu.Unlock()
	if s.charts.kept == nil || len(s.charts.kept) > 100 {
		s.charts.kept = map[string]keptSeries{}
	}
	s.charts.kept[key] = keptSeries{at: now, s: se}
	return se, nil
}

// series is how many messages were sent and delivered in each bucket.
type series struct {
	Start     time.Time
	Step      time.Duration
	Sent      []int
	Delivered []int
	// Capped: a campaign had more messages than its share, PerCampaign,
	// and only its most recently updated ones were read.
	Capped      bool
	PerCampaign int
}

// series reads the most recently updated messages of the campaigns ids
// (seriesCap shared between them) and counts their sends and deliveries
// over the last day, in buckets that fit what happened: minutes for a
// short run, hours for a long one.
func (s *Server) series(ctx context.Context, ids []string, now time.Time) (series, error) {
	var sent, delivered []time.Time
	capped, per := false, seriesCap/max(len(ids), 1)
	for _, id := range ids {
		ms, err := s.Store.ListMessages(ctx, store.MessageFilter{CampaignID: id, Limit: per})
		if err != nil {
			return series{}, fmt.Errorf("ListMessages: %w", err)
		}
		for _, m := range ms {
			if m.SentAt != nil {
				sent = append(sent, *m.SentAt)
			}
			if m.DeliveredAt != nil {
				delivered = append(delivered, *m.DeliveredAt)
			}
		}
		capped = capped || len(ms) == per
	}
	earliest := now
	for _, t := range append(append([]time.Time{}, sent...), delivered...) {
		if t.Before(earliest) && now.Sub(t) <= 24*time.Hour {
			earliest = t
		}
	}
	step := time.Minute
	for _, d := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour} {
		step = d
		if now.Sub(earliest) <= 30*d {
			break
		}
	}
	n := 30
	start := now.Truncate(step).Add(-time.Duration(n-1) * step)
	out := series{Start: start, Step: step, Sent: make([]int, n), Delivered: make([]int, n), Capped: capped, PerCampaign: per}
	count := func(ts []time.Time, into []int) {
		for _, t := range ts {
			if i := int(t.Sub(start) / step); i >= 0 && i < n {
				into[i]++
			}
		}
	}
	count(sent, out.Sent)
	count(delivered, out.Delivered)
	return out, nil
}

// chart is a series drawn as SVG, with a table of the same numbers for
// screen readers.
type chart struct {
	Width, Height       int
	SentPoints          string
	DeliveredPoints     string
	Max                 int
	Ticks               []tick
	Rows                []chartRow
	StepLabel, Summary  string
	TotalSent, TotalDlv int
	Capped              bool
	PerCampaign         int
}

type tick struct {
	X     float64
	Label string
}

type chartRow struct {
	At              string
	Sent, Delivered int
}

const (
	chartW, chartH = 600, 200
	padL, padB     = 40, 24
)

func (se series) chart() chart {
	c := chart{Width: chartW, Height: chartH, Capped: se.Capped, PerCampaign: se.PerCampaign}
	for i := range se.Sent {
		c.Max = max(c.Max, se.Sent[i], se.Delivered[i])
		c.TotalSent += se.Sent[i]
		c.TotalDlv += se.Delivered[i]
	}
	top := max(c.Max, 1)
	n := len(se.Sent)
	x := func(i int) float64 {
		return padL + float64(i)*float64(chartW-padL-8)/float64(max(n-1, 1))
	}
	y := func(v int) float64 {
		return math.Round((float64(chartH-padB)-float64(v)*float64(chartH-padB-10)/float64(top))*10) / 10
	}
	var sp, dp strings.Builder
	for i := range n {
		fmt.Fprintf(&sp, "%.1f,%.1f ", x(i), y(se.Sent[i]))
		fmt.Fprintf(&dp, "%.1f,%.1f ", x(i), y(se.Delivered[i]))
		at := se.Start.Add(time.Duration(i) * se.Step)
		if i%6 == 0 || i == n-1 {
			c.Ticks = append(c.Ticks, tick{X: x(i), Label: at.Format("15:04")})
		}
		if se.Sent[i] > 0 || se.Delivered[i] > 0 {
			c.Rows = append(c.Rows, chartRow{At: at.Format("2006-01-02 15:04"), Sent: se.Sent[i], Delivered: se.Delivered[i]})
		}
	}
	c.SentPoints, c.DeliveredPoints = strings.TrimSpace(sp.String()), strings.TrimSpace(dp.String())
	switch se.Step {
	case time.Minute:
		c.StepLabel = "per minute, last 30 minutes"
	case 5 * time.Minute:
		c.StepLabel = "per 5 minutes, last 2½ hours"
	case 15 * time.Minute:
		c.StepLabel = "per 15 minutes, last 7½ hours"
	default:
		c.StepLabel = "per hour, last 30 hours"
	}
	c.Summary = fmt.Sprintf("%d sent and %d delivered, %s (UTC).", c.TotalSent, c.TotalDlv, c.StepLabel)
	if c.Capped {
		c.Summary += fmt.Sprintf(" Only the %d most recently updated messages of each campaign were read.", c.PerCampaign)
	}
	return c
}

// failure is a failed message as monitoring lists it, the number masked.
type failure struct {
	CampaignID, Topic, Phone, Code, Text string
	At                                   string
}

// recentFailures lists the newest failed messages of the latest
// campaigns, at most n.
func (s *Server) recentFailures(ctx context.Context, n int) ([]failure, error) {
	cs, _, err := s.Store.ListCampaigns(ctx, pageOf(1, 10))
	if err != nil {
		return nil, fmt.Errorf("ListCampaigns: %w", err)
	}
	var out []failure
	for _, c := range cs {
		if len(out) >= n {
			break
		}
		ms, err := s.Store.MessagesIn(ctx, c.ID, []message.Status{message.Failed}, n-len(out))
		if err != nil {
			return nil, fmt.Errorf("MessagesIn: %w", err)
		}
		for _, m := range ms {
			out = append(out, failure{CampaignID: c.ID, Topic: c.Topic, Phone: phone.Mask(m.Phone), Code: m.ErrorCode, Text: m.ErrorText, At: when(m.FailedAt)})
		}
	}
	return out, nil
}

func pageOf(n, per int) store.Page { return store.Page{Page: n, PerPage: per} }

// funnel is a campaign's recipients, sends, deliveries and reads as
// bars of one scale.
type funnel struct {
	Title  string
	Height int
	Bars   []funnelBar
}

type funnelBar struct {
	Label     string
	Value     int
	Y, TextY  int
	W, ValueX float64
}

func funnelOf(sum map[string]any) funnel {
	steps := []struct{ label, key string }{
		{"Recipients", "total_recipients"}, {"Sent", "messages_sent"},
		{"Delivered", "messages_delivered"}, {"Read", "messages_read"},
	}
	top := math.Max(num(sum["total_recipients"]), 1)
	f := funnel{Height: 30*len(steps) + 4}
	var parts []string
	for i, st := range steps {
		v := int(num(sum[st.key]))
		w := math.Round(250*float64(v)/top*10) / 10
		f.Bars = append(f.Bars, funnelBar{Label: st.label, Value: v, Y: 2 + 30*i, TextY: 17 + 30*i, W: w, ValueX: 116 + w})
		parts = append(parts, fmt.Sprintf("%d %s", v, strings.ToLower(st.label)))
	}
	f.Title = "Delivery funnel: " + strings.Join(parts, ", ")
	return f
}
