package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/reporting"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

func TestPersonHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.id("/api/v1/users", `{"phone_number":"+94771234567"}`)
	if code, u := f.call("PUT", "/api/v1/users/%2B94771234567/consent", `{"consent_state":"OPT_OUT","reason":"asked by phone"}`); code != 200 {
		t.Fatalf("opt-out = %d %v", code, u)
	}
	sent := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	if _, err := f.store.CreateMessages(t.Context(), []message.Message{
		{ID: "m1", CampaignID: "c1", Phone: "+94771234567", Status: message.Failed, ErrorCode: "63016", Channel: "session",
			CreatedAt: sent, UpdatedAt: sent, QueuedAt: &sent, FailedAt: &sent},
		{ID: "m2", CampaignID: "c1", Phone: "+94770000001", Status: message.Sent, CreatedAt: sent, UpdatedAt: sent},
		{ID: "m3", CampaignID: "c2", Phone: "+94770000002", Status: message.Skipped, SkipReason: message.SkipUnknownUser, CreatedAt: sent, UpdatedAt: sent},
	}); err != nil {
		t.Fatal(err)
	}

	type entry struct{ kind, campaign, status, errorCode, decision, channel, to, source, ref, skip string }
	entries := func(out map[string]any) []entry {
		var got []entry
		list, _ := out["history"].([]any)
		for _, e := range list {
			m := e.(map[string]any)
			s := func(k string) string { v, _ := m[k].(string); return v }
			got = append(got, entry{s("kind"), s("campaign_id"), s("status"), s("error_code"), s("decision"), s("channel"), s("to"), s("source"), s("reference"), s("skip_reason")})
		}
		return got
	}
	person := []entry{
		{kind: "message", campaign: "c1", status: "FAILED", errorCode: "63016"},
		{kind: "compliance", campaign: "c1", decision: "allowed", channel: "session"},
		{kind: "consent", to: "OPT_IN", source: "api"},
		{kind: "consent", to: "OPT_OUT", source: "admin", ref: "asked by phone"},
	}
	tests := []struct {
		name     string
		path     string
		code     int
		want     []entry
		consent  any
		messages any
	}{
		{"encoded_plus", "/api/v1/users/%2B94771234567/history", 200, person, "OPT_OUT", 1.0},
		{"whatsapp_form_with_spaces", "/api/v1/users/whatsapp:%2B94%2077%20123%204567/history", 200, person, "OPT_OUT", 1.0},
		// No user, but a message: what was decided for the number is shown.
		{"no_user_with_messages", "/api/v1/users/%2B94770000002/history", 200, []entry{
			{kind: "message", campaign: "c2", status: "SKIPPED"},
			{kind: "compliance", campaign: "c2", decision: "skipped", skip: "unknown_user"},
		}, nil, 1.0},
		{"unknown_number", "/api/v1/users/%2B94770000009/history", 404, nil, nil, nil},
		{"invalid_number", "/api/v1/users/0771234567/history", 400, nil, nil, nil},
		{"limit_too_large", "/api/v1/users/%2B94771234567/history?limit=1001", 400, nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out := f.call("GET", tc.path, "")
			if code != tc.code {
				t.Fatalf("GET %s = %d %v, want %d", tc.path, code, out, tc.code)
			}
			if code != 200 {
				return
			}
			if d := cmp.Diff(tc.want, entries(out), cmp.AllowUnexported(entry{})); d != "" {
				t.Errorf("history (-want +got):\n%s", d)
			}
			if out["consent_state"] != tc.consent || out["messages"] != tc.messages || out["messages_capped"] != false {
				t.Errorf("consent_state, messages, messages_capped = %v, %v, %v; want %v, %v, false",
					out["consent_state"], out["messages"], out["messages_capped"], tc.consent, tc.messages)
			}
		})
	}
}

