// Package senderceiling shares a Twilio sender's ceiling (its messages a
// second, TWILIO_SENDER_MPS) among the campaigns sending through it at
// once: each campaign's queue dispatches at its share, not its own rate,
// when together they ask for more than the ceiling.
package senderceiling

import (
	"cmp"
	"slices"
)

// Shares returns the rate each campaign's queue dispatches at, given the
// ceiling (0: none) and the rates the campaigns ask for (each at least 1),
// keyed alike.
//
// When the rates fit under the ceiling, each gets its own. Otherwise each
// gets 1 a second first, so that no campaign is starved, and the rest of
// the ceiling is split in proportion to what each asked beyond that:
// rounded down, then the seconds left over go one each to the largest
// remainders (ties to the lower key), so the shares add up to the ceiling
// exactly and none exceeds its own rate. With more campaigns than the
// ceiling has messages a second, each gets 1 and together they exceed it:
// Cloud Tasks rates here are whole numbers, and a campaign that never
// sends is worse than Twilio queueing the excess for a while.
func Shares(ceiling int, rates map[string]int) map[string]int {
	out := make(map[string]int, len(rates))
	total := 0
	for id, r := range rates {
		out[id] = r
		total += r
	}
	if ceiling <= 0 || total <= ceiling {
		return out
	}
	spare := ceiling - len(rates) // after 1 a second each
	if spare <= 0 {
		for id := range out {
			out[id] = 1
		}
		return out
	}
	asked := total - len(rates) // beyond 1 a second each; > spare here
	type rest struct {
		id  string
		rem int // remainder of the division, in units of 1/asked
	}
	rests := make([]rest, 0, len(rates))
	given := 0
	for id, r := range rates {
		extra := spare * (r - 1) / asked
		out[id] = 1 + extra
		given += extra
		rests = append(rests, rest{id, spare * (r - 1) % asked})
	}
	slices.SortFunc(rests, func(a, b rest) int {
		if c := cmp.Compare(b.rem, a.rem); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	for _, r := range rests[:spare-given] {
		out[r.id]++
	}
	return out
}
