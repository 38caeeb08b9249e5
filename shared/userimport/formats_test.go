package userimport

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/phone"
)

const excelMsg = "is not valid UTF-8: if the file was saved by Excel or another Windows program, upload it again with encoding=windows-1252"

func TestReaderCSVDelimiters(t *testing.T) {
	t.Parallel()

	want := result{Rows: []Row{
		{Line: 2, Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"name": "Silva, A; B", "city": "Kandy"}},
		{Line: 3, Phone: "+94772345678", Attributes: map[string]any{"name": "Perera", "city": "Galle"}},
	}}
	cases := []struct {
		name string
		data string
	}{
		{name: "comma", data: "phone_number,name,consent_state,city\n+94771234567,\"Silva, A; B\",OPT_IN,Kandy\n+94772345678,Perera,,Galle\n"},
		{name: "semicolon_bom_crlf", data: "\ufeffphone_number;name;consent_state;city\r\n+94771234567;\"Silva, A; B\";OPT_IN;Kandy\r\n+94772345678;Perera;;Galle\r\n"},
		{name: "tab", data: "phone_number\tname\tconsent_state\tcity\n+94771234567\tSilva, A; B\tOPT_IN\tKandy\n+94772345678\tPerera\t\tGalle\n"},
		{name: "tab_bom_quoted", data: "\ufeff\"phone_number\"\t\"name\"\t\"consent_state\"\t\"city\"\n\"+94771234567\"\t\"Silva, A; B\"\tOPT_IN\tKandy\n+94772345678\tPerera\t\t\"Galle\"\n"},
		// Delimiters inside a quoted header name do not count.
		{name: "semicolon_quoted_commas_in_header", data: "\"phone_number\";\"name\";\"consent_state\";\"city\"\n+94771234567;\"Silva, A; B\";OPT_IN;Kandy\n+94772345678;Perera;;Galle\n"},
		{name: "semicolon_header_with_quoted_commas", data: "phone_number;name;consent_state;\"city, town\"\n+94771234567;\"Silva, A; B\";OPT_IN;Kandy\n+94772345678;Perera;;Galle\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := want
			if strings.Contains(tc.data, "city, town") {
				w = result{Rows: []Row{
					{Line: 2, Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"name": "Silva, A; B", "city, town": "Kandy"}},
					{Line: 3, Phone: "+94772345678", Attributes: map[string]any{"name": "Perera", "city, town": "Galle"}},
				}}
			}
			got := readAll(t, strings.NewReader(tc.data), CSV)
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("read (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestDetectDelimiter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		line string
		want rune
	}{
		{"phone", ','},
		{"phone,name", ','},
		{"phone;name", ';'},
		{"phone\tname", '\t'},
		{"phone;a,b;c", ';'},
		{"\"a;b;c\",phone", ','},
		{"phone,name\n;;;;", ','},
		{"phone;name\t", ';'},
		{"phone,name;x", ','}, // a tie: comma
	}
	for _, tc := range cases {
		if got := detectDelimiter([]byte(tc.line)); got != tc.want {
			t.Errorf("detectDelimiter(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestReaderJSONLines(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		data string
		want result
	}{
		{
			name: "rows_numbered_by_line",
			data: "\ufeff{\"phone_number\":\"+94771234567\",\"age\":40,\"vip\":true,\"zip\":\"01234\",\"n\":\"30\",\"t\":\"true\"}\r\n\n  {\"Mobile\":\"+94772345678\",\"consent_state\":\"STOP\"}",
			want: result{Rows: []Row{
				{Line: 1, Phone: "+94771234567", Attributes: map[string]any{"age": int64(40), "vip": true, "zip": "01234", "n": "30", "t": "true"}}, // JSON keeps its own types
				{Line: 3, Phone: "+94772345678", Consent: consent.Stop},
			}},
		},
		{
			name: "bad_lines_reported_and_skipped",
			data: `{"phone":"+94771234567"}` + "\n" +
				`{"phone": }` + "\n" +
				`[{"phone":"+94771234567"}]` + "\n" +
				`{"phone":"+94771234567"} {"phone":"+94772345678"}` + "\n" +
				`{"phone":"+94771234567","msisdn":"+94772345678"}` + "\n" +
				`{"phone":"+94772345678"}` + "\n",
			want: result{
				Rows: []Row{{Line: 1, Phone: "+94771234567"}, {Line: 6, Phone: "+94772345678"}},
				Errors: []RowError{
					{Row: 2, Message: "is not valid JSON: invalid character '}' looking for beginning of value"},
					{Row: 3, Message: "must be an object"},
					{Row: 4, Message: "is not valid JSON: more than one value on the line"},
					{Row: 5, Field: "phone", Message: `"msisdn" and "phone" both name the phone: give one`},
				},
			},
		},
		{name: "empty_file", data: "", want: result{Fatal: "the file is empty: want one JSON object a line", Kind: errs.Invalid}},
		{name: "blank_lines_only", data: "\n \r\n\t\n", want: result{Fatal: "the file is empty: want one JSON object a line", Kind: errs.Invalid}},
		{name: "csv_given_as_jsonl", data: "phone_number\n+94771234567\n", want: result{Fatal: "the file is not JSON Lines: line 1 is not valid JSON: invalid character 'p' looking for beginning of value", Kind: errs.Invalid}},
		{
			name: "line_over_the_limit",
			data: `{"phone":"+94771234567"}` + "\n" + `{"phone":"+94771234567","a":"` + strings.Repeat("x", 10<<20) + `"}` + "\n",
			want: result{Rows: []Row{{Line: 1, Phone: "+94771234567"}}, Fatal: "line 2 is larger than 64 KiB", Kind: errs.Invalid},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, strings.NewReader(tc.data), JSONL)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("read (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestReaderPhoneColumns(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"phone_number", "Phone", " MOBILE ", "mobile_number", "msisdn", "WhatsApp", "whatsapp_number", "Phone Number", "WhatsApp-Number"} {
		t.Run(strings.TrimSpace(name), func(t *testing.T) {
			t.Parallel()
			want := result{Rows: []Row{{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"city": "Kandy"}}}}
			got := readAll(t, strings.NewReader("city,"+name+"\nKandy,+94771234567\n"), CSV)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("csv (-want, +got):\n%s", diff)
			}
			want.Rows[0].Line = 1
			got = readAll(t, strings.NewReader(fmt.Sprintf(`[{"city":"Kandy",%q:"+94771234567"}]`, name)), JSON)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("json (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestReaderDefaultRegion(t *testing.T) {
	t.Parallel()

	data := "phone,n\n" +
		"0771234567,1\n" +
		"077 123 4567,2\n" +
		"(077) 123-4567,3\n" +
		"+94 77 123 4567,4\n" +
		"whatsapp:0771234567,5\n" +
		"0094771234567,6\n" +
		"+442079460958,7\n" +
		"077123456,8\n" +
		"0771234567 ext 9,9\n" +
		"+1,10\n"
	cases := []struct {
		name string
		opts []Option
		want result
	}{
		{
			name: "lk", opts: []Option{WithDefaultRegion(" lk ")},
			want: result{
				Rows: []Row{
					{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"n": int64(1)}},
					{Line: 3, Phone: "+94771234567", Attributes: map[string]any{"n": int64(2)}},
					{Line: 4, Phone: "+94771234567", Attributes: map[string]any{"n": int64(3)}},
					{Line: 5, Phone: "+94771234567", Attributes: map[string]any{"n": int64(4)}},
					{Line: 6, Phone: "+94771234567", Attributes: map[string]any{"n": int64(5)}},
					{Line: 7, Phone: "+94771234567", Attributes: map[string]any{"n": int64(6)}},
					{Line: 8, Phone: "+442079460958", Attributes: map[string]any{"n": int64(7)}},
				},
				Errors: []RowError{
					{Row: 9, Field: "phone", Message: "is not a valid number for region LK"},
					{Row: 10, Field: "phone", Message: `contains 'e': only digits, spaces, dashes, dots and parentheses may appear in a number`},
					{Row: 11, Field: "phone", Message: "is not a phone number: the phone number supplied is not a number"},
				},
			},
		},
		{
			name: "none",
			want: result{
				Rows: []Row{
					{Line: 5, Phone: "+94771234567", Attributes: map[string]any{"n": int64(4)}},
					{Line: 8, Phone: "+442079460958", Attributes: map[string]any{"n": int64(7)}},
				},
				Errors: []RowError{
					{Row: 2, Field: "phone", Message: noRegion},
					{Row: 3, Field: "phone", Message: noRegion},
					{Row: 4, Field: "phone", Message: noRegion},
					{Row: 6, Field: "phone", Message: noRegion},
					{Row: 7, Field: "phone", Message: noRegion},
					{Row: 9, Field: "phone", Message: noRegion},
					{Row: 10, Field: "phone", Message: noRegion},
					{Row: 11, Field: "phone", Message: "is not a phone number: the phone number supplied is not a number"},
				},
			},
		},
		{
			name: "unknown_region", opts: []Option{WithDefaultRegion("XX")},
			want: result{Fatal: "unknown default_region: want an ISO 3166 alpha-2 code such as LK, GB or US", Kind: errs.Invalid},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, strings.NewReader(data), CSV, tc.opts...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("read (-want, +got):\n%s", diff)
			}
		})
	}
}

const noRegion = "missing leading + (give the number in international E.164 form, e.g. +14155552671; no default region is assumed)"

// TestNormalizePhoneInternationalUnchanged: a default region never changes
// what an international number becomes.
func TestNormalizePhoneInternationalUnchanged(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"+94771234567", " whatsapp:+94 77 123 4567", "+44 (0)20 7946 0958", "+15005550006", "+390612345678", "+1", "+94 77x", ""} {
		want, wantErr := phone.Normalize(raw)
		for _, region := range []string{"", "LK", "US", "GB"} {
			got, err := normalizePhone(raw, region)
			if got != want || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Errorf("normalizePhone(%q, %q) = %q, %v; phone.Normalize gives %q, %v", raw, region, got, err, want, wantErr)
			}
		}
	}
}

func TestCSVValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want any
	}{
		{"0", int64(0)},
		{"42", int64(42)},
		{"-17", int64(-17)},
		{"9223372036854775807", int64(9223372036854775807)},
		{"9223372036854775808", "9223372036854775808"}, // too big: kept exact, as text
		{"3.25", 3.25},
		{"-0.5", -0.5},
		{"0.0", 0.0},
		{"true", true},
		{"TRUE", true},
		{"False", false},
		{"01234", "01234"},
		{"007", "007"},
		{"-007", "-007"},
		{"00.5", "00.5"},
		{"+94771234567", "+94771234567"},
		{"+5", "+5"},
		{"1e5", "1e5"},
		{"1.", "1."},
		{".5", ".5"},
		{"-", "-"},
		{"1,234", "1,234"},
		{"1.2.3", "1.2.3"},
		{"NaN", "NaN"},
		{"Inf", "Inf"},
		{"yes", "yes"},
		{"truely", "truely"},
		{"25-34", "25-34"},
		{"", ""},
	}
	for _, tc := range cases {
		if diff := cmp.Diff(tc.want, csvValue(tc.in)); diff != "" {
			t.Errorf("csvValue(%q) (-want, +got):\n%s", tc.in, diff)
		}
	}
}

// nested returns a JSON value nesting n maps around 1.
func nested(n int) string {
	return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
}

