package reporting

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/user"
)

var h0 = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

func hat(min int) time.Time { return h0.Add(time.Duration(min) * time.Minute) }

func hptr(t time.Time) *time.Time { return &t }

func TestTimeline(t *testing.T) {
	t.Parallel()
	const p = "+94771234567"
	optIn := consent.Change{Phone: p, To: consent.OptIn, Source: consent.SourceImport, Ref: "job-1", At: hat(0)}
	stop := consent.Change{Phone: p, From: consent.OptIn, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM1", At: hat(30)}
	delivered := message.Message{
		ID: "m-a", CampaignID: "ca", Phone: p, Status: message.Delivered, Channel: "template",
		CreatedAt: hat(10), UpdatedAt: hat(13), QueuedAt: hptr(hat(11)), SentAt: hptr(hat(12)), DeliveredAt: hptr(hat(13)),
	}
	failed := message.Message{
		ID: "m-b", CampaignID: "cb", Phone: p, Status: message.Failed, ErrorCode: "63016", Channel: "session",
		CreatedAt: hat(20), UpdatedAt: hat(22), QueuedAt: hptr(hat(20)), SentAt: hptr(hat(21)), FailedAt: hptr(hat(22)),
	}
	// Allowed at fan-out, then skipped at send: the STOP came between.
	revoked := message.Message{
		ID: "m-c", CampaignID: "cc", Phone: p, Status: message.Skipped, SkipReason: message.SkipConsentAtSend, Channel: "template",
		CreatedAt: hat(29), UpdatedAt: hat(31), QueuedAt: hptr(hat(29)),
	}
	refused := message.Message{
		ID: "m-d", CampaignID: "cd", Phone: p, Status: message.Skipped, SkipReason: message.SkipNoConsent,
		CreatedAt: hat(40), UpdatedAt: hat(40),
	}
	deferred := message.Message{
		ID: "m-e", CampaignID: "ce", Phone: p, Status: message.Deferred,
		CreatedAt: hat(50), UpdatedAt: hat(51), ScheduledAt: hptr(hat(600)),
	}
	pending := message.Message{ID: "m-f", CampaignID: "cf", Phone: p, Status: message.Pending, CreatedAt: hat(60), UpdatedAt: hat(60)}

	tests := []struct {
		name    string
		changes []consent.Change
		ms      []message.Message
		want    []HistoryEntry
	}{
		{"nothing", nil, nil, []HistoryEntry{}},
		{
			name:    "consent_messages_and_decisions_in_time_order",
			changes: []consent.Change{optIn, stop},
			// Newest first, as MessagesTo reads them.
			ms: []message.Message{pending, deferred, refused, revoked, failed, delivered},
			want: []HistoryEntry{
				{At: hat(0), Kind: KindConsent, To: consent.OptIn, Source: consent.SourceImport, Reference: "job-1"},
				{At: hat(10), Kind: KindMessage, CampaignID: "ca", MessageID: "m-a", Status: message.Delivered, SentAt: hptr(hat(12)), DeliveredAt: hptr(hat(13))},
				{At: hat(11), Kind: KindCompliance, CampaignID: "ca", MessageID: "m-a", Decision: DecisionAllowed, Channel: "template"},
				// A message and its decision at one instant: the message first.
				{At: hat(20), Kind: KindMessage, CampaignID: "cb", MessageID: "m-b", Status: message.Failed, ErrorCode: "63016", SentAt: hptr(hat(21)), FailedAt: hptr(hat(22))},
				{At: hat(20), Kind: KindCompliance, CampaignID: "cb", MessageID: "m-b", Decision: DecisionAllowed, Channel: "session"},
				{At: hat(29), Kind: KindMessage, CampaignID: "cc", MessageID: "m-c", Status: message.Skipped},
				{At: hat(29), Kind: KindCompliance, CampaignID: "cc", MessageID: "m-c", Decision: DecisionAllowed, Channel: "template"},
				{At: hat(30), Kind: KindConsent, From: consent.OptIn, To: consent.Stop, Source: consent.SourceInbound, Reference: "SM1"},
				{At: hat(31), Kind: KindCompliance, CampaignID: "cc", MessageID: "m-c", Decision: DecisionSkipped, SkipReason: message.SkipConsentAtSend, Channel: "template"},
				{At: hat(40), Kind: KindMessage, CampaignID: "cd", MessageID: "m-d", Status: message.Skipped},
				{At: hat(40), Kind: KindCompliance, CampaignID: "cd", MessageID: "m-d", Decision: DecisionSkipped, SkipReason: message.SkipNoConsent},
				{At: hat(50), Kind: KindMessage, CampaignID: "ce", MessageID: "m-e", Status: message.Deferred},
				{At: hat(51), Kind: KindCompliance, CampaignID: "ce", MessageID: "m-e", Decision: DecisionDeferred, ScheduledAt: hptr(hat(600))},
				{At: hat(60), Kind: KindMessage, CampaignID: "cf", MessageID: "m-f", Status: message.Pending},
			},
		},
		{
			name:    "tie_consent_before_message",
			changes: []consent.Change{{Phone: p, From: consent.OptOut, To: consent.OptIn, Source: consent.SourceAdmin, At: hat(60)}},
			ms:      []message.Message{pending},
			want: []HistoryEntry{
				{At: hat(60), Kind: KindConsent, From: consent.OptOut, To: consent.OptIn, Source: consent.SourceAdmin},
				{At: hat(60), Kind: KindMessage, CampaignID: "cf", MessageID: "m-f", Status: message.Pending},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Timeline(tc.changes, tc.ms)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Timeline (-want +got):\n%s", d)
			}
		})
	}
}

