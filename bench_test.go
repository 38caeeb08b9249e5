package ese

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkCampaign measures whole campaigns on the local stack: scripts/dev
// on the emulators, every message through segment evaluation, compliance,
// its Cloud Tasks queue at 500/s, the Sender, the real twilio-go client and
// the stand-in, and its status callbacks back through the webhook.
// Run with scripts/test -run '^$' -bench Campaign . (the emulators, not our
// code, set most of the pace: see the README).
func BenchmarkCampaign(b *testing.B) {
	const recipients = 1000
	d := newDemo(b)

	var csv strings.Builder
	csv.WriteString("phone_number,name,city\n")
	for i := range recipients {
		fmt.Fprintf(&csv, "+9477%07d,User %d,Colombo\n", 1000000+i, i)
	}
	file := filepath.Join(b.TempDir(), "users.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	job := d.upload("/api/v1/ingest/users/bulk", file)
	d.eventually("import", 2*time.Minute, func() (bool, string) {
		_, st := d.do("GET", "/api/v1/ingest/status/"+job["id"].(string), nil, "")
		return st["state"] == "COMPLETED", fmt.Sprint(st)
	})
	importRate := float64(recipients) / time.Since(start).Seconds()
	seg := d.create("/api/v1/segments", `{"name":"All","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
	tpl := d.create("/api/v1/templates", `{"name":"T","content":"Hi {name}!"}`)

	b.ResetTimer()
	for range b.N {
		cid := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":"bench","template_id":%q,"segment_id":%q,"rate_limit_per_second":500}`, tpl, seg))
		if code, out := d.do("POST", "/api/v1/campaigns/"+cid+"/trigger", nil, ""); code != 202 {
			b.Fatalf("trigger = %d %v", code, out)
		}
		d.eventually("campaign completes", 10*time.Minute, func() (bool, string) {
			_, c := d.do("GET", "/api/v1/campaigns/"+cid, nil, "")
			return c["status"] == "COMPLETED", fmt.Sprint(c["status"])
		})
	}
	b.ReportMetric(float64(recipients*b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(recipients*b.N)/b.Elapsed().Minutes(), "msgs/min")
	b.ReportMetric(importRate, "imported-rows/s")
}