func TestReaderAttributeLimits(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name   string
		format Format
		data   string
		want   result
	}{
		{
			name: "json_names_and_values", format: JSONL,
			data: `{"phone":"+94771234567","a.b":1,"x[0]":2,"p/q":3,"_id_":4,"deep":` + nested(maxNesting) + `,"list":[1,{"b":[2]}]}` + "\n" +
				`{"phone":"+94771234567","__name__":1}` + "\n" +
				`{"phone":"+94771234567","m":{"__k__":1}}` + "\n" +
				`{"phone":"+94771234567","m":{"":1}}` + "\n" +
				`{"phone":"+94771234567","":1}` + "\n" +
				`{"phone":"+94771234567","deep":` + nested(maxNesting+1) + `}` + "\n" +
				`{"phone":"+94771234567","deep":[` + nested(maxNesting) + `]}` + "\n" +
				`{"phone":"+94771234567","grid":[[1,2],[3]]}` + "\n" +
				`{"phone":"+94771234567","` + strings.Repeat("k", maxAttrName+1) + `":1}` + "\n",
			want: result{
				Rows: []Row{{Line: 1, Phone: "+94771234567", Attributes: map[string]any{
					"a.b": int64(1), "x[0]": int64(2), "p/q": int64(3), "_id_": int64(4),
					"deep": func() any {
						var v any = int64(1)
						for range maxNesting {
							v = map[string]any{"a": v}
						}
						return v
					}(),
					"list": []any{int64(1), map[string]any{"b": []any{int64(2)}}},
				}}},
				Errors: []RowError{
					{Row: 2, Field: "__name__", Message: "names an attribute like __x__, which Firestore reserves"},
					{Row: 3, Field: "m", Message: `names an attribute like __x__, which Firestore reserves (key "__k__" inside it)`},
					{Row: 4, Field: "m", Message: `has an attribute with an empty name (key "" inside it)`},
					{Row: 5, Message: "has an attribute with an empty name"},
					{Row: 6, Field: "deep", Message: "nests objects and arrays more than 18 deep"},
					{Row: 7, Field: "deep", Message: "nests objects and arrays more than 18 deep"},
					{Row: 8, Field: "grid", Message: "holds an array directly inside an array, which Firestore cannot store"},
					{Row: 9, Message: "has an attribute name longer than 256 bytes"},
				},
			},
		},
		{
			name: "csv_reserved_column", format: CSV, data: "phone,__id__\n+94771234567,1\n",
			want: result{Fatal: `the CSV header's column 2, "__id__", is a name Firestore reserves (__x__): rename it`, Kind: errs.Invalid},
		},
		{
			name: "csv_long_column", format: CSV, data: "phone," + strings.Repeat("k", maxAttrName+1) + "\n+94771234567,1\n",
			want: result{Fatal: "the CSV header's column 2 name is longer than 256 bytes", Kind: errs.Invalid},
		},
		{
			name: "csv_dotted_columns", format: CSV, data: "phone,address.city,tags[0]\n+94771234567,Kandy,x\n",
			want: result{Rows: []Row{{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"address.city": "Kandy", "tags[0]": "x"}}}},
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

func TestStoredSize(t *testing.T) {
	t.Parallel()
	got := storedSize(map[string]any{"ab": "xyz", "n": int64(1), "f": 1.5, "b": true, "m": map[string]any{"k": []any{"a", nil}}})
	// ab 3+4, n 2+8, f 2+8, b 2+1, m 2+(k 2+(a 2+nil 1))
	if want := 7 + 10 + 10 + 3 + 2 + 5; got != want {
		t.Errorf("storedSize = %d, want %d", got, want)
	}
}

func TestReaderEncodings(t *testing.T) {
	t.Parallel()

	// "Café" and "Zoë" as Excel saves them on Windows.
	cp1252 := "phone_number,name,city\n+94771234567,Caf\xe9,Z\x80\n+94772345678,ok,Zo\xeb\n"
	cases := []struct {
		name   string
		format Format
		data   string
		opts   []Option
		want   result
	}{
		{
			name: "csv_invalid_utf8_reported", format: CSV, data: cp1252,
			want: result{Errors: []RowError{
				{Row: 2, Field: "name", Message: excelMsg},
				{Row: 3, Field: "city", Message: excelMsg},
			}},
		},
		{
			name: "csv_windows_1252", format: CSV, data: cp1252, opts: []Option{WithEncoding("Windows-1252")},
			want: result{Rows: []Row{
				{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"name": "Café", "city": "Z€"}},
				{Line: 3, Phone: "+94772345678", Attributes: map[string]any{"name": "ok", "city": "Zoë"}},
			}},
		},
		{
			name: "csv_latin1", format: CSV, data: cp1252, opts: []Option{WithEncoding("iso-8859-1")},
			want: result{Rows: []Row{
				{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"name": "Café", "city": "Z€"}},
				{Line: 3, Phone: "+94772345678", Attributes: map[string]any{"name": "ok", "city": "Zoë"}},
			}},
		},
		{
			name: "csv_1252_undefined_byte", format: CSV, data: "phone,name\n+94771234567,a\x81b\n+94772345678,\xef\xbf\xbd\n", opts: []Option{WithEncoding("cp1252")},
			want: result{Errors: []RowError{
				{Row: 2, Field: "name", Message: "holds a byte that windows-1252 does not define (0x81, 0x8D, 0x8F, 0x90 or 0x9D): is the encoding right?"},
			}, Rows: []Row{{Line: 3, Phone: "+94772345678", Attributes: map[string]any{"name": "ï¿½"}}}},
		},
		{
			name: "csv_utf8_kept", format: CSV, data: "phone,name\n+94771234567,Zoë \ufffd\n", opts: []Option{WithEncoding("UTF-8")},
			want: result{Rows: []Row{{Line: 2, Phone: "+94771234567", Attributes: map[string]any{"name": "Zoë \ufffd"}}}},
		},
		{
			name: "csv_header_invalid", format: CSV, data: "phone,Caf\xe9\n+94771234567,x\n",
			want: result{Fatal: "the CSV header's column 2 name is not valid UTF-8: if the file was saved by Excel or another Windows program, upload it again with encoding=windows-1252", Kind: errs.Invalid},
		},
		{
			name: "json_invalid_utf8_names_the_key", format: JSON,
			data: "[{\"phone\":\"+94771234567\",\"name\":\"Caf\xe9\"},{\"phone\":\"+94771234567\",\"caf\xe9\":1},{\"phone\":\"+94771234567\",\"ok\":\"\\u00e9\"}]",
			want: result{
				Rows: []Row{{Line: 3, Phone: "+94771234567", Attributes: map[string]any{"ok": "é"}}},
				Errors: []RowError{
					{Row: 1, Field: "name", Message: excelMsg},
					{Row: 2, Message: "has an attribute name that " + excelMsg},
				},
			},
		},
		{
			name: "jsonl_windows_1252", format: JSONL, data: "{\"phone\":\"+94771234567\",\"name\":\"Caf\xe9\"}\n", opts: []Option{WithEncoding("windows-1252")},
			want: result{Rows: []Row{{Line: 1, Phone: "+94771234567", Attributes: map[string]any{"name": "Café"}}}},
		},
		{
			name: "jsonl_invalid_utf8", format: JSONL, data: "{\"phone\":\"+94771234567\",\"name\":[\"Caf\xe9\"]}\n{\"phone\":\"+94772345678\"}\n",
			want: result{
				Rows:   []Row{{Line: 2, Phone: "+94772345678"}},
				Errors: []RowError{{Row: 1, Field: "name", Message: excelMsg}},
			},
		},
		{
			name: "unknown_encoding", format: CSV, data: "phone\n+94771234567\n", opts: []Option{WithEncoding("utf-16")},
			want: result{Fatal: "unknown encoding: want utf-8, windows-1252 or iso-8859-1", Kind: errs.Invalid},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, strings.NewReader(tc.data), tc.format, tc.opts...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("read (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestReaderBadInput(t *testing.T) {
	t.Parallel()

	huge := strings.Repeat("x", 10<<20)
	binary := "PK\x03\x04\x14\x00\x06\x00phone_number"
	cases := []struct {
		name   string
		format Format
		data   string
		want   result
	}{
		{name: "csv_binary", format: CSV, data: binary, want: result{Fatal: "the file is binary, not text (a NUL byte at byte 5): upload CSV, JSON or JSON Lines; a spreadsheet must be saved as CSV first", Kind: errs.Invalid}},
		{name: "json_binary", format: JSON, data: "[\x00]", want: result{Fatal: "the file is binary, not text (a NUL byte at byte 1): upload CSV, JSON or JSON Lines; a spreadsheet must be saved as CSV first", Kind: errs.Invalid}},
		{name: "jsonl_binary_after_bom", format: JSONL, data: "\ufeff{\x00", want: result{Fatal: "the file is binary, not text (a NUL byte at byte 1): upload CSV, JSON or JSON Lines; a spreadsheet must be saved as CSV first", Kind: errs.Invalid}},
		{name: "utf16", format: CSV, data: "\xff\xfep\x00h\x00", want: result{Fatal: "the file is UTF-16 text: save it as UTF-8 (in Excel, \"CSV UTF-8\")", Kind: errs.Invalid}},
		{
			name: "csv_nul_late_is_a_row_error", format: CSV,
			data: "phone,a\n" + strings.Repeat("+94771234567,x\n", sniffBytes/15+1) + "+94771234567,a\x00b\n",
			want: func() result {
				var r result
				for i := range sniffBytes/15 + 1 {
					r.Rows = append(r.Rows, Row{Line: i + 2, Phone: "+94771234567", Attributes: map[string]any{"a": "x"}})
				}
				r.Errors = []RowError{{Row: sniffBytes/15 + 3, Field: "a", Message: "contains a NUL byte"}}
				return r
			}(),
		},
		{name: "csv_10mb_line", format: CSV, data: "phone,a\n+94771234567," + huge + "\n", want: result{Fatal: "the row starting at byte 8 is larger than 64 KiB", Kind: errs.Invalid}},
		{name: "json_10mb_element", format: JSON, data: `[{"phone":"+94771234567","a":"` + huge + `"}]`, want: result{Fatal: "element 1 is larger than 64 KiB", Kind: errs.Invalid}},
		{name: "jsonl_10mb_line", format: JSONL, data: `{"phone":"+94771234567","a":"` + huge + `"}`, want: result{Fatal: "line 1 is larger than 64 KiB", Kind: errs.Invalid}},
		{name: "json_truncated", format: JSON, data: `[{"phone":"+94771234567"},{"phone":"+947`, want: result{Rows: []Row{{Line: 1, Phone: "+94771234567"}}, Fatal: "invalid JSON in element 2: unexpected EOF", Kind: errs.Invalid}},
		{name: "csv_duplicate_columns_semicolon", format: CSV, data: "phone;city;city\n+94771234567;a;b\n", want: result{Fatal: `the CSV header's columns 2 and 3 are both "city"`, Kind: errs.Invalid}},
		{name: "csv_header_alone_bom", format: CSV, data: "\ufeffphone\r\n", want: result{Fatal: "the file has a header but no contacts", Kind: errs.Invalid}},
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

// twoPass reads data once for the census, then again merging duplicates.
func twoPass(t testing.TB, data string, f Format, opts ...Option) (result, Stats, Stats) {
	t.Helper()
	first := NewReader(strings.NewReader(data), f, opts...)
	for {
		_, err := first.Next()
		if err == io.EOF {
			break
		}
		if _, ok := err.(*RowError); err != nil && !ok {
			t.Fatalf("first pass: %v", err)
		}
	}
	second := NewReader(strings.NewReader(data), f, append(opts, MergeDuplicates(first.Census()))...)
	var res result
	for {
		row, err := second.Next()
		if err == io.EOF {
			return res, first.Stats(), second.Stats()
		}
		if re, ok := err.(*RowError); ok {
			res.Errors = append(res.Errors, *re)
			continue
		}
		if err != nil {
			t.Fatalf("second pass: %v", err)
		}
		res.Rows = append(res.Rows, row)
	}
}

func TestReaderMergeDuplicates(t *testing.T) {
	t.Parallel()

	data := "phone,consent_state,city,age,vip\n" +
		"+94771234567,OPT_IN,Kandy,30,\n" + // a, first
		"+94772345678,,Galle,,\n" + // b, once
		"whatsapp:+94771234567,,,31,true\n" + // a, second
		"+94773456789,STOP,,,\n" + // c, first
		"bad,,,,\n" +
		"+94 77 123 4567,,Colombo,,\n" + // a, last
		"+94773456789,,Jaffna,,\n" // c, last
	got, first, second := twoPass(t, data, CSV)
	want := result{
		Rows: []Row{
			{Line: 3, Phone: "+94772345678", Attributes: map[string]any{"city": "Galle"}},
			{Line: 7, Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo", "age": int64(31), "vip": true}},
			{Line: 8, Phone: "+94773456789", Consent: consent.Stop, Attributes: map[string]any{"city": "Jaffna"}},
		},
		Errors: []RowError{{Row: 6, Field: "phone", Message: noRegion}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("second pass (-want, +got):\n%s", diff)
	}
	wantStats := Stats{Rows: 7, Rejected: 1, Duplicates: 3}
	if diff := cmp.Diff(wantStats, first); diff != "" {
		t.Errorf("first pass stats (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantStats, second); diff != "" {
		t.Errorf("second pass stats (-want, +got):\n%s", diff)
	}
}

func TestReaderMergedRowTooLarge(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	const rows = 16 // 16 rows of 60 KB, each under MaxRowBytes, merge past 900 KiB
	for i := range rows {
		fmt.Fprintf(&b, `{"phone":"+94771234567","k%d":"%s"}`+"\n", i, strings.Repeat("x", 60_000))
	}
	b.WriteString(`{"phone":"+94772345678"}` + "\n")
	got, _, second := twoPass(t, b.String(), JSONL)
	want := result{
		Rows:   []Row{{Line: rows + 1, Phone: "+94772345678"}},
		Errors: []RowError{{Row: rows, Merged: true, Message: "the attributes merged from this number's rows take 937 KiB, more than the 900 KiB a contact may hold"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("second pass (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff(Stats{Rows: rows + 1, Rejected: 1, Duplicates: rows - 1}, second); diff != "" {
		t.Errorf("stats (-want, +got):\n%s", diff)
	}
}

// TestReaderMergeChangedFile: rows the census did not count come out at
// the end, in file order, and nothing is lost.
func TestReaderMergeChangedFile(t *testing.T) {
	t.Parallel()
	census := NewReader(strings.NewReader("phone\n+94771234567\n+94771234567\n+94772345678\n+94772345678\n"), CSV)
	for {
		if _, err := census.Next(); err != nil {
			break
		}
	}
	rd := NewReader(strings.NewReader("phone,n\n+94772345678,1\n+94773456789,2\n+94771234567,3\n"), CSV, MergeDuplicates(census.Census()))
	var got []Row
	for {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, row)
	}
	want := []Row{
		{Line: 3, Phone: "+94773456789", Attributes: map[string]any{"n": int64(2)}},
		{Line: 2, Phone: "+94772345678", Attributes: map[string]any{"n": int64(1)}},
		{Line: 4, Phone: "+94771234567", Attributes: map[string]any{"n": int64(3)}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want, +got):\n%s", diff)
	}
	if d := rd.Stats().Duplicates; d != 0 {
		t.Errorf("Duplicates = %d, want 0", d)
	}
}

func TestIsPhoneName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"phone": true, " Phone_Number ": true, "phone number": true, "MSISDN": true, "whatsapp-number": true, "Mobile Number": true,
		"telephone": false, "phone2": false, "phone number 2": false, "whatsapp_numbers": false, "": false, "mobile__number": false,
	} {
		if got := isPhoneName(name); got != want {
			t.Errorf("isPhoneName(%q) = %v, want %v", name, got, want)
		}
	}
}

// A JSON escape of half a surrogate pair is valid syntax but no character:
// encoding/json would store U+FFFD. It is a row error naming the field.
func TestReaderJSON_lone_surrogates(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		wantErr     bool
	}{
		{"high_alone", `a\ud800b`, true},
		{"low_alone", `\udc00`, true},
		{"high_at_end", `x\ud83d`, true},
		{"high_then_not_low", `\ud83d\u0041`, true},
		{"pair", `a\ud83d\ude00b`, false},
		{"escaped_backslash_then_u", `\\ud800`, false},
		{"plain_escapes", `\u00e9\n\"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []struct {
				format Format
				file   string
			}{
				{JSON, `[{"phone":"+94771234567","name":"` + tc.value + `"}]`},
				{JSONL, `{"phone":"+94771234567","name":"` + tc.value + `"}` + "\n"},
			} {
				_, err := NewReader(strings.NewReader(f.file), f.format).Next()
				var re *RowError
				if got := errors.As(err, &re); got != tc.wantErr {
					t.Fatalf("%s: Next = %v, want a row error %v", f.format, err, tc.wantErr)
				}
				if tc.wantErr && (re.Field != "name" || re.Row != 1) {
					t.Errorf("%s: error %+v, want row 1 field name", f.format, re)
				}
			}
		})
	}
}
