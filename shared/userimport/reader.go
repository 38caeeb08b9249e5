package userimport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/eventstreamengine/ese/shared/errs"
)

// Format is a contact file's format; its value is what Job.Format holds.
type Format string

const (
	CSV   Format = "csv"   // a header row naming a phone column, then one contact a line; comma, semicolon or tab separated
	JSON  Format = "json"  // an array of objects, one contact each
	JSONL Format = "jsonl" // JSON Lines: one contact object a line
)

// MaxRowBytes bounds one CSV record, JSON element or JSON line, so that a
// hostile or broken file (an unterminated quote, a giant string) cannot
// exhaust memory. A file with a larger row is rejected whole.
const MaxRowBytes = 64 << 10

// maxAttrName bounds attribute names; segment conditions allow the same.
const maxAttrName = 256

// The keys that are not attributes.
const (
	keyPhone   = "phone_number"
	keyConsent = "consent_state"
)

// phoneNames are the column names (and JSON keys) taken for the phone,
// compared trimmed, in any case, with a space or dash for the underscore
// ("Phone Number", "whatsapp-number").
var phoneNames = []string{"phone_number", "phone", "mobile", "mobile_number", "msisdn", "whatsapp", "whatsapp_number"}

func isPhoneName(name string) bool { return isNameIn(name, phoneNames) }

// consentNames are the column names (and JSON keys) taken for the consent
// state, compared as phoneNames are: an opt-out under "Consent State"
// must never land in an attribute, where nothing would honour it.
var consentNames = []string{"consent_state", "consent"}

func isConsentName(name string) bool { return isNameIn(name, consentNames) }

// isNameIn reports whether name, trimmed, in any case, with a space or dash
// for the underscore, is one of names (short, lower-case words).
func isNameIn(name string, names []string) bool {
	name = strings.TrimSpace(name)
	if len(name) > 32 {
		return false
	}
	var b [32]byte
	for i := range len(name) {
		switch c := name[i]; c {
		case ' ', '-':
			b[i] = '_'
		default:
			b[i] = c
		}
	}
	for _, p := range names {
		if strings.EqualFold(string(b[:len(name)]), p) {
			return true
		}
	}
	return false
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// sniffBytes is how much of a file is looked at for binary content.
const sniffBytes = 8 << 10

// DetectFormat tells a file's format from its name's extension (.csv,
// .tsv, .json, .jsonl or .ndjson, any case), else from head, its first
// bytes: JSON if the first non-space byte is '[', JSON Lines if it is '{',
// CSV if the first line is a header with a phone column. A declared
// content type is never trusted: browsers and curl send whatever they like.
func DetectFormat(filename string, head []byte) (Format, error) {
	switch strings.ToLower(path.Ext(filename)) {
	case ".csv", ".tsv":
		return CSV, nil
	case ".json":
		return JSON, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	if len(head) > 0 && head[0] == '[' {
		return JSON, nil
	}
	if len(head) > 0 && head[0] == '{' {
		return JSONL, nil
	}
	line, _, _ := bytes.Cut(head, []byte("\n"))
	cr := csv.NewReader(bytes.NewReader(line))
	cr.Comma = detectDelimiter(line)
	if rec, err := cr.Read(); err == nil {
		for _, name := range rec {
			if isPhoneName(name) {
				return CSV, nil
			}
		}
	}
	return "", errs.E(errs.Invalid, "cannot tell the file's format: name it .csv, .json or .jsonl, or start it with a JSON array, a JSON object a line, or a CSV header naming a phone_number column")
}

// detectDelimiter picks the CSV separator from the header line: whichever
// of comma, semicolon and tab appears most outside quotes (comma on a tie
// or when none does). line may run past the header; it is read up to the
// first newline outside quotes.
func detectDelimiter(line []byte) rune {
	var comma, semi, tab int
	quoted := false
scan:
	for _, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\n':
			break scan
		case c == ',':
			comma++
		case c == ';':
			semi++
		case c == '\t':
			tab++
		}
	}
	switch {
	case semi > comma && semi >= tab:
		return ';'
	case tab > comma && tab > semi:
		return '\t'
	}
	return ','
}

