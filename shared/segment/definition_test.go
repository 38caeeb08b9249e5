package segment

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/user"
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

// now is when the tests evaluate: within_last counts back from it.
var now = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// ts parses an RFC 3339 timestamp.
func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
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
				if got.Match(user.User{Phone: p, Consent: consent.OptIn, Attributes: seedUsers[p]}, now) {
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
		{
			name: "not_condition",
			json: `{"not":{"attribute":"city","operator":"equals","value":"Kandy"}}`,
			want: Definition{Not: &Definition{Attribute: "city", Operator: Equals, Value: "Kandy"}},
		},
		{
			name: "not_group_inside_group",
			json: `{"conditions":[{"attribute":"vip","operator":"equals","value":true},{"not":{"conditions":[{"attribute":"a","operator":"exists"},{"attribute":"b","operator":"exists"}],"logic":"OR"}}]}`,
			want: Definition{Logic: And, Conditions: []Definition{
				{Attribute: "vip", Operator: Equals, Value: true},
				{Not: &Definition{Logic: Or, Conditions: []Definition{{Attribute: "a", Operator: Exists}, {Attribute: "b", Operator: Exists}}}},
			}},
		},
		{
			name: "not_not",
			json: `{"not":{"not":{"attribute":"a","operator":"exists"}}}`,
			want: Definition{Not: &Definition{Not: &Definition{Attribute: "a", Operator: Exists}}},
		},
		{
			name: "timestamp_value_becomes_a_time",
			json: `{"attribute":"renewal","operator":"gte","value":"2026-01-31T00:00:00+05:30"}`,
			want: Definition{Attribute: "renewal", Operator: Gte, Value: ts(t, "2026-01-31T00:00:00+05:30")},
		},
		{
			name: "timestamps_in_a_list",
			json: `{"attribute":"renewal","operator":"in","value":["2026-01-31T00:00:00Z","x"]}`,
			want: Definition{Attribute: "renewal", Operator: In, Value: []any{ts(t, "2026-01-31T00:00:00Z"), "x"}},
		},
		{
			name: "contains_keeps_a_timestamp_as_text",
			json: `{"attribute":"log","operator":"contains","value":"2026-01-31T00:00:00Z"}`,
			want: Definition{Attribute: "log", Operator: Contains, Value: "2026-01-31T00:00:00Z"},
		},
		{
			name: "between_numbers",
			json: `{"attribute":"age","operator":"between","value":[18,34.5]}`,
			want: Definition{Attribute: "age", Operator: Between, Value: []any{float64(18), 34.5}},
		},
		{
			name: "between_equal_bounds",
			json: `{"attribute":"age","operator":"between","value":[18,18]}`,
			want: Definition{Attribute: "age", Operator: Between, Value: []any{float64(18), float64(18)}},
		},
		{
			name: "between_timestamps",
			json: `{"attribute":"created_at","operator":"between","value":["2026-01-01T00:00:00Z","2026-02-01T00:00:00Z"]}`,
			want: Definition{Attribute: AttrCreatedAt, Operator: Between, Value: []any{ts(t, "2026-01-01T00:00:00Z"), ts(t, "2026-02-01T00:00:00Z")}},
		},
		{
			name: "before",
			json: `{"attribute":"created_at","operator":"before","value":"2026-01-01T00:00:00Z"}`,
			want: Definition{Attribute: AttrCreatedAt, Operator: Before, Value: ts(t, "2026-01-01T00:00:00Z")},
		},
		{
			name: "after_with_fraction",
			json: `{"attribute":"last_inbound_at","operator":"after","value":"2026-01-01T10:00:00.123456Z"}`,
			want: Definition{Attribute: AttrLastInboundAt, Operator: After, Value: ts(t, "2026-01-01T10:00:00.123456Z")},
		},
		{
			name: "within_last",
			json: `{"attribute":"last_inbound_at","operator":"within_last","value":"1d12h"}`,
			want: Definition{Attribute: AttrLastInboundAt, Operator: WithinLast, Value: Duration{Text: "1d12h", D: 36 * time.Hour}},
		},
		{
			name: "built_ins",
			json: `{"conditions":[{"attribute":"phone_country","operator":"in","value":["LK","IN"]},{"attribute":"consent_state","operator":"not_in","value":["STOP"]},{"attribute":"created_at","operator":"exists"}]}`,
			want: Definition{Logic: And, Conditions: []Definition{
				{Attribute: AttrPhoneCountry, Operator: In, Value: []any{"LK", "IN"}},
				{Attribute: AttrConsent, Operator: NotIn, Value: []any{"STOP"}},
				{Attribute: AttrCreatedAt, Operator: Exists},
			}},
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
		{name: "not_an_object", json: `[1]`, want: []errs.Detail{{Field: "definition_json", Message: "must be an object: a condition {attribute, operator, value}, a group {conditions, logic} or a negation {not}"}}},
		{name: "bad_json", json: `{"attribute":`, want: []errs.Detail{{Field: "definition_json", Message: "is not valid JSON: unexpected EOF"}}},
		{name: "trailing_data", json: `{"attribute":"a","operator":"exists"} {}`, want: []errs.Detail{{Field: "definition_json", Message: "is not valid JSON: unexpected data after the value"}}},
		{name: "empty_object", json: `{}`, want: []errs.Detail{{Field: "definition_json", Message: "must be a condition {attribute, operator, value}, a group {conditions, logic} or a negation {not}"}}},
		{name: "both_shapes", json: `{"attribute":"a","conditions":[]}`, want: []errs.Detail{{Field: "definition_json", Message: "has both attribute and conditions: give one of a condition {attribute, operator, value}, a group {conditions, logic} or a negation {not}"}}},
		{name: "unknown_key", json: `{"attribute":"a","operator":"exists","negate":true}`, want: []errs.Detail{{Field: "definition_json.negate", Message: "is not a known key of a condition (attribute, operator, value)"}}},
		{name: "unknown_group_key", json: `{"conditions":[{"attribute":"a","operator":"exists"}],"limit":3}`, want: []errs.Detail{{Field: "definition_json.limit", Message: "is not a known key of a group (conditions, logic)"}}},
		{name: "unknown_operator", json: `{"conditions":[{"attribute":"a","operator":"exists"},{"attribute":"city","operator":"like","value":"C%"}]}`, want: []errs.Detail{{Field: "definition_json.conditions[1].operator", Message: `unknown operator "like" (want one of equals, not_equals, in, not_in, contains, starts_with, gt, gte, lt, lte, between, before, after, within_last, exists, not_exists)`}}},
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
		{name: "gt_bool", json: `{"attribute":"a","operator":"gt","value":true}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be a number, a string or a timestamp for operator gt"}}},
		{name: "number_out_of_range", json: `{"attribute":"a","operator":"gt","value":1e999}`, want: []errs.Detail{{Field: "definition_json.value", Message: "number 1e999 is out of range"}}},
		{name: "empty_attribute", json: `{"attribute":"","operator":"exists"}`, want: []errs.Detail{{Field: "definition_json.attribute", Message: "must not be empty"}}},
		{name: "attribute_not_string", json: `{"attribute":7,"operator":"exists"}`, want: []errs.Detail{{Field: "definition_json.attribute", Message: "must be a string"}}},
		{name: "empty_conditions", json: `{"conditions":[],"logic":"AND"}`, want: []errs.Detail{{Field: "definition_json.conditions", Message: "must not be empty"}}},
		{name: "null_conditions", json: `{"conditions":null}`, want: []errs.Detail{{Field: "definition_json.conditions", Message: "must be an array of conditions"}}},
		{name: "bad_logic", json: `{"conditions":[{"attribute":"a","operator":"exists"}],"logic":"XOR"}`, want: []errs.Detail{{Field: "definition_json.logic", Message: `must be "AND" or "OR", got "XOR"`}}},
		{name: "lower_case_logic", json: `{"conditions":[{"attribute":"a","operator":"exists"}],"logic":"or"}`, want: []errs.Detail{{Field: "definition_json.logic", Message: `must be "AND" or "OR", got "or"`}}},
		{name: "null_condition", json: `{"conditions":[null]}`, want: []errs.Detail{{Field: "definition_json.conditions[0]", Message: "is required"}}},
		{name: "condition_and_not", json: `{"attribute":"a","operator":"exists","not":{"attribute":"b","operator":"exists"}}`, want: []errs.Detail{{Field: "definition_json", Message: "has both attribute and not: give one of a condition {attribute, operator, value}, a group {conditions, logic} or a negation {not}"}}},
		{name: "not_with_other_key", json: `{"not":{"attribute":"a","operator":"exists"},"logic":"OR"}`, want: []errs.Detail{{Field: "definition_json.logic", Message: "is not a known key of a negation (not)"}}},
		{name: "not_null", json: `{"not":null}`, want: []errs.Detail{{Field: "definition_json.not", Message: "is required"}}},
		{name: "not_list", json: `{"not":[]}`, want: []errs.Detail{{Field: "definition_json.not", Message: "must be an object: a condition {attribute, operator, value}, a group {conditions, logic} or a negation {not}"}}},
		{name: "bad_value_under_not", json: `{"conditions":[{"attribute":"a","operator":"exists"},{"not":{"attribute":"age","operator":"gt","value":[1]}}]}`, want: []errs.Detail{{Field: "definition_json.conditions[1].not.value", Message: "must be a number, a string or a timestamp for operator gt"}}},
		{name: "between_one_value", json: `{"attribute":"age","operator":"between","value":[1]}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be an array of two numbers or two timestamps, low first, for operator between"}}},
		{name: "between_three_values", json: `{"attribute":"age","operator":"between","value":[1,2,3]}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be an array of two numbers or two timestamps, low first, for operator between"}}},
		{name: "between_not_array", json: `{"attribute":"age","operator":"between","value":5}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be an array of two numbers or two timestamps, low first, for operator between"}}},
		{name: "between_reversed", json: `{"attribute":"age","operator":"between","value":[65,18]}`, want: []errs.Detail{{Field: "definition_json.value", Message: "low 65 is above high 18"}}},
		{name: "between_reversed_times", json: `{"attribute":"created_at","operator":"between","value":["2026-02-01T00:00:00Z","2026-01-01T00:00:00Z"]}`, want: []errs.Detail{{Field: "definition_json.value", Message: "low 2026-02-01T00:00:00Z is after high 2026-01-01T00:00:00Z"}}},
		{name: "between_mixed_types", json: `{"attribute":"age","operator":"between","value":[18,"2026-01-01T00:00:00Z"]}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be two numbers or two timestamps (an RFC 3339 timestamp such as 2026-01-31T00:00:00Z), low first, for operator between"}}},
		{name: "between_strings", json: `{"attribute":"name","operator":"between","value":["a","m"]}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be two numbers or two timestamps (an RFC 3339 timestamp such as 2026-01-31T00:00:00Z), low first, for operator between"}}},
		{name: "between_null", json: `{"attribute":"age","operator":"between","value":[null,3]}`, want: []errs.Detail{{Field: "definition_json.value[0]", Message: "must not be null (use exists or not_exists)"}}},
		{name: "before_date_only", json: `{"attribute":"created_at","operator":"before","value":"2026-01-01"}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be an RFC 3339 timestamp such as 2026-01-31T00:00:00Z for operator before"}}},
		{name: "after_number", json: `{"attribute":"created_at","operator":"after","value":1767225600}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be an RFC 3339 timestamp such as 2026-01-31T00:00:00Z for operator after"}}},
		{name: "after_bad_offset", json: `{"attribute":"created_at","operator":"after","value":"2026-01-01T00:00:00+25:00"}`, want: []errs.Detail{{Field: "definition_json.value", Message: "must be an RFC 3339 timestamp such as 2026-01-31T00:00:00Z for operator after"}}},
		{name: "within_last_number", json: `{"attribute":"last_inbound_at","operator":"within_last","value":30}`, want: []errs.Detail{{Field: "definition_json.value", Message: `must be a duration such as "30d", "12h" or "90m" for operator within_last`}}},
		{name: "within_last_no_unit", json: `{"attribute":"last_inbound_at","operator":"within_last","value":"30"}`, want: []errs.Detail{{Field: "definition_json.value", Message: `duration "30" 30 has no unit (w, d, h or m)`}}},
		{name: "within_last_zero", json: `{"attribute":"last_inbound_at","operator":"within_last","value":"0d"}`, want: []errs.Detail{{Field: "definition_json.value", Message: `duration "0d" must be more than zero`}}},
		{name: "in_too_long", json: `{"attribute":"n","operator":"in","value":[` + strings.Repeat("1,", MaxList) + `1]}`, want: []errs.Detail{{Field: "definition_json.value", Message: "has 1001 values; operator in takes at most 1000"}}},
		{name: "created_at_compared_with_text", json: `{"attribute":"created_at","operator":"gt","value":"yesterday"}`, want: []errs.Detail{{Field: "definition_json.value", Message: "created_at is a timestamp: compare it with an RFC 3339 timestamp such as 2026-01-31T00:00:00Z"}}},
		{name: "last_inbound_at_compared_with_number", json: `{"attribute":"last_inbound_at","operator":"equals","value":5}`, want: []errs.Detail{{Field: "definition_json.value", Message: "last_inbound_at is a timestamp: compare it with an RFC 3339 timestamp such as 2026-01-31T00:00:00Z"}}},
		{name: "created_at_in_list_with_text", json: `{"attribute":"created_at","operator":"in","value":["2026-01-01T00:00:00Z","soon"]}`, want: []errs.Detail{{Field: "definition_json.value[1]", Message: "created_at is a timestamp: compare it with an RFC 3339 timestamp such as 2026-01-31T00:00:00Z"}}},
		{name: "created_at_contains", json: `{"attribute":"created_at","operator":"contains","value":"2026"}`, want: []errs.Detail{{Field: "definition_json.operator", Message: "created_at is a timestamp: compare it with before, after, between, within_last or another order"}}},
		{name: "phone_number_before", json: `{"attribute":"phone_number","operator":"before","value":"2026-01-01T00:00:00Z"}`, want: []errs.Detail{{Field: "definition_json.operator", Message: "phone_number is text: before compares timestamps"}}},
		{name: "phone_country_within_last", json: `{"attribute":"phone_country","operator":"within_last","value":"1d"}`, want: []errs.Detail{{Field: "definition_json.operator", Message: "phone_country is text: within_last compares timestamps"}}},
		{name: "consent_state_number", json: `{"attribute":"consent_state","operator":"equals","value":1}`, want: []errs.Detail{{Field: "definition_json.value", Message: "consent_state is text: give a string"}}},
		{name: "consent_state_unknown", json: `{"attribute":"consent_state","operator":"in","value":["OPT_IN","opted_out"]}`, want: []errs.Detail{{Field: "definition_json.value[1]", Message: `unknown consent state "opted_out" (want OPT_IN, OPT_OUT or STOP)`}}},
		{name: "phone_country_lower_case", json: `{"attribute":"phone_country","operator":"equals","value":"lk"}`, want: []errs.Detail{{Field: "definition_json.value", Message: `"lk" is not a region code (ISO 3166-1 alpha-2 in capitals, such as LK)`}}},
		{name: "phone_country_name", json: `{"conditions":[{"attribute":"a","operator":"exists"},{"not":{"attribute":"phone_country","operator":"not_equals","value":"Sri Lanka"}}]}`, want: []errs.Detail{{Field: "definition_json.conditions[1].not.value", Message: `"Sri Lanka" is not a region code (ISO 3166-1 alpha-2 in capitals, such as LK)`}}},
		{
			name: "not_too_deep",
			json: nest(7, `{"not":{"attribute":"a","operator":"exists"}}`),
			want: []errs.Detail{{Field: "definition_json" + strings.Repeat(".conditions[0]", 7) + ".not", Message: "nests deeper than 8 levels"}},
		},
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
				{Field: "definition_json.conditions[1].conditions[0].operator", Message: `unknown operator "nope" (want one of equals, not_equals, in, not_in, contains, starts_with, gt, gte, lt, lte, between, before, after, within_last, exists, not_exists)`},
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

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		seedColombo, seedMajorCities, ``, `null`, `{}`, `[]`,
		`{"conditions":[{"attribute":"age","operator":"gte","value":18},{"conditions":[{"attribute":"city","operator":"in","value":["Colombo","Kandy"]}],"logic":"OR"}]}`,
		`{"attribute":"a","operator":"exists"}`,
		`{"attribute":"a","operator":"lt","value":-0}`,
		`{"attribute":"a","operator":"equals","value":"<&>\u2028"}`,
		nest(9, `{"attribute":"a","operator":"exists"}`),
		`{"not":{"attribute":"created_at","operator":"within_last","value":"1w2d3h4m"}}`,
		`{"attribute":"age","operator":"between","value":[18,65]}`,
		`{"attribute":"seen","operator":"between","value":["2026-01-01T00:00:00+05:30","2026-12-31T23:59:59.999999999Z"]}`,
		`{"attribute":"seen","operator":"before","value":"2026-01-01T00:00:00Z"}`,
		`{"attribute":"consent_state","operator":"not_in","value":["STOP","OPT_OUT"]}`,
		`{"attribute":"phone_country","operator":"equals","value":"LK"}`,
	} {
		f.Add([]byte(s))
	}
	u := user.User{Phone: "+94771234567", Consent: consent.OptIn, CreatedAt: now.Add(-time.Hour), Attributes: map[string]any{"city": "Colombo", "age": 40, "tags": []any{"a"}, "seen": "2026-03-01T00:00:00Z"}}
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
		_ = d.Match(u, now)
		_ = d.Plan(now)
	})
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
		{name: "not", in: `{ "not" : {"attribute":"a","operator":"exists"}}`, want: `{"not":{"attribute":"a","operator":"exists"}}`},
		{name: "timestamp_keeps_its_offset", in: `{"attribute":"t","operator":"before","value":"2026-01-31T00:00:00.500+05:30"}`, want: `{"attribute":"t","operator":"before","value":"2026-01-31T00:00:00.5+05:30"}`},
		{name: "between", in: `{"attribute":"n","operator":"between","value":[1.5,2]}`, want: `{"attribute":"n","operator":"between","value":[1.5,2]}`},
		{name: "duration_as_written", in: `{"attribute":"t","operator":"within_last","value":"90m"}`, want: `{"attribute":"t","operator":"within_last","value":"90m"}`},
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