func TestPersonHistoryCap(t *testing.T) {
	t.Parallel()
	const p = "+94771234567"
	s := memstore.New()
	ctx := t.Context()
	if _, err := s.CreateMessages(ctx, []message.Message{
		{ID: "m1", CampaignID: "c1", Phone: p, Status: message.Pending, CreatedAt: hat(1), UpdatedAt: hat(1)},
		{ID: "m2", CampaignID: "c2", Phone: p, Status: message.Pending, CreatedAt: hat(2), UpdatedAt: hat(2)},
		{ID: "m3", CampaignID: "c3", Phone: p, Status: message.Pending, CreatedAt: hat(3), UpdatedAt: hat(3)},
		{ID: "x1", CampaignID: "c1", Phone: "+94770000000", Status: message.Pending, CreatedAt: hat(4), UpdatedAt: hat(4)},
	}); err != nil {
		t.Fatal(err)
	}
	entry := func(id, c string, min int) HistoryEntry {
		return HistoryEntry{At: hat(min), Kind: KindMessage, CampaignID: c, MessageID: id, Status: message.Pending}
	}
	tests := []struct {
		name  string
		limit int
		want  History
	}{
		{"under_the_cap", 3, History{
			Phone: p, Messages: 3,
			Entries: []HistoryEntry{entry("m1", "c1", 1), entry("m2", "c2", 2), entry("m3", "c3", 3)},
		}},
		{"capped_keeps_the_newest", 2, History{
			Phone: p, Messages: 2, MessagesCapped: true, MessagesSince: hptr(hat(2)),
			Entries: []HistoryEntry{entry("m2", "c2", 2), entry("m3", "c3", 3)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := PersonHistory(ctx, s, p, tc.limit)
			if err != nil {
				t.Fatalf("PersonHistory: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("PersonHistory (-want +got):\n%s", d)
			}
		})
	}
}

type brokenHistory struct{ *memstore.Store }

func (brokenHistory) MessagesTo(context.Context, string, int) ([]message.Message, error) {
	return nil, errors.New("index missing")
}

func TestPersonHistoryStoreFails(t *testing.T) {
	t.Parallel()
	if _, err := PersonHistory(t.Context(), brokenHistory{memstore.New()}, "+94771234567", 10); err == nil {
		t.Error("PersonHistory hid the store's error")
	}
}

// The marketing opt-out goes among the entries in time order, beside the
// consent changes of its instant; none leaves them as they are.
func TestWithMarketingOptOut(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	entries := []HistoryEntry{
		{At: t0, Kind: KindConsent, To: consent.OptIn},
		{At: t0.Add(2 * time.Minute), Kind: KindMessage, MessageID: "m1"},
		{At: t0.Add(3 * time.Minute), Kind: KindCompliance, MessageID: "m1"},
	}
	o := &user.MarketingOptOut{At: t0.Add(2 * time.Minute), Source: user.SourceProviderFailure, Ref: "SM1"}
	got := WithMarketingOptOut(slices.Clone(entries), o)
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, e.Kind)
	}
	if diff := cmp.Diff([]string{KindConsent, KindMarketingOptOut, KindMessage, KindCompliance}, kinds); diff != "" {
		t.Errorf("kinds (-want, +got):\n%s", diff)
	}
	if got[1].Source != "provider_failure" || got[1].Reference != "SM1" {
		t.Errorf("entry = %+v, want its source and reference", got[1])
	}
	if diff := cmp.Diff(entries, WithMarketingOptOut(slices.Clone(entries), nil)); diff != "" {
		t.Errorf("without an opt-out (-want, +got):\n%s", diff)
	}
}
