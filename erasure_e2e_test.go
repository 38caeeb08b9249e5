package ese

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"
)

// TestErasure erases three people on the local stack and brings two of
// them back: the one who sent STOP through a re-import, the suppressed one
// through POST /users. Both come back opted out; the campaign's counts
// are unchanged, and nothing left names the erased numbers.
func TestErasure(t *testing.T) {
	d := newDemo(t)
	const a, b, c = "+94771230001", "+94771230002", "+94771230003"
	csvFile := func(name, rows string) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte("phone_number,name,tag,consent_state\n"+rows), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	imported := func(path string) map[string]any {
		job := d.upload("/api/v1/ingest/users/bulk", path)
		var st map[string]any
		d.eventually("import completes", 60*time.Second, func() (bool, string) {
			_, st = d.do("GET", "/api/v1/ingest/status/"+job["id"].(string), nil, "")
			return st["state"] == "COMPLETED", fmt.Sprint(st)
		})
		return st
	}
	imported(csvFile("first.csv", a+",Asha,er,OPT_IN\n"+b+",Bandara,er,OPT_IN\n"+c+",Chamari,er,OPT_IN\n"))

	seg := d.create("/api/v1/segments", `{"name":"erasure","definition_json":{"attribute":"tag","operator":"equals","value":"er"}}`)
	tpl := d.approvedTemplate("Erasure offer", "Hi {name}, an offer. Reply STOP to opt out.", "name")
	cid := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":"erasure","template_id":%q,"segment_id":%q,"rate_limit_per_second":10}`, tpl, seg))
	d.trigger(t, cid)
	var before map[string]any
	d.eventually("campaign delivered", 60*time.Second, func() (bool, string) {
		_, before = d.do("GET", "/api/v1/reporting/campaigns/"+cid+"/summary", nil, "")
		return before["status"] == "COMPLETED" && before["messages_delivered"] == 3.0, fmt.Sprint(before)
	})
	if reply := d.inbound("whatsapp:"+a, "STOP", "SMerase1"); !strings.Contains(reply, "unsubscribed") {
		t.Fatalf("STOP answered %q", reply)
	}
	d.eventually("STOP applied", 30*time.Second, func() (bool, string) {
		_, u := d.do("GET", "/api/v1/users/"+url.PathEscape(a), nil, "")
		return u["consent_state"] == "STOP", fmt.Sprint(u)
	})
	if code, out := d.do("POST", "/api/v1/suppressions", strings.NewReader(`{"phone_number":"`+b+`","reason":"complaint"}`), "application/json"); code != 201 {
		t.Fatalf("suppress = %d %v", code, out)
	}

	for _, p := range []string{a, b, c} {
		code, out := d.do("DELETE", "/api/v1/users/"+url.PathEscape(p), nil, "")
		if code != 200 || out["erased"] != true || out["messages_scrubbed"] != 1.0 {
			t.Errorf("DELETE %s = %d %v, want 200 with its one message scrubbed", p, code, out)
		}
		if code, out := d.do("DELETE", "/api/v1/users/"+url.PathEscape(p), nil, ""); code != 404 {
			t.Errorf("second DELETE %s = %d %v, want 404", p, code, out)
		}
		if code, out := d.do("GET", "/api/v1/users/"+url.PathEscape(p)+"/history", nil, ""); code != 404 {
			t.Errorf("history of erased %s = %d %v, want 404: nothing personal left", p, code, out)
		}
	}
	_, after := d.do("GET", "/api/v1/reporting/campaigns/"+cid+"/summary", nil, "")
	for _, k := range []string{"total_recipients", "messages_sent", "messages_delivered"} {
		if after[k] != before[k] {
			t.Errorf("summary %s after the erasures = %v, want %v as before", k, after[k], before[k])
		}
	}
	// The API never shows a body, so the stored documents are read.
	fs, err := firestore.NewClient(context.Background(), d.project)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	docs, err := fs.Collection("messages").Where("campaign_id", "==", cid).Documents(context.Background()).GetAll()
	if err != nil || len(docs) != 3 {
		t.Fatalf("stored messages of the campaign = %d, %v; want 3", len(docs), err)
	}
	for _, doc := range docs {
		m := doc.Data()
		if p := fmt.Sprint(m["phone_number"]); !strings.HasPrefix(p, "erased:") || m["body"] != "" || m["content_variables"] != nil {
			t.Errorf("stored message after the erasures: phone %v, body %q, content variables %v; want the marker and neither", p, m["body"], m["content_variables"])
		}
	}
	_, in := d.do("GET", "/api/v1/monitoring/inbound", nil, "")
	for _, m := range anySlice(in["messages"]) {
		if m, _ := m.(map[string]any); m["message_sid"] == "SMerase1" {
			t.Errorf("the erased person's STOP is still among the inbound records: %v", m)
		}
	}
	_, sup := d.do("GET", "/api/v1/suppressions", nil, "")
	if strings.Contains(fmt.Sprint(sup), b) {
		t.Errorf("suppressions still hold the erased number: %v", sup)
	}

	// a comes back through a re-import asking OPT_IN: STOP stands.
	job := imported(csvFile("again.csv", a+",Asha,er,OPT_IN\n"))
	if job["users_created"] != 1.0 || job["consent_kept"] != 1.0 {
		t.Errorf("re-import = %v, want one user created with consent_kept 1", job)
	}
	// b comes back through the API: opted out and suppressed again.
	code, u := d.do("POST", "/api/v1/users", strings.NewReader(`{"phone_number":"`+b+`","consent_state":"OPT_IN"}`), "application/json")
	kept, _ := u["opt_out_kept"].(map[string]any)
	if code != 201 || kept == nil || kept["suppressed"] != true {
		t.Errorf("POST /users of the suppressed person = %d %v, want 201 with opt_out_kept", code, u)
	}
	// c, who never opted out, comes back as asked.
	code, _ = d.do("POST", "/api/v1/users", strings.NewReader(`{"phone_number":"`+c+`","consent_state":"OPT_IN"}`), "application/json")
	if code != 201 {
		t.Errorf("POST /users of c = %d", code)
	}
	got := map[string]any{}
	for _, p := range []string{a, b, c} {
		_, u := d.do("GET", "/api/v1/users/"+url.PathEscape(p), nil, "")
		got[p] = u["consent_state"]
	}
	want := map[string]any{a: "STOP", b: "OPT_OUT", c: "OPT_IN"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("consent after coming back (-want +got):\n%s", diff)
	}
	_, sup = d.do("GET", "/api/v1/suppressions", nil, "")
	if !strings.Contains(fmt.Sprint(sup), b) {
		t.Errorf("suppressions after b came back = %v, want b suppressed again", sup)
	}
}
