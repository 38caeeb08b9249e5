package segment

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/user"
)

// person is who TestMatch evaluates: a Sri Lankan number, opted in,
// created a month before now, last heard from two hours before now, with
// attributes of every type an import or Firestore gives.
func person(t testing.TB) user.User {
	inbound := now.Add(-2 * time.Hour)
	return user.User{
		Phone:         "+94771234567",
		Consent:       consent.OptIn,
		CreatedAt:     now.AddDate(0, -1, 0),
		LastInboundAt: &inbound,
		Attributes: map[string]any{
			"city":      "Colombo",
			"age_f":     float64(40),
			"age_i":     40,
			"age_i64":   int64(40),
			"age_u8":    uint8(40),
			"age_s":     "40",
			"age_json":  json.Number("40"),
			"score":     float64(2.5),
			"vip":       true,
			"vip_s":     "true",
			"tags":      []any{"new", "promo", float64(7)},
			"tags_s":    []string{"a", "b"},
			"nothing":   nil,
			"signup":    "2025-11-03",
			"nickname":  "",
			"renewal":   "2026-04-01T09:00:00+05:30",   // a timestamp as text (JSON import)
			"paid_at":   ts(t, "2026-03-01T00:00:00Z"), // a Firestore timestamp
			"address":   map[string]any{"city": "Colombo"},
			"not_a_num": "forty",
		},
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		def  string
		want bool
	}{
		// equals: same type and value
		{name: "equals_string", def: `{"attribute":"city","operator":"equals","value":"Colombo"}`, want: true},
		{name: "equals_case_sensitive", def: `{"attribute":"city","operator":"equals","value":"colombo"}`, want: false},
		{name: "equals_missing", def: `{"attribute":"town","operator":"equals","value":"Colombo"}`, want: false},
		{name: "equals_null", def: `{"attribute":"nothing","operator":"equals","value":"x"}`, want: false},
		{name: "equals_float64", def: `{"attribute":"age_f","operator":"equals","value":40}`, want: true},
		{name: "equals_int", def: `{"attribute":"age_i","operator":"equals","value":40}`, want: true},
		{name: "equals_int64", def: `{"attribute":"age_i64","operator":"equals","value":40.0}`, want: true},
		{name: "equals_uint8", def: `{"attribute":"age_u8","operator":"equals","value":40}`, want: true},
		{name: "equals_json_number", def: `{"attribute":"age_json","operator":"equals","value":40}`, want: true},
		{name: "equals_number_never_matches_numeric_text", def: `{"attribute":"age_s","operator":"equals","value":40}`, want: false},
		{name: "equals_text_never_matches_a_number", def: `{"attribute":"age_i","operator":"equals","value":"40"}`, want: false},
		{name: "equals_bool", def: `{"attribute":"vip","operator":"equals","value":true}`, want: true},
		{name: "equals_bool_false", def: `{"attribute":"vip","operator":"equals","value":false}`, want: false},
		{name: "equals_bool_never_matches_text", def: `{"attribute":"vip_s","operator":"equals","value":true}`, want: false},
		{name: "equals_empty_string", def: `{"attribute":"nickname","operator":"equals","value":""}`, want: true},
		{name: "equals_timestamp_text_same_instant", def: `{"attribute":"renewal","operator":"equals","value":"2026-04-01T03:30:00Z"}`, want: true},
		{name: "equals_firestore_timestamp", def: `{"attribute":"paid_at","operator":"equals","value":"2026-03-01T05:30:00+05:30"}`, want: true},
		{name: "equals_timestamp_vs_plain_text", def: `{"attribute":"city","operator":"equals","value":"2026-03-01T00:00:00Z"}`, want: false},
		{name: "equals_map", def: `{"attribute":"address","operator":"equals","value":"Colombo"}`, want: false},

		// not_equals: the negation, so true across types and when absent
		{name: "not_equals", def: `{"attribute":"city","operator":"not_equals","value":"Kandy"}`, want: true},
		{name: "not_equals_same", def: `{"attribute":"city","operator":"not_equals","value":"Colombo"}`, want: false},
		{name: "not_equals_missing", def: `{"attribute":"town","operator":"not_equals","value":"Kandy"}`, want: true},
		{name: "not_equals_other_type", def: `{"attribute":"age_s","operator":"not_equals","value":40}`, want: true},
		{name: "not_equals_number", def: `{"attribute":"age_i","operator":"not_equals","value":40}`, want: false},

		// in and not_in
		{name: "in", def: `{"attribute":"city","operator":"in","value":["Kandy","Colombo"]}`, want: true},
		{name: "in_numbers", def: `{"attribute":"age_i","operator":"in","value":[30,40]}`, want: true},
		{name: "in_mixed_types", def: `{"attribute":"age_i","operator":"in","value":["40",true]}`, want: false},
		{name: "in_timestamps", def: `{"attribute":"paid_at","operator":"in","value":["2026-02-01T00:00:00Z","2026-03-01T00:00:00Z"]}`, want: true},
		{name: "in_none", def: `{"attribute":"city","operator":"in","value":["Kandy","Galle"]}`, want: false},
		{name: "in_missing", def: `{"attribute":"town","operator":"in","value":["Kandy"]}`, want: false},
		{name: "not_in", def: `{"attribute":"city","operator":"not_in","value":["Kandy","Galle"]}`, want: true},
		{name: "not_in_listed", def: `{"attribute":"city","operator":"not_in","value":["Colombo"]}`, want: false},
		{name: "not_in_missing", def: `{"attribute":"town","operator":"not_in","value":["Colombo"]}`, want: true},

		// contains and starts_with
		{name: "contains_substring", def: `{"attribute":"city","operator":"contains","value":"lom"}`, want: true},
		{name: "contains_substring_case", def: `{"attribute":"city","operator":"contains","value":"LOM"}`, want: false},
		{name: "contains_list_element", def: `{"attribute":"tags","operator":"contains","value":"promo"}`, want: true},
		{name: "contains_list_number", def: `{"attribute":"tags","operator":"contains","value":7}`, want: true},
		{name: "contains_list_number_as_text", def: `{"attribute":"tags","operator":"contains","value":"7"}`, want: false},
		{name: "contains_string_list", def: `{"attribute":"tags_s","operator":"contains","value":"b"}`, want: true},
		{name: "contains_number_in_text", def: `{"attribute":"age_s","operator":"contains","value":4}`, want: false},
		{name: "contains_missing", def: `{"attribute":"town","operator":"contains","value":"a"}`, want: false},
		{name: "starts_with", def: `{"attribute":"city","operator":"starts_with","value":"Col"}`, want: true},
		{name: "starts_with_not", def: `{"attribute":"city","operator":"starts_with","value":"olo"}`, want: false},
		{name: "starts_with_number", def: `{"attribute":"age_i","operator":"starts_with","value":"4"}`, want: false},

		// the orders: numbers numerically, text byte-wise, timestamps as instants
		{name: "gt", def: `{"attribute":"age_i","operator":"gt","value":39}`, want: true},
		{name: "gt_equal", def: `{"attribute":"age_i","operator":"gt","value":40}`, want: false},
		{name: "gte_equal", def: `{"attribute":"age_i64","operator":"gte","value":40}`, want: true},
		{name: "lt_fraction", def: `{"attribute":"score","operator":"lt","value":2.6}`, want: true},
		{name: "lte_equal", def: `{"attribute":"age_f","operator":"lte","value":40}`, want: true},
		{name: "numbers_not_compared_as_text", def: `{"attribute":"age_f","operator":"gt","value":100}`, want: false},
		{name: "gt_number_vs_numeric_text", def: `{"attribute":"age_s","operator":"lte","value":40}`, want: false},
		{name: "gt_text", def: `{"attribute":"signup","operator":"gt","value":"2025-01-01"}`, want: true},
		{name: "gt_text_byte_wise", def: `{"attribute":"city","operator":"gt","value":"colombo"}`, want: false},
		{name: "gt_text_vs_number", def: `{"attribute":"age_i","operator":"gt","value":"1"}`, want: false},
		{name: "gt_non_numeric_text", def: `{"attribute":"not_a_num","operator":"gt","value":1}`, want: false},
		{name: "gt_bool_attribute", def: `{"attribute":"vip","operator":"gt","value":0}`, want: false},
		{name: "gt_missing", def: `{"attribute":"town","operator":"gt","value":1}`, want: false},
		{name: "gt_timestamp_text", def: `{"attribute":"renewal","operator":"gt","value":"2026-04-01T03:29:59Z"}`, want: true},
		{name: "lt_timestamp_text_same_instant", def: `{"attribute":"renewal","operator":"lt","value":"2026-04-01T03:30:00Z"}`, want: false},
		{name: "gte_firestore_timestamp", def: `{"attribute":"paid_at","operator":"gte","value":"2026-03-01T00:00:00Z"}`, want: true},
		{name: "gt_timestamp_vs_date_text", def: `{"attribute":"signup","operator":"gt","value":"2025-01-01T00:00:00Z"}`, want: false},
		{name: "gt_timestamp_vs_number", def: `{"attribute":"age_i","operator":"gt","value":"2025-01-01T00:00:00Z"}`, want: false},

		// between: inclusive at both ends
		{name: "between_inside", def: `{"attribute":"age_i","operator":"between","value":[18,65]}`, want: true},
		{name: "between_low_end", def: `{"attribute":"age_f","operator":"between","value":[40,65]}`, want: true},
		{name: "between_high_end", def: `{"attribute":"age_u8","operator":"between","value":[18,40]}`, want: true},
		{name: "between_below", def: `{"attribute":"score","operator":"between","value":[2.6,3]}`, want: false},
		{name: "between_above", def: `{"attribute":"age_i","operator":"between","value":[18,39.999]}`, want: false},
		{name: "between_numeric_text", def: `{"attribute":"age_s","operator":"between","value":[18,65]}`, want: false},
		{name: "between_missing", def: `{"attribute":"town","operator":"between","value":[18,65]}`, want: false},
		{name: "between_timestamps", def: `{"attribute":"paid_at","operator":"between","value":["2026-02-01T00:00:00Z","2026-03-01T00:00:00Z"]}`, want: true},
		{name: "between_timestamp_text", def: `{"attribute":"renewal","operator":"between","value":["2026-04-01T03:30:00Z","2026-04-02T00:00:00Z"]}`, want: true},
		{name: "between_timestamps_vs_number", def: `{"attribute":"age_i","operator":"between","value":["2026-02-01T00:00:00Z","2026-03-01T00:00:00Z"]}`, want: false},

		// before and after: strict
		{name: "before", def: `{"attribute":"paid_at","operator":"before","value":"2026-03-01T00:00:01Z"}`, want: true},
		{name: "before_same_instant", def: `{"attribute":"paid_at","operator":"before","value":"2026-03-01T00:00:00Z"}`, want: false},
		{name: "after", def: `{"attribute":"renewal","operator":"after","value":"2026-04-01T00:00:00Z"}`, want: true},
		{name: "after_same_instant", def: `{"attribute":"renewal","operator":"after","value":"2026-04-01T09:00:00+05:30"}`, want: false},
		{name: "before_plain_text", def: `{"attribute":"signup","operator":"before","value":"2026-01-01T00:00:00Z"}`, want: false},
		{name: "after_number", def: `{"attribute":"age_i","operator":"after","value":"1970-01-01T00:00:00Z"}`, want: false},
		{name: "after_missing", def: `{"attribute":"town","operator":"after","value":"1970-01-01T00:00:00Z"}`, want: false},

		// within_last: from now minus the span up to now, both included
		{name: "within_last_hours", def: `{"attribute":"last_inbound_at","operator":"within_last","value":"3h"}`, want: true},
		{name: "within_last_exactly", def: `{"attribute":"last_inbound_at","operator":"within_last","value":"120m"}`, want: true},
		{name: "within_last_too_short", def: `{"attribute":"last_inbound_at","operator":"within_last","value":"119m"}`, want: false},
		{name: "within_last_days", def: `{"attribute":"created_at","operator":"within_last","value":"31d"}`, want: true},
		{name: "within_last_days_short", def: `{"attribute":"created_at","operator":"within_last","value":"27d"}`, want: false},
		{name: "within_last_future_is_not_past", def: `{"attribute":"renewal","operator":"within_last","value":"52w"}`, want: false},
		{name: "within_last_text_timestamp", def: `{"attribute":"paid_at","operator":"within_last","value":"3w"}`, want: true},
		{name: "within_last_plain_text", def: `{"attribute":"signup","operator":"within_last","value":"1000w"}`, want: false},

		// exists and not_exists
		{name: "exists", def: `{"attribute":"city","operator":"exists"}`, want: true},
		{name: "exists_null", def: `{"attribute":"nothing","operator":"exists"}`, want: false},
		{name: "exists_empty_string", def: `{"attribute":"nickname","operator":"exists"}`, want: true},
		{name: "exists_map", def: `{"attribute":"address","operator":"exists"}`, want: true},
		{name: "not_exists", def: `{"attribute":"town","operator":"not_exists"}`, want: true},
		{name: "not_exists_null", def: `{"attribute":"nothing","operator":"not_exists"}`, want: true},
		{name: "not_exists_present", def: `{"attribute":"city","operator":"not_exists"}`, want: false},

		// built-in attributes
		{name: "phone_number", def: `{"attribute":"phone_number","operator":"starts_with","value":"+94"}`, want: true},
		{name: "phone_number_equals", def: `{"attribute":"phone_number","operator":"equals","value":"+94771234567"}`, want: true},
		{name: "consent_state", def: `{"attribute":"consent_state","operator":"equals","value":"OPT_IN"}`, want: true},
		{name: "consent_state_in", def: `{"attribute":"consent_state","operator":"in","value":["STOP","OPT_OUT"]}`, want: false},
		{name: "consent_state_not_in", def: `{"attribute":"consent_state","operator":"not_in","value":["STOP","OPT_OUT"]}`, want: true},
		{name: "phone_country", def: `{"attribute":"phone_country","operator":"equals","value":"LK"}`, want: true},
		{name: "phone_country_in", def: `{"attribute":"phone_country","operator":"in","value":["IN","US"]}`, want: false},
		{name: "created_at_before", def: `{"attribute":"created_at","operator":"before","value":"2026-03-01T00:00:00Z"}`, want: true},
		{name: "created_at_between", def: `{"attribute":"created_at","operator":"between","value":["2026-02-15T12:00:00Z","2026-02-15T12:00:00Z"]}`, want: true},
		{name: "last_inbound_at_after", def: `{"attribute":"last_inbound_at","operator":"after","value":"2026-03-15T09:59:59Z"}`, want: true},
		{name: "last_inbound_at_exists", def: `{"attribute":"last_inbound_at","operator":"exists"}`, want: true},

		// groups and negation
		{name: "and_all", def: `{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"age_i","operator":"gte","value":18}]}`, want: true},
		{name: "and_one_fails", def: `{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"age_i","operator":"lt","value":18}],"logic":"AND"}`, want: false},
		{name: "or_one", def: `{"conditions":[{"attribute":"city","operator":"equals","value":"Kandy"},{"attribute":"vip","operator":"equals","value":true}],"logic":"OR"}`, want: true},
		{name: "or_none", def: `{"conditions":[{"attribute":"city","operator":"equals","value":"Kandy"},{"attribute":"vip","operator":"equals","value":false}],"logic":"OR"}`, want: false},
		{name: "nested", def: `{"conditions":[{"attribute":"age_f","operator":"gt","value":30},{"conditions":[{"attribute":"city","operator":"equals","value":"Kandy"},{"attribute":"tags","operator":"contains","value":"new"}],"logic":"OR"}]}`, want: true},
		{name: "not_condition", def: `{"not":{"attribute":"city","operator":"equals","value":"Kandy"}}`, want: true},
		{name: "not_matching_condition", def: `{"not":{"attribute":"city","operator":"equals","value":"Colombo"}}`, want: false},
		{name: "not_of_absent_is_true", def: `{"not":{"attribute":"town","operator":"gt","value":3}}`, want: true},
		{name: "not_of_other_type_is_true", def: `{"not":{"attribute":"age_s","operator":"gt","value":3}}`, want: true},
		{name: "not_group", def: `{"not":{"conditions":[{"attribute":"city","operator":"equals","value":"Kandy"},{"attribute":"vip","operator":"equals","value":true}],"logic":"OR"}}`, want: false},
		{name: "not_not", def: `{"not":{"not":{"attribute":"vip","operator":"equals","value":true}}}`, want: true},
		{name: "not_in_a_group", def: `{"conditions":[{"attribute":"vip","operator":"equals","value":true},{"not":{"attribute":"last_inbound_at","operator":"within_last","value":"1h"}}]}`, want: true},
	}
	u := person(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := mustParse(t, tc.def)
			if got := d.Match(u, now); got != tc.want {
				t.Errorf("Match(%s) = %v, want %v", tc.def, got, tc.want)
			}
		})
	}
}

