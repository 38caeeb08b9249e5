package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
)

// scanUsers creates users 1..12 with attributes of every type a filter
// meets: an age as an integer, a float and text; a city on most; a last
// message on all but 3. Users 7 to 12 live in Matara, aged 7 to 12.
func scanUsers(t *testing.T, s store.Store) {
	t.Helper()
	type p struct {
		consent consent.State
		attrs   map[string]any
		inbound int // minutes after t0; 0 for none
	}
	people := map[int]p{
		1: {consent.OptIn, map[string]any{"city": "Colombo", "age": 40, "vip": true}, 10},
		2: {consent.Stop, map[string]any{"city": "Kandy", "age": 40.0, "vip": false}, 20},
		3: {consent.OptIn, map[string]any{"city": "Colombo", "age": "40"}, 0},
		4: {consent.OptOut, map[string]any{"city": "Galle", "age": 25}, 30},
		5: {consent.OptIn, map[string]any{"age": 65.5}, 40},
		6: {consent.OptIn, map[string]any{"city": "Colombo", "tags": []any{"vip"}}, 50},
	}
	for i := 7; i <= 12; i++ {
		people[i] = p{consent.OptIn, map[string]any{"city": "Matara", "age": i}, 60 + i}
	}
	for _, i := range []int{9, 2, 12, 5, 1, 7, 11, 3, 8, 6, 10, 4} {
		u := user.User{Phone: phone(i), Consent: people[i].consent, Attributes: people[i].attrs, CreatedAt: at(i)}
		if people[i].inbound > 0 {
			u.LastInboundAt = ptr(at(people[i].inbound))
		}
		mustCreateUser(t, s, u)
	}
}

func eq(attr string, v any) segment.Filter {
	return segment.Filter{Attribute: attr, Op: segment.FilterEq, Value: v}
}
func in(attr string, vs ...any) segment.Filter {
	return segment.Filter{Attribute: attr, Op: segment.FilterIn, Value: vs}
}
func gte(attr string, v any) segment.Filter {
	return segment.Filter{Attribute: attr, Op: segment.FilterGte, Value: v}
}
func lte(attr string, v any) segment.Filter {
	return segment.Filter{Attribute: attr, Op: segment.FilterLte, Value: v}
}

