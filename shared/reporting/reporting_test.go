package reporting

import (
	"context"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	done := start.Add(2 * time.Minute)
	c := campaign.Campaign{ID: "c1", Topic: "t", Status: campaign.Completed, Rate: 1, StartedAt: &start, CompletedAt: &done}
	cases := []struct {
		name string
		n    store.Counts
		want Summary
	}{
		{
			name: "seed_demo_two_delivered",
			n:    store.Counts{Recipients: 2, Queued: 2, Sent: 2, Delivered: 2, Read: 1},
			want: Summary{
				CampaignID: "c1", Topic: "t", Status: "COMPLETED", TotalRecipients: 2, MessagesQueued: 2,
				MessagesSent: 2, MessagesDelivered: 2, MessagesRead: 1, SkippedByReason: map[string]int{},
				BlockedByStep:       map[string]int{"consent": 0, "duplicate": 0, "frequency_cap": 0, "content": 0, "channel_policy": 0},
				DeferredByStep:      map[string]int{"quiet_hours": 0},
				DeliveryRatePercent: 100, ReadRatePercent: 50, TopErrorCodes: []ErrorCount{}, RateLimitPerSecond: 1,
				StartedAt: &start, CompletedAt: &done, EndedAt: &done, ThroughputPerMinute: 1, DurationSeconds: 120,
			},
		},
		{
			name: "skips_and_errors_sorted_by_count",
			n: store.Counts{
				Recipients: 6, Queued: 4, Sent: 1, Failed: 3,
				Skipped: map[message.SkipReason]int{
					message.SkipNoConsent: 2, message.SkipSuppressed: 1, message.SkipOptOutMissing: 1,
					message.SkipMissingVars: 1, message.SkipChannelPolicy: 4, message.SkipCancelled: 5,
				},
				ErrorCodes: map[string]int{"21211": 1, "21610": 2},
			},
			want: Summary{
				CampaignID: "c1", Topic: "t", Status: "COMPLETED", TotalRecipients: 6, MessagesQueued: 4,
				MessagesSent: 1, MessagesFailed: 3, MessagesSkipped: 14,
				SkippedByReason: map[string]int{
					"no_consent": 2, "suppressed": 1, "opt_out_missing": 1, "unresolved_placeholders": 1, "channel_policy": 4, "cancelled": 5,
				},
				// A cancelled campaign's skips are no step's.
				BlockedByStep:  map[string]int{"consent": 3, "duplicate": 0, "frequency_cap": 0, "content": 2, "channel_policy": 4},
				DeferredByStep: map[string]int{"quiet_hours": 0},
				TopErrorCodes:  []ErrorCount{{Code: "21610", Count: 2}, {Code: "21211", Count: 1}}, RateLimitPerSecond: 1,
				StartedAt: &start, CompletedAt: &done, EndedAt: &done, ThroughputPerMinute: 0.5, DurationSeconds: 120,
			},
		},
		{
			name: "declined_and_rate_limited_counted_on_their_own",
			n: store.Counts{
				Recipients: 6, Queued: 6, Sent: 6, Delivered: 1, Failed: 5,
				ErrorCodes: map[string]int{"declined-a": 2, "declined-b": 1, "limited": 1, "other": 1},
			},
			want: Summary{
				CampaignID: "c1", Topic: "t", Status: "COMPLETED", TotalRecipients: 6, MessagesQueued: 6,
				MessagesSent: 6, MessagesDelivered: 1, MessagesFailed: 5, SkippedByReason: map[string]int{},
				BlockedByStep:       map[string]int{"consent": 0, "duplicate": 0, "frequency_cap": 0, "content": 0, "channel_policy": 0},
				DeferredByStep:      map[string]int{"quiet_hours": 0},
				DeliveryRatePercent: 16.7,
				TopErrorCodes:       []ErrorCount{{Code: "declined-a", Count: 2}, {Code: "declined-b", Count: 1}, {Code: "limited", Count: 1}, {Code: "other", Count: 1}},
				DeclinedByMeta:      3, RateLimited: 1, RateLimitPerSecond: 1,
				StartedAt: &start, CompletedAt: &done, EndedAt: &done, ThroughputPerMinute: 3, DurationSeconds: 120,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Summarize(c, tc.n, done.Add(time.Hour), classOf)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Summarize (-want, +got):\n%s", diff)
			}
		})
	}
}

