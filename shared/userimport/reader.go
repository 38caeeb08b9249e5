package userimport

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/phone"
)

// Format is a contact file's format; its value is what Job.Format holds.
type Format string

const (
	CSV  Format = "csv"  // a header row naming a phone_number (or phone) column, then one contact a line
	JSON Format = "json" // an array of objects, one contact each
)

// MaxRowBytes bounds one CSV record or JSON element, so that a hostile or
// broken file (an unterminated quote, a giant string) cannot exhaust
// memory. A file with a larger row is rejected whole.
const MaxRowBytes = 64 << 10

// maxAttrName bounds attribute names; segment conditions allow the same.
const maxAttrName = 256

// The columns or keys that are not attributes.
const (
	keyPhone      = "phone_number"
	keyPhoneShort = "phone"
	keyConsent    = "consent_state"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// DetectFormat tells a file's format from its name's extension (.csv or
// .json, any case), else from head, its first bytes: JSON if the first
// non-space byte is '[', CSV if the first line is a header with a
// phone_number or phone column. A declared content type is never trusted:
// browsers and curl send whatever they like.
func DetectFormat(filename string, head []byte) (Format, error) {
	switch strings.ToLower(path.Ext(filename)) {
	case ".csv":
		return CSV, nil
	case ".json":
		return JSON, nil
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	if len(head) > 0 && head[0] == '[' {
		return JSON, nil
	}
	line, _, _ := bytes.Cut(head, []byte("\n"))
	if rec, err := csv.NewReader(bytes.NewReader(line)).Read(); err == nil {
		for _, name := range rec {
			switch strings.ToLower(strings.TrimSpace(name)) {
			case keyPhone, keyPhoneShort:
				return CSV, nil
			}
		}
	}
	return "", errs.E(errs.Invalid, "cannot tell the file's format: name it .csv or .json, or start it with a JSON array or a CSV header naming a phone_number column")
}

// RowError is one bad row; the reader goes on to the next. Row is the CSV
// line the record starts on (the header is line 1) or the 1-based JSON
// array element.
type RowError struct {
	Row     int
	Field   string // the column or key at fault; empty for the row as a whole
	Message string
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Message)
	}
	return fmt.Sprintf("row %d: %s: %s", e.Row, e.Field, e.Message)
}

// Detail is e as a job's error entry.
func (e *RowError) Detail() errs.Detail {
	return errs.Detail{Row: e.Row, Field: e.Field, Message: e.Message}
}

// Reader streams contacts from a file, one row at a time, holding at most
// about one row in memory. It does not drop duplicate numbers: every row is
// returned, and a caller that writes in batches decides which wins (see
// Dedupe).
type Reader struct {
	format Format
	src    *limitReader
	err    error // sticky: io.EOF or a fatal error

	// JSON
	dec     *json.Decoder
	started bool
	index   int

	// CSV
	csv     *csv.Reader
	columns []column
}

// column is what one CSV column holds.
type column struct {
	name string // the attribute name, or a reserved key
	role columnRole
}

type columnRole int

const (
	colAttr columnRole = iota
	colPhone
	colConsent
)

// NewReader reads r as format f; nothing is read until the first Next.
func NewReader(r io.Reader, f Format) *Reader {
	rd := &Reader{format: f, src: &limitReader{r: &bomReader{r: r}, limit: MaxRowBytes + readSlack}}
	switch f {
	case JSON:
		rd.dec = json.NewDecoder(rd.src)
		rd.dec.UseNumber()
	case CSV:
		rd.csv = csv.NewReader(rd.src)
		rd.csv.ReuseRecord = true
	default:
		rd.err = errs.E(errs.Invalid, "unknown file format %q (want csv or json)", f)
	}
	return rd
}

// Next returns the next good row. A bad row is a *RowError, after which
// Next may be called again; io.EOF ends the file; any other error is fatal
// and is returned from then on: errs.Invalid for a malformed file, and the
// source's own error (unclassified, so retried) when reading it failed.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	var (
		row Row
		err error
	)
	if r.format == JSON {
		row, err = r.nextJSON()
	} else {
		row, err = r.nextCSV()
	}
	if err != nil {
		if _, ok := err.(*RowError); !ok {
			r.err = err
		}
	}
	return row, err
}

