package segment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		r     Range
		id    string
		want  bool
		empty bool
	}{
		{name: "zero_holds_all", r: Range{}, id: "+94771234567", want: true},
		{name: "from_included", r: Range{From: "+9477"}, id: "+9477", want: true},
		{name: "to_excluded", r: Range{To: "+9478"}, id: "+9478", want: false},
		{name: "inside", r: Range{From: "+9477", To: "+9478"}, id: "+94771234567", want: true},
		{name: "below", r: Range{From: "+9477", To: "+9478"}, id: "+9476999", want: false},
		{name: "empty", r: Range{From: "+95", To: "+94"}, id: "+945", want: false, empty: true},
		{name: "empty_equal", r: Range{From: "+94", To: "+94"}, id: "+94", want: false, empty: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.r.Contains(tc.id); got != tc.want {
				t.Errorf("%+v.Contains(%q) = %v, want %v", tc.r, tc.id, got, tc.want)
			}
			if got := tc.r.Empty(); got != tc.empty {
				t.Errorf("%+v.Empty() = %v, want %v", tc.r, got, tc.empty)
			}
		})
	}
}

func TestRangeIntersect(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		a, b Range
		want Range
	}{
		{name: "with_all", a: Range{From: "+94", To: "+95"}, b: Range{}, want: Range{From: "+94", To: "+95"}},
		{name: "nested", a: Range{From: "+94", To: "+95"}, b: Range{From: "+9477", To: "+9478"}, want: Range{From: "+9477", To: "+9478"}},
		{name: "overlap", a: Range{From: "+1", To: "+5"}, b: Range{From: "+3"}, want: Range{From: "+3", To: "+5"}},
		{name: "disjoint_is_empty", a: Range{From: "+1", To: "+2"}, b: Range{From: "+3", To: "+4"}, want: Range{From: "+3", To: "+2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, tc.a.Intersect(tc.b)); diff != "" {
				t.Errorf("Intersect (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestPrefixRange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		prefix string
		want   Range
	}{
		{prefix: "", want: Range{}},
		{prefix: "+94", want: Range{From: "+94", To: "+95"}},
		{prefix: "+9", want: Range{From: "+9", To: "+:"}},
		{prefix: "a\xff", want: Range{From: "", To: "b"}}, // invalid UTF-8: open below
		{prefix: "\xff\xff", want: Range{}},
		{prefix: "a/b", want: Range{}},                // a slash names no document
		{prefix: "-", want: Range{From: "-", To: ""}}, // "." names no document
		{prefix: "__x", want: Range{From: "__x", To: "__y"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q", tc.prefix), func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, PrefixRange(tc.prefix)); diff != "" {
				t.Errorf("PrefixRange(%q) (-want, +got):\n%s", tc.prefix, diff)
			}
		})
	}
}

// ids is a sorted id space with a counter of the counts asked.
type ids struct {
	sorted []string
	counts int
}

func newIDs(list []string) *ids {
	s := slices.Clone(list)
	sort.Strings(s)
	return &ids{sorted: s}
}

func (x *ids) count(_ context.Context, r Range) (int, error) {
	x.counts++
	lo := sort.SearchStrings(x.sorted, r.From)
	hi := len(x.sorted)
	if r.To != "" {
		hi = sort.SearchStrings(x.sorted, r.To)
	}
	return max(hi-lo, 0), nil
}

func numbers(format string, n, step int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i*step)
	}
	return out
}

func TestSplit(t *testing.T) {
	t.Parallel()
	lk := numbers("+9477%07d", 10_000, 997) // one mobile network
	mixed := append(numbers("+9471%07d", 3000, 3331), numbers("+1415%07d", 3000, 1777)...)
	mixed = append(mixed, numbers("+44791%06d", 2000, 499)...)
	mixed = append(mixed, numbers("+9198%08d", 2000, 49999)...)
	odd := append(numbers("+9477%07d", 2000, 4999), "", "abc", "+", "+9", "zzz", "+94770000000extra")
	cases := []struct {
		name     string
		ids      []string
		r        Range
		n        int
		wantMax  float64 // the fullest range holds at most this share of n equal parts
		wantLen  int     // exact number of ranges, when it is certain
		maxCount int
	}{
		{name: "one_network", ids: lk, n: 8, wantMax: 1.5, wantLen: 8},
		{name: "several_countries", ids: mixed, n: 8, wantMax: 1.5, wantLen: 8},
		{name: "odd_ids_are_covered", ids: odd, n: 4, wantMax: 1.5, wantLen: 4},
		{name: "within_a_prefix", ids: mixed, r: PrefixRange("+1415"), n: 4, wantMax: 1.5, wantLen: 4},
		{name: "one_slice", ids: lk, n: 1, wantLen: 1},
		{name: "fewer_people_than_slices", ids: lk[:5], n: 8, wantLen: 1},
		{name: "nobody", ids: nil, n: 8, wantLen: 1},
		{name: "all_one_number", ids: []string{"+94771234567", "+94771234567", "+94771234567", "+94771234567", "+94771234567", "+94771234567", "+94771234567", "+94771234567", "+94771234567", "+94771234567"}, n: 4, wantLen: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			space := newIDs(tc.ids)
			got, err := Split(t.Context(), tc.r, tc.n, space.count)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantLen > 0 && len(got) != tc.wantLen {
				t.Errorf("Split made %d ranges %v, want %d", len(got), got, tc.wantLen)
			}
			if len(got) > max(tc.n, 1) {
				t.Errorf("Split made %d ranges, more than %d", len(got), tc.n)
			}
			// Consecutive, covering r exactly.
			if got[0].From != tc.r.From || got[len(got)-1].To != tc.r.To {
				t.Errorf("ranges %v do not start and end where %+v does", got, tc.r)
			}
			for i := 1; i < len(got); i++ {
				if got[i].From != got[i-1].To || got[i].Empty() {
					t.Errorf("ranges %d and %d are not consecutive and non-empty: %v", i-1, i, got)
				}
			}
			t.Logf("%d counts", space.counts)
			total, _ := space.count(t.Context(), tc.r)
			sum := 0
			for _, r := range got {
				n, _ := space.count(t.Context(), r)
				sum += n
				if tc.wantMax > 0 && float64(n) > tc.wantMax*float64(total)/float64(tc.n) {
					t.Errorf("range %+v holds %d of %d: more than %.1f× its share", r, n, total, tc.wantMax)
				}
			}
			if sum != total {
				t.Errorf("ranges hold %d ids, r holds %d", sum, total)
			}
			if space.counts > maxSplitCounts+10+1+len(got) { // Split's, then the test's own
				t.Errorf("Split asked %d counts", space.counts)
			}
		})
	}
}

func TestSplitCountError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	calls := 0
	_, err := Split(t.Context(), Range{}, 4, func(context.Context, Range) (int, error) {
		calls++
		if calls == 1 {
			return 1000, nil
		}
		return 0, boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Split error = %v, want the count's", err)
	}
}
