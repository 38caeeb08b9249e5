package webhooks_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

// signedInbound is one inbound callback as Twilio posts it: its form and
// Twilio's signature of it.
type signedInbound struct {
	body, signature string
}

// inboundPool signs n distinct inbound callbacks (MessageSid from first
// on), before any timer runs: the benchmarks measure the receiver, not
// Twilio's signing.
func inboundPool(first, n int) []signedInbound {
	out := make([]signedInbound, n)
	for i := range out {
		form := url.Values{
			"From": {"whatsapp:+94771234577"}, "To": {"whatsapp:+14155238886"}, "Body": {"Thanks, see you then"},
			"MessageSid": {"SM" + strconv.Itoa(first+i)}, "SmsMessageSid": {"SM" + strconv.Itoa(first+i)}, "WaId": {"94771234577"},
			"ProfileName": {"Grace"}, "NumMedia": {"0"}, "NumSegments": {"1"}, "MessageType": {"text"}, "SmsStatus": {"received"},
			"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "ApiVersion": {"2010-04-01"},
		}
		out[i] = signedInbound{form.Encode(), twilio.Sign(authToken, publicBase+"/webhooks/inbound", form)}
	}
	return out
}

func (s signedInbound) request(ctx context.Context) *http.Request {
	req := httptest.NewRequestWithContext(ctx, "POST", "/webhooks/inbound", strings.NewReader(s.body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, s.signature)
	return req
}

// bareForm is the yardstick: a net/http handler that only parses the form.
var bareForm = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("MessageSid") == "" {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
})

// benchCtx logs as the function does, JSON, into io.Discard.
func benchCtx() context.Context {
	return logging.WithLogger(context.Background(), logging.New(io.Discard, slog.LevelInfo))
}

// BenchmarkInboundThroughput is the Webhooks handler in process (signature
// check, parse, store once and publish into memstore and memevents, the
// TwiML answer) beside a bare handler that only parses the form, both
// from every core at once (b.RunParallel) on the same signed callbacks:
// req/s, and benchtable's ratio to the yardstick.
func BenchmarkInboundThroughput(b *testing.B) {
	const pool = 1 << 18
	calls := inboundPool(0, pool)
	// distinct: each request a callback of its own (the handler stores
	// each once); the yardstick, which only parses, may take them again.
	run := func(b *testing.B, h http.Handler, distinct bool) {
		ctx := benchCtx()
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				if i >= pool {
					if distinct {
						b.Error("more requests than signed callbacks: raise pool")
						return
					}
					i %= pool
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, calls[i].request(ctx))
				if rec.Code != http.StatusOK {
					b.Errorf("POST = %d %s", rec.Code, rec.Body)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	}
	b.Run("handler", func(b *testing.B) {
		st, pub := memstore.New(), memevents.New()
		run(b, newServer(st, pub), true)
		if n := len(pub.Published(events.TopicInbound)); n != b.N {
			b.Fatalf("published %d of %d", n, b.N)
		}
	})
	b.Run("yardstick", func(b *testing.B) { run(b, bareForm, false) })
}

// BenchmarkInboundLatency offers the handler 10,000 callbacks a second,
// open loop (each sent at its time, whether or not earlier ones are
// answered, so queueing counts), for one second per iteration, and
// reports each callback's latency from its send to its answer, p50 and
// p99 in µs, and the rate the sender achieved.
func BenchmarkInboundLatency(b *testing.B) {
	const rate, per = 10_000, time.Second
	n := int(rate * per.Seconds())
	st, pub := memstore.New(), memevents.New()
	h := newServer(st, pub)
	ctx := benchCtx()
	var lat []time.Duration
	var mu sync.Mutex
	var sending time.Duration
	round := 0
	for b.Loop() {
		b.StopTimer()
		calls := inboundPool(round*n, n)
		round++
		b.StartTimer()
		var wg sync.WaitGroup
		start := time.Now()
		interval := per / time.Duration(n)
		for i, c := range calls {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			sent := time.Now()
			wg.Go(func() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, c.request(ctx))
				took := time.Since(sent)
				if rec.Code != http.StatusOK {
					b.Errorf("POST = %d %s", rec.Code, rec.Body)
				}
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
			})
		}
		sending += time.Since(start)
		wg.Wait()
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(len(lat))/sending.Seconds(), "sent-req/s")
}
