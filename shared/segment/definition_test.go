package segment

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eventstreamengine/ese/shared/errs"
)

// The seed's two segment definitions.
const (
	seedColombo     = `{"attribute": "city", "operator": "equals", "value": "Colombo"}`
	seedMajorCities = `{"conditions": [{"attribute": "city", "operator": "equals", "value": "Colombo"}, {"attribute": "city", "operator": "equals", "value": "Matara"}], "logic": "OR"}`
	seedPhoneFrank  = "+94771234576"
	seedPhoneArjuna = "+94771234567"
	seedPhonePriya  = "+94772345678"
	seedPhoneGrace  = "+94771234577"
)

// seedUsers are the seed's four people, their numbers mapped to attributes.
var seedUsers = map[string]map[string]any{
	seedPhoneFrank:  {"name": "Frank Miller", "city": "Matara", "age": float64(40), "occupation": "Teacher"},
	seedPhoneGrace:  {"name": "Grace Wilson", "city": "Anuradhapura", "age": float64(29), "occupation": "Doctor"},
	seedPhoneArjuna: {"name": "Arjuna Silva", "city": "Colombo", "country": "Sri Lanka", "timezone": "Asia/Colombo", "age_group": "25-34"},
	seedPhonePriya:  {"name": "Priya Perera", "city": "Kandy", "country": "Sri Lanka", "timezone": "Asia/Colombo", "age_group": "35-44"},
}

func mustParse(t testing.TB, s string) Definition {
	t.Helper()
	d, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v %+v", s, err, errs.DetailsOf(err))
	}
	return d
}

func TestParseSeedDefinitions(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		json string
		want Definition
		// the seed people the definition selects
		wantPhones []string
	}{
		{
			name:       "colombo_area_users",
			json:       seedColombo,
			want:       Definition{Attribute: "city", Operator: Equals, Value: "Colombo"},
			wantPhones: []string{seedPhoneArjuna},
		},
		{
			name: "major_cities",
			json: seedMajorCities,
			want: Definition{Logic: Or, Conditions: []Definition{
				{Attribute: "city", Operator: Equals, Value: "Colombo"},
				{Attribute: "city", Operator: Equals, Value: "Matara"},
			}},
			wantPhones: []string{seedPhoneArjuna, seedPhoneFrank},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := mustParse(t, tc.json)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("Parse (-want, +got):\n%s", diff)
			}
			var phones []string
			for _, p := range []string{seedPhoneFrank, seedPhoneGrace, seedPhoneArjuna, seedPhonePriya} {
				if got.Match(p, "OPT_IN", seedUsers[p]) {
					phones = append(phones, p)
				}
			}
			if diff := cmp.Diff(tc.wantPhones, phones, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("matched (-want, +got):\n%s", diff)
			}
			// The wire shape survives a round trip (the seed's spacing aside).
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, []byte(tc.json), b) {
				t.Errorf("MarshalJSON = %s, want the shape of %s", b, tc.json)
			}
		})
	}
}

// sameJSON reports whether two documents hold the same value, whatever
// their spacing and key order.
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatal(err)
	}
	return cmp.Equal(va, vb)
}

func TestParse(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		json string
		want Definition
	}{
		{
			name: "logic_defaults_to_and",
			json: `{"conditions":[{"attribute":"a","operator":"exists"}]}`,
			want: Definition{Logic: And, Conditions: []Definition{{Attribute: "a", Operator: Exists}}},
		},
		{
			name: "nested_groups",
			json: `{"conditions":[{"attribute":"age","operator":"gte","value":18},{"conditions":[{"attribute":"city","operator":"in","value":["Colombo","Kandy"]},{"attribute":"vip","operator":"equals","value":true}],"logic":"OR"}],"logic":"AND"}`,
			want: Definition{Logic: And, Conditions: []Definition{
				{Attribute: "age", Operator: Gte, Value: float64(18)},
				{Logic: Or, Conditions: []Definition{
					{Attribute: "city", Operator: In, Value: []any{"Colombo", "Kandy"}},
					{Attribute: "vip", Operator: Equals, Value: true},
				}},
			}},
		},
		{
			name: "string_order",
			json: `{"attribute":"signup","operator":"lt","value":"2026-01-01"}`,
			want: Definition{Attribute: "signup", Operator: Lt, Value: "2026-01-01"},
		},
		{
			name: "reserved_attributes",
			json: `{"conditions":[{"attribute":"phone_number","operator":"starts_with","value":"+94"},{"attribute":"consent_state","operator":"equals","value":"OPT_IN"}]}`,
			want: Definition{Logic: And, Conditions: []Definition{
				{Attribute: AttrPhone, Operator: StartsWith, Value: "+94"},
				{Attribute: AttrConsent, Operator: Equals, Value: "OPT_IN"},
			}},
		},
		{
			name: "depth_eight",
			json: nest(7, `{"attribute":"a","operator":"exists"}`),
			want: nestDef(7, Definition{Attribute: "a", Operator: Exists}),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := mustParse(t, tc.json)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want, +got):\n%s", diff)
			}
		})
	}
}

