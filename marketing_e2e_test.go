package ese

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestMarketingOptOut drives WhatsApp's own "stop marketing messages"
// through the stand-in: Asha stops them in WhatsApp, a marketing campaign
// to her fails with 63033 and records it on her; the next marketing
// campaign skips her (marketing_opt_out), a utility one still reaches
// her, and her history shows when and how.
func TestMarketingOptOut(t *testing.T) {
	d := newDemo(t)
	const asha, bandara = "+94771240001", "+94771240002"
	path := filepath.Join(t.TempDir(), "mk.csv")
	csv := "phone_number,name,tag\n" + asha + ",Asha,mk\n" + bandara + ",Bandara,mk\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	job := d.upload("/api/v1/ingest/users/bulk", path)
	d.eventually("import completes", 60*time.Second, func() (bool, string) {
		_, st := d.do("GET", "/api/v1/ingest/status/"+job["id"].(string), nil, "")
		return st["state"] == "COMPLETED", fmt.Sprint(st)
	})
	resp, err := d.client.PostForm(d.standin+"/_standin/stop-marketing", url.Values{"From": {"whatsapp:" + asha}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("stop-marketing: %s", resp.Status)
	}

	seg := d.create("/api/v1/segments", `{"name":"marketing","definition_json":{"attribute":"tag","operator":"equals","value":"mk"}}`)
	offer := d.approvedTemplateIn("marketing", "Offer", "Hi {name}, 20% off this week. Reply STOP to opt out.", "name")
	order := d.approvedTemplateIn("utility", "Order", "Hi {name}, your order has shipped.", "name")
	run := func(topic, tpl string) map[string]any {
		cid := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":%q,"template_id":%q,"segment_id":%q,"rate_limit_per_second":10}`, topic, tpl, seg))
		d.trigger(t, cid)
		var sum map[string]any
		d.eventually(topic+" concludes", 60*time.Second, func() (bool, string) {
			_, sum = d.do("GET", "/api/v1/reporting/campaigns/"+cid+"/summary", nil, "")
			settled := sum["messages_delivered"].(float64) + sum["messages_failed"].(float64) + sum["messages_skipped"].(float64)
			return sum["status"] == "COMPLETED" && settled == 2, fmt.Sprint(sum)
		})
		return sum
	}

	first := run("first offer", offer)
	codes, _ := first["top_error_codes"].([]any)
	if first["messages_failed"] != 1.0 || len(codes) != 1 || codes[0].(map[string]any)["error_code"] != "63033" ||
		codes[0].(map[string]any)["meaning"] == "" {
		t.Errorf("first offer: failed %v, codes %v; want Asha's one failure, 63033 with its meaning", first["messages_failed"], codes)
	}
	var u map[string]any
	d.eventually("Asha's marketing opt-out recorded", 30*time.Second, func() (bool, string) {
		_, u = d.do("GET", "/api/v1/users/"+url.PathEscape(asha), nil, "")
		return u["marketing_opt_out"] != nil, fmt.Sprint(u)
	})
	if o := u["marketing_opt_out"].(map[string]any); o["source"] != "provider_failure" || o["ref"] == "" || o["at"] == "" {
		t.Errorf("marketing_opt_out = %v, want when, the source and the message that reported it", o)
	}
	if u["consent_state"] != "OPT_IN" {
		t.Errorf("consent = %v: stopping marketing is not an opt-out of everything", u["consent_state"])
	}

	second := run("second offer", offer)
	got := map[string]any{"delivered": second["messages_delivered"], "skipped": second["skipped_by_reason"], "consent_step": second["blocked_by_step"].(map[string]any)["consent"]}
	want := map[string]any{"delivered": 1.0, "skipped": map[string]any{"marketing_opt_out": 1.0}, "consent_step": 1.0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("second offer (-want +got):\n%s", diff)
	}
	if shipped := run("shipping", order); shipped["messages_delivered"] != 2.0 {
		t.Errorf("utility campaign delivered %v, want both, Asha too", shipped["messages_delivered"])
	}

	_, h := d.do("GET", "/api/v1/users/"+url.PathEscape(asha)+"/history", nil, "")
	found := false
	for _, e := range anySlice(h["history"]) {
		if e, _ := e.(map[string]any); e["kind"] == "marketing_opt_out" && e["source"] == "provider_failure" {
			found = true
		}
	}
	if !found {
		t.Errorf("history has no marketing_opt_out entry: %v", h)
	}
}
