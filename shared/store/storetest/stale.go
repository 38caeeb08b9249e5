package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
)

// What the stranded-message sweep reads and the dashboard counts: a
// campaign's messages waiting for a send since a time, PENDING and QUEUED
// by their last update, DEFERRED by their due time; nothing else.
func testStaleMessages(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := kept(at(10)) // as stored: a message updated at(10) is not before it
	due := func(n int) *time.Time { v := at(n); return &v }
	type row struct {
		status  message.Status
		updated int
		sched   *time.Time
	}
	rows := []row{
		0: {message.Queued, 3, nil},       // stale
		1: {message.Pending, 1, nil},      // stale, the oldest
		2: {message.Queued, 10, nil},      // updated at the bound: not before it
		3: {message.Deferred, 2, due(5)},  // stale: due before
		4: {message.Deferred, 2, due(20)}, // due later
		5: {message.Sending, 1, nil},      // claimed
		6: {message.Sent, 1, nil},         // concluded
		7: {message.Held, 1, nil},         // its campaign is paused
		8: {message.Deferred, 1, due(4)},  // stale, due first
		9: {message.Queued, 12, due(1)},   // queued after its due time: by its update
	}
	var ms []message.Message
	for i, r := range rows {
		m := newMessage("c1", i)
		m.Status, m.UpdatedAt, m.ScheduledAt = r.status, at(r.updated), r.sched
		ms = append(ms, m)
	}
	other := newMessage("c2", 20)
	other.Status = message.Queued
	mustCreateMessages(t, s, append(ms, other)...)

	idsOf := func(got []message.Message) []string {
		var out []string
		for _, m := range got {
			out = append(out, m.ID)
		}
		return out
	}
	all := []string{ms[1].ID, ms[0].ID, ms[8].ID, ms[3].ID}
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{name: "all", limit: 10, want: all},
		{name: "limited_oldest_first", limit: 1, want: all[:1]},
		{name: "limit_spans_both_reads", limit: 3, want: all[:3]},
	}
	for _, tc := range tests {
		got, err := s.StaleMessages(ctx, "c1", before, tc.limit)
		if err != nil {
			t.Fatalf("StaleMessages(%s): %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, idsOf(got)); diff != "" {
			t.Errorf("StaleMessages(%s) (-want, +got):\n%s", tc.name, diff)
		}
	}
	if _, err := s.StaleMessages(ctx, "c1", before, 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("StaleMessages(limit 0) = %v, want Invalid", err)
	}
	for _, tc := range []struct {
		campaign string
		want     int
	}{{"c1", len(all)}, {"c2", 0}, {"none", 0}} {
		before := before
		if tc.campaign == "c2" {
			before = at(0) // c2's message is stale only after at(20)
		}
		if got, err := s.CountStale(ctx, tc.campaign, before); err != nil || got != tc.want {
			t.Errorf("CountStale(%s) = %d, %v; want %d", tc.campaign, got, err, tc.want)
		}
	}
}
