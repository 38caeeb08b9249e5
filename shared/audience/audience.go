// Package audience reads who a segment selects from the store: the store
// filters what it can while reading (segment.Plan), the definition
// decides the rest. Launch reads a large audience in slices of the id
// space side by side; a preview reads it front to back.
package audience

import (
	"context"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
)

// Page is one page of an audience read.
type Page struct {
	Matched []user.User
	Read    int    // users the store handed back, matched or not
	Next    string // where the next page starts; "" after the last
}

// ReadPage reads one page of at most limit users of ids that d may select
// at now, and keeps those it does. after is the Next of the page before
// ("" to start).
func ReadPage(ctx context.Context, users store.Users, d segment.Definition, ids segment.Range, after string, limit int, now time.Time) (Page, error) {
	plan := d.Plan(now)
	us, next, err := users.ScanUsersWhere(ctx, store.UserScan{
		IDs: ids.Intersect(plan.IDs), Filters: plan.Filters, After: after, Limit: limit,
	})
	if err != nil {
		return Page{}, fmt.Errorf("audience.ReadPage: %w", err)
	}
	p := Page{Read: len(us), Next: next}
	// Filtered in place: a launch reads every person of its segment.
	matched := us[:0]
	for _, u := range us {
		if d.Match(u, now) {
			matched = append(matched, u)
		}
	}
	if len(matched) > 0 {
		p.Matched = matched
	}
	return p, nil
}

// Slices splits the ids d may select into at most n ranges holding about
// as many people each (segment.Split, counting with the store); one range
// when they hold at most small people, where splitting would cost more
// than it saves.
func Slices(ctx context.Context, users store.Users, d segment.Definition, n, small int, now time.Time) ([]segment.Range, error) {
	ids := d.Plan(now).IDs
	count := func(ctx context.Context, r segment.Range) (int, error) {
		return users.CountUsers(ctx, store.UserFilter{IDs: r})
	}
	total, err := count(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("audience.Slices: %w", err)
	}
	if total <= small || n <= 1 {
		return []segment.Range{ids}, nil
	}
	rs, err := segment.Split(ctx, ids, n, count)
	if err != nil {
		return nil, fmt.Errorf("audience.Slices: %w", err)
	}
	return rs, nil
}

// Summary is what a preview found.
type Summary struct {
	Matching  int
	ByConsent map[consent.State]int
	Sample    []string // up to SampleSize masked numbers
	Read      int      // users read
	Complete  bool     // false when the read stopped at its cap
}

// SampleSize is how many masked numbers a preview shows.
const SampleSize = 10

// previewPage is how many users one read of a preview asks for.
const previewPage = 500

// Preview reads the audience of d at now, front to back, until it has
// read maxRead users.
func Preview(ctx context.Context, users store.Users, d segment.Definition, maxRead int, now time.Time) (Summary, error) {
	s := Summary{ByConsent: map[consent.State]int{}, Sample: []string{}, Complete: true}
	after := ""
	for {
		if s.Read >= maxRead {
			s.Complete = false
			return s, nil
		}
		p, err := ReadPage(ctx, users, d, segment.Range{}, after, min(previewPage, maxRead-s.Read), now)
		if err != nil {
			return Summary{}, err
		}
		s.Read += p.Read
		for _, u := range p.Matched {
			s.Matching++
			s.ByConsent[u.Consent]++
			if len(s.Sample) < SampleSize {
				s.Sample = append(s.Sample, phone.Mask(u.Phone))
			}
		}
		if p.Next == "" {
			return s, nil
		}
		after = p.Next
	}
}
