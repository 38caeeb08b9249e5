package segment

import (
	"context"
	"fmt"
	"strings"
)

// Range is a span of user ids, which are E.164 phone numbers: From <= id
// < To, where an empty From starts at the first id and an empty To runs
// past the last. The zero Range holds every id.
type Range struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Contains reports whether id is in r.
func (r Range) Contains(id string) bool {
	return id >= r.From && (r.To == "" || id < r.To)
}

// Empty reports whether r holds no id.
func (r Range) Empty() bool { return r.To != "" && r.From >= r.To }

// Intersect is the ids in both r and o.
func (r Range) Intersect(o Range) Range {
	out := r
	if o.From > out.From {
		out.From = o.From
	}
	if o.To != "" && (out.To == "" || o.To < out.To) {
		out.To = o.To
	}
	return out
}

// Split tuning: how finely to cut before grouping, how many cuts that
// divide people to make at most, and how many counts to ask at most.
const (
	splitLeavesPerSlice = 4
	maxSplitCuts        = 32
	maxSplitCounts      = 400
)

// Split divides r into at most n consecutive ranges that together hold
// exactly the ids r holds, each with about as many people, so that n
// workers can read a segment side by side. Firestore's emulator has no
// PartitionQuery, so the id space is cut by digit prefixes: count is
// asked how many people a range holds, the fullest range is cut at the
// next digit of its prefix ("+9" into "+90" … "+99"; past a prefix all its
// ids share, as "+9477" for one mobile network) until every piece is
// small, and consecutive pieces are grouped into n of about equal counts.
// It asks at most about 400 counts, each of an index range.
func Split(ctx context.Context, r Range, n int, count func(context.Context, Range) (int, error)) ([]Range, error) {
	if n <= 1 || r.Empty() {
		return []Range{r}, nil
	}
	total, err := count(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("segment.Split: %w", err)
	}
	if total <= n {
		return []Range{r}, nil
	}
	leaves := []piece{{r: r, prefix: commonPrefix(r), n: total}}
	small := total / (n * splitLeavesPerSlice)
	for cuts, counts := 0, 1; cuts < maxSplitCuts && counts < maxSplitCounts; {
		i := fullest(leaves)
		if i < 0 || leaves[i].n <= small {
			break
		}
		children := leaves[i].cut()
		if children == nil {
			leaves[i].whole = true
			continue
		}
		left, full := leaves[i].n, 0
		for j := range children {
			// The last child, and every child once the others hold the
			// whole count, take the rest without being counted.
			if left <= 0 || j == len(children)-1 {
				children[j].n = max(left, 0)
				left = 0
			} else {
				c, err := count(ctx, children[j].r)
				if err != nil {
					return nil, fmt.Errorf("segment.Split: %w", err)
				}
				counts++
				children[j].n = c
				left -= c
			}
			if children[j].n > 0 {
				full++
			}
		}
		if full > 1 {
			cuts++ // a cut that only found the longer prefix all share is free
		}
		leaves = append(leaves[:i], append(children, leaves[i+1:]...)...)
	}
	return group(leaves, n, total, r), nil
}

// piece is a range being cut, with the prefix its ids share so far.
type piece struct {
	r      Range
	prefix string
	n      int
	whole  bool // cannot be cut further
}

func fullest(ps []piece) int {
	best := -1
	for i, p := range ps {
		if !p.whole && (best < 0 || p.n > ps[best].n) {
			best = i
		}
	}
	return best
}

// maxIDLen bounds how deep a cut looks: E.164 is "+" and at most 15 digits.
const maxIDLen = 16

// cut splits p at prefix+"0" … prefix+"9", the boundaries strictly inside
// it; when none is, the prefix is first lengthened along p.From (all of
// p's ids between From and the next boundary share it). nil when p cannot
// be cut.
func (p piece) cut() []piece {
	prefix := p.prefix
	for len(prefix) <= maxIDLen {
		var bounds []string
		for d := byte('0'); d <= '9'; d++ {
			b := prefix + string(d)
			if b > p.r.From && (p.r.To == "" || b < p.r.To) {
				bounds = append(bounds, b)
			}
		}
		if len(bounds) > 0 {
			out := make([]piece, 0, len(bounds)+1)
			out = append(out, piece{r: Range{From: p.r.From, To: bounds[0]}, prefix: prefix})
			for i, b := range bounds {
				to := p.r.To
				if i+1 < len(bounds) {
					to = bounds[i+1]
				}
				out = append(out, piece{r: Range{From: b, To: to}, prefix: b})
			}
			return out
		}
		if !strings.HasPrefix(p.r.From, prefix) || len(p.r.From) <= len(prefix) {
			return nil
		}
		prefix = p.r.From[:len(prefix)+1]
	}
	return nil
}

// commonPrefix is where cutting r starts: the prefix its bounds share, or
// "+", which every E.164 id starts with.
func commonPrefix(r Range) string {
	if r.From == "" || r.To == "" {
		if strings.HasPrefix(r.From, "+") || r.From == "" {
			return "+"
		}
		return ""
	}
	i := 0
	for i < len(r.From) && i < len(r.To) && r.From[i] == r.To[i] {
		i++
	}
	return r.From[:i]
}

// group joins consecutive pieces into at most n ranges of about total/n
// people each, covering r.
func group(ps []piece, n, total int, r Range) []Range {
	var out []Range
	from, acc, inRange := r.From, 0, 0
	for i, p := range ps {
		acc += p.n
		inRange += p.n
		last := i == len(ps)-1
		// Close the range once it reaches its share of the total, unless
		// it or the rest would hold nobody.
		if !last && len(out) < n-1 && acc*n >= (len(out)+1)*total && inRange > 0 && acc < total {
			out = append(out, Range{From: from, To: p.r.To})
			from, inRange = p.r.To, 0
		}
	}
	return append(out, Range{From: from, To: r.To})
}
