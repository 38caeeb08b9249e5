package importrun_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/importrun"
	"github.com/eventstreamengine/ese/shared/userimport"
)

func TestSweep(t *testing.T) {
	r := newRig(t)
	r.apply()
	ctx := context.Background()
	good := "phone\n+14155550100\n+14155550101\n"

	// A client upload whose URL has not yet expired: left waiting.
	r.job(t, "waiting", "c.csv", "", func(j *userimport.Job) { j.UploadBy = t0.Add(time.Hour) })
	// A client upload that never came.
	r.job(t, "never", "c.csv", "", func(j *userimport.Job) { j.UploadBy = t0.Add(time.Minute) })
	// A stored file whose notification was lost.
	r.job(t, "unread", "c.csv", good, func(j *userimport.Job) { j.UploadBy = t0.Add(time.Minute) })
	// A direct upload whose request died after storing the file.
	r.job(t, "direct", "c.csv", good)
	// A job from before files were kept.
	if err := r.st.CreateImportJob(ctx, userimport.Job{ID: "old", State: userimport.Queued, Batches: 3, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	// A job whose file was deleted before its batches were all applied.
	r.job(t, "gone", "c.csv", "phone\n+14155550109\n")
	if _, err := (&importrun.Runner{Store: r.st, Bucket: r.bucket, Events: memeventsLoser{}, Now: r.run.Now}).Run(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	_ = r.bucket.Delete(ctx, "uploads/gone")
	// A job whose batches were all applied.
	r.job(t, "done", "c.csv", "phone\n+14155550102\n")
	if _, err := r.run.Run(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	// A job one of whose batches was lost on its way: handed on without
	// anyone applying it.
	r.job(t, "lost", "c.csv", "phone\n+14155550103\n")
	unsubscribed := *r.run
	unsubscribed.Events = memeventsLoser{}
	if _, err := unsubscribed.Run(ctx, "lost"); err != nil {
		t.Fatal(err)
	}

	// Nothing is stale yet.
	r.now = t0.Add(time.Minute)
	got, err := r.run.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(importrun.Swept{}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("early sweep (-want +got):\n%s", diff)
	}

	// What monitoring lists as left behind is what the sweep then looks
	// at: all but the upload that may still come.
	leftIDs := func() []string {
		t.Helper()
		left, err := r.run.LeftBehind(ctx, 50)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, j := range left {
			ids = append(ids, j.ID)
		}
		return ids
	}
	if diff := cmp.Diff([]string(nil), leftIDs()); diff != "" {
		t.Errorf("left behind early (-want +got):\n%s", diff)
	}
	r.now = t0.Add(30 * time.Minute)
	if diff := cmp.Diff([]string{"direct", "done", "gone", "lost", "never", "old", "unread"}, leftIDs(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("left behind (-want +got):\n%s", diff)
	}
	got, err = r.run.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := importrun.Swept{Resumed: []string{"direct", "gone", "lost", "unread"}, Completed: []string{"done"}, Failed: []string{"never", "old"}}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("sweep (-want +got):\n%s", diff)
	}
	for id, state := range map[string]userimport.State{
		"waiting": userimport.Receiving, "never": userimport.Failed, "unread": userimport.Completed,
		"direct": userimport.Completed, "done": userimport.Completed, "lost": userimport.Completed,
		"old": userimport.Failed, "gone": userimport.Failed,
	} {
		j, err := r.st.GetImportJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != state {
			t.Errorf("job %s is %s, want %s", id, j.State, state)
		}
	}
	if stored, _ := r.st.PeekImportJob(ctx, "done"); stored.State != userimport.Completed {
		t.Errorf("done job stored as %s, want COMPLETED recorded", stored.State)
	}
}

// memeventsLoser takes every batch and delivers none.
type memeventsLoser struct{}

func (memeventsLoser) Publish(context.Context, string, any) error { return nil }

var _ events.Publisher = memeventsLoser{}
