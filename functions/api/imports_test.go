package api

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// Every kind of bad file gets a 400 that says what is wrong (and where,
// when it can), its job is FAILED saying the same, and nothing applies.
func TestBulkImport_bad_input(t *testing.T) {
	t.Parallel()
	tenMB := "phone,notes\n+94771234567," + strings.Repeat("x", 10<<20) + "\n"
	for _, tc := range []struct {
		name, filename, body string
		wantError            string // a part of the answer's error
	}{
		{"empty_file", "c.csv", "", "empty"},
		{"header_alone", "c.csv", "phone,name\n", "a header but no contacts"},
		{"no_phone_column", "c.csv", "name,city\nAnn,Galle\n", "no phone column"},
		{"binary_file", "c.xlsx", "PK\x03\x04\x14\x00\x00\x00\x08\x00", "cannot tell the file's format"},
		{"binary_csv", "c.csv", "phone\n+9477\x00\x01\x02", "binary"},
		{"ten_mb_line", "c.csv", tenMB, "larger than"},
		{"truncated_json_array", "c.json", `[{"phone":"+94771234567"},{"phone":"+9477`, "JSON"},
		{"duplicate_column_names", "c.csv", "phone,name,name\n+94771234567,A,B\n", "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			code, out := f.serve(upload(t, tc.filename, tc.body))
			if code != 400 {
				t.Fatalf("upload = %d %v, want 400", code, out)
			}
			msg, _ := out["error"].(string)
			if !strings.Contains(msg, tc.wantError) || !strings.Contains(msg, "nothing was applied") {
				t.Errorf("error %q, want it to say %q and that nothing was applied", msg, tc.wantError)
			}
			if n := len(f.events.Published(events.TopicUserImport)); n != 0 {
				t.Errorf("%d batches handed on, want none", n)
			}
			jobs, _ := f.store.ListImportJobs(t.Context(), []userimport.State{userimport.Failed}, time.Now().Add(time.Hour), 10)
			if len(jobs) != 1 {
				t.Fatalf("%d failed jobs, want the upload's job FAILED", len(jobs))
			}
			if _, st := f.call("GET", "/api/v1/ingest/status/"+jobs[0].ID, ""); st["state"] != "FAILED" {
				t.Errorf("status = %v, want FAILED", st)
			}
		})
	}
}

func TestBulkImport_larger_than_a_request_may_carry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := "phone\n" + strings.Repeat("+94771234567\n", (MaxDirectUpload/13)+1000)
	req := httptest.NewRequest("POST", "/api/v1/users/bulk", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	code, out := f.serve(req)
	if code != 400 || !strings.Contains(out["error"].(string), "/api/v1/ingest/uploads") {
		t.Errorf("a %d MB body = %d %v, want 400 pointing at signed uploads", len(body)>>20, code, out)
	}
	if n := len(f.events.Published(events.TopicUserImport)); n != 0 {
		t.Errorf("%d batches handed on, want none", n)
	}
}

func TestCreateUpload(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	for _, tc := range []struct {
		name, query string
		wantCode    int
		want        map[string]any // a subset of the answer
	}{
		{"options_kept", "?filename=contacts.csv&default_region=LK&encoding=windows-1252", 201,
			map[string]any{"method": "PUT", "expires_at": now.Add(time.Hour).Format(time.RFC3339), "state": "RECEIVING"}},
		{"no_options", "", 201, map[string]any{"method": "PUT"}},
		{"bad_region", "?default_region=XX", 400,
			map[string]any{"details": []any{map[string]any{"field": "default_region", "message": "is not a region with phone numbers"}}}},
		{"filename_with_folders", "?filename=../x.csv", 400,
			map[string]any{"details": []any{map[string]any{"field": "filename", "message": "a file name without folders, at most 255 bytes"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.server.Now = func() time.Time { return now }
			code, out := f.call("POST", "/api/v1/ingest/uploads"+tc.query, "")
			if code != tc.wantCode {
				t.Fatalf("POST = %d %v, want %d", code, out, tc.wantCode)
			}
			for k, v := range tc.want {
				if diff := cmp.Diff(v, out[k]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
			if code != 201 {
				return
			}
			id := out["id"].(string)
			if u, _ := out["upload_url"].(string); !strings.Contains(u, "uploads%2F"+id) {
				t.Errorf("upload_url %q does not name uploads/%s", u, id)
			}
			if _, st := f.call("GET", out["status_url"].(string), ""); st["state"] != "RECEIVING" {
				t.Errorf("status = %v, want RECEIVING until the file comes", st)
			}
			// The client's file arrives; ReadImport runs the job.
			f.bucket.Put("uploads/"+id, []byte("phone\n0771234567\n"))
			job, err := f.server.Imports.Run(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "options_kept" && (job.Accepted != 1 || job.Batches != 1) {
				t.Errorf("job read with the upload's region: %+v", job)
			}
		})
	}
}

func TestImportErrorsCSV(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	csv := "phone,=cmd\n+94771234567,1\nnope,2\n+94771234568,3\n=HYPERLINK(1),4\n+94771234569,x\xffy\n"
	code, job := f.serve(upload(t, "c.csv", csv))
	if code != 202 {
		t.Fatalf("upload = %d %v", code, job)
	}
	rec := f.raw("GET", "/api/v1/ingest/status/"+job["id"].(string)+"/errors.csv", "")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("errors.csv = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	want := "row,field,message\n" +
		"3,phone,\"missing leading + (give the number in international E.164 form, e.g. +14155552671; no default region is assumed)\"\n" +
		"5,phone,\"missing leading + (give the number in international E.164 form, e.g. +14155552671; no default region is assumed)\"\n" +
		"6,'=cmd,\"is not valid UTF-8: if the file was saved by Excel or another Windows program, upload it again with encoding=windows-1252\"\n"
	if diff := cmp.Diff(want, rec.Body.String()); diff != "" {
		t.Errorf("errors.csv (-want +got):\n%s", diff)
	}

	// A failed job's download ends with why it failed.
	code, _ = f.serve(upload(t, "d.csv", "phone\n"))
	if code != 400 {
		t.Fatalf("header-only upload = %d", code)
	}
	jobs, _ := f.store.ListImportJobs(t.Context(), []userimport.State{userimport.Failed}, time.Now().Add(time.Hour), 1)
	body := f.get(t, "/api/v1/ingest/status/"+jobs[0].ID+"/errors.csv")
	if want := "row,field,message\n,,the file has a header but no contacts\n"; body != want {
		t.Errorf("failed job's errors.csv = %q, want %q", body, want)
	}
	if code := f.status(t, "/api/v1/ingest/status/nope/errors.csv"); code != 404 {
		t.Errorf("unknown job's errors.csv = %d, want 404", code)
	}
}

func TestCheckImports(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	code, out := f.call("POST", "/api/v1/maintenance/check-imports", "")
	want := map[string]any{"resumed": []any{}, "completed": []any{}, "failed": []any{}}
	if code != 200 || !cmp.Equal(want, out) {
		t.Errorf("check-imports = %d %v, want 200 %v", code, out, want)
	}
}

func (f *fixture) get(t *testing.T, path string) string {
	t.Helper()
	return f.raw("GET", path, "").Body.String()
}

func (f *fixture) status(t *testing.T, path string) int {
	t.Helper()
	return f.raw("GET", path, "").Code
}