func TestPersonHistory_capped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.id("/api/v1/users", `{"phone_number":"+94771234567"}`)
	base := time.Now().UTC().Truncate(time.Second)
	var ms []message.Message
	for i := range 3 {
		at := base.Add(time.Duration(i) * time.Minute)
		ms = append(ms, message.Message{ID: message.ID("c"+string(rune('a'+i)), "+94771234567"), CampaignID: "c" + string(rune('a'+i)),
			Phone: "+94771234567", Status: message.Pending, CreatedAt: at, UpdatedAt: at})
	}
	if _, err := f.store.CreateMessages(t.Context(), ms); err != nil {
		t.Fatal(err)
	}
	code, out := f.call("GET", "/api/v1/users/%2B94771234567/history?limit=2", "")
	if code != 200 {
		t.Fatalf("history = %d %v", code, out)
	}
	var campaigns []any
	for _, e := range out["history"].([]any) {
		if c, ok := e.(map[string]any)["campaign_id"]; ok {
			campaigns = append(campaigns, c)
		}
	}
	want := map[string]any{"campaigns": []any{"cb", "cc"}, "messages": 2.0, "capped": true,
		"since": base.Add(time.Minute).Format(time.RFC3339)}
	got := map[string]any{"campaigns": campaigns, "messages": out["messages"], "capped": out["messages_capped"], "since": out["messages_since"]}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("capped history (-want +got):\n%s", d)
	}
}

func TestExportMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	c, err := f.store.CreateCampaign(t.Context(), campaign.Campaign{Topic: "t", TemplateID: "x", SegmentID: "y", Rate: 1,
		Status: campaign.Draft, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateMessages(t.Context(), []message.Message{
		{ID: "m1", CampaignID: c.ID, Phone: "+94771234567", Status: message.Failed, ErrorCode: "63016",
			ErrorText: `=HYPERLINK("http://evil.example","x")`, CreatedAt: now, UpdatedAt: now, FailedAt: &now},
		{ID: "m2", CampaignID: c.ID, Phone: "+15555550100", Status: message.Skipped, SkipReason: message.SkipNoConsent,
			ErrorText: "@SUM(A1)", ErrorCode: "-2", CreatedAt: now, UpdatedAt: now},
		{ID: "m3", CampaignID: "other", Phone: "+94771234567", Status: message.Sent, CreatedAt: now, UpdatedAt: now},
	}); err != nil {
		t.Fatal(err)
	}
	rec := f.raw("GET", "/api/v1/reporting/campaigns/"+c.ID+"/messages.csv", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("export = %d %s", rec.Code, rec.Body)
	}
	head := map[string]string{"type": rec.Header().Get("Content-Type"), "disposition": rec.Header().Get("Content-Disposition")}
	wantHead := map[string]string{"type": "text/csv; charset=utf-8", "disposition": `attachment; filename="campaign-` + c.ID + `-messages.csv"`}
	if d := cmp.Diff(wantHead, head); d != "" {
		t.Errorf("headers (-want +got):\n%s", d)
	}
	rows, err := csv.NewReader(bytes.NewReader(rec.Body.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, rec.Body)
	}
	ts := now.Format("2006-01-02T15:04:05.000Z")
	want := [][]string{
		reporting.MessageColumns,
		{"m1", "'+94771234567", "FAILED", "", "", "63016", `'=HYPERLINK("http://evil.example","x")`, ts, "", "", "", "", "", ts},
		{"m2", "'+15555550100", "SKIPPED", "no_consent", "", "'-2", "'@SUM(A1)", ts, "", "", "", "", "", ""},
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("export (-want +got):\n%s", d)
	}

	if code := f.status(t, "/api/v1/reporting/campaigns/nope/messages.csv"); code != http.StatusNotFound {
		t.Errorf("unknown campaign's export = %d, want 404", code)
	}
}

// scanFails is a store whose ScanMessages always fails.
type scanFails struct{ *memstore.Store }

func (scanFails) ScanMessages(context.Context, string, string, int) ([]message.Message, error) {
	return nil, errs.E(errs.Transient, "store down")
}

func TestExportMessages_store_fails_before_any_row(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now().UTC()
	c, err := f.store.CreateCampaign(t.Context(), campaign.Campaign{Topic: "t", TemplateID: "x", SegmentID: "y", Rate: 1,
		Status: campaign.Draft, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	f.server.Store = scanFails{f.store}
	rec := f.raw("GET", "/api/v1/reporting/campaigns/"+c.ID+"/messages.csv", "")
	got := map[string]any{"code": rec.Code, "type": rec.Header().Get("Content-Type"), "disposition": rec.Header().Get("Content-Disposition")}
	want := map[string]any{"code": http.StatusServiceUnavailable, "type": "application/json; charset=utf-8", "disposition": ""}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("export with a failing store (-want +got):\n%s\n%s", d, rec.Body)
	}
}
