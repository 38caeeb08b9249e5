package userimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
)

// seedJSON is the seed's test_users.json.
const seedJSON = `[
  {
    "phone_number": "+94771234576", 
    "name": "Frank Miller",
    "city": "Matara",
    "age": 40,
    "consent_state": "OPT_IN",
    "occupation": "Teacher"
  },
  {
    "phone_number": "whatsapp:+94771234577",
    "name": "Grace Wilson", 
    "city": "Anuradhapura",
    "age": 29,
    "consent_state": "OPT_IN",
    "occupation": "Doctor"
  },
  {
    "phone_number": "+94771234567",
    "name": "Arjuna Silva",
    "city": "Colombo",
    "country": "Sri Lanka",
    "timezone": "Asia/Colombo",
    "language": "en",
    "product_interest": "electronics",
    "registration_source": "website",
    "age_group": "25-34",
    "consent_state": "OPT_IN"
  },
  {
    "phone_number": "+94772345678",
    "name": "Priya Perera",
    "city": "Kandy",
    "country": "Sri Lanka", 
    "timezone": "Asia/Colombo",
    "language": "si",
    "product_interest": "fashion",
    "registration_source": "mobile_app", 
    "age_group": "35-44",
    "consent_state": "OPT_IN"
  }
]`

// seedCSV is the same people as a spreadsheet would save them.
const seedCSV = "\ufeffphone_number,name,city,age,consent_state,occupation,country,timezone,language,product_interest,registration_source,age_group\r\n" +
	"+94771234576,Frank Miller,Matara,40,OPT_IN,Teacher,,,,,,\r\n" +
	"whatsapp:+94771234577,Grace Wilson,Anuradhapura,29,opt_in,Doctor,,,,,,\r\n" +
	"+94771234567,Arjuna Silva,Colombo,,OPT_IN,,Sri Lanka,Asia/Colombo,en,electronics,website,25-34\r\n" +
	"+94772345678,Priya Perera,Kandy,,OPT_IN,,Sri Lanka,Asia/Colombo,si,fashion,mobile_app,35-44\r\n"

// result is what a whole read gave.
type result struct {
	Rows   []Row
	Errors []RowError
	Fatal  string // the fatal error's text, if any
	Kind   errs.Kind
}

func readAll(t testing.TB, r io.Reader, f Format, opts ...Option) result {
	t.Helper()
	rd := NewReader(r, f, opts...)
	var res result
	for i := 0; ; i++ {
		if i > 1_000_000 {
			t.Fatal("reader does not end")
		}
		row, err := rd.Next()
		if err == io.EOF {
			return res
		}
		var re *RowError
		switch {
		case errors.As(err, &re):
			res.Errors = append(res.Errors, *re)
		case err != nil:
			res.Fatal, res.Kind = err.Error(), errs.KindOf(err)
			// Fatal is sticky.
			if _, again := rd.Next(); again == nil || again.Error() != err.Error() {
				t.Fatalf("after fatal %v, Next = %v", err, again)
			}
			return res
		default:
			res.Rows = append(res.Rows, row)
		}
	}
}

