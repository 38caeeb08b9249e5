package events_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/userimport"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// tricky are strings JSON encoders disagree on: HTML characters, control
// characters, the line separators JavaScript reads as newlines, invalid
// UTF-8 and characters beyond the BMP.
var tricky = []string{
	"", "plain", `<script>&"quote"\back</script>`, "tab\tnew\nline\r\x00\x1f\x7f",
	"\u2028\u2029", "bad \xff\xfe utf-8 \xc3", "emoji 😀 and é", "whatsapp:+94771234577",
}

// TestEncode_matches_encoding_json pins what subscribers and the audit
// trail rely on: every payload published is byte for byte what
// encoding/json makes of it, map keys sorted.
func TestEncode_matches_encoding_json(t *testing.T) {
	params := map[string]string{}
	for i, s := range tricky {
		params["Key"+s] = s
		params[string(rune('A'+i))] = s
	}
	at := time.Date(2026, 11, 29, 15, 4, 5, 123456789, time.FixedZone("", 5*3600+1800))
	payloads := []struct {
		name string
		v    any
	}{
		{"webhook", webhook.Event{ID: "inbound-SM1", Kind: webhook.Inbound, MessageSID: "SM1", Params: params, ReceivedAt: at, StopApplied: true}},
		{"status", webhook.Event{ID: "status-SM1-delivered", Kind: webhook.Status, MessageSID: "SM1", MessageID: "m1", Attempt: 2, Status: "delivered", Params: map[string]string{}, Unstored: true}},
		{"webhook without params", webhook.Event{ID: "x"}},
		{"import batch", events.ImportBatch{JobID: "j", Batch: 3, Rows: []userimport.Row{
			{Line: 2, Phone: "+14155550100", Consent: "opted_in", Attributes: map[string]any{
				"name": "Zoë <b>", "age": 41.0, "big": 1e21, "small": 1e-7, "neg": math.Copysign(0, -1), "max": math.MaxFloat64,
				"int": 9007199254740993.0, "yes": true, "none": nil, "nested": map[string]any{"b": []any{1.5, "x"}, "a": "y"},
			}},
			{Line: 3, Phone: tricky[5]},
		}}},
		{"empty import batch", events.ImportBatch{}},
		{"upload", events.ObjectFinalized{Bucket: "b", Name: "imports/a b.csv", Size: "1024"}},
		{"launch", events.Launch{CampaignID: "c", After: "u9", Slice: &events.LaunchSlice{Index: 4, IDs: segment.Range{From: "a", To: "z"}}, DryRun: "d"}},
		{"recipients", events.Recipients{CampaignID: "c", MessageIDs: []string{"m1", "m2"}, Settle: true}},
		{"recipients nil ids", events.Recipients{CampaignID: "c"}},
	}
	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			want, err := json.Marshal(p.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := events.Encode(p.v)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Encode differs from encoding/json (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzEncode checks any webhook callback's form encodes as encoding/json
// encodes it.
func FuzzEncode(f *testing.F) {
	for _, s := range tricky {
		f.Add("Body", s, s)
	}
	f.Fuzz(func(t *testing.T, k1, v1, v2 string) {
		e := webhook.Event{ID: v2, MessageSID: k1, Params: map[string]string{k1: v1, v2: k1, "From": v2}}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := events.Encode(e)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if string(got) != string(want) {
			t.Errorf("Encode = %s, encoding/json = %s", got, want)
		}
	})
}
