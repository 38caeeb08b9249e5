package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/store"
)

// testScanMessages pages a campaign's messages by id, two at a time: every
// message once, in id order, none of another campaign's.
func testScanMessages(t *testing.T, s store.Store) {
	ctx := t.Context()
	var want []message.Message
	for n := range 5 {
		m := newMessage("c1", n)
		mustCreateMessages(t, s, m)
		want = append(want, keptMessage(m))
	}
	mustCreateMessages(t, s, newMessage("c2", 1), newMessage("c10", 2))
	slices.SortFunc(want, func(a, b message.Message) int { return strings.Compare(a.ID, b.ID) })

	var got []message.Message
	var pages []int
	after := ""
	for range 10 {
		page, err := s.ScanMessages(ctx, "c1", after, 2)
		if err != nil {
			t.Fatalf("ScanMessages(after %q): %v", after, err)
		}
		pages = append(pages, len(page))
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ScanMessages pages (-want, +got):\n%s", d)
	}
	if d := diff([]int{2, 2, 1, 0}, pages); d != "" {
		t.Errorf("page sizes (-want, +got):\n%s", d)
	}

	for _, tc := range []struct {
		name, campaign string
		limit          int
	}{
		{"no_campaign", "", 2},
		{"no_limit", "c1", 0},
	} {
		if _, err := s.ScanMessages(ctx, tc.campaign, "", tc.limit); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: ScanMessages error = %v, want Invalid", tc.name, err)
		}
	}
}

// testMessagesTo lists one person's messages across campaigns, newest
// created first, a tie by id descending, none to anyone else.
func testMessagesTo(t *testing.T, s store.Store) {
	ctx := t.Context()
	to := func(campaignID string, minute int) message.Message {
		p := phone(1)
		return message.Message{
			ID: message.ID(campaignID, p), CampaignID: campaignID, Phone: p, Status: message.Sent,
			CreatedAt: at(minute), UpdatedAt: at(minute + 1), SentAt: ptr(at(minute + 1)),
		}
	}
	a, b, c, d := to("ca", 5), to("cb", 1), to("cc", 9), to("cd", 5) // a and d tie
	mustCreateMessages(t, s, a, b, c, d, newMessage("ca", 2), newMessage("cc", 3))
	tied := []message.Message{keptMessage(a), keptMessage(d)}
	slices.SortFunc(tied, func(x, y message.Message) int { return strings.Compare(y.ID, x.ID) })
	all := append(append([]message.Message{keptMessage(c)}, tied...), keptMessage(b))

	tests := []struct {
		name  string
		phone string
		limit int
		want  []message.Message
	}{
		{"all", phone(1), 10, all},
		{"newest_two", phone(1), 2, all[:2]},
		{"nobody", phone(7), 10, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.MessagesTo(ctx, tc.phone, tc.limit)
			if err != nil {
				t.Fatalf("MessagesTo: %v", err)
			}
			if d := diff(tc.want, got); d != "" {
				t.Errorf("MessagesTo (-want, +got):\n%s", d)
			}
		})
	}
	if _, err := s.MessagesTo(ctx, phone(1), 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("MessagesTo(limit 0) error = %v, want Invalid", err)
	}
}

// testMessagesByStatus pages the messages in one status by id, across
// campaigns or within one: every one once, none in another status.
func testMessagesByStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	var all, inC1 []message.Message
	for n := range 6 {
		campaign := []string{"c1", "c2"}[n%2]
		m := newMessage(campaign, n)
		m.Status = message.Reconcile
		mustCreateMessages(t, s, m)
		all = append(all, keptMessage(m))
		if campaign == "c1" {
			inC1 = append(inC1, keptMessage(m))
		}
	}
	other := newMessage("c1", 10)
	other.Status = message.Sending
	mustCreateMessages(t, s, other, newMessage("c1", 11))
	byID := func(a, b message.Message) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(all, byID)
	slices.SortFunc(inC1, byID)

	for _, tc := range []struct {
		name, campaign string
		want           []message.Message
		wantPages      []int
	}{
		{"across_campaigns", "", all, []int{4, 2, 0}},
		{"one_campaign", "c1", inC1, []int{3, 0}},
	} {
		var got []message.Message
		var pages []int
		after := ""
		for range 10 {
			page, err := s.MessagesByStatus(ctx, message.Reconcile, tc.campaign, after, 4)
			if err != nil {
				t.Fatalf("%s: MessagesByStatus(after %q): %v", tc.name, after, err)
			}
			pages = append(pages, len(page))
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].ID
		}
		if d := diff(tc.want, got); d != "" {
			t.Errorf("%s: MessagesByStatus pages (-want, +got):\n%s", tc.name, d)
		}
		if d := diff(tc.wantPages, pages); d != "" {
			t.Errorf("%s: page sizes (-want, +got):\n%s", tc.name, d)
		}
	}
	for _, tc := range []struct {
		campaign string
		want     int
	}{{"", len(all)}, {"c1", len(inC1)}, {"c3", 0}} {
		if n, err := s.CountByStatus(ctx, message.Reconcile, tc.campaign); n != tc.want || err != nil {
			t.Errorf("CountByStatus(RECONCILE, %q) = %d, %v; want %d", tc.campaign, n, err, tc.want)
		}
	}
	if n, err := s.CountByStatus(ctx, message.Sending, "c1"); n != 1 || err != nil {
		t.Errorf("CountByStatus(SENDING, c1) = %d, %v; want 1", n, err)
	}
	if _, err := s.CountByStatus(ctx, "", ""); !errs.Is(err, errs.Invalid) {
		t.Errorf("CountByStatus(no status) error = %v, want Invalid", err)
	}
	if _, err := s.MessagesByStatus(ctx, "", "", "", 1); !errs.Is(err, errs.Invalid) {
		t.Errorf("MessagesByStatus(no status) error = %v, want Invalid", err)
	}
	if _, err := s.MessagesByStatus(ctx, message.Reconcile, "", "", 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("MessagesByStatus(no limit) error = %v, want Invalid", err)
	}
}