func TestReaderSeedFiles(t *testing.T) {
	t.Parallel()

	frank := map[string]any{"name": "Frank Miller", "city": "Matara", "occupation": "Teacher"}
	grace := map[string]any{"name": "Grace Wilson", "city": "Anuradhapura", "occupation": "Doctor"}
	arjuna := map[string]any{"name": "Arjuna Silva", "city": "Colombo", "country": "Sri Lanka", "timezone": "Asia/Colombo", "language": "en", "product_interest": "electronics", "registration_source": "website", "age_group": "25-34"}
	priya := map[string]any{"name": "Priya Perera", "city": "Kandy", "country": "Sri Lanka", "timezone": "Asia/Colombo", "language": "si", "product_interest": "fashion", "registration_source": "mobile_app", "age_group": "35-44"}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for k, v := range m {
			out[k] = v
		}
		return out
	}

	cases := []struct {
		name   string
		format Format
		data   string
		want   []Row
	}{
		{
			name: "json", format: JSON, data: seedJSON,
			want: []Row{
				{Line: 1, Phone: "+94771234576", Consent: consent.OptIn, Attributes: with(frank, "age", int64(40))},
				{Line: 2, Phone: "+94771234577", Consent: consent.OptIn, Attributes: with(grace, "age", int64(29))},
				{Line: 3, Phone: "+94771234567", Consent: consent.OptIn, Attributes: arjuna},
				{Line: 4, Phone: "+94772345678", Consent: consent.OptIn, Attributes: priya},
			},
		},
		{
			name: "csv", format: CSV, data: seedCSV,
			want: []Row{
				{Line: 2, Phone: "+94771234576", Consent: consent.OptIn, Attributes: with(frank, "age", int64(40))},
				{Line: 3, Phone: "+94771234577", Consent: consent.OptIn, Attributes: with(grace, "age", int64(29))},
				{Line: 4, Phone: "+94771234567", Consent: consent.OptIn, Attributes: arjuna},
				{Line: 5, Phone: "+94772345678", Consent: consent.OptIn, Attributes: priya},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// One byte at a time, to prove nothing depends on read sizes.
			for _, r := range []io.Reader{strings.NewReader(tc.data), iotest.OneByteReader(strings.NewReader(tc.data))} {
				got := readAll(t, r, tc.format)
				if diff := cmp.Diff(result{Rows: tc.want}, got); diff != "" {
					t.Errorf("read (-want, +got):\n%s", diff)
				}
			}
		})
	}
}

