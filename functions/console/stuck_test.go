package console

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/userimport"
)

var tableRows = regexp.MustCompile(`(?s)<tr><td>(.*?)</td></tr>`)

// rowsOf is the text of each body row of the table with id, its cells
// joined by " | ", tags removed.
func rowsOf(t *testing.T, body, id string) []string {
	t.Helper()
	i := strings.Index(body, `<table id="`+id+`">`)
	if i < 0 {
		t.Fatalf("no table %s in the page", id)
	}
	table := body[i:]
	table = table[:strings.Index(table, "</table>")]
	tags := regexp.MustCompile(`<[^>]+>`)
	var out []string
	for _, m := range tableRows.FindAllStringSubmatch(table, -1) {
		cells := strings.Split(m[1], "</td><td")
		for j, c := range cells {
			cells[j] = strings.TrimSpace(tags.ReplaceAllString("<td"+c, ""))
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out
}

// TestMonitoringStuck: monitoring lists the messages the dashboard counts
// as stuck (numbers masked, linked to their campaign), and the imports
// left behind (linked to their report); not those still moving.
func TestMonitoringStuck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	f.s.Now = func() time.Time { return now }
	hourAgo, minuteAgo := now.Add(-time.Hour), now.Add(-time.Minute)

	// A running campaign unmoved for an hour, with a task queue: a
	// message QUEUED an hour ago is stuck; one sent is not.
	stuck, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "Stalled <b>sale</b>", Status: campaign.Running, Rate: 1,
		CreatedAt: hourAgo, UpdatedAt: hourAgo, StartedAt: &hourAgo, QueueCreatedAt: &hourAgo})
	if err != nil {
		t.Fatal(err)
	}
	// A running campaign that moved a minute ago: none of its are stuck.
	moving, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "Moving", Status: campaign.Running, Rate: 1,
		CreatedAt: hourAgo, UpdatedAt: minuteAgo, StartedAt: &hourAgo, QueueCreatedAt: &hourAgo})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(c, ph string, st message.Status, at time.Time) message.Message {
		return message.Message{ID: message.ID(c, ph), CampaignID: c, Phone: ph, Status: st, CreatedAt: at, UpdatedAt: at}
	}
	if _, err := f.store.CreateMessages(ctx, []message.Message{
		msg(stuck.ID, "+94771230001", message.Queued, hourAgo),
		msg(stuck.ID, "+94771230002", message.Sent, hourAgo.Add(-time.Minute)),
		msg(moving.ID, "+94771230003", message.Queued, hourAgo),
	}); err != nil {
		t.Fatal(err)
	}
	// An import publishing since an hour ago is left behind; one written
	// a minute ago, and a finished one, are not.
	for _, j := range []userimport.Job{
		{ID: "job-left", State: userimport.Publishing, Filename: "left.csv", Batches: 3, CreatedAt: hourAgo, UpdatedAt: hourAgo},
		{ID: "job-moving", State: userimport.Publishing, Filename: "moving.csv", CreatedAt: hourAgo, UpdatedAt: minuteAgo},
		{ID: "job-done", State: userimport.Completed, Filename: "done.csv", CreatedAt: hourAgo, UpdatedAt: hourAgo},
	} {
		if err := f.store.CreateImportJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	f.signIn()
	body := bodyOf(t, f.do("GET", "/monitoring", nil))

	tests := []struct {
		name, table string
		want        []string
	}{
		{
			name:  "stuck_messages",
			table: "stuck-messages",
			want:  []string{"Stalled &lt;b&gt;sale&lt;/b&gt; | &#43;94*****0001 | QUEUED | " + when(hourAgo) + " | 1 h 0 min"},
		},
		{
			name:  "imports_left_behind",
			table: "left-imports",
			want:  []string{"left.csv job-left | PUBLISHING | 0 of 3 | " + when(hourAgo) + " | 1 h 0 min"},
		},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, rowsOf(t, body, tc.table)); diff != "" {
			t.Errorf("%s (-want, +got):\n%s", tc.name, diff)
		}
	}
	for _, want := range []string{`<a href="/campaigns/` + stuck.ID + `">`, `<a href="/imports/job-left">`} {
		if !strings.Contains(body, want) {
			t.Errorf("monitoring lacks the link %s", want)
		}
	}
	if strings.Contains(body, "94771230001") {
		t.Error("monitoring shows a stuck message's whole number")
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Second, "under a minute"},
		{42 * time.Minute, "42 min"},
		{3*time.Hour + 5*time.Minute, "3 h 5 min"},
		{52 * time.Hour, "2 d 4 h"},
	} {
		if got := ago(tc.d); got != tc.want {
			t.Errorf("ago(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