// classOf is a provider's code mapping, as the edge gives it.
func classOf(code string) message.FailureClass {
	switch code {
	case "declined-a", "declined-b":
		return message.FailureDeclined
	case "limited":
		return message.FailureRateLimited
	}
	return message.FailureUndeliverable
}

// fakeCounts is a SummaryReader: fixed counts, and the opt-out window it
// was asked for.
type fakeCounts struct {
	n        store.Counts
	optOuts  int
	from, to time.Time
	asked    bool
}

func (f *fakeCounts) CountMessages(context.Context, string) (store.Counts, error) { return f.n, nil }

func (f *fakeCounts) CountOptOuts(_ context.Context, from, to time.Time) (int, error) {
	f.from, f.to, f.asked = from, to, true
	return f.optOuts, nil
}

// moved is a campaign started at start and moved to a final status at at.
func moved(start time.Time, to campaign.Status, at time.Time) campaign.Campaign {
	c := campaign.Campaign{ID: "c1", Status: campaign.Running, StartedAt: &start}
	if err := c.Move(to, "ops", "test", at); err != nil {
		panic(err)
	}
	return c
}

// A campaign's summary adds the opt-outs while it ran (to its end, or to
// now while it runs), the deferred by step, its duration and what each
// top code means.
func TestCampaignSummary(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	done := start.Add(90 * time.Second)
	now := start.Add(time.Hour)
	meaning := func(code string) string {
		if code == "63016" {
			return "outside the window"
		}
		return ""
	}
	codes := Codes{Class: classOf, Meaning: meaning}
	tests := []struct {
		name         string
		c            campaign.Campaign
		wantTo       time.Time
		wantAsked    bool
		wantDuration float64
		wantOptOuts  int
	}{
		{"completed", campaign.Campaign{ID: "c1", StartedAt: &start, CompletedAt: &done}, done, true, 90, 4},
		{"running", campaign.Campaign{ID: "c1", StartedAt: &start}, now, true, 3600, 4},
		{"not_launched", campaign.Campaign{ID: "c1"}, time.Time{}, false, 0, 0},
		{"cancelled", moved(start, campaign.Cancelled, done), done, true, 90, 4},
		{"failed", moved(start, campaign.Failed, done), done, true, 90, 4},
		{"cancelled_before_ended_at_was_kept", campaign.Campaign{ID: "c1", Status: campaign.Cancelled, StartedAt: &start, UpdatedAt: done}, done, true, 90, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Two wait now; three were ever deferred (one sent since).
			r := &fakeCounts{n: store.Counts{Recipients: 5, Failed: 3, Deferred: 2, DeferredBy: map[message.DeferReason]int{message.DeferQuietHours: 3},
				ErrorCodes: map[string]int{"63016": 2, "99999": 1}}, optOuts: 4}
			got, err := CampaignSummary(t.Context(), r, tc.c, now, codes)
			if err != nil {
				t.Fatal(err)
			}
			if r.asked != tc.wantAsked || (tc.wantAsked && (!r.from.Equal(start) || !r.to.Equal(tc.wantTo))) {
				t.Errorf("opt-outs asked %v for %v to %v, want %v for %v to %v", r.asked, r.from, r.to, tc.wantAsked, start, tc.wantTo)
			}
			wantCodes := []ErrorCount{{Code: "63016", Count: 2, Meaning: "outside the window"}, {Code: "99999", Count: 1}}
			if diff := cmp.Diff(wantCodes, got.TopErrorCodes); diff != "" {
				t.Errorf("top error codes (-want, +got):\n%s", diff)
			}
			if got.OptOutsDuringCampaign != tc.wantOptOuts || got.DurationSeconds != tc.wantDuration {
				t.Errorf("opt-outs %d, duration %v; want %d, %v", got.OptOutsDuringCampaign, got.DurationSeconds, tc.wantOptOuts, tc.wantDuration)
			}
			if diff := cmp.Diff(map[string]int{"quiet_hours": 3}, got.DeferredByStep); diff != "" {
				t.Errorf("deferred by step (-want, +got):\n%s", diff)
			}
		})
	}
}
