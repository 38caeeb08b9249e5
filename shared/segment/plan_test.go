package segment

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/user"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	cases := []struct {
		name string
		def  string
		want Plan
	}{
		{
			name: "seed_condition",
			def:  seedColombo,
			want: Plan{Filters: []Filter{{Attribute: "city", Op: FilterEq, Value: "Colombo"}}},
		},
		{
			name: "seed_or_group_is_read_whole",
			def:  seedMajorCities,
			want: Plan{},
		},
		{
			name: "equality_on_one_field_plus_consent",
			def:  `{"conditions":[{"attribute":"city","operator":"in","value":["Colombo","Kandy"]},{"attribute":"consent_state","operator":"equals","value":"OPT_IN"}]}`,
			want: Plan{Filters: []Filter{
				{Attribute: AttrConsent, Op: FilterEq, Value: "OPT_IN"},
				{Attribute: "city", Op: FilterIn, Value: []any{"Colombo", "Kandy"}},
			}},
		},
		{
			name: "numbers_and_bools_push",
			def:  `{"conditions":[{"attribute":"age","operator":"equals","value":40},{"attribute":"vip","operator":"equals","value":true}]}`,
			want: Plan{Filters: []Filter{{Attribute: "age", Op: FilterEq, Value: float64(40)}, {Attribute: "vip", Op: FilterEq, Value: true}}},
		},
		{
			name: "timestamps_on_attributes_stay_in_memory",
			def:  `{"conditions":[{"attribute":"renewal","operator":"equals","value":"2026-01-01T00:00:00Z"},{"attribute":"renewal","operator":"in","value":["2026-01-01T00:00:00Z"]}]}`,
			want: Plan{},
		},
		{
			name: "ranges_on_attributes_stay_in_memory",
			def:  `{"conditions":[{"attribute":"age","operator":"gte","value":18},{"attribute":"age","operator":"between","value":[18,65]},{"attribute":"consent_state","operator":"equals","value":"OPT_IN"}]}`,
			want: Plan{Filters: []Filter{{Attribute: AttrConsent, Op: FilterEq, Value: "OPT_IN"}}},
		},
		{
			name: "other_operators_stay_in_memory",
			def:  `{"conditions":[{"attribute":"city","operator":"not_equals","value":"Kandy"},{"attribute":"tags","operator":"contains","value":"vip"},{"attribute":"name","operator":"starts_with","value":"A"},{"attribute":"x","operator":"exists"},{"attribute":"y","operator":"not_in","value":[1]}]}`,
			want: Plan{},
		},
		{
			name: "one_in_only_the_attributes_first",
			def:  `{"conditions":[{"attribute":"consent_state","operator":"in","value":["OPT_IN","OPT_OUT"]},{"attribute":"city","operator":"in","value":["Colombo"]},{"attribute":"lang","operator":"in","value":["si","ta"]},{"attribute":"vip","operator":"equals","value":true}]}`,
			want: Plan{Filters: []Filter{{Attribute: "city", Op: FilterIn, Value: []any{"Colombo"}}, {Attribute: "vip", Op: FilterEq, Value: true}}},
		},
		{
			name: "long_in_lists_stay_in_memory",
			def:  `{"attribute":"n","operator":"in","value":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31]}`,
			want: Plan{},
		},
		{
			name: "consent_not_equals_as_the_states_left",
			def:  `{"attribute":"consent_state","operator":"not_equals","value":"STOP"}`,
			want: Plan{Filters: []Filter{{Attribute: AttrConsent, Op: FilterIn, Value: []any{"OPT_IN", "OPT_OUT"}}}},
		},
		{
			name: "consent_conditions_intersect",
			def:  `{"conditions":[{"attribute":"consent_state","operator":"not_in","value":["STOP"]},{"attribute":"consent_state","operator":"in","value":["STOP","OPT_IN"]}]}`,
			want: Plan{Filters: []Filter{{Attribute: AttrConsent, Op: FilterEq, Value: "OPT_IN"}}},
		},
		{
			name: "consent_any_state_is_no_filter",
			def:  `{"attribute":"consent_state","operator":"in","value":["STOP","OPT_OUT","OPT_IN"]}`,
			want: Plan{},
		},
		{
			name: "range_on_created_at_plus_consent",
			def:  `{"conditions":[{"attribute":"created_at","operator":"after","value":"2026-01-01T00:00:00Z"},{"attribute":"consent_state","operator":"equals","value":"OPT_IN"},{"attribute":"created_at","operator":"lt","value":"2026-02-01T00:00:00Z"}]}`,
			want: Plan{Filters: []Filter{
				{Attribute: AttrConsent, Op: FilterEq, Value: "OPT_IN"},
				{Attribute: AttrCreatedAt, Op: FilterGte, Value: ts(t, "2026-01-01T00:00:00Z")},
				{Attribute: AttrCreatedAt, Op: FilterLte, Value: ts(t, "2026-02-01T00:00:00Z")},
			}},
		},
		{
			name: "within_last_counts_back_from_now",
			def:  `{"attribute":"last_inbound_at","operator":"within_last","value":"30d"}`,
			want: Plan{Filters: []Filter{
				{Attribute: AttrLastInboundAt, Op: FilterGte, Value: now.Add(-30 * day)},
				{Attribute: AttrLastInboundAt, Op: FilterLte, Value: now},
			}},
		},
		{
			name: "narrowest_bounds_win",
			def:  `{"conditions":[{"attribute":"created_at","operator":"between","value":["2026-01-01T00:00:00Z","2026-03-01T00:00:00Z"]},{"attribute":"created_at","operator":"gte","value":"2025-06-01T00:00:00Z"},{"attribute":"created_at","operator":"before","value":"2026-02-01T00:00:00+05:30"}]}`,
			want: Plan{Filters: []Filter{
				{Attribute: AttrCreatedAt, Op: FilterGte, Value: ts(t, "2026-01-01T00:00:00Z")},
				{Attribute: AttrCreatedAt, Op: FilterLte, Value: ts(t, "2026-01-31T18:30:00Z")},
			}},
		},
		{
			name: "equals_on_a_time_is_a_range_widened_to_the_microsecond",
			def:  `{"attribute":"created_at","operator":"equals","value":"2026-01-01T00:00:00.0000005Z"}`,
			want: Plan{Filters: []Filter{
				{Attribute: AttrCreatedAt, Op: FilterGte, Value: ts(t, "2026-01-01T00:00:00Z")},
				{Attribute: AttrCreatedAt, Op: FilterLte, Value: ts(t, "2026-01-01T00:00:00.000001Z")},
			}},
		},
		{
			name: "one_range_field_the_first",
			def:  `{"conditions":[{"attribute":"last_inbound_at","operator":"before","value":"2026-01-01T00:00:00Z"},{"attribute":"created_at","operator":"after","value":"2025-01-01T00:00:00Z"}]}`,
			want: Plan{Filters: []Filter{{Attribute: AttrLastInboundAt, Op: FilterLte, Value: ts(t, "2026-01-01T00:00:00Z")}}},
		},
		{
			name: "attribute_equality_before_a_range",
			def:  `{"conditions":[{"attribute":"created_at","operator":"after","value":"2026-01-01T00:00:00Z"},{"attribute":"city","operator":"equals","value":"Galle"}]}`,
			want: Plan{Filters: []Filter{{Attribute: "city", Op: FilterEq, Value: "Galle"}}},
		},
		{
			name: "phone_prefix_is_an_id_range",
			def:  `{"conditions":[{"attribute":"phone_number","operator":"starts_with","value":"+94"},{"attribute":"phone_number","operator":"starts_with","value":"+9477"}]}`,
			want: Plan{IDs: Range{From: "+9477", To: "+9478"}},
		},
		{
			name: "phone_equals_is_an_id_range",
			def:  `{"attribute":"phone_number","operator":"equals","value":"+94771234567"}`,
			want: Plan{IDs: Range{From: "+94771234567", To: "+94771234568"}},
		},
		{
			name: "phone_prefix_that_names_no_document_stays_open",
			def:  `{"attribute":"phone_number","operator":"starts_with","value":"a/b"}`,
			want: Plan{},
		},
		{
			name: "phone_country_stays_in_memory",
			def:  `{"attribute":"phone_country","operator":"equals","value":"LK"}`,
			want: Plan{},
		},
		{
			name: "nested_ands_flatten",
			def:  `{"conditions":[{"conditions":[{"attribute":"city","operator":"equals","value":"Galle"},{"conditions":[{"attribute":"vip","operator":"equals","value":true}],"logic":"OR"}]}]}`,
			want: Plan{Filters: []Filter{{Attribute: "city", Op: FilterEq, Value: "Galle"}, {Attribute: "vip", Op: FilterEq, Value: true}}},
		},
		{
			name: "nothing_under_or_or_not",
			def:  `{"conditions":[{"not":{"attribute":"city","operator":"equals","value":"Galle"}},{"conditions":[{"attribute":"vip","operator":"equals","value":true},{"attribute":"consent_state","operator":"equals","value":"OPT_IN"}],"logic":"OR"}]}`,
			want: Plan{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := mustParse(t, tc.def).Plan(now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Plan(%s) (-want, +got):\n%s", tc.def, diff)
			}
		})
	}
}

