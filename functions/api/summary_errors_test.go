package api

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/message"
)

// Twilio's callback codes reach the summary as the domain's classes:
// 63049 (Meta declined a marketing message) and 63018 (rate limit)
// counted on their own, 63016 only among the error codes.
func TestCampaignSummary_counts_declined_and_rate_limited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	c, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var ms []message.Message
	for i, code := range []string{"63049", "63049", "63018", "63016"} {
		phone := "+9477123456" + string(rune('0'+i))
		ms = append(ms, message.Message{ID: message.ID(c.ID, phone), CampaignID: c.ID, Phone: phone,
			Status: message.Failed, ErrorCode: code, CreatedAt: now, UpdatedAt: now, FailedAt: &now})
	}
	if _, err := f.store.CreateMessages(ctx, ms); err != nil {
		t.Fatal(err)
	}
	code, sum := f.call("GET", "/api/v1/reporting/campaigns/"+c.ID+"/summary", "")
	if code != 200 {
		t.Fatalf("summary = %d %v", code, sum)
	}
	want := map[string]any{"declined_by_meta": 2.0, "rate_limited": 1.0, "messages_failed": 4.0}
	got := map[string]any{"declined_by_meta": sum["declined_by_meta"], "rate_limited": sum["rate_limited"], "messages_failed": sum["messages_failed"]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	// Each top code says what it means, from the edge's table.
	for _, e := range sum["top_error_codes"].([]any) {
		e := e.(map[string]any)
		if m, _ := e["meaning"].(string); m == "" {
			t.Errorf("top error code %v has no meaning", e)
		}
	}
	for _, k := range []string{"duration_seconds", "opt_outs_during_campaign", "deferred_by_step"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary has no %s: %v", k, sum)
		}
	}
}
