package senderceiling

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestShares(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ceiling int
		rates   map[string]int
		want    map[string]int
	}{
		{name: "no_campaigns", ceiling: 10, rates: map[string]int{}, want: map[string]int{}},
		{name: "no_ceiling", ceiling: 0, rates: map[string]int{"a": 400, "b": 500}, want: map[string]int{"a": 400, "b": 500}},
		{name: "one_under", ceiling: 80, rates: map[string]int{"a": 50}, want: map[string]int{"a": 50}},
		{name: "together_exactly_the_ceiling", ceiling: 80, rates: map[string]int{"a": 50, "b": 30}, want: map[string]int{"a": 50, "b": 30}},
		{name: "one_over_alone_is_held_to_it", ceiling: 80, rates: map[string]int{"a": 100}, want: map[string]int{"a": 80}},
		{name: "even_split", ceiling: 80, rates: map[string]int{"a": 80, "b": 80}, want: map[string]int{"a": 40, "b": 40}},
		// 1 each, then 78 split 79:39: 52.22 and 25.78, the second left over to b.
		{name: "proportional_with_remainders", ceiling: 80, rates: map[string]int{"a": 80, "b": 40}, want: map[string]int{"a": 53, "b": 27}},
		// 1 each, then 7 split evenly three ways: 2 each, one left for the lowest key.
		{name: "tie_goes_to_lower_key", ceiling: 10, rates: map[string]int{"c": 10, "a": 10, "b": 10}, want: map[string]int{"a": 4, "b": 3, "c": 3}},
		// A small campaign beside a large one is not rounded down to nothing.
		{name: "small_beside_large_keeps_one", ceiling: 10, rates: map[string]int{"big": 500, "small": 1}, want: map[string]int{"big": 9, "small": 1}},
		// 1 each, then 98 split 499:4: 97.22 and 0.78.
		{name: "small_beside_large_proportional", ceiling: 100, rates: map[string]int{"big": 500, "small": 5}, want: map[string]int{"big": 98, "small": 2}},
		{name: "as_many_campaigns_as_the_ceiling", ceiling: 3, rates: map[string]int{"a": 5, "b": 5, "c": 5}, want: map[string]int{"a": 1, "b": 1, "c": 1}},
		// More campaigns than messages a second: none starved, the ceiling exceeded.
		{name: "more_campaigns_than_the_ceiling", ceiling: 2, rates: map[string]int{"a": 5, "b": 5, "c": 5}, want: map[string]int{"a": 1, "b": 1, "c": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Shares(tc.ceiling, tc.rates)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Shares(%d, %v) (-want, +got):\n%s", tc.ceiling, tc.rates, diff)
			}
		})
	}
}

// TestSharesBounds checks, over many mixes, that each share is 1 to its
// own rate and that the shares fill the ceiling without passing it when
// every campaign can have 1 a second.
func TestSharesBounds(t *testing.T) {
	t.Parallel()
	for ceiling := 1; ceiling <= 40; ceiling++ {
		for n := 1; n <= 6; n++ {
			rates := map[string]int{}
			total := 0
			for i := range n {
				r := 1 + (i*37+ceiling*11)%50
				rates[string(rune('a'+i))] = r
				total += r
			}
			got := Shares(ceiling, rates)
			sum := 0
			for id, s := range got {
				if s < 1 || s > rates[id] {
					t.Fatalf("Shares(%d, %v)[%s] = %d, want 1 to %d", ceiling, rates, id, s, rates[id])
				}
				sum += s
			}
			if want := min(total, max(ceiling, n)); sum != want {
				t.Fatalf("Shares(%d, %v) add up to %d, want %d", ceiling, rates, sum, want)
			}
		}
	}
}