// RowError is one bad row; the reader goes on to the next. Row is the file
// line the record starts on (the header is line 1) for CSV and JSON Lines,
// or the 1-based JSON array element.
type RowError struct {
	Row     int
	Field   string // the column or key at fault; empty for the row as a whole
	Message string
	// Merged says the row was refused only as merged with its number's
	// other rows (a second pass with MergeDuplicates): the first pass took
	// it.
	Merged bool
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

// Stats is what a Reader has read so far.
type Stats struct {
	Rows       int // data rows read, good and bad (the header is not one)
	Rejected   int // rows returned as a *RowError
	Duplicates int // good rows whose number an earlier good row had
}

// Reader streams contacts from a file, one row at a time, holding about
// one row in memory, plus a census of the numbers seen (Census). On a
// single pass every good row is returned, duplicates included (counted in
// Stats; see Dedupe for a batch); a second pass given MergeDuplicates
// returns each number once, merged.
type Reader struct {
	format Format
	opts   options
	head   *bufio.Reader // the decoded text, for sniffing (and lines, for JSON Lines)
	src    *limitReader
	err    error // sticky: io.EOF or a fatal error
	ready  bool  // options checked and the head sniffed

	strict1252 bool // U+FFFD can only be an undefined windows-1252 byte
	stats      Stats
	counts     map[uint64]uint32 // good rows per number
	merge      *merger
	rest       []Row // merged rows left at the end

	// JSON
	dec     *json.Decoder
	started bool
	index   int

	// JSON Lines
	line int

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
	colUnnamed // a column without a name: its cells must be empty
)

// NewReader reads r as format f; nothing is read until the first Next.
func NewReader(r io.Reader, f Format, opts ...Option) *Reader {
	rd := &Reader{format: f, counts: map[uint64]uint32{}}
	for _, o := range opts {
		o(&rd.opts)
	}
	rd.strict1252 = canonicalEncoding(rd.opts.encoding) == encWindows1252
	if c := rd.opts.census; c != nil {
		rd.merge = &merger{counts: c.counts, pending: map[uint64]*group{}}
	}
	rd.head = bufio.NewReaderSize(&bomReader{r: rd.opts.decode(r)}, MaxRowBytes+readSlack)
	rd.src = &limitReader{r: rd.head, limit: MaxRowBytes + readSlack}
	switch f {
	case JSON:
		rd.dec = json.NewDecoder(rd.src)
		rd.dec.UseNumber()
	case CSV:
		rd.csv = csv.NewReader(rd.src)
		rd.csv.ReuseRecord = true
	case JSONL:
	default:
		rd.err = errs.E(errs.Invalid, "unknown file format %q (want csv, json or jsonl)", f)
	}
	return rd
}

// Stats reports what has been read so far.
func (r *Reader) Stats() Stats { return r.stats }

// Census returns the good rows per number read so far: after io.EOF, what
// a second pass's MergeDuplicates wants.
func (r *Reader) Census() *Census { return &Census{counts: r.counts} }

// Next returns the next good row. A bad row is a *RowError, after which
// Next may be called again; io.EOF ends the file; any other error is fatal
// and is returned from then on: errs.Invalid for a malformed file (or bad
// options), and the source's own error (unclassified, so retried) when
// reading it failed.
func (r *Reader) Next() (Row, error) {
	for {
		if len(r.rest) > 0 {
			row := r.rest[0]
			r.rest = r.rest[1:]
			return r.checkMerged(row)
		}
		if r.err != nil {
			return Row{}, r.err
		}
		row, err := r.next()
		if err == io.EOF {
			if r.stats.Rows == 0 {
				err = r.noRows()
			} else if r.merge != nil {
				r.rest = r.merge.rest()
				r.stats.Duplicates -= len(r.rest) // each was counted as held back
			}
		}
		if err != nil {
			if re, ok := err.(*RowError); ok {
				r.stats.Rows++
				r.stats.Rejected++
				return Row{}, re
			}
			r.err = err
			continue
		}
		r.stats.Rows++
		if r.merge == nil {
			key := numberKey(row.Phone)
			n := r.counts[key]
			if n > 0 {
				r.stats.Duplicates++
			}
			if n < ^uint32(0) {
				r.counts[key] = n + 1
			}
			return row, nil
		}
		out, ok, merged := r.merge.add(row)
		if !ok {
			r.stats.Duplicates++ // held back: a later row of its number follows
			continue
		}
		if merged {
			return r.checkMerged(out)
		}
		return out, nil
	}
}

// checkMerged refuses a merged row too large for a document; a single row
// cannot be, being under MaxRowBytes.
func (r *Reader) checkMerged(row Row) (Row, error) {
	if n := storedSize(row.Attributes); n > maxAttrBytes {
		r.stats.Rejected++
		return Row{}, &RowError{Row: row.Line, Merged: true, Message: fmt.Sprintf("the attributes merged from this number's rows take %d KiB, more than the %d KiB a contact may hold", n>>10, maxAttrBytes>>10)}
	}
	return row, nil
}

// noRows is the error for a file that ended without a data row.
func (r *Reader) noRows() error {
	switch r.format {
	case CSV:
		return errs.E(errs.Invalid, "the file has a header but no contacts")
	case JSON:
		return errs.E(errs.Invalid, "the JSON array is empty: no contacts to import")
	}
	return errs.E(errs.Invalid, "the file is empty: want one JSON object a line")
}

func (r *Reader) next() (Row, error) {
	if !r.ready {
		r.ready = true
		if err := r.opts.check(); err != nil {
			return Row{}, err
		}
		if err := r.sniff(); err != nil {
			return Row{}, err
		}
	}
	switch r.format {
	case JSON:
		return r.nextJSON()
	case JSONL:
		return r.nextJSONL()
	}
	return r.nextCSV()
}

// sniff refuses binary and UTF-16 files before any decoder sees them: a
// NUL byte in text is never a contact.
func (r *Reader) sniff() error {
	head, err := r.head.Peek(sniffBytes)
	if err != nil && err != io.EOF {
		return fmt.Errorf("userimport.Reader: reading the file: %w", err)
	}
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return errs.E(errs.Invalid, "the file is UTF-16 text: save it as UTF-8 (in Excel, \"CSV UTF-8\")")
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return errs.E(errs.Invalid, "the file is binary, not text (a NUL byte at byte %d): upload CSV, JSON or JSON Lines; a spreadsheet must be saved as CSV first", i)
	}
	return nil
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
	if errors.Is(err, io.EOF) {
		// The file ended inside its structure (an unclosed array): that is
		// a truncated file, and it must not read as the end of a good one.
		err = io.ErrUnexpectedEOF
	}
	return errs.Wrap(errs.Invalid, err, prefix)
}

func (r *Reader) setPhone(row *Row, field, raw string) error {
	p, err := normalizePhone(raw, r.opts.region)
	if err != nil {
		return &RowError{Row: row.Line, Field: field, Message: err.Error()}
	}
	row.Phone = p
	return nil
}

// setConsent reads a consent cell; empty means not given.
func setConsent(row *Row, raw string) error {
	s := consentState(raw)
	if s == "" {
		return nil
	}
	if !s.Valid() {
		return &RowError{Row: row.Line, Field: keyConsent, Message: "must be one of OPT_IN, OPT_OUT, STOP"}
	}
	row.Consent = s
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