// Built-ins read the person's fields, which attributes of the same name
// cannot change, and are absent when the person has none.
func TestMatchBuiltins(t *testing.T) {
	t.Parallel()
	inbound := now.Add(-time.Hour)
	shadowing := map[string]any{
		"phone_number": "+1", "consent_state": "STOP", "created_at": "2000-01-01T00:00:00Z",
		"last_inbound_at": "2000-01-01T00:00:00Z", "phone_country": "US",
	}
	cases := []struct {
		name string
		u    user.User
		def  string
		want bool
	}{
		{name: "phone_shadows_attribute", u: user.User{Phone: "+94771234567", Attributes: shadowing}, def: `{"attribute":"phone_number","operator":"equals","value":"+94771234567"}`, want: true},
		{name: "consent_shadows_attribute", u: user.User{Consent: consent.OptIn, Attributes: shadowing}, def: `{"attribute":"consent_state","operator":"equals","value":"OPT_IN"}`, want: true},
		{name: "created_at_shadows_attribute", u: user.User{CreatedAt: now, Attributes: shadowing}, def: `{"attribute":"created_at","operator":"within_last","value":"1m"}`, want: true},
		{name: "last_inbound_shadows_attribute", u: user.User{LastInboundAt: &inbound, Attributes: shadowing}, def: `{"attribute":"last_inbound_at","operator":"within_last","value":"1h"}`, want: true},
		{name: "phone_country_shadows_attribute", u: user.User{Phone: "+94771234567", Attributes: shadowing}, def: `{"attribute":"phone_country","operator":"equals","value":"US"}`, want: false},
		{name: "phone_country_shared_code", u: user.User{Phone: "+16135550123"}, def: `{"attribute":"phone_country","operator":"equals","value":"CA"}`, want: true},
		{name: "phone_country_of_no_region", u: user.User{Phone: "+80012345678"}, def: `{"attribute":"phone_country","operator":"not_exists"}`, want: true},
		{name: "no_last_inbound_is_absent", u: user.User{}, def: `{"attribute":"last_inbound_at","operator":"not_exists"}`, want: true},
		{name: "no_last_inbound_is_not_within", u: user.User{}, def: `{"attribute":"last_inbound_at","operator":"within_last","value":"100w"}`, want: false},
		{name: "no_last_inbound_negated", u: user.User{}, def: `{"not":{"attribute":"last_inbound_at","operator":"within_last","value":"1d"}}`, want: true},
		{name: "zero_created_at_is_absent", u: user.User{}, def: `{"attribute":"created_at","operator":"exists"}`, want: false},
		{name: "no_consent_is_absent", u: user.User{}, def: `{"attribute":"consent_state","operator":"not_in","value":["OPT_IN"]}`, want: true},
		{name: "no_phone_is_absent", u: user.User{}, def: `{"attribute":"phone_number","operator":"exists"}`, want: false},
		{name: "nil_attributes", u: user.User{}, def: `{"attribute":"city","operator":"not_exists"}`, want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := mustParse(t, tc.def).Match(tc.u, now); got != tc.want {
				t.Errorf("Match(%s) = %v, want %v", tc.def, got, tc.want)
			}
		})
	}
}

