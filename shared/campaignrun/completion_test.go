package campaignrun_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

// racingStore runs hook once, right after the completion check found no
// open message: a 63018 callback landing between the check and the
// campaign's completion.
type racingStore struct {
	store.Store
	hook func()
}

func (s *racingStore) HasUnconcluded(ctx context.Context, id string) (bool, error) {
	open, err := s.Store.HasUnconcluded(ctx, id)
	if h := s.hook; h != nil {
		s.hook = nil
		h()
	}
	return open, err
}

type noRetask struct{}

func (noRetask) RetaskSoon(context.Context, string, []string) error { return nil }

// A 63018 retry that reopens the campaign's last SENT message as its
// completion is decided: the campaign completes, and the reopened message
// is failed with the code rather than left waiting in a completed
// campaign with no queue. A retry after the completion fails it itself.
func TestCheckCompletion_races_a_rate_limit_retry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := memstore.New()
	c, err := mem.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running, FanoutDone: true})
	if err != nil {
		t.Fatal(err)
	}
	sentAt := now.Add(-time.Minute)
	var ms []message.Message
	for _, p := range []string{"+94771234567", "+94771234577"} {
		ms = append(ms, message.Message{ID: message.ID(c.ID, p), CampaignID: c.ID, Phone: p, Status: message.Sent, ProviderSID: "SM" + p[1:],
			Attempts: 1, ClaimedAt: &sentAt, SentAt: &sentAt, CreatedAt: sentAt, UpdatedAt: sentAt})
	}
	if _, err := mem.CreateMessages(ctx, ms); err != nil {
		t.Fatal(err)
	}
	a := &deliverystatus.Applier{Store: mem, GiveUpAfter: time.Hour, Retries: noRetask{}, Now: func() time.Time { return now }}
	rateLimited := func(m message.Message) {
		t.Helper()
		if err := a.Apply(ctx, deliverystatus.Callback{ProviderSID: m.ProviderSID, MessageID: m.ID, Attempt: 1,
			Update: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63018", Class: message.FailureRateLimited, At: now}}); err != nil {
			t.Errorf("Apply() error = %v", err)
		}
	}
	st := &racingStore{Store: mem, hook: func() { rateLimited(ms[0]) }}
	r := &campaignrun.Runner{Store: st, Queue: memqueue.New(), Now: func() time.Time { return now }}
	if err := r.CheckCompletion(ctx, c.ID); err != nil {
		t.Fatalf("CheckCompletion() error = %v", err)
	}
	rateLimited(ms[1]) // after the completion
	got, err := mem.GetCampaign(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != campaign.Completed {
		t.Errorf("campaign %s, want COMPLETED", got.Status)
	}
	for _, m := range ms {
		m, err := mem.GetMessage(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != message.Failed || m.ErrorCode != "63018" {
			t.Errorf("message %s %s (%s); want FAILED 63018, none waiting in a completed campaign", m.Phone, m.Status, m.ErrorCode)
		}
	}
}
