package campaign

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
)

// Every pair of statuses: the moves the issue names are allowed, every
// other is a Conflict that leaves the campaign as it was.
func TestMove(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	allowed := map[[2]Status]bool{
		{Draft, Scheduled}: true, {Draft, Running}: true, {Draft, Cancelled}: true,
		{Scheduled, Draft}: true, {Scheduled, Running}: true, {Scheduled, Cancelled}: true, {Scheduled, Failed}: true,
		{Running, Paused}: true, {Running, Completed}: true, {Running, Cancelled}: true, {Running, Failed}: true,
		{Paused, Running}: true, {Paused, Cancelled}: true, {Paused, Failed}: true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			t.Run(string(from)+"_to_"+string(to), func(t *testing.T) {
				t.Parallel()
				c := valid()
				c.ID, c.Status, c.StatusReason = "c1", from, "before"
				before := c
				err := c.Move(to, "ops@example.com", "why not", now)
				if !allowed[[2]Status{from, to}] {
					if !errs.Is(err, errs.Conflict) {
						t.Fatalf("Move = %v, want a Conflict", err)
					}
					if diff := cmp.Diff(before, c); diff != "" {
						t.Errorf("a refused move changed the campaign (-want, +got):\n%s", diff)
					}
					return
				}
				if err != nil {
					t.Fatalf("Move = %v", err)
				}
				want := before
				want.Status, want.StatusReason, want.UpdatedAt = to, "why not", now
				want.Changes = []Change{{From: from, To: to, By: "ops@example.com", Reason: "why not", At: now}}
				if to.Concluded() { // every final move records the end
					want.EndedAt = &now
				}
				if diff := cmp.Diff(want, c); diff != "" {
					t.Errorf("Move (-want, +got):\n%s", diff)
				}
			})
		}
	}
}

func TestMove_conflict_says_what_is_possible(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from, to Status
		want     string
	}{
		{Draft, Paused, "campaign c1 is DRAFT and cannot become PAUSED (from DRAFT it may become SCHEDULED, RUNNING or CANCELLED)"},
		{Paused, Paused, "campaign c1 is PAUSED and cannot become PAUSED (from PAUSED it may become RUNNING, CANCELLED or FAILED)"},
		{Completed, Running, "campaign c1 is COMPLETED, which is final: it cannot become RUNNING"},
	}
	for _, tc := range cases {
		t.Run(string(tc.from)+"_to_"+string(tc.to), func(t *testing.T) {
			t.Parallel()
			c := Campaign{ID: "c1", Status: tc.from}
			err := c.Move(tc.to, "api-key", "", time.Now())
			if err == nil || err.Error() != tc.want || !errs.Is(err, errs.Conflict) {
				t.Errorf("Move = %v, want a Conflict saying %q", err, tc.want)
			}
		})
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Minute)
	cases := []struct {
		name       string
		from       Status
		scheduled  *time.Time
		at         *time.Time
		wantStatus Status
		wantAt     *time.Time
		wantChange *Change
		wantKind   errs.Kind // 0: no error
	}{
		{name: "draft_scheduled", from: Draft, at: &later, wantStatus: Scheduled, wantAt: &later,
			wantChange: &Change{From: Draft, To: Scheduled, By: "api-key", Reason: "scheduled for 2026-03-10T13:00:00Z", At: now}},
		{name: "rescheduled_without_a_change", from: Scheduled, scheduled: &now, at: &later, wantStatus: Scheduled, wantAt: &later},
		{name: "unscheduled_back_to_draft", from: Scheduled, scheduled: &later, wantStatus: Draft,
			wantChange: &Change{From: Scheduled, To: Draft, By: "api-key", Reason: "schedule removed", At: now}},
		{name: "draft_stays_draft", from: Draft, wantStatus: Draft},
		{name: "past_time_refused", from: Draft, at: &earlier, wantKind: errs.Invalid},
		{name: "now_refused", from: Draft, at: &now, wantKind: errs.Invalid},
		{name: "running_refused", from: Running, at: &later, wantKind: errs.Conflict},
		{name: "paused_refused", from: Paused, wantKind: errs.Conflict},
		{name: "completed_refused", from: Completed, at: &later, wantKind: errs.Conflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			c.Status, c.ScheduleTime = tc.from, tc.scheduled
			err := c.Schedule(tc.at, "api-key", now)
			if tc.wantKind != 0 {
				if !errs.Is(err, tc.wantKind) {
					t.Fatalf("Schedule = %v, want %v", err, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var changes []Change
			if tc.wantChange != nil {
				changes = []Change{*tc.wantChange}
			}
			type got struct {
				Status  Status
				At      *time.Time
				Changes []Change
			}
			if diff := cmp.Diff(got{tc.wantStatus, tc.wantAt, changes}, got{c.Status, c.ScheduleTime, c.Changes}); diff != "" {
				t.Errorf("Schedule (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	cases := []struct {
		name   string
		status Status
		at     *time.Time
		want   bool
	}{
		{"scheduled_past", Scheduled, &past, true},
		{"scheduled_now", Scheduled, &now, true},
		{"scheduled_future", Scheduled, &future, false},
		{"scheduled_without_time", Scheduled, nil, false},
		{"draft_past", Draft, &past, false},
		{"running_past", Running, &past, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Campaign{Status: tc.status, ScheduleTime: tc.at}
			if got := c.Due(now); got != tc.want {
				t.Errorf("Due = %v, want %v", got, tc.want)
			}
		})
	}
}
