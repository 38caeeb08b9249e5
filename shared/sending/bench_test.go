package sending_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/emulators/twilio/twiliotest"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/user"
)

// benchSender is a sender over memstore and the real provider talking to
// the stand-in, with n queued messages to n opted-in people; the payloads
// are their tasks.
func benchSender(b *testing.B, n int) (*sending.Sender, *standin.Server, []sendqueue.Payload) {
	b.Helper()
	// No status callbacks during the run: they are another function's load.
	si, p := twiliotest.Start(b)
	ctx := context.Background()
	st := memstore.New()
	c, err := st.CreateCampaign(ctx, campaign.Campaign{Topic: "bench", TemplateID: "t1", SegmentID: "s1", Rate: 500, Status: campaign.Running})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	ms := make([]message.Message, 0, n)
	payloads := make([]sendqueue.Payload, 0, n)
	for i := range n {
		phone := fmt.Sprintf("+9477%07d", i)
		if err := st.CreateUser(ctx, user.User{Phone: phone, Consent: consent.OptIn, CreatedAt: now, LastInboundAt: &now}, consent.SourceAPI, ""); err != nil {
			b.Fatal(err)
		}
		m := message.Message{ID: message.ID(c.ID, phone), CampaignID: c.ID, Phone: phone, Status: message.Queued,
			Body: "Hi, your offer is here", CreatedAt: now, UpdatedAt: now, QueuedAt: &now}
		ms = append(ms, m)
		payloads = append(payloads, sendqueue.Payload{CampaignID: m.CampaignID, MessageID: m.ID})
	}
	if _, err := st.CreateMessages(ctx, ms); err != nil {
		b.Fatal(err)
	}
	s := &sending.Sender{Store: st, Provider: p, StatusCallback: "http://127.0.0.1:1/webhooks/status", ReconcileAfter: time.Minute}
	return s, si, payloads
}

// BenchmarkSend is one task's send: the last consent check, the claim, the
// provider call over HTTP to the stand-in (in process) and the outcome.
// "serial" is one task at a time; "parallel" as many as GOMAXPROCS, as
// Cloud Tasks dispatches concurrently.
func BenchmarkSend(b *testing.B) {
	ctx := logging.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	check := func(b *testing.B, si *standin.Server, want int) {
		b.Helper()
		if got := len(si.Sent()); got != want {
			b.Fatalf("the stand-in got %d messages, want %d", got, want)
		}
		b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "messages/s")
	}
	b.Run("serial", func(b *testing.B) {
		s, si, payloads := benchSender(b, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for _, p := range payloads {
			if o, err := s.Send(ctx, p); err != nil || o != sending.OutcomeSent {
				b.Fatalf("Send = %q, %v", o, err)
			}
		}
		b.StopTimer()
		check(b, si, b.N)
	})
	parallel := func(frequencyCap int) func(b *testing.B) {
		return func(b *testing.B) {
			s, si, payloads := benchSender(b, b.N)
			s.FrequencyCap = frequencyCap
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := payloads[next.Add(1)-1]
					if o, err := s.Send(ctx, p); err != nil || o != sending.OutcomeSent {
						b.Errorf("Send = %q, %v", o, err)
						return
					}
				}
			})
			b.StopTimer()
			check(b, si, b.N)
		}
	}
	b.Run("parallel", parallel(0))
	// The claim also reads and writes the person's send ledger.
	b.Run("parallel_frequency_cap", parallel(2))
}