// scanAll pages through q with the given limit and returns the users
// read, in the order read.
func scanAll(t *testing.T, s store.Store, q store.UserScan) []user.User {
	t.Helper()
	var out []user.User
	for range 100 {
		page, next, err := s.ScanUsersWhere(t.Context(), q)
		if err != nil {
			t.Fatalf("ScanUsersWhere(%+v): %v", q, err)
		}
		if len(page) > q.Limit {
			t.Fatalf("ScanUsersWhere returned %d users, limit %d", len(page), q.Limit)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		q.After = next
	}
	t.Fatalf("ScanUsersWhere(%+v) still had pages after 100", q)
	return nil
}

func testScanUsersWhere(t *testing.T, s store.Store) {
	scanUsers(t, s)
	cases := []struct {
		name    string
		ids     segment.Range
		filters []segment.Filter
		want    []int
	}{
		{name: "everyone", want: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{name: "id_range", ids: segment.Range{From: phone(3), To: phone(7)}, want: []int{3, 4, 5, 6}},
		{name: "id_range_open_above", ids: segment.Range{From: phone(11)}, want: []int{11, 12}},
		{name: "id_prefix", ids: segment.PrefixRange("+9477000001"), want: []int{10, 11, 12}},
		{name: "consent", filters: []segment.Filter{eq(segment.AttrConsent, "OPT_IN")}, want: []int{1, 3, 5, 6, 7, 8, 9, 10, 11, 12}},
		{name: "consent_in", filters: []segment.Filter{in(segment.AttrConsent, "STOP", "OPT_OUT")}, want: []int{2, 4}},
		{name: "text", filters: []segment.Filter{eq("city", "Colombo")}, want: []int{1, 3, 6}},
		{name: "number_across_integer_and_float", filters: []segment.Filter{eq("age", 40.0)}, want: []int{1, 2}},
		{name: "number_as_integer", filters: []segment.Filter{eq("age", int64(40))}, want: []int{1, 2}},
		{name: "text_is_not_a_number", filters: []segment.Filter{eq("age", "40")}, want: []int{3}},
		{name: "bool", filters: []segment.Filter{eq("vip", true)}, want: []int{1}},
		{name: "bool_false_not_absent", filters: []segment.Filter{eq("vip", false)}, want: []int{2}},
		{name: "a_list_is_not_its_element", filters: []segment.Filter{eq("tags", "vip")}, want: nil},
		{name: "in", filters: []segment.Filter{in("city", "Kandy", "Galle")}, want: []int{2, 4}},
		{name: "consent_and_text", filters: []segment.Filter{eq(segment.AttrConsent, "OPT_IN"), eq("city", "Colombo")}, want: []int{1, 3, 6}},
		{name: "two_attributes", filters: []segment.Filter{eq("city", "Colombo"), eq("age", 40.0)}, want: []int{1}},
		{name: "last_inbound_range", filters: []segment.Filter{gte(segment.AttrLastInboundAt, kept(at(20))), lte(segment.AttrLastInboundAt, kept(at(40)))}, want: []int{2, 4, 5}},
		{name: "last_inbound_range_and_consent", filters: []segment.Filter{eq(segment.AttrConsent, "OPT_IN"), gte(segment.AttrLastInboundAt, kept(at(20))), lte(segment.AttrLastInboundAt, kept(at(40)))}, want: []int{5}},
		{name: "last_inbound_range_and_consent_in", filters: []segment.Filter{in(segment.AttrConsent, "OPT_IN", "STOP"), gte(segment.AttrLastInboundAt, kept(at(10)))}, want: []int{1, 2, 5, 6, 7, 8, 9, 10, 11, 12}},
		{name: "last_inbound_range_and_text", filters: []segment.Filter{gte(segment.AttrLastInboundAt, kept(at(10))), eq("city", "Colombo")}, want: []int{1, 6}},
		{name: "created_at_range", filters: []segment.Filter{gte(segment.AttrCreatedAt, kept(at(5))), lte(segment.AttrCreatedAt, kept(at(8)))}, want: []int{5, 6, 7, 8}},
		{name: "created_at_range_and_consent", filters: []segment.Filter{gte(segment.AttrCreatedAt, kept(at(4))), eq(segment.AttrConsent, "OPT_IN")}, want: []int{5, 6, 7, 8, 9, 10, 11, 12}},
		{name: "attribute_range", filters: []segment.Filter{gte("age", 30)}, want: []int{1, 2, 5}},
		{name: "attribute_range_both_ends", filters: []segment.Filter{gte("age", 8), lte("age", 40.0)}, want: []int{1, 2, 4, 8, 9, 10, 11, 12}},
		{name: "text_range", filters: []segment.Filter{gte("city", "K"), lte("city", "L")}, want: []int{2}},
		{name: "ids_and_filters", ids: segment.Range{From: phone(5)}, filters: []segment.Filter{eq(segment.AttrConsent, "OPT_IN"), eq("city", "Matara")}, want: []int{7, 8, 9, 10, 11, 12}},
		{name: "nobody", filters: []segment.Filter{eq("city", "Nowhere")}, want: nil},
		{name: "empty_id_range", ids: segment.Range{From: phone(5), To: phone(5)}, want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, i := range tc.want {
				want = append(want, phone(i))
			}
			for _, limit := range []int{1, 2, 5, 100} {
				got := scanAll(t, s, store.UserScan{IDs: tc.ids, Filters: tc.filters, Limit: limit})
				var phones []string
				for _, u := range got {
					phones = append(phones, u.Phone)
				}
				slices.Sort(phones)
				if d := diff(want, phones); d != "" {
					t.Errorf("limit %d: users read (-want, +got):\n%s", limit, d)
				}
			}
		})
	}
	t.Run("users_whole_and_not_aliased", func(t *testing.T) {
		page, _, err := s.ScanUsersWhere(t.Context(), store.UserScan{Filters: []segment.Filter{eq("vip", true)}, Limit: 10})
		if err != nil || len(page) != 1 {
			t.Fatalf("ScanUsersWhere = %v, %v; want user 1", page, err)
		}
		stored, err := s.GetUser(t.Context(), phone(1))
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(stored, page[0]); d != "" {
			t.Errorf("scanned user (-GetUser, +scan):\n%s", d)
		}
		page[0].Attributes["city"] = "changed"
		again, _ := s.GetUser(t.Context(), phone(1))
		if again.Attributes["city"] != "Colombo" {
			t.Errorf("changing a scanned user changed the store: city %v", again.Attributes["city"])
		}
	})
}

func testScanUsersWhereInvalid(t *testing.T, s store.Store) {
	scanUsers(t, s)
	many := make([]any, 31)
	for i := range many {
		many[i] = i
	}
	cases := []struct {
		name string
		q    store.UserScan
	}{
		{name: "limit_zero", q: store.UserScan{}},
		{name: "two_ins", q: store.UserScan{Limit: 5, Filters: []segment.Filter{in("city", "a"), in("lang", "b")}}},
		{name: "in_too_long", q: store.UserScan{Limit: 5, Filters: []segment.Filter{in("age", many...)}}},
		{name: "in_empty", q: store.UserScan{Limit: 5, Filters: []segment.Filter{in("age")}}},
		{name: "ranges_on_two_fields", q: store.UserScan{Limit: 5, Filters: []segment.Filter{gte("age", 1), lte(segment.AttrLastInboundAt, kept(at(1)))}}},
		{name: "unknown_operator", q: store.UserScan{Limit: 5, Filters: []segment.Filter{{Attribute: "age", Op: "!=", Value: 1.0}}}},
		{name: "list_value", q: store.UserScan{Limit: 5, Filters: []segment.Filter{eq("tags", []any{"vip"})}}},
		{name: "no_attribute", q: store.UserScan{Limit: 5, Filters: []segment.Filter{eq("", "x")}}},
		{name: "bound_naming_no_user", q: store.UserScan{Limit: 5, IDs: segment.Range{From: "a/b"}}},
		{name: "cursor_not_one", q: store.UserScan{Limit: 5, After: "+94770000001"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := s.ScanUsersWhere(t.Context(), tc.q); !errs.Is(err, errs.Invalid) {
				t.Errorf("ScanUsersWhere(%+v): %v, want kind Invalid", tc.q, err)
			}
		})
	}
	t.Run("cursor_of_another_shape", func(t *testing.T) {
		// A cursor from a scan by phone handed to a scan by a range, or
		// the reverse, is either refused or read as a starting point:
		// never a panic, never an error of another kind.
		plain := store.UserScan{Limit: 1}
		ranged := store.UserScan{Limit: 1, Filters: []segment.Filter{gte(segment.AttrLastInboundAt, kept(at(0)))}}
		for _, pair := range [][2]store.UserScan{{plain, ranged}, {ranged, plain}} {
			_, next, err := s.ScanUsersWhere(t.Context(), pair[0])
			if err != nil || next == "" {
				t.Fatalf("first page: %q, %v", next, err)
			}
			pair[1].After = next
			if _, _, err := s.ScanUsersWhere(t.Context(), pair[1]); err != nil && !errs.Is(err, errs.Invalid) {
				t.Errorf("another shape's cursor: %v, want nil or kind Invalid", err)
			}
		}
	})
}

func testUsersInRange(t *testing.T, s store.Store) {
	us := seedUsers(t, s) // 1, 3, 5 opted in; 2 STOP; 4 OPT_OUT
	ctx := t.Context()
	mid := segment.Range{From: phone(2), To: phone(5)}
	cases := []struct {
		name string
		f    store.UserFilter
		want []int
	}{
		{name: "range", f: store.UserFilter{IDs: mid}, want: []int{2, 3, 4}},
		{name: "range_and_consent", f: store.UserFilter{IDs: mid, Consent: consent.OptIn}, want: []int{3}},
		{name: "open_below", f: store.UserFilter{IDs: segment.Range{To: phone(3)}}, want: []int{1, 2}},
		{name: "open_above", f: store.UserFilter{IDs: segment.Range{From: phone(4)}}, want: []int{4, 5}},
		{name: "between_numbers", f: store.UserFilter{IDs: segment.Range{From: phone(2) + "0", To: phone(3)}}, want: nil},
	}
	t.Run("bound_naming_no_user", func(t *testing.T) {
		bad := store.UserFilter{IDs: segment.Range{From: phone(1), To: "a/b"}}
		if _, err := s.CountUsers(ctx, bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("CountUsers(%+v): %v, want kind Invalid", bad, err)
		}
		if _, _, err := s.ListUsers(ctx, bad, store.Page{Page: 1, PerPage: 10}); !errs.Is(err, errs.Invalid) {
			t.Errorf("ListUsers(%+v): %v, want kind Invalid", bad, err)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.CountUsers(ctx, tc.f)
			if err != nil {
				t.Fatalf("CountUsers: %v", err)
			}
			if n != len(tc.want) {
				t.Errorf("CountUsers(%+v) = %d, want %d", tc.f, n, len(tc.want))
			}
			got, total, err := s.ListUsers(ctx, tc.f, store.Page{Page: 1, PerPage: 10})
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			var want []user.User
			for _, i := range tc.want {
				want = append(want, us[i])
			}
			if d := diff(want, got); d != "" || total != len(tc.want) {
				t.Errorf("ListUsers(%+v) total %d (-want, +got):\n%s", tc.f, total, d)
			}
		})
	}
}

func testUpdateSegment(t *testing.T, s store.Store) {
	ctx := t.Context()
	seg, err := s.CreateSegment(ctx, segment.Segment{Name: "Colombo", Description: "first", Definition: definition(t, `{"attribute":"city","operator":"equals","value":"Colombo"}`), CreatedAt: at(0)})
	if err != nil {
		t.Fatalf("CreateSegment: %v", err)
	}
	next := definition(t, `{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"not":{"attribute":"last_inbound_at","operator":"within_last","value":"7d"}}]}`)
	got, err := s.UpdateSegment(ctx, seg.ID, func(g *segment.Segment) error {
		g.ID = "ignored"
		g.Name, g.Description, g.Definition, g.UpdatedAt = "Colombo, quiet", "", next, at(5).In(lanka)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateSegment: %v", err)
	}
	want := seg
	want.Name, want.Description, want.Definition, want.UpdatedAt = "Colombo, quiet", "", next, kept(at(5))
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateSegment (-want, +got):\n%s", d)
	}
	stored, err := s.GetSegment(ctx, seg.ID)
	if err != nil {
		t.Fatalf("GetSegment: %v", err)
	}
	if d := diff(want, stored); d != "" {
		t.Errorf("GetSegment after the update (-want, +got):\n%s", d)
	}
	checkUTC(t, "UpdateSegment", stored.CreatedAt, stored.UpdatedAt)

	t.Run("unchanged_writes_nothing", func(t *testing.T) {
		got, err := s.UpdateSegment(ctx, seg.ID, func(g *segment.Segment) error {
			g.Name = "not kept"
			return store.Unchanged
		})
		if err != nil || got.Name != "Colombo, quiet" {
			t.Errorf("UpdateSegment(Unchanged) = %q, %v; want the stored segment", got.Name, err)
		}
	})
	t.Run("refusal_returned", func(t *testing.T) {
		refused := errs.E(errs.Conflict, "no")
		_, err := s.UpdateSegment(ctx, seg.ID, func(g *segment.Segment) error {
			g.Name = "not kept"
			return refused
		})
		if !errors.Is(err, refused) {
			t.Errorf("UpdateSegment error = %v, want fn's", err)
		}
		if again, _ := s.GetSegment(ctx, seg.ID); again.Name != "Colombo, quiet" {
			t.Errorf("a refused update wrote %q", again.Name)
		}
	})
	t.Run("unknown_segment", func(t *testing.T) {
		for _, id := range []string{"nope", ""} {
			_, err := s.UpdateSegment(ctx, id, func(*segment.Segment) error { return nil })
			if !errs.Is(err, errs.NotExist) {
				t.Errorf("UpdateSegment(%q): %v, want kind NotExist", id, err)
			}
		}
	})
}
