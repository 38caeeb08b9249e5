package reporting

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

func TestSpreadsheetSafe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "delivered", "delivered"},
		{"hyperlink_formula", `=HYPERLINK("http://evil.example","click")`, `'=HYPERLINK("http://evil.example","click")`},
		{"plus_formula", "+1 555", "'+1 555"},
		{"minus", "-2", "'-2"},
		{"at_function", "@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage_return", "\r=1", "'\r=1"},
		// The + and every digit stay; only the apostrophe is added.
		{"phone_readable", "+94771234567", "'+94771234567"},
		{"formula_later_in_cell", "a=1", "a=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := cmp.Diff(tc.want, SpreadsheetSafe(tc.in)); d != "" {
				t.Errorf("SpreadsheetSafe(%q) (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

// readCSV parses an export, failing t when it is not valid CSV.
func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = len(MessageColumns)
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("export is not valid CSV: %v\n%s", err, b)
	}
	return rows
}

func TestExportMessagesRow(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 29, 8, 0, 0, 123456789, time.FixedZone("LKT", 5*3600+1800))
	queued, failed := created.Add(time.Second), created.Add(time.Minute)
	hostile := message.Message{
		ID: "m1", CampaignID: "c1", Phone: "+94771234567", Status: message.Failed, Channel: "session",
		ErrorCode: "63016", ErrorText: `=HYPERLINK("http://evil.example","x")`,
		CreatedAt: created, UpdatedAt: failed, QueuedAt: &queued, FailedAt: &failed,
	}
	skipped := message.Message{
		ID: "m2", CampaignID: "c1", Phone: "+15555550100", Status: message.Skipped, SkipReason: message.SkipNoConsent,
		ErrorText: "-2+3", ErrorCode: "@SUM(1)", CreatedAt: created, UpdatedAt: created,
	}
	s := memstore.New()
	if _, err := s.CreateMessages(t.Context(), []message.Message{hostile, skipped}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	n, err := ExportMessages(t.Context(), &b, s, "c1")
	if err != nil {
		t.Fatalf("ExportMessages: %v", err)
	}
	if n != 2 {
		t.Errorf("ExportMessages wrote %d, want 2", n)
	}
	want := [][]string{
		MessageColumns,
		{"m1", "'+94771234567", "FAILED", "", "session", "63016", `'=HYPERLINK("http://evil.example","x")`,
			"2026-11-29T02:30:00.123Z", "2026-11-29T02:30:01.123Z", "", "", "", "", "2026-11-29T02:31:00.123Z"},
		{"m2", "'+15555550100", "SKIPPED", "no_consent", "", "'@SUM(1)", "'-2+3",
			"2026-11-29T02:30:00.123Z", "", "", "", "", "", ""},
	}
	if d := cmp.Diff(want, readCSV(t, b.Bytes())); d != "" {
		t.Errorf("export (-want +got):\n%s", d)
	}
}

// TestExportMessagesPages exports a campaign of more than two pages: every
// message once, in id order, none of another campaign's, reading one page
// at a time.
func TestExportMessagesPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"one", 1},
		{"exactly_a_page", ExportPage},
		{"two_pages_and_one", 2*ExportPage + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := memstore.New()
			var ms, other []message.Message
			var wantIDs []string
			at := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
			for i := range tc.n {
				p := fmt.Sprintf("+9477%07d", i)
				ms = append(ms, message.Message{ID: message.ID("c1", p), CampaignID: "c1", Phone: p, Status: message.Pending, CreatedAt: at, UpdatedAt: at})
				other = append(other, message.Message{ID: message.ID("c2", p), CampaignID: "c2", Phone: p, Status: message.Pending, CreatedAt: at, UpdatedAt: at})
				wantIDs = append(wantIDs, message.ID("c1", p))
			}
			if _, err := s.CreateMessages(t.Context(), append(ms, other...)); err != nil {
				t.Fatal(err)
			}
			slices.Sort(wantIDs)
			counting := &pageCounter{MessageScanner: s}
			var b bytes.Buffer
			n, err := ExportMessages(t.Context(), &b, counting, "c1")
			if err != nil {
				t.Fatalf("ExportMessages: %v", err)
			}
			rows := readCSV(t, b.Bytes())
			var gotIDs []string
			for _, r := range rows[1:] {
				gotIDs = append(gotIDs, r[0])
			}
			if d := cmp.Diff(wantIDs, gotIDs); d != "" {
				t.Errorf("exported ids (-want +got):\n%s", d)
			}
			if n != tc.n {
				t.Errorf("ExportMessages = %d, want %d", n, tc.n)
			}
			if want := tc.n/ExportPage + 1; counting.pages != want {
				t.Errorf("pages read = %d, want %d", counting.pages, want)
			}
		})
	}
}

type pageCounter struct {
	MessageScanner
	pages int
}

func (p *pageCounter) ScanMessages(ctx context.Context, campaignID, after string, limit int) ([]message.Message, error) {
	p.pages++
	return p.MessageScanner.ScanMessages(ctx, campaignID, after, limit)
}

// failingScanner fails on its second page.
type failingScanner struct{ calls int }

func (f *failingScanner) ScanMessages(ctx context.Context, campaignID, after string, limit int) ([]message.Message, error) {
	f.calls++
	if f.calls > 1 {
		return nil, errors.New("store down")
	}
	out := make([]message.Message, limit)
	for i := range out {
		out[i] = message.Message{ID: fmt.Sprintf("m%04d", i), CampaignID: campaignID}
	}
	return out, nil
}

func TestExportMessagesStoreFails(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	n, err := ExportMessages(t.Context(), &b, &failingScanner{}, "c1")
	if err == nil || !strings.Contains(err.Error(), "store down") {
		t.Errorf("ExportMessages error = %v, want the store's", err)
	}
	if n != ExportPage {
		t.Errorf("ExportMessages wrote %d before failing, want %d", n, ExportPage)
	}
}

// FuzzSpreadsheetSafe: no cell comes out starting with what makes a
// spreadsheet run it, and none loses what it said.
func FuzzSpreadsheetSafe(f *testing.F) {
	for _, s := range []string{"", "+94771234567", "=1+1", "-2", "@SUM(A1)", "\t=1", "\r=1", "plain", "'=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SpreadsheetSafe(s)
		if got != "" && strings.ContainsRune("=+-@\t\r", rune(got[0])) {
			t.Errorf("SpreadsheetSafe(%q) = %q starts a formula", s, got)
		}
		if got != s && got != "'"+s {
			t.Errorf("SpreadsheetSafe(%q) = %q, want the cell or the cell after an apostrophe", s, got)
		}
	})
}