// nest wraps leaf in n groups.
func nest(n int, leaf string) string {
	s := leaf
	for range n {
		s = `{"conditions":[` + s + `],"logic":"AND"}`
	}
	return s
}

func nestDef(n int, leaf Definition) Definition {
	d := leaf
	for range n {
		d = Definition{Logic: And, Conditions: []Definition{d}}
	}
	return d
}

func TestParseErrors(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		json string
		want []errs.Detail
	}{
		{name: "empty", json: ``, want: []errs.Detail{{Field: "definition_json", Message: "is required"}}},
		{name: "null", json: `null`, want: []errs.Detail{{Field: "definition_json", Message: "is required"}}},
		{name: "not_an_object", json: `[1]`, want: []errs.Detail{{Field: "definition_json", Message: "must be an object: a condition {attribute, operator, value} or a group {conditions, logic}"}}},
		{name: "bad_json", json: `{"attribute":`, want: []errs.Detail{{Field: "definition_json", Message: "is not valid JSON: unexpected EOF"}}},
		{name: "trailing_data", json: `{"attribute":"a","operator":"exists"} {}`, want: []errs.Detail{{Field: "definition_json", Message: "is not valid JSON: unexpected data after the value"}}},
		{name: "empty_object", json: `{}`, want: []errs.Detail{{Field: "definition_json", Message: "must be a condition {attribute, operator, value} or a group {conditions, logic}"}}},
		{name: "both_shapes", json: `{"attribute":"a","conditions":[]}`, want: []errs.Detail{{Field: "definition_json", Message: "is both a condition (attribute) and a group (conditions): give one"}}},
		{name: "unknown_key", json: `{"attribute":"a","operator":"exists","negate":true}`, want: []errs.Detail{{Field: "definition_json.negate", Message: "is not a known key of a condition (attribute, operator, value)"}}},
		{name: "unknown_group_key", json: `{"conditions":[{"attribute":"a","operator":"exists"}],"limit":3}`, want: []errs.Detail{{Field: "definition_json.limit", Message: "is not a known key of a group (conditions, logic)"}}},
		{name: "unknown_operator", json: `{"conditions":[{"attribute":"a","operator":"exists"},{"attribute":"city","operator":"like","value":"C%"}]}`, want: []errs.Detail{{Field: "definition_json.conditions[1].operator", Message: `unknown operator "like" (want one of equals, not_equals, in, not_in, contains, starts_with, gt, gte, lt, lte, exists, not_exists)`}}},
		{name: "missing_operator", json: `{"attribute":"a"}`, want: []errs.Detail{{Field: "definition_json.operator", Message: "is required"}}},
		{name: "operator_not_string", json: `{"attribute":"a","operator":1}`, want: []errs.Detail{{Field: "definition_json.operator", Message: "must be a string"}}},
		{name: "missing_value", json: `{"attribute":"city","operator":"equals"}`, want: []errs.Detail{{Field: "definition_json.value", Message: "is required for operator equals"}}},
		{name: "null_value", json: `{"attribute":"city","operator":"equals","value":null}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must not be null (use exists or not_exists)"}}},
		{name: "object_value", json: `{"attribute":"city","operator":"equals","value":{"a":1}}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be a string, number or boolean"}}},
		{name: "value_for_exists", json: `{"attribute":"city","operator":"exists","value":true}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must not be given for operator exists"}}},
		{name: "in_not_list", json: `{"attribute":"city","operator":"in","value":"Colombo"}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be a non-empty array for operator in"}}},
		{name: "in_empty_list", json: `{"attribute":"city","operator":"not_in","value":[]}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be a non-empty array for operator not_in"}}},
		{name: "in_list_with_null", json: `{"attribute":"city","operator":"in","value":["a",null]}`, want: []errs.Detail{{Field: "definition_json.value[1]", Message: "must not be null (use exists or not_exists)"}}},
		{name: "starts_with_number", json: `{"attribute":"a","operator":"starts_with","value":1}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be a string for operator starts_with"}}},
		{name: "gt_bool", json: `{"attribute":"a","operator":"gt","value":true}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be a number or a string for operator gt"}}},
		{name: "number_out_of_range", json: `{"attribute":"a","operator":"gt","value":1e999}`, want: []errs.Detail{{Field: "definition_json.value", Message: "number 1e999 is out of range"}}},
		{name: "empty_attribute", json: `{"attribute":"","operator":"exists"}`, want: []errs.Detail{{Field: "definition_json.attribute", Message: "must not be empty"}}},
		{name: "attribute_not_string", json: `{"attribute":7,"operator":"exists"}`, want: []errs.Detail{{Field: "definition_json.attribute", Message: "must be a string"}}},
		{name: "empty_conditions", json: `{"conditions":[],"logic":"AND"}`, want: []errs.Detail{{Field: "definition_json.conditions", Message: "must not be empty"}}},
		{name: "null_conditions", json: `{"conditions":null}`, want: []errs.Detail{{Field: "definition_json.conditions", Message: "must be an array of conditions"}}},
		{name: "bad_logic", json: `{"conditions":[{"attribute":"a","operator":"exists"}],"logic":"XOR"}`, want: []errs.Detail{{Field: "definition_json.logic", Message: `must be "AND" or "OR", got "XOR"`}}},
		{name: "lower_case_logic", json: `{"conditions":[{"attribute":"a","operator":"exists"}],"logic":"or"}`, want: []errs.Detail{{Field: "definition_json.logic", Message: `must be "AND" or "OR", got "or"`}}},
		{name: "null_condition", json: `{"conditions":[null]}`, want: []errs.Detail{{Field: "definition_json.conditions[0]", Message: "is required"}}},
		{
			name: "too_deep",
			json: nest(8, `{"attribute":"a","operator":"exists"}`),
			want: []errs.Detail{{Field: "definition_json" + strings.Repeat(".conditions[0]", 7) + ".conditions", Message: "nests deeper than 8 levels"}},
		},
		{
			name: "several_problems_each_reported",
			json: `{"conditions":[{"attribute":"a","operator":"gt"},{"conditions":[{"attribute":"b","operator":"nope"}],"logic":"X"}]}`,
			want: []errs.Detail{
				{Field: "definition_json.conditions[0].value", Message: "is required for operator gt"},
				{Field: "definition_json.conditions[1].logic", Message: `must be "AND" or "OR", got "X"`},
				{Field: "definition_json.conditions[1].conditions[0].operator", Message: `unknown operator "nope" (want one of equals, not_equals, in, not_in, contains, starts_with, gt, gte, lt, lte, exists, not_exists)`},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := Parse([]byte(tc.json))
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want an error", tc.json, d)
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("kind = %v, want invalid", errs.KindOf(err))
			}
			if diff := cmp.Diff(tc.want, errs.DetailsOf(err)); diff != "" {
				t.Errorf("details (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestParseTooManyConditions(t *testing.T) {
	t.Parallel()
	conds := make([]string, MaxConditions)
	for i := range conds {
		conds[i] = `{"attribute":"a","operator":"exists"}`
	}
	_, err := Parse([]byte(`{"conditions":[` + strings.Join(conds, ",") + `]}`))
	want := []errs.Detail{{Field: fmt.Sprintf("definition_json.conditions[%d]", MaxConditions-1), Message: fmt.Sprintf("the definition has more than %d conditions", MaxConditions)}}
	if diff := cmp.Diff(want, errs.DetailsOf(err)); diff != "" {
		t.Errorf("details (-want, +got):\n%s", diff)
	}
}

func TestSegmentJSON(t *testing.T) {
	t.Parallel()

	t.Run("decodes_and_validates_definition_json", func(t *testing.T) {
		t.Parallel()
		var s Segment
		if err := json.Unmarshal([]byte(`{"name":"Major Cities","definition_json":`+seedMajorCities+`}`), &s); err != nil {
			t.Fatal(err)
		}
		want := Definition{Logic: Or, Conditions: []Definition{
			{Attribute: "city", Operator: Equals, Value: "Colombo"},
			{Attribute: "city", Operator: Equals, Value: "Matara"},
		}}
		if diff := cmp.Diff(want, s.Definition); diff != "" {
			t.Errorf("Definition (-want, +got):\n%s", diff)
		}
	})
	t.Run("invalid_definition_is_an_invalid_error", func(t *testing.T) {
		t.Parallel()
		var s Segment
		err := json.Unmarshal([]byte(`{"name":"x","definition_json":{"attribute":"city","operator":"eq","value":"a"}}`), &s)
		if !errs.Is(err, errs.Invalid) {
			t.Fatalf("err = %v (%v), want invalid", err, errs.KindOf(err))
		}
		if got, want := errs.DetailsOf(err)[0].Field, "definition_json.operator"; got != want {
			t.Errorf("field = %q, want %q", got, want)
		}
	})
	t.Run("zero_definition_is_null", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(Segment{ID: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"definition_json":null`) {
			t.Errorf("got %s, want definition_json null", b)
		}
	})
}

func TestMatch(t *testing.T) {
	t.Parallel()

	attrs := map[string]any{
		"city":     "Colombo",
		"age_f":    float64(40),
		"age_i":    40,
		"age_i64":  int64(40),
		"age_u8":   uint8(40),
		"age_s":    "40",
		"score":    float64(2.5),
		"vip":      true,
		"vip_s":    "TRUE",
		"tags":     []any{"new", "promo", float64(7)},
		"tags_s":   []string{"a", "b"},
		"nothing":  nil,
		"signup":   "2025-11-03",
		"nickname": "",
	}
	cases := []struct {
		name string
		def  string
		want bool
	}{
		{name: "equals_string", def: `{"attribute":"city","operator":"equals","value":"Colombo"}`, want: true},
		{name: "equals_case_sensitive", def: `{"attribute":"city","operator":"equals","value":"colombo"}`, want: false},
		{name: "equals_missing", def: `{"attribute":"town","operator":"equals","value":"Colombo"}`, want: false},
		{name: "equals_float64", def: `{"attribute":"age_f","operator":"equals","value":40}`, want: true},
		{name: "equals_int", def: `{"attribute":"age_i","operator":"equals","value":40}`, want: true},
		{name: "equals_int64", def: `{"attribute":"age_i64","operator":"equals","value":40.0}`, want: true},
		{name: "equals_uint8", def: `{"attribute":"age_u8","operator":"equals","value":40}`, want: true},
		{name: "equals_numeric_string", def: `{"attribute":"age_s","operator":"equals","value":40}`, want: true},
		{name: "equals_string_value_number_attr", def: `{"attribute":"age_i","operator":"equals","value":"40"}`, want: false},
		{name: "equals_bool", def: `{"attribute":"vip","operator":"equals","value":true}`, want: true},
		{name: "equals_bool_string", def: `{"attribute":"vip_s","operator":"equals","value":true}`, want: true},
		{name: "equals_empty_string", def: `{"attribute":"nickname","operator":"equals","value":""}`, want: true},
		{name: "not_equals", def: `{"attribute":"city","operator":"not_equals","value":"Kandy"}`, want: true},
		{name: "not_equals_same", def: `{"attribute":"city","operator":"not_equals","value":"Colombo"}`, want: false},
		{name: "not_equals_missing", def: `{"attribute":"town","operator":"not_equals","value":"Kandy"}`, want: true},
		{name: "in", def: `{"attribute":"city","operator":"in","value":["Kandy","Colombo"]}`, want: true},
		{name: "in_numbers", def: `{"attribute":"age_i","operator":"in","value":[30,40]}`, want: true},
		{name: "in_none", def: `{"attribute":"city","operator":"in","value":["Kandy","Galle"]}`, want: false},
		{name: "not_in", def: `{"attribute":"city","operator":"not_in","value":["Kandy","Galle"]}`, want: true},
		{name: "not_in_listed", def: `{"attribute":"city","operator":"not_in","value":["Colombo"]}`, want: false},
		{name: "not_in_missing", def: `{"attribute":"town","operator":"not_in","value":["Colombo"]}`, want: true},
		{name: "contains_substring", def: `{"attribute":"city","operator":"contains","value":"lom"}`, want: true},
		{name: "contains_substring_absent", def: `{"attribute":"city","operator":"contains","value":"LOM"}`, want: false},
		{name: "contains_list_element", def: `{"attribute":"tags","operator":"contains","value":"promo"}`, want: true},
		{name: "contains_list_number", def: `{"attribute":"tags","operator":"contains","value":7}`, want: true},
		{name: "contains_string_list", def: `{"attribute":"tags_s","operator":"contains","value":"b"}`, want: true},
		{name: "contains_number_in_string", def: `{"attribute":"city","operator":"contains","value":1}`, want: false},
		{name: "starts_with", def: `{"attribute":"city","operator":"starts_with","value":"Col"}`, want: true},
		{name: "starts_with_not", def: `{"attribute":"city","operator":"starts_with","value":"olo"}`, want: false},
		{name: "gt", def: `{"attribute":"age_i","operator":"gt","value":39}`, want: true},
		{name: "gt_equal", def: `{"attribute":"age_i","operator":"gt","value":40}`, want: false},
		{name: "gte_equal", def: `{"attribute":"age_i64","operator":"gte","value":40}`, want: true},
		{name: "lt_fraction", def: `{"attribute":"score","operator":"lt","value":2.6}`, want: true},
		{name: "lte_numeric_string", def: `{"attribute":"age_s","operator":"lte","value":40}`, want: true},
		{name: "numbers_not_compared_as_strings", def: `{"attribute":"age_f","operator":"gt","value":100}`, want: false},
		{name: "gt_string", def: `{"attribute":"signup","operator":"gt","value":"2025-01-01"}`, want: true},
		{name: "gt_string_vs_number", def: `{"attribute":"age_i","operator":"gt","value":"1"}`, want: false},
		{name: "gt_non_numeric_string", def: `{"attribute":"city","operator":"gt","value":1}`, want: false},
		{name: "gt_missing", def: `{"attribute":"town","operator":"gt","value":1}`, want: false},
		{name: "exists", def: `{"attribute":"city","operator":"exists"}`, want: true},
		{name: "exists_null", def: `{"attribute":"nothing","operator":"exists"}`, want: false},
		{name: "exists_empty_string", def: `{"attribute":"nickname","operator":"exists"}`, want: true},
		{name: "not_exists", def: `{"attribute":"town","operator":"not_exists"}`, want: true},
		{name: "not_exists_null", def: `{"attribute":"nothing","operator":"not_exists"}`, want: true},
		{name: "not_exists_present", def: `{"attribute":"city","operator":"not_exists"}`, want: false},
		{name: "phone_number", def: `{"attribute":"phone_number","operator":"starts_with","value":"+94"}`, want: true},
		{name: "consent_state", def: `{"attribute":"consent_state","operator":"equals","value":"OPT_IN"}`, want: true},
		{name: "consent_state_in", def: `{"attribute":"consent_state","operator":"in","value":["STOP","OPT_OUT"]}`, want: false},
		{name: "and_all", def: `{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"age_i","operator":"gte","value":18}]}`, want: true},
		{name: "and_one_fails", def: `{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"age_i","operator":"lt","value":18}],"logic":"AND"}`, want: false},
		{name: "or_one", def: `{"conditions":[{"attribute":"city","operator":"equals","value":"Kandy"},{"attribute":"vip","operator":"equals","value":true}],"logic":"OR"}`, want: true},
		{name: "or_none", def: `{"conditions":[{"attribute":"city","operator":"equals","value":"Kandy"},{"attribute":"vip","operator":"equals","value":false}],"logic":"OR"}`, want: false},
		{name: "nested", def: `{"conditions":[{"attribute":"age_f","operator":"gt","value":30},{"conditions":[{"attribute":"city","operator":"equals","value":"Kandy"},{"attribute":"tags","operator":"contains","value":"new"}],"logic":"OR"}]}`, want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := mustParse(t, tc.def)
			if got := d.Match("+94771234567", "OPT_IN", attrs); got != tc.want {
				t.Errorf("Match(%s) = %v, want %v", tc.def, got, tc.want)
			}
		})
	}
}