func TestReaderJSON(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		data string
		want result
	}{
		{name: "empty_array", data: ` [ ] `, want: result{Fatal: "the JSON array is empty: no contacts to import", Kind: errs.Invalid}},
		{
			name: "phone_alias_and_value_types",
			data: `[{"phone":"+94 77 123 4567","consent_state":"stop","n":1.5,"big":12345678901234,"huge":1e300,"ok":true,"tags":["a",2],"address":{"city":"Kandy","zip":20000},"gone":null}]`,
			want: result{Rows: []Row{{Line: 1, Phone: "+94771234567", Consent: consent.Stop, Attributes: map[string]any{
				"n": 1.5, "big": int64(12345678901234), "huge": 1e300, "ok": true, "tags": []any{"a", int64(2)},
				"address": map[string]any{"city": "Kandy", "zip": int64(20000)},
			}}}},
		},
		{
			name: "no_attributes",
			data: `[{"phone_number":"+94771234567","consent_state":null}]`,
			want: result{Rows: []Row{{Line: 1, Phone: "+94771234567"}}},
		},
		{
			name: "bad_rows_reported_and_skipped",
			data: `[
				{"phone_number":"0771234567"},
				{"name":"no phone"},
				{"phone_number":94771234567},
				{"phone_number":"+94771234567","consent_state":"maybe"},
				{"phone_number":"+94771234567","consent_state":1},
				"not an object",
				{"phone_number":"+94771234567","phone":"+94771234567"},
				{"phone_number":"+94771234567","":1},
				{"phone_number":"+94771234567","n":1e400},
				{"phone_number":"+9477123456"},
				{"phone_number":null},
				{"phone_number":" "},
				{"phone_number":"+94772345678","city":"Kandy"}
			]`,
			want: result{
				Rows: []Row{{Line: 13, Phone: "+94772345678", Attributes: map[string]any{"city": "Kandy"}}},
				Errors: []RowError{
					{Row: 1, Field: "phone_number", Message: "missing leading + (give the number in international E.164 form, e.g. +14155552671; no default region is assumed)"},
					{Row: 2, Field: "phone_number", Message: "is required"},
					{Row: 3, Field: "phone_number", Message: `must be a string, e.g. "+94771234567"`},
					{Row: 4, Field: "consent_state", Message: "must be one of OPT_IN, OPT_OUT, STOP"},
					{Row: 5, Field: "consent_state", Message: "must be one of OPT_IN, OPT_OUT, STOP"},
					{Row: 6, Message: "must be an object"},
					{Row: 7, Field: "phone_number", Message: `"phone" and "phone_number" both name the phone: give one`},
					{Row: 8, Message: "has an attribute with an empty name"},
					{Row: 9, Field: "n", Message: "number 1e400 is out of range"},
					{Row: 10, Field: "phone_number", Message: "is too short for region LK"},
					{Row: 11, Field: "phone_number", Message: "is required"},
					{Row: 12, Field: "phone_number", Message: "is required"},
				},
			},
		},
		{
			name: "duplicates_all_returned",
			data: `[{"phone_number":"+94771234567","v":1},{"phone_number":"whatsapp:+94771234567","v":2}]`,
			want: result{Rows: []Row{
				{Line: 1, Phone: "+94771234567", Attributes: map[string]any{"v": int64(1)}},
				{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"v": int64(2)}},
			}},
		},
		{name: "empty_file", data: "", want: result{Fatal: "the file is empty: want a JSON array of contacts", Kind: errs.Invalid}},
		{name: "only_space", data: " \n\t", want: result{Fatal: "the file is empty: want a JSON array of contacts", Kind: errs.Invalid}},
		{name: "object_not_array", data: `{"phone_number":"+94771234567"}`, want: result{Fatal: "a JSON file must be an array of contact objects, [{...}, ...]", Kind: errs.Invalid}},
		{name: "scalar", data: `"x"`, want: result{Fatal: "a JSON file must be an array of contact objects, [{...}, ...]", Kind: errs.Invalid}},
		{name: "csv_given_as_json", data: "phone_number\n+94771234567\n", want: result{Fatal: "invalid JSON at the start of the file (byte 1): invalid character 'p' looking for beginning of value", Kind: errs.Invalid}},
		{
			name: "broken_mid_array",
			data: `[{"phone_number":"+94771234567"}, {"phone_number": }]`,
			want: result{
				Rows:  []Row{{Line: 1, Phone: "+94771234567"}},
				Fatal: "invalid JSON in element 2 (byte 50): invalid character '}' looking for beginning of value", Kind: errs.Invalid,
			},
		},
		{
			name: "truncated",
			data: `[{"phone_number":"+94771234567"}, {"phone_number": "+9477`,
			want: result{
				Rows:  []Row{{Line: 1, Phone: "+94771234567"}},
				Fatal: "invalid JSON in element 2: unexpected EOF", Kind: errs.Invalid,
			},
		},
		{
			name: "unclosed_array",
			data: `[{"phone_number":"+94771234567"}`,
			want: result{
				Rows:  []Row{{Line: 1, Phone: "+94771234567"}},
				Fatal: "invalid JSON after element 1: unexpected EOF", Kind: errs.Invalid,
			},
		},
		{
			name: "trailing_data",
			data: `[{"phone_number":"+94771234567"}] []`,
			want: result{
				Rows:  []Row{{Line: 1, Phone: "+94771234567"}},
				Fatal: "unexpected data after the JSON array", Kind: errs.Invalid,
			},
		},
		{
			name: "bom",
			data: "\ufeff[{\"phone_number\":\"+94771234567\"}]",
			want: result{Rows: []Row{{Line: 1, Phone: "+94771234567"}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, strings.NewReader(tc.data), JSON)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("read (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestReaderCSV(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		data string
		want result
	}{
		{name: "header_only", data: "phone_number,name\n", want: result{Fatal: "the file has a header but no contacts", Kind: errs.Invalid}},
		{name: "header_and_blank_lines", data: "phone_number,name\r\n\r\n\n", want: result{Fatal: "the file has a header but no contacts", Kind: errs.Invalid}},
		{
			name: "phone_alias_case_and_space_in_header",
			data: " Phone , Consent_State ,City\n+94771234567, opt_out , Colombo \n",
			want: result{Rows: []Row{{Line: 2, Phone: "+94771234567", Consent: consent.OptOut, Attributes: map[string]any{"City": "Colombo"}}}},
		},
		{
			name: "quoted_fields_and_blank_lines",
			data: "phone_number,note\n\n\"+94 77 123 4567\",\"a, b\nand \"\"c\"\"\"\n\n+94772345678,x\n",
			want: result{Rows: []Row{
				{Line: 3, Phone: "+94771234567", Attributes: map[string]any{"note": "a, b\nand \"c\""}},
				{Line: 6, Phone: "+94772345678", Attributes: map[string]any{"note": "x"}},
			}},
		},
		{
			name: "bad_rows_reported_and_skipped",
			data: "phone_number,consent_state,city\n" +
				"0771234567,,a\n" +
				",OPT_IN,b\n" +
				"+94771234567,YES,c\n" +
				"+94771234567,OPT_IN\n" +
				"+94771234567,OPT_IN,x\"y\n" +
				"+94772345678,,Kandy\n",
			want: result{
				Rows: []Row{{Line: 7, Phone: "+94772345678", Attributes: map[string]any{"city": "Kandy"}}},
				Errors: []RowError{
					{Row: 2, Field: "phone_number", Message: "missing leading + (give the number in international E.164 form, e.g. +14155552671; no default region is assumed)"},
					{Row: 3, Field: "phone_number", Message: "is required"},
					{Row: 4, Field: "consent_state", Message: "must be one of OPT_IN, OPT_OUT, STOP"},
					{Row: 5, Message: "has 2 fields; the header has 3"},
					{Row: 6, Message: `is not valid CSV: bare " in non-quoted-field (line 6, column 22)`},
				},
			},
		},
		{name: "empty_file", data: "", want: result{Fatal: "the file is empty: want a CSV header naming a phone_number column", Kind: errs.Invalid}},
		{name: "no_phone_column", data: "name,city\nA,B\n", want: result{Fatal: "the CSV header has no phone column (one of phone_number, phone, mobile, mobile_number, msisdn, whatsapp, whatsapp_number)", Kind: errs.Invalid}},
		{name: "two_phone_columns", data: "phone,phone_number\n", want: result{Fatal: `the CSV header has two phone columns, "phone" (column 1) and "phone_number" (column 2): keep one`, Kind: errs.Invalid}},
		{name: "two_phone_like_columns", data: "Mobile;name;WhatsApp\n", want: result{Fatal: `the CSV header has two phone columns, "Mobile" (column 1) and "WhatsApp" (column 3): keep one`, Kind: errs.Invalid}},
		{name: "duplicate_columns", data: "phone_number,city,city\n", want: result{Fatal: `the CSV header's columns 2 and 3 are both "city"`, Kind: errs.Invalid}},
		// Spreadsheets export empty trailing columns: kept while empty.
		{name: "unnamed_column", data: "phone_number,,city\n+94771234567,,Colombo\n+94771234568,x,Galle\n", want: result{
			Rows:   []Row{{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"city": "Colombo"}}},
			Errors: []RowError{{Row: 3, Message: "column 2 has a value but no name in the header: name the column"}},
		}},
		{name: "json_given_as_csv", data: `[{"phone_number":"+94771234567"}]`, want: result{Fatal: `invalid CSV header: parse error on line 1, column 3: bare " in non-quoted-field`, Kind: errs.Invalid}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, strings.NewReader(tc.data), CSV)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("read (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestReaderRowSizeLimit(t *testing.T) {
	t.Parallel()

	big := strings.Repeat("x", MaxRowBytes)
	huge := strings.Repeat("x", 10*MaxRowBytes)
	cases := []struct {
		name   string
		format Format
		data   string
		want   result
	}{
		{
			name: "json_element_just_over", format: JSON,
			data: `[{"phone_number":"+94771234567"},{"phone_number":"+94771234567","a":"` + big + `"}]`,
			want: result{Rows: []Row{{Line: 1, Phone: "+94771234567"}}, Fatal: "element 2 is larger than 64 KiB", Kind: errs.Invalid},
		},
		{
			name: "json_element_far_over", format: JSON,
			data: `[{"phone_number":"+94771234567","a":"` + huge + `"}]`,
			want: result{Fatal: "element 1 is larger than 64 KiB", Kind: errs.Invalid},
		},
		{
			name: "json_elements_at_limit_pass", format: JSON,
			data: `[{"phone_number":"+94771234567","a":"` + big[:MaxRowBytes-60] + `"},{"phone_number":"+94771234567","a":"` + big[:MaxRowBytes-60] + `"}]`,
			want: result{Rows: []Row{
				{Line: 1, Phone: "+94771234567", Attributes: map[string]any{"a": big[:MaxRowBytes-60]}},
				{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"a": big[:MaxRowBytes-60]}},
			}},
		},
		{
			name: "csv_line_over", format: CSV,
			data: "phone_number,a\n+94771234567,x\n+94771234567," + big + "\n",
			want: result{Rows: []Row{{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"a": "x"}}}, Fatal: "the row starting at byte 30 is larger than 64 KiB", Kind: errs.Invalid},
		},
		{
			name: "csv_unterminated_quote", format: CSV,
			data: "phone_number,a\n+94771234567,\"" + huge + "\n",
			want: result{Fatal: "the row starting at byte 15 is larger than 64 KiB", Kind: errs.Invalid},
		},
		{
			name: "csv_header_over", format: CSV,
			data: "phone_number," + huge + "\n",
			want: result{Fatal: "the header row is larger than 64 KiB", Kind: errs.Invalid},
		},
		{
			name: "csv_lines_at_limit_pass", format: CSV,
			data: "phone_number,a\n+94771234567," + big[:MaxRowBytes-20] + "\n+94771234567," + big[:MaxRowBytes-20] + "\n",
			want: result{Rows: []Row{
				{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"a": big[:MaxRowBytes-20]}},
				{Line: 3, Phone: "+94771234567", Attributes: map[string]any{"a": big[:MaxRowBytes-20]}},
			}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, strings.NewReader(tc.data), tc.format)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("read (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestReaderSourceFailureIsNotInvalid(t *testing.T) {
	t.Parallel()
	boom := errors.New("storage: connection reset")
	for _, f := range []Format{CSV, JSON, JSONL} {
		head := "phone_number\n+94771234567\n"
		switch f {
		case JSON:
			head = `[{"phone_number":"+94771234567"},`
		case JSONL:
			head = `{"phone_number":"+94771234567"}` + "\n"
		}
		rd := NewReader(io.MultiReader(strings.NewReader(head), iotest.ErrReader(boom)), f)
		var err error
		for range 10 {
			if _, err = rd.Next(); err != nil {
				if _, ok := err.(*RowError); !ok {
					break
				}
			}
		}
		if !errors.Is(err, boom) || errs.Is(err, errs.Invalid) || !errs.Retry(err) {
			t.Errorf("%s: err = %v (kind %v), want the source's error, retried", f, err, errs.KindOf(err))
		}
	}
}

func TestReaderUnknownFormat(t *testing.T) {
	t.Parallel()
	_, err := NewReader(strings.NewReader(""), "xml").Next()
	if !errs.Is(err, errs.Invalid) {
		t.Errorf("err = %v, want invalid", err)
	}
}

func TestRowError(t *testing.T) {
	t.Parallel()
	e := &RowError{Row: 3, Field: "phone_number", Message: "is required"}
	if got, want := e.Error(), "row 3: phone_number: is required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&RowError{Row: 4, Message: "must be an object"}).Error(), "row 4: must be an object"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if diff := cmp.Diff(errs.Detail{Row: 3, Field: "phone_number", Message: "is required"}, e.Detail()); diff != "" {
		t.Errorf("Detail (-want, +got):\n%s", diff)
	}
}

func TestDetectFormat(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name     string
		filename string
		head     string
		want     Format
		wantErr  bool
	}{
		{name: "csv_extension", filename: "users.csv", head: "[", want: CSV},
		{name: "json_extension_any_case", filename: "Test_Users.JSON", head: "phone_number\n", want: JSON},
		{name: "csv_extension_upper", filename: "a/b/USERS.CSV", want: CSV},
		{name: "sniff_json", filename: "upload", head: "\n  [ {", want: JSON},
		{name: "sniff_json_bom", filename: "", head: "\ufeff[", want: JSON},
		{name: "sniff_csv", filename: "users.txt", head: "name,Phone_Number,city\r\n+9477", want: CSV},
		{name: "sniff_csv_phone", filename: "", head: "\ufeffphone\n", want: CSV},
		{name: "sniff_csv_quoted_header", filename: "", head: "\"phone_number\",\"name\"\n", want: CSV},
		{name: "sniff_jsonl", filename: "", head: ` {"phone_number":"+1"}`, want: JSONL},
		{name: "jsonl_extension", filename: "x.JSONL", head: "[", want: JSONL},
		{name: "ndjson_extension", filename: "x.ndjson", want: JSONL},
		{name: "tsv_extension", filename: "x.tsv", want: CSV},
		{name: "sniff_csv_semicolon", filename: "", head: "name;Mobile;city\r\n", want: CSV},
		{name: "sniff_csv_tab", filename: "", head: "name\tMSISDN\n", want: CSV},
		{name: "scalar_is_not_a_contact_file", filename: "", head: `"x"`, wantErr: true},
		{name: "csv_without_phone", filename: "x", head: "name,city\n", wantErr: true},
		{name: "empty", filename: "", head: "", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DetectFormat(tc.filename, []byte(tc.head))
			if tc.wantErr {
				if !errs.Is(err, errs.Invalid) {
					t.Fatalf("DetectFormat = %q, %v; want an invalid error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("DetectFormat = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDedupe(t *testing.T) {
	t.Parallel()
	a1 := Row{Line: 1, Phone: "+94771234567", Attributes: map[string]any{"v": 1}}
	b := Row{Line: 2, Phone: "+94772345678"}
	a2 := Row{Line: 3, Phone: "+94771234567", Attributes: map[string]any{"v": 2}}
	c := Row{Line: 4, Phone: "+94771234576"}

	got, dropped := Dedupe([]Row{a1, b, a2, c})
	if diff := cmp.Diff([]Row{b, a2, c}, got); diff != "" {
		t.Errorf("Dedupe (-want, +got):\n%s", diff)
	}
	if dropped != 1 {
		t.Errorf("dropped = %d, want 1", dropped)
	}
	got, dropped = Dedupe([]Row{a1, b})
	if diff := cmp.Diff([]Row{a1, b}, got); diff != "" || dropped != 0 {
		t.Errorf("Dedupe without duplicates (-want, +got):\n%s dropped %d", diff, dropped)
	}
}

// contactFile generates a CSV of n contacts on the fly, so that the file
// itself takes no memory.
type contactFile struct {
	n, i int
	buf  []byte
}

func (c *contactFile) Read(p []byte) (int, error) {
	for len(c.buf) < len(p) && c.i <= c.n {
		if c.i == 0 {
			c.buf = append(c.buf, "phone_number,consent_state,name,city,age\n"...)
		} else {
			c.buf = fmt.Appendf(c.buf, "+9477%07d,OPT_IN,Person %d,Colombo,%d\n", c.i, c.i, 18+c.i%60)
		}
		c.i++
	}
	if len(c.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.buf)
	c.buf = c.buf[:copy(c.buf, c.buf[n:])]
	return n, nil
}

// TestReaderMemoryIsFlat reads 200k generated rows (20k under the race
// detector) and checks that the live heap grows only by the census.
func TestReaderMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 200k rows")
	}
	rows, every := 200_000, 25_000
	if raceEnabled {
		rows, every = 20_000, 2_500
	}
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	rd := NewReader(&contactFile{n: rows}, CSV)
	var base, peak uint64
	for i := 1; ; i++ {
		_, err := rd.Next()
		if err == io.EOF {
			if i-1 != rows {
				t.Fatalf("read %d rows, want %d", i-1, rows)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i == 1000:
			base = live()
		case i%every == 0:
			peak = max(peak, live())
		}
	}
	// Rows are not kept; the census of numbers is, at some 20 bytes a
	// number (up to twice that while its map grows).
	if budget := base + 512<<10 + uint64(rows)*48; peak > budget {
		t.Errorf("live heap grew from %d to %d bytes over %d rows, budget %d", base, peak, rows, budget)
	}
	t.Logf("live heap after 1k rows %d B, peak after %d rows %d B", base, rows, peak)
}

func BenchmarkReaderCSV100k(b *testing.B) {
	const rows = 100_000
	var file bytes.Buffer
	if _, err := io.Copy(&file, &contactFile{n: rows}); err != nil {
		b.Fatal(err)
	}
	benchRead(b, file.Bytes(), CSV, rows)
}

func BenchmarkReaderJSON10k(b *testing.B) {
	const rows = 10_000
	var file bytes.Buffer
	file.WriteByte('[')
	for i := range rows {
		if i > 0 {
			file.WriteByte(',')
		}
		fmt.Fprintf(&file, `{"phone_number":"+9477%07d","consent_state":"OPT_IN","name":"Person %d","city":"Colombo","age":%d}`, i, i, 18+i%60)
	}
	file.WriteByte(']')
	benchRead(b, file.Bytes(), JSON, rows)
}

// benchRead reads data whole on every iteration, checking the row count.
func benchRead(b *testing.B, data []byte, f Format, rows int) {
	b.Helper()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd := NewReader(bytes.NewReader(data), f)
		n := 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != rows {
			b.Fatalf("read %d rows", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// A file cut off inside its array must never read as a good file's end
// (io.EOF), or its rows would be applied as if it were whole.
func TestReader_truncated_JSON_is_never_EOF(t *testing.T) {
	t.Parallel()
	for _, data := range []string{
		`[`,
		`[{"phone":"+94771234567"}`,
		`[{"phone":"+94771234567"},`,
		`[{"phone":"+94771234567"} `,
		`[{"phone":"+94771234567"}, {"phone"`,
	} {
		rd := NewReader(strings.NewReader(data), JSON)
		var err error
		for err == nil {
			_, err = rd.Next()
			var re *RowError
			if errors.As(err, &re) {
				err = nil
			}
		}
		if errors.Is(err, io.EOF) || !errs.Is(err, errs.Invalid) {
			t.Errorf("%q ended with %v, want an Invalid error that is not io.EOF", data, err)
		}
	}
}

// An opt-out under a heading written otherwise must be read as consent,
// never kept as an attribute nothing honours.
func TestReader_consent_under_other_headings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		format Format
		data   string
	}{
		{"csv_spaced_title_case", CSV, "Phone,Consent State\n+94771234567,STOP\n"},
		{"csv_short", CSV, "phone;consent\n+94771234567;STOP\n"},
		{"json_mixed_case", JSON, `[{"phone":"+94771234567","Consent_State":"STOP"}]`},
		{"jsonl_dashed", JSONL, `{"phone":"+94771234567","consent-state":"STOP"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			row, err := NewReader(strings.NewReader(tc.data), tc.format).Next()
			if err != nil {
				t.Fatal(err)
			}
			if row.Consent != consent.Stop || len(row.Attributes) != 0 {
				t.Errorf("row = %+v, want consent STOP and no attributes", row)
			}
		})
	}
	_, err := NewReader(strings.NewReader("phone,consent,Consent State\n+94771234567,STOP,OPT_IN\n"), CSV).Next()
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "two consent columns") {
		t.Errorf("two consent columns: err = %v, want Invalid naming both", err)
	}
}

func TestReader_values_kept_exactly(t *testing.T) {
	t.Parallel()
	row, err := NewReader(strings.NewReader(`[{"phone":"+94771234567","account":12345678901234567890,"n":42,"x":1.5}]`), JSON).Next()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"account": "12345678901234567890", "n": int64(42), "x": 1.5}
	if diff := cmp.Diff(want, row.Attributes); diff != "" {
		t.Errorf("attributes (-want, +got):\n%s", diff)
	}
	// Latin-1 labels read as Windows-1252: 0x80 is the euro sign.
	row, err = NewReader(strings.NewReader("phone,price\n+94771234567,\x80 5\n"), CSV, WithEncoding("latin1")).Next()
	if err != nil {
		t.Fatal(err)
	}
	if got := row.Attributes["price"]; got != "€ 5" {
		t.Errorf("latin1 0x80 = %q, want the euro sign", got)
	}
}

// A batch of rows crosses Pub/Sub as JSON: its attributes' types must
// survive, or a CSV integer arrives a float and a long id is rounded.
func TestRow_JSON_round_trip_keeps_types(t *testing.T) {
	in := Row{Line: 7, Phone: "+14155550100", Consent: consent.OptIn, Attributes: map[string]any{
		"age": int64(42), "id": int64(9007199254740993), "score": 2.5, "vip": true, "city": "Colombo",
		"whole": 30.0, "huge": 1e20, "tiny": 1e-7, "neg": -3.0,
		"zip": "01234", "tags": []any{"a", int64(1)}, "address": map[string]any{"no": int64(12)}, "none": nil,
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Row
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
	var bare Row
	if err := json.Unmarshal([]byte(`{"row":2,"phone_number":"+14155550100"}`), &bare); err != nil || bare.Attributes != nil {
		t.Errorf("row without attributes: %+v, %v", bare, err)
	}
}
