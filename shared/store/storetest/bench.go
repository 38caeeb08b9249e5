package storetest

import (
	"fmt"
	"testing"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// BenchApplyImportBatch measures applying one batch of
// store.MaxImportBatch rows to s: each batch's first half updates the users the previous
// batch created (new attributes, some consent lowered) and its second
// half creates new users.
func BenchApplyImportBatch(b *testing.B, s store.Store) {
	ctx := b.Context()
	const jobID = "bench-job"
	if err := s.CreateImportJob(ctx, userimport.Job{ID: jobID, State: userimport.Queued, Format: "csv", Batches: b.N}); err != nil {
		b.Fatalf("CreateImportJob: %v", err)
	}
	half := store.MaxImportBatch / 2
	rows := make([]userimport.Row, store.MaxImportBatch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for k := range rows {
			n := i*half + k
			rows[k] = userimport.Row{
				Line: k + 2, Phone: fmt.Sprintf("+9477%07d", n),
				Attributes: map[string]any{"city": "Colombo", "batch": float64(i), "first_name": "Nimal"},
			}
			if k%10 == 0 {
				rows[k].Consent = consent.OptOut
			}
		}
		b.StartTimer()
		res, err := s.ApplyImportBatch(ctx, jobID, i, rows, at(i))
		if err != nil {
			b.Fatalf("ApplyImportBatch: %v", err)
		}
		if res.Created+res.Updated+res.Unchanged != len(rows) {
			b.Fatalf("ApplyImportBatch = %+v, want %d rows counted", res, len(rows))
		}
	}
}

// CountMessagesN is how many messages BenchCountMessages counts over.
const CountMessagesN = 10000

// BenchCountMessages measures counting a campaign of CountMessagesN
// messages in a mix of states, beside another campaign of the same size.
func BenchCountMessages(b *testing.B, s store.Store) {
	ctx := b.Context()
	for _, c := range []string{"bench-campaign", "other-campaign"} {
		batch := make([]message.Message, 0, 500)
		for i := range CountMessagesN {
			m := newMessage(c, i)
			m.Status = message.Pending
			switch i % 10 {
			case 0, 1, 2:
				m.Status, m.QueuedAt = message.Queued, keptPtr(at(1))
				m.Apply(message.ProviderUpdate{Status: message.Delivered, At: at(2)})
			case 3:
				m.Status, m.QueuedAt = message.Queued, keptPtr(at(1))
				m.Apply(message.ProviderUpdate{Status: message.Read, At: at(3)})
			case 4:
				m.Status, m.QueuedAt = message.Queued, keptPtr(at(1))
				m.Apply(message.ProviderUpdate{Status: message.Failed, ErrorCode: fmt.Sprint(63000 + i%7), At: at(2)})
			case 5:
				m.Status, m.SkipReason = message.Skipped, message.SkipNoConsent
			case 6:
				m.Status = message.Deferred
			}
			batch = append(batch, m)
			if len(batch) == cap(batch) || i == CountMessagesN-1 {
				if _, err := s.CreateMessages(ctx, batch); err != nil {
					b.Fatalf("CreateMessages: %v", err)
				}
				batch = batch[:0]
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := s.CountMessages(ctx, "bench-campaign")
		if err != nil {
			b.Fatalf("CountMessages: %v", err)
		}
		if c.Recipients != CountMessagesN {
			b.Fatalf("Recipients = %d, want %d", c.Recipients, CountMessagesN)
		}
	}
}

// EraseMessagesN is how many messages the person BenchErase erases had.
const EraseMessagesN = 1000

// BenchErase measures one erasure (erasure.Erase) of a person with
// EraseMessagesN messages, 100 webhook records and 10 consent changes, in
// batches of erasure.Batch: what DELETE /users/{phone} costs for a long
// history.
func BenchErase(b *testing.B, s store.Store) {
	ctx := b.Context()
	h, err := erasure.NewHasher([]byte("bench-erasure-key-of-32-bytes-at-least"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		p := phone(i)
		if err := s.CreateUser(ctx, user.User{Phone: p, Consent: consent.OptIn, CreatedAt: at(0)}, consent.SourceAPI, ""); err != nil {
			b.Fatal(err)
		}
		for k := range 9 {
			to := consent.OptOut
			if k%2 == 1 {
				to = consent.OptIn
			}
			if _, _, err := s.SetConsent(ctx, consent.Change{Phone: p, To: to, Source: consent.SourceAdmin, At: at(k + 1)}); err != nil {
				b.Fatal(err)
			}
		}
		ms := make([]message.Message, 0, 500)
		for k := range EraseMessagesN {
			ms = append(ms, newMessage(fmt.Sprintf("c%d", k), i))
			if len(ms) == cap(ms) {
				if _, err := s.CreateMessages(ctx, ms); err != nil {
					b.Fatal(err)
				}
				ms = ms[:0]
			}
		}
		for k := range 100 {
			e := webhook.Event{ID: fmt.Sprintf("inbound-SMb%d-%d", i, k), Kind: webhook.Inbound, MessageSID: fmt.Sprintf("SMb%d-%d", i, k),
				Params: map[string]string{"From": "whatsapp:" + p, "Body": "hi"}}
			if _, _, err := s.RecordWebhook(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		res, err := erasure.Erase(ctx, s, h, p, at(20))
		if err != nil {
			b.Fatalf("Erase: %v", err)
		}
		if res.Messages != EraseMessagesN || res.Webhooks != 100 || res.ConsentChanges != 10 || !res.OptOutKept {
			b.Fatalf("Erase = %+v", res)
		}
	}
}
