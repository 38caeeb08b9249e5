package campaignrun_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

// Messages a recent sweep gave a task keep their old UpdatedAt, so they
// lead the stale list; a full page of them must not starve the stranded
// messages behind them.
func TestSweepStranded_recently_swept_do_not_starve_the_rest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, q := memstore.New(), memqueue.New()
	long := now.Add(-2 * campaignrun.StrandedAfter)
	c, err := st.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "t1", SegmentID: "s1", Rate: 1, Status: campaign.Running,
		FanoutDone: true, QueueCreatedAt: &long, StartedAt: &long, UpdatedAt: long, CreatedAt: long})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.EnsureQueue(ctx, sendqueue.QueueID(c.ID, 0), 1); err != nil {
		t.Fatal(err)
	}
	recently := now.Add(-time.Minute)
	var ms []message.Message
	for i := range 450 { // more than two pages swept a minute ago, the oldest
		p := fmt.Sprintf("+9477100%04d", i)
		at := long.Add(time.Duration(i) * time.Millisecond)
		ms = append(ms, message.Message{ID: message.ID(c.ID, p), CampaignID: c.ID, Phone: p, Status: message.Queued,
			CreatedAt: at, UpdatedAt: at, QueuedAt: &at, RequeuedAt: &recently, Requeues: 1})
	}
	var stranded []string
	for i := range 3 { // then three stranded, never swept
		p := fmt.Sprintf("+9477200%04d", i)
		at := long.Add(time.Second + time.Duration(i)*time.Millisecond)
		ms = append(ms, message.Message{ID: message.ID(c.ID, p), CampaignID: c.ID, Phone: p, Status: message.Queued, CreatedAt: at, UpdatedAt: at, QueuedAt: &at})
		stranded = append(stranded, message.ID(c.ID, p))
	}
	if _, err := st.CreateMessages(ctx, ms); err != nil {
		t.Fatal(err)
	}
	r := &campaignrun.Runner{Store: st, Queue: q, Now: func() time.Time { return now }}
	if n, err := r.SweepStranded(ctx); n != 3 || err != nil {
		t.Errorf("SweepStranded() = %d, %v; want the 3 stranded behind the swept ones", n, err)
	}
	for _, id := range stranded {
		if m, _ := st.GetMessage(ctx, id); m.RequeuedAt == nil {
			t.Errorf("stranded message %s not given a task", id)
		}
	}
}
