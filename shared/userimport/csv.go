package userimport

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
)

func (r *Reader) nextCSV() (Row, error) {
	if r.columns == nil {
		if err := r.readHeader(); err != nil {
			return Row{}, err
		}
	}
	start := r.csv.InputOffset()
	r.src.allow(start)
	rec, err := r.csv.Read()
	if err == io.EOF {
		return Row{}, io.EOF
	}
	if errors.Is(err, errRowTooLarge) || r.csv.InputOffset()-start > MaxRowBytes {
		// The line is unknown when the record never ended; the offset is.
		return Row{}, r.fatal(errRowTooLarge, "", fmt.Sprintf("the row starting at byte %d", start))
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return Row{}, &RowError{Row: pe.StartLine, Message: fmt.Sprintf("has %d fields; the header has %d", len(rec), len(r.columns))}
		}
		return Row{}, &RowError{Row: pe.StartLine, Message: fmt.Sprintf("is not valid CSV: %v (line %d, column %d)", pe.Err, pe.Line, pe.Column)}
	}
	if err != nil {
		return Row{}, r.fatal(err, "invalid CSV", fmt.Sprintf("the row starting at byte %d", start))
	}
	line, _ := r.csv.FieldPos(0)
	return r.csvRow(line, rec)
}

// headerLine returns the start of the file up to the header's end (or as
// much as fits in the buffer), without consuming it.
func (r *Reader) headerLine() []byte {
	for n := 4 << 10; ; n *= 2 {
		n = min(n, r.head.Size())
		b, err := r.head.Peek(n)
		if err != nil || n == r.head.Size() || endsHeader(b) {
			return b
		}
	}
}

// endsHeader reports whether b holds a newline outside quotes.
func endsHeader(b []byte) bool {
	quoted := false
	for _, c := range b {
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\n' && !quoted:
			return true
		}
	}
	return false
}

func (r *Reader) readHeader() error {
	r.csv.Comma = detectDelimiter(r.headerLine())
	r.src.allow(0)
	rec, err := r.csv.Read()
	if err == io.EOF {
		return errs.E(errs.Invalid, "the file is empty: want a CSV header naming a phone_number column")
	}
	if err != nil {
		return r.fatal(err, "invalid CSV header", "the header row")
	}
	cols := make([]column, len(rec))
	seen := make(map[string]int, len(rec))
	phoneAt, consentAt := -1, -1
	for i, name := range rec {
		name = strings.TrimSpace(name)
		if !utf8.ValidString(name) {
			return errs.E(errs.Invalid, "the CSV header's column %d name is not valid UTF-8: %s", i+1, excelHint)
		}
		key := strings.ToLower(name)
		switch {
		case isPhoneName(name):
			cols[i] = column{name: name, role: colPhone}
			if phoneAt >= 0 {
				return errs.E(errs.Invalid, "the CSV header has two phone columns, %q (column %d) and %q (column %d): keep one", cols[phoneAt].name, phoneAt+1, name, i+1)
			}
			phoneAt = i
		case isConsentName(name):
			if consentAt >= 0 {
				return errs.E(errs.Invalid, "the CSV header has two consent columns, %q (column %d) and %q (column %d): keep one", rec[consentAt], consentAt+1, name, i+1)
			}
			consentAt = i
			cols[i] = column{name: keyConsent, role: colConsent}
		default:
			if name == "" {
				// Spreadsheets export trailing empty columns ("phone,name,"):
				// kept while its cells are empty, a row error where one is not.
				cols[i] = column{role: colUnnamed}
				continue
			}
			if len(name) > maxAttrName {
				return errs.E(errs.Invalid, "the CSV header's column %d name is longer than %d bytes", i+1, maxAttrName)
			}
			if nameProblem(name) != "" {
				return errs.E(errs.Invalid, "the CSV header's column %d, %q, is a name Firestore reserves (__x__): rename it", i+1, name)
			}
			cols[i] = column{name: name}
			key = name
		}
		if j, dup := seen[key]; dup {
			return errs.E(errs.Invalid, "the CSV header's columns %d and %d are both %q", j+1, i+1, key)
		}
		seen[key] = i
	}
	if phoneAt < 0 {
		return errs.E(errs.Invalid, "the CSV header has no phone column (one of %s)", strings.Join(phoneNames, ", "))
	}
	r.columns = cols
	return nil
}

func (r *Reader) csvRow(line int, rec []string) (Row, error) {
	row := Row{Line: line}
	for i, c := range r.columns {
		v := strings.TrimSpace(rec[i])
		if p := r.textProblem(v); p != "" {
			return Row{}, &RowError{Row: line, Field: c.name, Message: p}
		}
		switch c.role {
		case colPhone:
			if v == "" {
				return Row{}, &RowError{Row: line, Field: c.name, Message: "is required"}
			}
			if err := r.setPhone(&row, c.name, v); err != nil {
				return Row{}, err
			}
		case colConsent:
			if err := setConsent(&row, v); err != nil {
				return Row{}, err
			}
		case colUnnamed:
			if v != "" {
				return Row{}, &RowError{Row: line, Message: fmt.Sprintf("column %d has a value but no name in the header: name the column", i+1)}
			}
		default:
			if v == "" {
				continue // an empty cell sets nothing
			}
			if row.Attributes == nil {
				row.Attributes = make(map[string]any, len(r.columns))
			}
			row.Attributes[c.name] = csvValue(v)
		}
	}
	return row, nil
}

func consentState(raw string) consent.State {
	return consent.State(strings.ToUpper(strings.TrimSpace(raw)))
}
