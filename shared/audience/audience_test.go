package audience_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/audience"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/user"
)

var now = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// people stores n people: every third opted out, every fourth in Kandy
// (the rest in Colombo), aged by their number.
func people(t *testing.T, n int) *memstore.Store {
	t.Helper()
	st := memstore.New()
	for i := range n {
		u := user.User{Phone: fmt.Sprintf("+9477%07d", i), Consent: consent.OptIn, CreatedAt: now, Attributes: map[string]any{"city": "Colombo", "age": i}}
		if i%3 == 0 {
			u.Consent = consent.OptOut
		}
		if i%4 == 0 {
			u.Attributes["city"] = "Kandy"
		}
		if err := st.CreateUser(context.Background(), u, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func parse(t *testing.T, s string) segment.Definition {
	t.Helper()
	d, err := segment.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// readAll pages through ids, returning how many users the store handed
// back and how many matched.
func readAll(t *testing.T, st store.Users, d segment.Definition, ids segment.Range, limit int) (read, matched int) {
	t.Helper()
	after := ""
	for range 1000 {
		p, err := audience.ReadPage(t.Context(), st, d, ids, after, limit, now)
		if err != nil {
			t.Fatal(err)
		}
		read += p.Read
		matched += len(p.Matched)
		if p.Next == "" {
			return read, matched
		}
		after = p.Next
	}
	t.Fatal("pages never end")
	return 0, 0
}

func TestReadPage(t *testing.T) {
	t.Parallel()
	st := people(t, 120)
	cases := []struct {
		name        string
		def         string
		ids         segment.Range
		wantRead    int
		wantMatched int
	}{
		// The store filters consent and city; the age range is matched here.
		{name: "pushed_down", def: `{"conditions":[{"attribute":"consent_state","operator":"equals","value":"OPT_IN"},{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"age","operator":"lt","value":60}]}`, wantRead: 60, wantMatched: 30},
		// An OR is read whole.
		{name: "or_read_whole", def: `{"conditions":[{"attribute":"city","operator":"equals","value":"Kandy"},{"attribute":"age","operator":"lt","value":3}],"logic":"OR"}`, wantRead: 120, wantMatched: 32},
		{name: "phone_prefix_as_a_range", def: `{"attribute":"phone_number","operator":"starts_with","value":"+947700000"}`, wantRead: 100, wantMatched: 100},
		{name: "within_a_slice", def: `{"attribute":"age","operator":"exists"}`, ids: segment.Range{From: "+94770000010", To: "+94770000020"}, wantRead: 10, wantMatched: 10},
		{name: "slice_and_prefix_intersect", def: `{"attribute":"phone_number","operator":"starts_with","value":"+94770000011"}`, ids: segment.Range{From: "+94770000010", To: "+94770000020"}, wantRead: 1, wantMatched: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, limit := range []int{7, 500} {
				read, matched := readAll(t, st, parse(t, tc.def), tc.ids, limit)
				if read != tc.wantRead || matched != tc.wantMatched {
					t.Errorf("limit %d: read %d, matched %d; want %d, %d", limit, read, matched, tc.wantRead, tc.wantMatched)
				}
			}
		})
	}
}

func TestSlices(t *testing.T) {
	t.Parallel()
	st := people(t, 400)
	everyone := parse(t, `{"attribute":"age","operator":"exists"}`)
	cases := []struct {
		name    string
		def     segment.Definition
		n       int
		small   int
		wantLen int
	}{
		{name: "small_audience_one_slice", def: everyone, n: 4, small: 400, wantLen: 1},
		{name: "large_audience", def: everyone, n: 4, small: 100, wantLen: 4},
		{name: "one_wanted", def: everyone, n: 1, small: 0, wantLen: 1},
		{name: "prefix_counted_alone", def: parse(t, `{"attribute":"phone_number","operator":"starts_with","value":"+947700000"}`), n: 4, small: 100, wantLen: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs, err := audience.Slices(t.Context(), st, tc.def, tc.n, tc.small, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != tc.wantLen {
				t.Errorf("Slices = %v, want %d ranges", rs, tc.wantLen)
			}
			total := 0
			for _, r := range rs {
				n, _ := st.CountUsers(t.Context(), store.UserFilter{IDs: r})
				total += n
			}
			want, _ := st.CountUsers(t.Context(), store.UserFilter{IDs: tc.def.Plan(now).IDs})
			if total != want {
				t.Errorf("slices hold %d people, the plan's range %d", total, want)
			}
		})
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	st := people(t, 1200)
	d := parse(t, `{"attribute":"city","operator":"equals","value":"Kandy"}`)
	cases := []struct {
		name    string
		maxRead int
		want    audience.Summary
	}{
		{
			name: "complete", maxRead: 10_000,
			want: audience.Summary{Matching: 300, ByConsent: map[consent.State]int{consent.OptIn: 200, consent.OptOut: 100}, Read: 300, Complete: true,
				Sample: []string{"+94*****0000", "+94*****0004", "+94*****0008", "+94*****0012", "+94*****0016", "+94*****0020", "+94*****0024", "+94*****0028", "+94*****0032", "+94*****0036"}},
		},
		{
			name: "stopped_at_its_cap", maxRead: 250,
			want: audience.Summary{Matching: 250, ByConsent: map[consent.State]int{consent.OptIn: 166, consent.OptOut: 84}, Read: 250, Complete: false,
				Sample: []string{"+94*****0000", "+94*****0004", "+94*****0008", "+94*****0012", "+94*****0016", "+94*****0020", "+94*****0024", "+94*****0028", "+94*****0032", "+94*****0036"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := audience.Preview(t.Context(), st, d, tc.maxRead, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Preview (-want, +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkReadPages1M reads a million people held in memstore, page by
// page as a launch slice does (500 a page), against a nested segment whose
// consent condition the store filters and whose other five are matched
// here, on one core. One op is the million; memstore copies every user it
// hands back, as a store must.
func BenchmarkReadPages1M(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	st := memstore.New()
	ctx := context.Background()
	cities := []string{"Colombo", "Kandy", "Galle", "Matara"}
	for i := range 1_000_000 {
		u := user.User{Phone: fmt.Sprintf("+9477%07d", i), Consent: consent.OptIn, CreatedAt: now,
			Attributes: map[string]any{"city": cities[i%4], "age": i % 90, "tags": []any{"new"}, "name": "Person"}}
		if i%5 == 0 {
			u.Consent = consent.Stop
		}
		if err := st.CreateUser(ctx, u, consent.SourceImport, ""); err != nil {
			b.Fatal(err)
		}
	}
	d, err := segment.Parse([]byte(`{"conditions":[
		{"attribute":"consent_state","operator":"equals","value":"OPT_IN"},
		{"attribute":"age","operator":"between","value":[18,65]},
		{"conditions":[{"attribute":"city","operator":"in","value":["Colombo","Kandy"]},{"attribute":"tags","operator":"contains","value":"vip"}],"logic":"OR"},
		{"not":{"attribute":"last_inbound_at","operator":"within_last","value":"7d"}},
		{"attribute":"phone_country","operator":"equals","value":"LK"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	matched := 0
	for b.Loop() {
		matched = 0
		after := ""
		for {
			p, err := audience.ReadPage(ctx, st, d, segment.Range{}, after, 500, now)
			if err != nil {
				b.Fatal(err)
			}
			matched += len(p.Matched)
			if p.Next == "" {
				break
			}
			after = p.Next
		}
	}
	b.ReportMetric(float64(matched), "matched")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ns/person")
}
