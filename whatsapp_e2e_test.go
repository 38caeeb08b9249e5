package ese

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestWhatsAppSenderIDs runs WhatsApp's sender ids through the whole local
// stack (the stand-in's signed webhook, Pub/Sub, HandleInbound, an import
// and a campaign): a STOP from a Mexican id with the old 1, before anyone
// is stored under its number, is kept as a suppression, so the person
// imported later is skipped as suppressed; a STOP from a Brazilian id
// without the ninth digit stops the person stored with it.
func TestWhatsAppSenderIDs(t *testing.T) {
	d := newDemo(t)
	const (
		mxID, mx = "whatsapp:+5215512345678", "+525512345678"
		brID, br = "whatsapp:+553187654321", "+5531987654321"
		lk       = "+94771234567"
	)
	if reply := d.inbound(mxID, "STOP", "SMwamx1"); !strings.Contains(reply, "unsubscribed") {
		t.Errorf("STOP from an unknown Mexican id answered %q, want the unsubscribed reply", reply)
	}
	// Applied with the callback's record, before the answer: no waiting.
	if ok, out := func() (bool, string) {
		_, out := d.do("GET", "/api/v1/suppressions", nil, "")
		for _, e := range anySlice(out["suppressions"]) {
			if m, _ := e.(map[string]any); m["phone_number"] == mx && m["by"] == "inbound" {
				return true, ""
			}
		}
		return false, fmt.Sprint(out)
	}(); !ok {
		t.Errorf("the unknown sender's STOP not suppressed when answered: %s", out)
	}

	csv := "phone_number,name,tag,consent_state\n" +
		mx + ",Mateo,wa,OPT_IN\n" + br + ",Beatriz,wa,OPT_IN\n" + lk + ",Arjuna,wa,OPT_IN\n"
	path := filepath.Join(t.TempDir(), "wa.csv")
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	job := d.upload("/api/v1/ingest/users/bulk", path)
	d.eventually("import completes", 60*time.Second, func() (bool, string) {
		_, st := d.do("GET", "/api/v1/ingest/status/"+job["id"].(string), nil, "")
		return st["state"] == "COMPLETED", fmt.Sprint(st)
	})

	if reply := d.inbound(brID, "STOP", "SMwabr1"); !strings.Contains(reply, "unsubscribed") {
		t.Errorf("STOP from a Brazilian id without the ninth digit answered %q", reply)
	}
	if _, u := d.do("GET", "/api/v1/users/"+url.PathEscape(br), nil, ""); u["consent_state"] != "STOP" {
		t.Errorf("the Brazilian id's STOP not applied to the number with the ninth digit when answered: %v", u)
	}

	seg := d.create("/api/v1/segments", `{"name":"WhatsApp ids","definition_json":{"attribute":"tag","operator":"equals","value":"wa"}}`)
	tpl := d.approvedTemplate("WA offer", "Hi {name}, an offer. Reply STOP to opt out.", "name")
	cid := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":"wa ids","template_id":%q,"segment_id":%q,"rate_limit_per_second":10}`, tpl, seg))
	d.trigger(t, cid)
	var sum map[string]any
	d.eventually("campaign completes", 60*time.Second, func() (bool, string) {
		_, sum = d.do("GET", "/api/v1/reporting/campaigns/"+cid+"/summary", nil, "")
		return sum["status"] == "COMPLETED", fmt.Sprint(sum)
	})
	got := map[string]any{"sent": sum["messages_sent"], "skipped": sum["skipped_by_reason"]}
	want := map[string]any{"sent": 1.0, "skipped": map[string]any{"suppressed": 1.0, "no_consent": 1.0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("campaign (-want +got):\n%s\nsummary: %v", diff, sum)
	}
	for _, m := range d.standinMessages() {
		if to := fmt.Sprint(m["to"]); to != "whatsapp:"+lk {
			t.Errorf("the stand-in got a send to %s", to)
		}
	}
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}
