package localstack

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Duplicator is a local and test-only proxy in front of a push endpoint or
// a task target: it forwards every request to Target (same path and
// query) and answers with what Target answered, and, for a seeded share
// of them (Rate), delivers the same request a second time, as Pub/Sub and
// Cloud Tasks may (both deliver at least once), whose answer nobody reads.
// The copy goes a random moment (up to MaxLag) after the first was
// forwarded, so it may overlap the first delivery or follow it. Never
// deployed: scripts/dev puts it in place only when asked
// (CHAOS_DUPLICATE_RATE).
type Duplicator struct {
	Target *url.URL // scheme and host of the upstream
	Rate   float64  // share of requests delivered twice, 0 to 1
	MaxLag time.Duration
	Logger *slog.Logger
	Client *http.Client // http.DefaultClient when nil

	mu   sync.Mutex
	rng  *rand.Rand
	seed uint64
	wg   sync.WaitGroup

	duplicated int
}

// NewDuplicator returns a Duplicator to target delivering rate of its
// requests twice, drawn from seed.
func NewDuplicator(target *url.URL, rate float64, seed uint64, log *slog.Logger) *Duplicator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Duplicator{Target: target, Rate: rate, MaxLag: time.Second, Logger: log, seed: seed}
}

// Duplicated counts the requests delivered twice so far.
func (d *Duplicator) Duplicated() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.duplicated
}

// Wait waits for the copies still on their way.
func (d *Duplicator) Wait() { d.wg.Wait() }

// twice draws whether the next request goes twice, and how late its copy.
func (d *Duplicator) twice() (bool, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rng == nil {
		d.rng = rand.New(rand.NewPCG(d.seed, 0xd0b1e))
	}
	if d.Rate <= 0 || d.rng.Float64() >= d.Rate {
		return false, 0
	}
	d.duplicated++
	return true, time.Duration(d.rng.Int64N(int64(d.MaxLag) + 1))
}

func (d *Duplicator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 10<<20))
	if err != nil {
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if again, lag := d.twice(); again {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			time.Sleep(lag)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			resp, err := d.forward(ctx, r, body)
			if err != nil {
				d.Logger.Info("duplicator: the copy failed", "path", r.URL.Path, "error", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// At WARN, as every fault injected: a chaos run logs at WARN.
			d.Logger.Warn("chaos: delivered twice", "path", r.URL.Path, "http_status", resp.StatusCode)
		}()
	}
	resp, err := d.forward(r.Context(), r, body)
	if err != nil {
		// As a push or a dispatch to a dead endpoint: retried later.
		http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// forward sends r (with body) to the Target.
func (d *Duplicator) forward(ctx context.Context, r *http.Request, body []byte) (*http.Response, error) {
	u := *r.URL
	u.Scheme, u.Host = d.Target.Scheme, d.Target.Host
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	c := d.Client
	if c == nil {
		c = http.DefaultClient
	}
	return c.Do(req)
}
