package ese

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
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
	tpl := d.approvedTemplate("T", "Hi {name}!", "name")

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

// BenchmarkImport100k imports 100,000 generated contacts on the local stack
// (scripts/dev on the emulators: the API stores and reads the file, the
// batches go through Pub/Sub push to ImportUsers, each applied in one
// Firestore transaction) and reports rows/s beside its yardstick: a bare
// BulkWriter loop creating the same number of user documents on the same
// Firestore emulator, the fastest the emulator takes writes.
// Run with scripts/bench Import100k .
func BenchmarkImport100k(b *testing.B) {
	const rows = 100000
	b.Run("pipeline", func(b *testing.B) {
		d := newDemo(b)
		var csv strings.Builder
		csv.WriteString("phone_number,name,city,age\n")
		for i := range rows {
			fmt.Fprintf(&csv, "+9477%07d,User %d,Colombo,%d\n", 1000000+i, i, 18+i%60)
		}
		file := filepath.Join(b.TempDir(), "users.csv")
		if err := os.WriteFile(file, []byte(csv.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for n := range b.N {
			if n > 0 {
				b.StopTimer()
				d = newDemo(b) // a fresh project: every run creates its users
				b.StartTimer()
			}
			job := d.upload("/api/v1/ingest/users/bulk", file)
			d.eventually("import", 15*time.Minute, func() (bool, string) {
				_, st := d.do("GET", "/api/v1/ingest/status/"+job["id"].(string), nil, "")
				return st["state"] == "COMPLETED", fmt.Sprint(st["state"], " ", st["batches_done"], "/", st["batches"])
			})
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("yardstick", func(b *testing.B) {
		ctx := context.Background()
		emulatortest.Firestore(b)
		for range b.N {
			b.StopTimer()
			c, err := firestore.NewClient(ctx, emulatortest.ProjectID(b))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			bw := c.BulkWriter(ctx)
			users := c.Collection("users")
			for i := range rows {
				phone := fmt.Sprintf("+9477%07d", 1000000+i)
				if _, err := bw.Create(users.Doc(phone), map[string]any{
					"phone_number": phone, "consent_state": "OPT_IN",
					"attributes": map[string]any{"name": fmt.Sprint("User ", i), "city": "Colombo", "age": 18 + i%60},
					"created_at": time.Now(), "updated_at": time.Now(),
				}); err != nil {
					b.Fatal(err)
				}
			}
			bw.End()
			b.StopTimer()
			c.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkImport1M imports 1,000,000 generated contacts (a 47 MB file,
// past what a request carries) the way a large import arrives: a signed
// URL, a PUT to the Cloud Storage emulator, its notification to
// ReadImport, and the batches through ImportUsers. It reports rows/s and
// the seconds to COMPLETED. Run with scripts/bench Import1M . (minutes).
func BenchmarkImport1M(b *testing.B) {
	const rows = 1000000
	var file bytes.Buffer
	file.WriteString("phone_number,name,city,age\n")
	for i := range rows {
		fmt.Fprintf(&file, "+9477%07d,User %d,Colombo,%d\n", 1000000+i, i, 18+i%60)
	}
	for range b.N {
		b.StopTimer()
		d := newDemo(b)
		b.StartTimer()
		code, up := d.do("POST", "/api/v1/ingest/uploads?filename=users.csv", nil, "")
		if code != http.StatusCreated {
			b.Fatalf("POST uploads = %d %v", code, up)
		}
		req, _ := http.NewRequest(up["method"].(string), up["upload_url"].(string), bytes.NewReader(file.Bytes()))
		resp, err := d.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("PUT = %s", resp.Status)
		}
		d.eventually("import", 30*time.Minute, func() (bool, string) {
			_, st := d.do("GET", up["status_url"].(string), nil, "")
			return st["state"] == "COMPLETED" && st["users_created"] == float64(rows), fmt.Sprint(st["state"], " ", st["batches_done"], "/", st["batches"])
		})
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/import")
}
