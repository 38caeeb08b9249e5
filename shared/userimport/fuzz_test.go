package userimport

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/phone"
)

// fuzzOptions picks reader options from one fuzzed byte: the encoding, a
// default region or none, and whether to read twice, merging duplicates.
func fuzzOptions(mode uint8) (opts []Option, twoPass bool) {
	switch mode % 3 {
	case 1:
		opts = append(opts, WithEncoding("windows-1252"))
	case 2:
		opts = append(opts, WithEncoding("iso-8859-1"))
	}
	if mode&4 != 0 {
		opts = append(opts, WithDefaultRegion("LK"))
	}
	return opts, mode&8 != 0
}

// checkRows asserts the reader's promises for any input and options: it
// ends; good rows carry a normalised number, increasing positions and
// attributes Firestore can store (valid UTF-8 names and text, no reserved
// name, no json.Number, no deep nesting, no array in an array); a merging
// pass returns each number once; a fatal error is invalid (the input is in
// memory, so reading it never fails).
func checkRows(t *testing.T, data []byte, f Format, mode uint8) {
	opts, twoPass := fuzzOptions(mode)
	if twoPass {
		first := NewReader(bytes.NewReader(data), f, opts...)
		for i := 0; ; i++ {
			if i > len(data)+2 {
				t.Fatalf("first pass does not end")
			}
			if _, err := first.Next(); err != nil {
				if _, ok := err.(*RowError); !ok {
					break
				}
			}
		}
		opts = append(opts, MergeDuplicates(first.Census()))
	}
	rd := NewReader(bytes.NewReader(data), f, opts...)
	last := 0
	phones := map[string]bool{}
	for i := 0; ; i++ {
		if i > len(data)+2 {
			t.Fatalf("more results than bytes: the reader does not end")
		}
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		var re *RowError
		if errors.As(err, &re) {
			if re.Row <= last && f != CSV && !twoPass {
				t.Fatalf("row error at %d after row %d", re.Row, last)
			}
			continue
		}
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("fatal error %v has kind %v", err, errs.KindOf(err))
			}
			return
		}
		if row.Line <= last && !twoPass {
			t.Fatalf("row %d after row %d", row.Line, last)
		}
		last = row.Line
		if p, err := phone.Normalize(row.Phone); err != nil || p != row.Phone {
			t.Fatalf("row phone %q is not normalised", row.Phone)
		}
		if twoPass && phones[row.Phone] {
			t.Fatalf("merging pass returned %s twice", row.Phone)
		}
		phones[row.Phone] = true
		if row.Consent != "" && !row.Consent.Valid() {
			t.Fatalf("row consent %q", row.Consent)
		}
		for k, v := range row.Attributes {
			if nameProblem(k) != "" || !utf8.ValidString(k) {
				t.Fatalf("attribute name %q: %s", k, nameProblem(k))
			}
			checkValue(t, data, v, 0, false)
		}
	}
	st := rd.Stats()
	if st.Rejected > st.Rows || st.Duplicates > st.Rows {
		t.Fatalf("stats %+v", st)
	}
}

func checkValue(t *testing.T, data []byte, v any, depth int, inArray bool) {
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			t.Fatalf("value %q is not UTF-8", v)
		}
		// U+FFFD only where the input had it (or a JSON escape that
		// encoding/json turns into it).
		if strings.ContainsRune(v, utf8.RuneError) && !bytes.Contains(data, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(data), []byte(`\u`)) {
			t.Fatalf("value %q holds U+FFFD the input did not", v)
		}
	case int64, float64, bool, nil:
	case map[string]any:
		if depth >= maxNesting {
			t.Fatalf("nested past %d", maxNesting)
		}
		for k, e := range v {
			if nameProblem(k) != "" {
				t.Fatalf("nested name %q: %s", k, nameProblem(k))
			}
			checkValue(t, data, e, depth+1, false)
		}
	case []any:
		if inArray || depth >= maxNesting {
			t.Fatalf("array in array, or nested past %d", maxNesting)
		}
		for _, e := range v {
			checkValue(t, data, e, depth+1, true)
		}
	default:
		t.Fatalf("value of type %T", v)
	}
}

func FuzzReaderJSON(f *testing.F) {
	for _, s := range []string{seedJSON, `[]`, `[{}]`, `[1,"a",null,{"phone":"+94771234567"}]`, `{`, `[{"phone_number":"+94771234567","a":{"b":[1,2.5,1e400]}}`, "\ufeff[ ]",
		`[{"mobile":"0771234567","__x__":1,"m":{"":[[1]]}},{"phone":"+94771234567","msisdn":"+94771234567"}]`,
		"[{\"phone\":\"+94771234567\",\"n\":\"Caf\xe9\"},{\"phone\":\"+94771234567\",\"n\":\"x\"}]"} {
		for _, mode := range []uint8{0, 1, 6, 8, 13} {
			f.Add([]byte(s), mode)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) { checkRows(t, data, JSON, mode) })
}

func FuzzReaderJSONL(f *testing.F) {
	for _, s := range []string{`{"phone":"+94771234567"}`, "{}\n\n{\"Mobile\":\"0771234567\",\"a\":[1,{\"b\":true}]}\r\n", "[1]\n{", `{"phone":"+94771234567"} {}`,
		"\ufeff{\"whatsapp\":\"+94771234567\",\"x\":\"\x81\"}\n{\"whatsapp\":\"+94771234567\",\"y\":1}\n", "\n\n", "{\"phone\":\"+94771234567\",\"\x00\":1}"} {
		for _, mode := range []uint8{0, 1, 6, 8, 13} {
			f.Add([]byte(s), mode)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) { checkRows(t, data, JSONL, mode) })
}

func FuzzReaderCSV(f *testing.F) {
	for _, s := range []string{seedCSV, "phone\n", "phone_number,a\n\"+94771234567\",\"x\n", "a,b\n1,2\n", "phone,consent_state\n+94771234567,stop\n+1,\n", "\"\n",
		"phone;age;zip\r\n0771234567;30;01234\r\n+94771234567;true;\"a;b\"\r\n",
		"\ufeffMSISDN\tname\tname2\n+94771234567\tCaf\xe9\t\x81\n+94771234567\t-1.5\tFALSE\n",
		"\"ph;one\",phone;x\n+94771234567,a;b\n", "phone,__id__\n", "phone,mobile\n", "phone,a\n+94771234567,\x00\n"} {
		for _, mode := range []uint8{0, 1, 6, 8, 13} {
			f.Add([]byte(s), mode)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) { checkRows(t, data, CSV, mode) })
}