func TestMatchUnparsedDefinitions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		def  Definition
		want bool
	}{
		{name: "zero_matches_nobody", def: Definition{}, want: false},
		{name: "empty_group_matches_nobody", def: Definition{Conditions: []Definition{}}, want: false},
		{name: "unknown_operator", def: Definition{Attribute: "city", Operator: "like", Value: "Colombo"}, want: false},
		{name: "built_in_code", def: Definition{Attribute: "city", Operator: Equals, Value: "Colombo"}, want: true},
		{name: "int_value_built_in_code", def: Definition{Attribute: "age", Operator: Gte, Value: 18}, want: true},
		{name: "nil_attrs", def: Definition{Attribute: "x", Operator: NotExists}, want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			attrs := map[string]any{"city": "Colombo", "age": int64(20)}
			if tc.name == "nil_attrs" {
				attrs = nil
			}
			if got := tc.def.Match("+94771234567", "OPT_IN", attrs); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(`{"attribute":"a","operator":"exists"}`)); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		seedColombo, seedMajorCities, ``, `null`, `{}`, `[]`,
		`{"conditions":[{"attribute":"age","operator":"gte","value":18},{"conditions":[{"attribute":"city","operator":"in","value":["Colombo","Kandy"]}],"logic":"OR"}]}`,
		`{"attribute":"a","operator":"exists"}`,
		`{"attribute":"a","operator":"lt","value":-0}`,
		`{"attribute":"a","operator":"equals","value":"<&>\u2028"}`,
		nest(9, `{"attribute":"a","operator":"exists"}`),
	} {
		f.Add([]byte(s))
	}
	attrs := map[string]any{"city": "Colombo", "age": 40, "tags": []any{"a"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			if !errs.Is(err, errs.Invalid) || len(errs.DetailsOf(err)) == 0 {
				t.Fatalf("Parse error %v has kind %v and no details", err, errs.KindOf(err))
			}
			return
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", d, err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(%q))) = %v %+v", data, err, errs.DetailsOf(err))
		}
		if diff := cmp.Diff(d, again); diff != "" {
			t.Fatalf("round trip of %q changed the definition (-first, +second):\n%s", data, diff)
		}
		_ = d.Match("+94771234567", "OPT_IN", attrs)
	})
}

