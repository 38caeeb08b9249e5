package reporting

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/message"
)

// ExportPage is how many messages an export reads at a time: what it
// holds in memory, however many the campaign has.
const ExportPage = 500

// MessageColumns are the export's columns, in order.
var MessageColumns = []string{
	"message_id", "phone_number", "status", "skip_reason", "channel", "error_code", "error_message",
	"created_at", "queued_at", "claimed_at", "sent_at", "delivered_at", "read_at", "failed_at",
}

// MessageScanner pages a campaign's messages by id (store.Messages).
type MessageScanner interface {
	ScanMessages(ctx context.Context, campaignID, after string, limit int) ([]message.Message, error)
}

// ExportMessages writes every message of the campaign to w as CSV, a
// header first, reading and writing ExportPage at a time, and returns how
// many it wrote. Every cell is SpreadsheetSafe. A message changed during
// the export is written as its page read it.
func ExportMessages(ctx context.Context, w io.Writer, r MessageScanner, campaignID string) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(MessageColumns); err != nil {
		return 0, fmt.Errorf("reporting.ExportMessages: %w", err)
	}
	n, after := 0, ""
	for {
		page, err := r.ScanMessages(ctx, campaignID, after, ExportPage)
		if err != nil {
			return n, fmt.Errorf("reporting.ExportMessages: %w", err)
		}
		for _, m := range page {
			if err := cw.Write(messageRow(m)); err != nil {
				return n, fmt.Errorf("reporting.ExportMessages: %w", err)
			}
		}
		n += len(page)
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, fmt.Errorf("reporting.ExportMessages: %w", err)
		}
		if len(page) < ExportPage {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}

func messageRow(m message.Message) []string {
	row := []string{
		m.ID, m.Phone, string(m.Status), string(m.SkipReason), m.Channel, m.ErrorCode, m.ErrorText,
		csvTime(&m.CreatedAt), csvTime(m.QueuedAt), csvTime(m.ClaimedAt), csvTime(m.SentAt),
		csvTime(m.DeliveredAt), csvTime(m.ReadAt), csvTime(m.FailedAt),
	}
	for i, c := range row {
		row[i] = SpreadsheetSafe(c)
	}
	return row
}

// csvTime is RFC 3339 in UTC to the millisecond; empty for no time.
func csvTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// SpreadsheetSafe keeps a cell from being read as a formula when the CSV
// is opened in a spreadsheet (OWASP's CSV injection advice: a cell that
// starts with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe). A phone number then reads '+94771234567: the + and every
// digit kept, where a spreadsheet would otherwise take +94771234567 as a
// formula and show 94771234567 or 9.48E+10.
func SpreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