// fatal classifies an error that stops the reader: a failure of the
// source keeps its own kind (so it is retried); a row past MaxRowBytes and
// broken syntax are errs.Invalid. what names the row; prefix says where a
// syntax error was.
func (r *Reader) fatal(err error, prefix, what string) error {
	var re *readError
	if errors.As(err, &re) {
		return fmt.Errorf("userimport.Reader: reading the file: %w", re.err)
	}
	if errors.Is(err, errRowTooLarge) {
		return errs.E(errs.Invalid, "%s is larger than %d KiB", what, MaxRowBytes>>10)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		prefix += fmt.Sprintf(" (byte %d)", se.Offset)
	}
	return errs.Wrap(errs.Invalid, err, prefix)
}

func (r *Reader) nextJSON() (Row, error) {
	if !r.started {
		r.started = true
		r.src.allow(0)
		tok, err := r.dec.Token()
		if err == io.EOF {
			return Row{}, errs.E(errs.Invalid, "the file is empty: want a JSON array of contacts")
		}
		if err != nil {
			return Row{}, r.fatal(err, "invalid JSON at the start of the file", "the start of the file")
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return Row{}, errs.E(errs.Invalid, "a JSON file must be an array of contact objects, [{...}, ...]")
		}
	}
	n := r.index + 1
	what := fmt.Sprintf("element %d", n)
	start := r.dec.InputOffset()
	r.src.allow(start)
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil { // the closing ']', or why not
			return Row{}, r.fatal(err, fmt.Sprintf("invalid JSON after element %d", r.index), what)
		}
		r.src.allow(r.dec.InputOffset())
		if _, err := r.dec.Token(); err != io.EOF {
			if err == nil {
				return Row{}, errs.E(errs.Invalid, "unexpected data after the JSON array")
			}
			return Row{}, r.fatal(err, "invalid JSON after the array", "the data after the array")
		}
		return Row{}, io.EOF
	}
	r.index = n
	var v any
	if err := r.dec.Decode(&v); err != nil {
		return Row{}, r.fatal(err, "invalid JSON in "+what, what)
	}
	if r.dec.InputOffset()-start > MaxRowBytes {
		return Row{}, r.fatal(errRowTooLarge, "", what)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Row{}, &RowError{Row: n, Message: "must be an object"}
	}
	return jsonRow(n, obj)
}

func jsonRow(n int, obj map[string]any) (Row, error) {
	row := Row{Line: n}
	phoneKey := keyPhone
	raw, ok := obj[keyPhone]
	if short, has := obj[keyPhoneShort]; has {
		if ok {
			return Row{}, &RowError{Row: n, Field: keyPhoneShort, Message: "give phone_number or phone, not both"}
		}
		raw, ok, phoneKey = short, true, keyPhoneShort
	}
	if !ok || raw == nil {
		return Row{}, &RowError{Row: n, Field: keyPhone, Message: "is required"}
	}
	s, ok := raw.(string)
	if !ok {
		return Row{}, &RowError{Row: n, Field: phoneKey, Message: "must be a string, e.g. \"+94771234567\""}
	}
	if strings.TrimSpace(s) == "" {
		return Row{}, &RowError{Row: n, Field: phoneKey, Message: "is required"}
	}
	if err := setPhone(&row, phoneKey, s); err != nil {
		return Row{}, err
	}
	if c, has := obj[keyConsent]; has && c != nil {
		s, ok := c.(string)
		if !ok {
			return Row{}, &RowError{Row: n, Field: keyConsent, Message: "must be one of OPT_IN, OPT_OUT, STOP"}
		}
		if err := setConsent(&row, s); err != nil {
			return Row{}, err
		}
	}
	for k, v := range obj {
		if k == phoneKey || k == keyConsent || v == nil {
			continue
		}
		if err := checkAttrName(n, k); err != nil {
			return Row{}, err
		}
		val, err := jsonValue(v)
		if err != nil {
			return Row{}, &RowError{Row: n, Field: k, Message: err.Error()}
		}
		if row.Attributes == nil {
			row.Attributes = make(map[string]any, len(obj))
		}
		row.Attributes[k] = val
	}
	return row, nil
}

// jsonValue turns json.Numbers into int64 when whole and in range, else
// float64, all the way down.
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is out of range", v)
		}
		return f, nil
	case map[string]any:
		for k, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
	case []any:
		for i, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
	}
	return v, nil
}

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