// A plan never refuses anyone the definition matches: over a population,
// everyone matched passes the plan's range and filters (read with
// Firestore's rules, as a store would).
func TestPlanKeepsEveryMatch(t *testing.T) {
	t.Parallel()
	us := population(20_000)
	for _, def := range []string{
		sixConditions,
		`{"conditions":[{"attribute":"city","operator":"in","value":["Colombo","Kandy"]},{"attribute":"consent_state","operator":"not_equals","value":"STOP"}]}`,
		`{"conditions":[{"attribute":"created_at","operator":"within_last","value":"3d"},{"attribute":"consent_state","operator":"equals","value":"OPT_IN"}]}`,
		`{"conditions":[{"attribute":"last_inbound_at","operator":"between","value":["2026-03-01T00:00:00Z","2026-03-10T00:00:00.0000001Z"]},{"attribute":"phone_number","operator":"starts_with","value":"+9477"}]}`,
		`{"conditions":[{"attribute":"age","operator":"equals","value":41},{"attribute":"tags","operator":"contains","value":"vip"}]}`,
	} {
		d := mustParse(t, def)
		p := d.Plan(now)
		matched := 0
		for _, u := range us {
			if !d.Match(u, now) {
				continue
			}
			matched++
			if !p.IDs.Contains(u.Phone) {
				t.Fatalf("plan %+v of %s: range refuses %s, whom the definition matches", p, def, u.Phone)
			}
			for _, f := range p.Filters {
				if !f.passes(u) {
					t.Fatalf("plan of %s: filter %+v refuses %s, whom the definition matches", def, f, u.Phone)
				}
			}
		}
		if matched == 0 {
			t.Errorf("%s matches nobody: the test proves nothing", def)
		}
	}
}

// passes reads a filter as Firestore would, for the test above.
func (f Filter) passes(u user.User) bool {
	var got any
	switch f.Attribute {
	case AttrConsent:
		got = string(u.Consent)
	case AttrCreatedAt:
		got = u.CreatedAt
	case AttrLastInboundAt:
		if u.LastInboundAt == nil {
			return false
		}
		got = *u.LastInboundAt
	default:
		v, ok := u.Attributes[f.Attribute]
		if !ok {
			return false
		}
		got = v
	}
	g := valueOf(got)
	switch f.Op {
	case FilterEq:
		return equal(&g, f.Value)
	case FilterIn:
		return inList(&g, f.Value)
	}
	c, ok := order(&g, f.Value)
	return ok && (f.Op == FilterGte && c >= 0 || f.Op == FilterLte && c <= 0)
}