// Definitions built in code, not parsed, match by the same rules.
func TestMatchUnparsedDefinitions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		def  Definition
		want bool
	}{
		{name: "zero_matches_nobody", def: Definition{}, want: false},
		{name: "empty_group_matches_nobody", def: Definition{Conditions: []Definition{}}, want: false},
		{name: "not_of_zero_matches_everybody", def: Definition{Not: &Definition{}}, want: true},
		{name: "unknown_operator", def: Definition{Attribute: "city", Operator: "like", Value: "Colombo"}, want: false},
		{name: "built_in_code", def: Definition{Attribute: "city", Operator: Equals, Value: "Colombo"}, want: true},
		{name: "int_value_built_in_code", def: Definition{Attribute: "age", Operator: Gte, Value: 18}, want: true},
		{name: "between_wrong_shape", def: Definition{Attribute: "age", Operator: Between, Value: []any{1}}, want: false},
		{name: "before_text_value", def: Definition{Attribute: "age", Operator: Before, Value: "2026-01-01T00:00:00Z"}, want: false},
		{name: "within_last_wrong_type", def: Definition{Attribute: AttrCreatedAt, Operator: WithinLast, Value: time.Hour}, want: false},
	}
	u := user.User{Phone: "+94771234567", Consent: consent.OptIn, CreatedAt: now, Attributes: map[string]any{"city": "Colombo", "age": int64(20)}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.def.Match(u, now); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	d := mustParse(b, `{"conditions":[{"attribute":"consent_state","operator":"equals","value":"OPT_IN"},{"attribute":"age","operator":"gte","value":18},{"conditions":[{"attribute":"city","operator":"in","value":["Kandy","Galle","Colombo"]},{"attribute":"tags","operator":"contains","value":"vip"}],"logic":"OR"}]}`)
	u := user.User{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"city": "Colombo", "age": int64(40), "tags": []any{"new"}, "name": "Arjuna Silva"}}
	b.ReportAllocs()
	for b.Loop() {
		if !d.Match(u, now) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatchSeedColombo(b *testing.B) {
	d := mustParse(b, seedColombo)
	u := user.User{Phone: seedPhoneArjuna, Consent: consent.OptIn, Attributes: seedUsers[seedPhoneArjuna]}
	b.ReportAllocs()
	for b.Loop() {
		if !d.Match(u, now) {
			b.Fatal("no match")
		}
	}
}

// sixConditions is the benchmark's nested segment: opted-in adults of Sri
// Lanka in three cities or tagged vip, not heard from in the last week.
const sixConditions = `{"conditions":[
	{"attribute":"consent_state","operator":"equals","value":"OPT_IN"},
	{"attribute":"age","operator":"between","value":[18,65]},
	{"conditions":[
		{"attribute":"city","operator":"in","value":["Colombo","Kandy","Galle"]},
		{"attribute":"tags","operator":"contains","value":"vip"}
	],"logic":"OR"},
	{"not":{"attribute":"last_inbound_at","operator":"within_last","value":"7d"}},
	{"attribute":"phone_country","operator":"equals","value":"LK"}
],"logic":"AND"}`

// population makes n people as an import leaves them (attributes in
// Firestore's types): mostly Sri Lankan numbers, some Indian and North
// American; a spread of consent states, ages, cities, tags and last
// messages.
func population(n int) []user.User {
	cities := []any{"Colombo", "Kandy", "Galle", "Matara", "Jaffna", "Negombo", "Trincomalee", "Anuradhapura"}
	tags := [][]any{{"new"}, {"vip", "promo"}, {}, {"promo"}}
	states := []consent.State{consent.OptIn, consent.OptIn, consent.OptIn, consent.OptOut, consent.Stop}
	ages := make([]any, 100)
	for i := range ages {
		ages[i] = int64(i)
	}
	us := make([]user.User, n)
	for i := range us {
		var p string
		switch i % 10 {
		case 8:
			p = fmt.Sprintf("+9198%08d", i)
		case 9:
			p = fmt.Sprintf("+1613555%04d", i%10000)
		default:
			p = fmt.Sprintf("+9477%07d", i)
		}
		us[i] = user.User{
			Phone:     p,
			Consent:   states[i%len(states)],
			CreatedAt: now.Add(-time.Duration(i) * time.Minute),
			Attributes: map[string]any{
				"name": "Person", "city": cities[i%len(cities)], "age": ages[i%len(ages)],
				"tags": tags[i%len(tags)], "language": "si",
			},
		}
		if i%3 == 0 {
			t := now.Add(-time.Duration(i%480) * time.Hour)
			us[i].LastInboundAt = &t
		}
	}
	return us
}

// BenchmarkMatch1M evaluates the six-condition nested segment over a
// million people in memory, on one core (GOMAXPROCS=1, the collector
// included): one op is the million.
func BenchmarkMatch1M(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	d := mustParse(b, sixConditions)
	us := population(1_000_000)
	runtime.GC()
	b.ReportAllocs()
	matched := 0
	for b.Loop() {
		matched = 0
		for i := range us {
			if d.Match(us[i], now) {
				matched++
			}
		}
	}
	if matched == 0 || matched == len(us) {
		b.Fatalf("matched %d of %d: the benchmark's segment should split them", matched, len(us))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(us)), "ns/person")
	b.ReportMetric(float64(matched), "matched")
}
