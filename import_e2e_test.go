package ese

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// dirtyFile is a generated export of rows contacts as a business has
// them: quoted names with commas and quotes, typed columns, a postcode
// with a leading zero, bad numbers, a bad consent value and numbers
// repeated later in the file. It returns the file and the counts and
// errors an import must report.
func dirtyFile(rows int) (string, map[string]any, []string) {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"Phone Number", "name", "age", "vip", "postcode", "consent_state"})
	rejected, dups := 0, 0
	var errRows []string
	phone := func(i int) string { return fmt.Sprintf("+9477%07d", 1000000+i) }
	for i := range rows {
		line := i + 2
		p, consent := phone(i), ""
		switch {
		case i%10 == 3:
			p = "12345"
			rejected++
			errRows = append(errRows, fmt.Sprintf("%d,Phone Number", line)) // the column as the file names it
		case i%50 == 7:
			consent = "MAYBE"
			rejected++
			errRows = append(errRows, fmt.Sprintf("%d,consent_state", line))
		case i%25 == 11:
			p = phone(i - 11) // a number an earlier good row had
			dups++
		}
		_ = w.Write([]string{p, fmt.Sprintf(`Doe, "J" %d`, i), fmt.Sprint(18 + i%80), fmt.Sprint(i%2 == 0), fmt.Sprintf("0%04d", i%10000), consent})
	}
	w.Flush()
	valid := rows - rejected
	want := map[string]any{
		"state": "COMPLETED", "total_rows": float64(rows), "valid_rows": float64(valid), "rejected_rows": float64(rejected),
		"duplicates": float64(dups), "users_created": float64(valid - dups), "users_updated": 0.0, "users_unchanged": 0.0,
		"consent_kept": 0.0,
	}
	return b.String(), want, errRows
}

// TestImport_dirty_file_completes drives a generated dirty 20,000-row
// export through the API on the whole local stack (the import that once
// stalled with half its batches never applied) to COMPLETED, with exact
// counts, row-numbered errors, every error in errors.csv, and typed
// attributes.
func TestImport_dirty_file_completes(t *testing.T) {
	d := newDemo(t)
	file, want, errRows := dirtyFile(20000)
	path := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	job := d.upload("/api/v1/ingest/users/bulk", path)
	id := job["id"].(string)
	var st map[string]any
	d.eventually("import completes", 5*time.Minute, func() (bool, string) {
		_, st = d.do("GET", "/api/v1/ingest/status/"+id, nil, "")
		return st["state"] == "COMPLETED" || st["state"] == "FAILED", fmt.Sprint(st["state"], " ", st["batches_done"], "/", st["batches"])
	})
	got := map[string]any{}
	for k := range want {
		got[k] = st[k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if st["batches"] != st["batches_done"] || st["batches"].(float64) < 2 {
		t.Errorf("batches %v, done %v", st["batches"], st["batches_done"])
	}
	shown := st["errors"].([]any)
	if len(shown) != 1000 {
		t.Errorf("status shows %d errors, want the first 1,000", len(shown))
	}
	var first []string
	for _, e := range shown[:5] {
		m := e.(map[string]any)
		first = append(first, fmt.Sprintf("%v,%v", m["row"], m["field"]))
	}
	if diff := cmp.Diff(errRows[:5], first); diff != "" {
		t.Errorf("first errors (-want +got):\n%s", diff)
	}

	// errors.csv has every one, rows numbered as in the file.
	req, _ := http.NewRequest("GET", d.base+"/api/v1/ingest/status/"+id+"/errors.csv", nil)
	req.Header.Set("Authorization", "Bearer "+d.key)
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, r := range records[1:] {
		all = append(all, r[0]+","+r[1])
	}
	if diff := cmp.Diff(errRows, all); diff != "" {
		t.Errorf("errors.csv rows (-want +got):\n%s", diff)
	}

	// A repeated number holds its later row's attributes; types are kept.
	_, u := d.do("GET", "/api/v1/users/%2B94771000000", nil, "")
	wantUser := map[string]any{"name": `Doe, "J" 11`, "age": 29.0, "vip": false, "postcode": "00011"}
	for k, v := range wantUser {
		if u[k] != v {
			t.Errorf("user %s = %#v, want %#v", k, u[k], v)
		}
	}
}

// TestImport_through_cloud_storage imports a file larger than a request
// may carry (35 MB of wide rows) the way a browser or script does: ask
// for a signed URL, PUT the file there, and let its arrival start the
// import.
func TestImport_through_cloud_storage(t *testing.T) {
	d := newDemo(t)
	const rows = 20000
	var b bytes.Buffer
	b.WriteString("phone,notes\n")
	notes := strings.Repeat("n", 1750)
	for i := range rows {
		fmt.Fprintf(&b, "+9477%07d,%s\n", 2000000+i, notes)
	}
	if b.Len() <= 32<<20 {
		t.Fatalf("file is %d bytes, want more than 32 MB", b.Len())
	}
	code, up := d.do("POST", "/api/v1/ingest/uploads?filename=wide.csv", nil, "")
	if code != http.StatusCreated {
		t.Fatalf("POST uploads = %d %v", code, up)
	}
	req, _ := http.NewRequest(up["method"].(string), up["upload_url"].(string), &b)
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the signed URL = %s", resp.Status)
	}
	var st map[string]any
	d.eventually("import completes", 5*time.Minute, func() (bool, string) {
		_, st = d.do("GET", up["status_url"].(string), nil, "")
		return st["state"] == "COMPLETED" || st["state"] == "FAILED", fmt.Sprint(st["state"], " ", st["batches_done"], "/", st["batches"])
	})
	want := map[string]any{"state": "COMPLETED", "total_rows": float64(rows), "valid_rows": float64(rows), "users_created": float64(rows)}
	got := map[string]any{}
	for k := range want {
		got[k] = st[k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}
