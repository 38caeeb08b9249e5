package campaign

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
)

func valid() Campaign {
	return Campaign{Topic: "Welcome Campaign", TemplateID: "t1", SegmentID: "s2", Rate: 2}
}

func TestValidate(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		edit func(*Campaign)
		want []errs.Detail // nil: valid
	}{
		{name: "seed_campaign", edit: func(*Campaign) {}},
		{name: "with_quiet_hours", edit: func(c *Campaign) { c.QuietStart, c.QuietEnd = "22:00", "08:00" }},
		{name: "max_rate", edit: func(c *Campaign) { c.Rate = MaxRate }},
		{name: "min_rate", edit: func(c *Campaign) { c.Rate = 1 }},
		{
			name: "everything_missing",
			edit: func(c *Campaign) { *c = Campaign{} },
			want: []errs.Detail{
				{Field: "topic", Message: "is required"},
				{Field: "template_id", Message: "is required"},
				{Field: "segment_id", Message: "is required"},
				{Field: "rate_limit_per_second", Message: "must be an integer from 1 to 500"},
			},
		},
		{name: "rate_too_high", edit: func(c *Campaign) { c.Rate = MaxRate + 1 }, want: []errs.Detail{{Field: "rate_limit_per_second", Message: "must be an integer from 1 to 500"}}},
		{name: "rate_negative", edit: func(c *Campaign) { c.Rate = -1 }, want: []errs.Detail{{Field: "rate_limit_per_second", Message: "must be an integer from 1 to 500"}}},
		{
			name: "quiet_hours_details_passed_through",
			edit: func(c *Campaign) { c.QuietStart = "22:00" },
			want: []errs.Detail{{Field: "quiet_hours_end", Message: "is required when the other bound is set (HH:MM)"}},
		},
		{
			name: "quiet_hours_bad_format",
			edit: func(c *Campaign) { c.QuietStart, c.QuietEnd = "10pm", "08:00" },
			want: []errs.Detail{{Field: "quiet_hours_start", Message: `must be HH:MM, got "10pm"`}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v %+v", err, errs.DetailsOf(err))
				}
				return
			}
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Validate = %v, want an invalid error", err)
			}
			if diff := cmp.Diff(tc.want, errs.DetailsOf(err)); diff != "" {
				t.Errorf("details (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	c := valid()
	w, err := c.QuietHours()
	if err != nil || !w.IsZero() {
		t.Errorf("no quiet hours: %+v, %v", w, err)
	}
	c.QuietStart, c.QuietEnd = "22:00", "08:00"
	w, err = c.QuietHours()
	if err != nil || w.IsZero() || w.Start != 22*60 || w.End != 8*60 {
		t.Errorf("22:00-08:00: %+v, %v", w, err)
	}
}

func TestTrigger(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

	cases := []struct {
		from     Status
		wantErr  bool
		wantKind errs.Kind
	}{
		{from: Draft},
		{from: Scheduled},
		{from: Running, wantErr: true, wantKind: errs.Conflict},
		{from: Paused, wantErr: true, wantKind: errs.Conflict},
		{from: Completed, wantErr: true, wantKind: errs.Conflict},
		{from: Cancelled, wantErr: true, wantKind: errs.Conflict},
		{from: Failed, wantErr: true, wantKind: errs.Conflict},
	}
	for _, tc := range cases {
		t.Run(string(tc.from), func(t *testing.T) {
			t.Parallel()
			c := valid()
			c.ID, c.Status = "c1", tc.from
			before := c
			err := c.Trigger(now, "api-key", "triggered")
			if tc.wantErr {
				if !errs.Is(err, tc.wantKind) {
					t.Fatalf("Trigger from %s = %v, want %v", tc.from, err, tc.wantKind)
				}
				if diff := cmp.Diff(before, c); diff != "" {
					t.Errorf("a refused Trigger changed the campaign (-want, +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := before
			want.Status, want.StartedAt, want.UpdatedAt, want.StatusReason = Running, &now, now, "triggered"
			want.Changes = []Change{{From: tc.from, To: Running, By: "api-key", Reason: "triggered", At: now}}
			if diff := cmp.Diff(want, c); diff != "" {
				t.Errorf("Trigger (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

	cases := []struct {
		name       string
		status     Status
		fanoutDone bool
		want       bool
	}{
		{name: "running_fanned_out", status: Running, fanoutDone: true, want: true},
		{name: "running_still_fanning_out", status: Running, fanoutDone: false, want: false},
		{name: "paused", status: Paused, fanoutDone: true, want: false},
		{name: "already_completed", status: Completed, fanoutDone: true, want: false},
		{name: "cancelled", status: Cancelled, fanoutDone: true, want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			c.Status, c.FanoutDone = tc.status, tc.fanoutDone
			before := c
			if got := c.Complete(now); got != tc.want {
				t.Fatalf("Complete = %v, want %v", got, tc.want)
			}
			want := before
			if tc.want {
				want.Status, want.CompletedAt, want.UpdatedAt, want.StatusReason = Completed, &now, now, "every message concluded"
				want.EndedAt = &now
				want.Changes = []Change{{From: Running, To: Completed, By: BySystem, Reason: "every message concluded", At: now}}
			}
			if diff := cmp.Diff(want, c); diff != "" {
				t.Errorf("Complete (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestFail(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

	cases := []struct {
		from Status
		want bool
	}{
		{from: Draft}, // nothing can fail before it is scheduled or launched
		{from: Scheduled, want: true},
		{from: Running, want: true},
		{from: Paused, want: true},
		{from: Completed},
		{from: Cancelled},
		{from: Failed},
	}
	for _, tc := range cases {
		t.Run(string(tc.from), func(t *testing.T) {
			t.Parallel()
			c := valid()
			c.Status, c.FailureReason = tc.from, "earlier"
			before := c
			if got := c.Fail(now, "no send queue"); got != tc.want {
				t.Fatalf("Fail from %s = %v, want %v", tc.from, got, tc.want)
			}
			want := before
			if tc.want {
				want.Status, want.FailureReason, want.UpdatedAt, want.StatusReason = Failed, "no send queue", now, "no send queue"
				want.EndedAt = &now // a failed campaign's run ends too
				want.Changes = []Change{{From: tc.from, To: Failed, By: BySystem, Reason: "no send queue", At: now}}
			}
			if diff := cmp.Diff(want, c); diff != "" {
				t.Errorf("Fail (-want, +got):\n%s", diff)
			}
			if tc.want && !c.Status.Concluded() {
				t.Errorf("%s is not concluded after Fail", c.Status)
			}
		})
	}
}