func (r *Reader) readHeader() error {
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
	phoneAt := -1
	for i, name := range rec {
		name = strings.TrimSpace(name)
		key := strings.ToLower(name)
		switch key {
		case keyPhone, keyPhoneShort:
			cols[i] = column{name: key, role: colPhone}
			if phoneAt >= 0 {
				return errs.E(errs.Invalid, "the CSV header names a phone column twice (columns %d and %d): give one phone_number column", phoneAt+1, i+1)
			}
			phoneAt = i
		case keyConsent:
			cols[i] = column{name: key, role: colConsent}
		default:
			switch {
			case name == "":
				return errs.E(errs.Invalid, "the CSV header's column %d has no name", i+1)
			case len(name) > maxAttrName:
				return errs.E(errs.Invalid, "the CSV header's column %d name is longer than %d bytes", i+1, maxAttrName)
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
		return errs.E(errs.Invalid, "the CSV header has no phone_number (or phone) column")
	}
	r.columns = cols
	return nil
}

func (r *Reader) csvRow(line int, rec []string) (Row, error) {
	row := Row{Line: line}
	for i, c := range r.columns {
		v := strings.TrimSpace(rec[i])
		switch c.role {
		case colPhone:
			if v == "" {
				return Row{}, &RowError{Row: line, Field: c.name, Message: "is required"}
			}
			if err := setPhone(&row, c.name, v); err != nil {
				return Row{}, err
			}
		case colConsent:
			if err := setConsent(&row, v); err != nil {
				return Row{}, err
			}
		default:
			if v == "" {
				continue // an empty cell sets nothing
			}
			if row.Attributes == nil {
				row.Attributes = make(map[string]any, len(r.columns))
			}
			row.Attributes[c.name] = v
		}
	}
	return row, nil
}

func setPhone(row *Row, field, raw string) error {
	p, err := phone.Normalize(raw)
	if err != nil {
		return &RowError{Row: row.Line, Field: field, Message: err.Error()}
	}
	row.Phone = p
	return nil
}

// setConsent reads a consent cell; empty means not given.
func setConsent(row *Row, raw string) error {
	s := consent.State(strings.ToUpper(strings.TrimSpace(raw)))
	if s == "" {
		return nil
	}
	if !s.Valid() {
		return &RowError{Row: row.Line, Field: keyConsent, Message: "must be one of OPT_IN, OPT_OUT, STOP"}
	}
	row.Consent = s
	return nil
}

func checkAttrName(n int, k string) error {
	switch {
	case k == "":
		return &RowError{Row: n, Message: "has an attribute with an empty name"}
	case len(k) > maxAttrName:
		return &RowError{Row: n, Message: fmt.Sprintf("has an attribute name longer than %d bytes", maxAttrName)}
	}
	return nil
}

// Dedupe keeps the last row for each number, in the order those rows came,
// and reports how many earlier rows it dropped: within a batch the later
// row of a file wins, as it would had the rows been applied one by one.
func Dedupe(rows []Row) ([]Row, int) {
	last := make(map[string]int, len(rows))
	for i, r := range rows {
		last[r.Phone] = i
	}
	if len(last) == len(rows) {
		return rows, 0
	}
	out := make([]Row, 0, len(last))
	for i, r := range rows {
		if last[r.Phone] == i {
			out = append(out, r)
		}
	}
	return out, len(rows) - len(out)
}

// errRowTooLarge is what limitReader says when a row runs past its bound.
var errRowTooLarge = errors.New("row too large")

// readSlack lets the decoders buffer ahead of the row they are on.
const readSlack = 8 << 10

// limitReader refuses to read more than MaxRowBytes plus some buffering
// past the start of the current row, so one row can never pull the rest of
// a file into memory.
type limitReader struct {
	r     io.Reader
	read  int64 // bytes handed to the decoder
	limit int64 // read may not pass this
}

// allow lets the row that starts at offset be read.
func (l *limitReader) allow(offset int64) { l.limit = offset + MaxRowBytes + readSlack }

func (l *limitReader) Read(p []byte) (int, error) {
	room := l.limit - l.read
	if room <= 0 {
		return 0, errRowTooLarge
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if err != nil && err != io.EOF {
		err = &readError{err: err}
	}
	return n, err
}

// readError marks a failure of the source itself, not of its content.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// bomReader drops a leading UTF-8 byte order mark, which spreadsheet
// programs write and neither decoder expects.
type bomReader struct {
	r       io.Reader
	checked bool
	pending []byte
}

func (b *bomReader) Read(p []byte) (int, error) {
	if !b.checked {
		b.checked = true
		head := make([]byte, len(utf8BOM))
		n, err := io.ReadFull(b.r, head)
		head = head[:n]
		if !bytes.Equal(head, utf8BOM) {
			b.pending = head
		}
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return 0, err
		}
	}
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		b.pending = b.pending[n:]
		return n, nil
	}
	return b.r.Read(p)
}