func BenchmarkMatch(b *testing.B) {
	d := mustParse(b, `{"conditions":[{"attribute":"consent_state","operator":"equals","value":"OPT_IN"},{"attribute":"age","operator":"gte","value":18},{"conditions":[{"attribute":"city","operator":"in","value":["Kandy","Galle","Colombo"]},{"attribute":"tags","operator":"contains","value":"vip"}],"logic":"OR"}]}`)
	attrs := map[string]any{"city": "Colombo", "age": int64(40), "tags": []any{"new"}, "name": "Arjuna Silva"}
	b.ReportAllocs()
	for b.Loop() {
		if !d.Match("+94771234567", "OPT_IN", attrs) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatchSeedColombo(b *testing.B) {
	d := mustParse(b, seedColombo)
	attrs := seedUsers[seedPhoneArjuna]
	b.ReportAllocs()
	for b.Loop() {
		if !d.Match(seedPhoneArjuna, "OPT_IN", attrs) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(seedMajorCities)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMarshalJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want string
	}{
		{name: "logic_written_when_defaulted", in: `{"conditions":[{"attribute":"a","operator":"exists"}]}`, want: `{"conditions":[{"attribute":"a","operator":"exists"}],"logic":"AND"}`},
		{name: "false_value_kept", in: `{"attribute":"vip","operator":"equals","value":false}`, want: `{"attribute":"vip","operator":"equals","value":false}`},
		{name: "zero_value_kept", in: `{"attribute":"n","operator":"equals","value":0}`, want: `{"attribute":"n","operator":"equals","value":0}`},
		{name: "whole_float_as_integer", in: `{"attribute":"n","operator":"gt","value":18.0}`, want: `{"attribute":"n","operator":"gt","value":18}`},
		{name: "list", in: `{"attribute":"n","operator":"in","value":["a",1,true]}`, want: `{"attribute":"n","operator":"in","value":["a",1,true]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(mustParse(t, tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(b)); diff != "" {
				t.Errorf("MarshalJSON (-want, +got):\n%s", diff)
			}
		})
	}
}
