package userimport

import (
	"slices"
	"strconv"
)

// Census is what a first pass over a file learns for the second: how many
// good rows each number has. It costs some 20 bytes a distinct number (a
// million numbers: about 20 MB), against a whole row each for holding rows.
type Census struct {
	counts map[uint64]uint32
}

// Numbers reports how many distinct numbers the census holds.
func (c *Census) Numbers() int {
	if c == nil {
		return 0
	}
	return len(c.counts)
}

// numberKey packs an E.164 number (at most 15 digits, never a leading 0)
// into an integer, so the census holds no strings.
func numberKey(e164 string) uint64 {
	k, _ := strconv.ParseUint(e164[1:], 10, 64)
	return k
}

// merger holds back the rows of numbers the census says repeat, until the
// last of them.
type merger struct {
	counts  map[uint64]uint32
	pending map[uint64]*group
}

type group struct {
	row  Row
	seen uint32
}

// add takes a good row: it returns a row to hand on (ok), or holds it.
// merged says the row returned was merged from several.
func (m *merger) add(row Row) (out Row, ok, merged bool) {
	key := numberKey(row.Phone)
	want := m.counts[key]
	g := m.pending[key]
	if g == nil {
		if want <= 1 {
			return row, true, false
		}
		m.pending[key] = &group{row: row, seen: 1}
		return Row{}, false, false
	}
	g.row.Line = row.Line
	if row.Consent != "" {
		g.row.Consent = row.Consent
	}
	if len(row.Attributes) > 0 && g.row.Attributes == nil {
		g.row.Attributes = make(map[string]any, len(row.Attributes))
	}
	for k, v := range row.Attributes {
		g.row.Attributes[k] = v
	}
	g.seen++
	if g.seen < want {
		return Row{}, false, false
	}
	delete(m.pending, key)
	return g.row, true, true
}

// rest hands out, in file order, the groups whose rows never all came
// (only if the file changed between the passes).
func (m *merger) rest() []Row {
	out := make([]Row, 0, len(m.pending))
	for k, g := range m.pending {
		out = append(out, g.row)
		delete(m.pending, k)
	}
	slices.SortFunc(out, func(a, b Row) int { return a.Line - b.Line })
	return out
}
