package campaignrun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

// slicedFixture is a running campaign over 300 people in three countries,
// a third of them opted out, read 10 at a time in up to 4 slices; its
// events are only recorded, so a test delivers them as it likes.
type slicedFixture struct {
	store  *memstore.Store
	events *memevents.Publisher
	runner *campaignrun.Runner
	c      campaign.Campaign
	want   []string // the phones the segment selects, sorted
}

func newSlicedFixture(t *testing.T, definition string) *slicedFixture {
	t.Helper()
	ctx := context.Background()
	f := &slicedFixture{store: memstore.New(), events: memevents.New()}
	f.runner = &campaignrun.Runner{Store: f.store, Events: f.events, Queue: memqueue.New(), Now: func() time.Time { return now }, PageSize: 10, Slices: 4}
	def, err := segment.Parse([]byte(definition))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		p := []string{"+9477%07d", "+1415555%04d", "+4479111%05d"}[i%3]
		u := user.User{Phone: fmt.Sprintf(p, i), Consent: consent.OptIn, CreatedAt: now, Attributes: map[string]any{"n": i}, LastInboundAt: &now}
		if i%3 == 1 {
			u.Consent = consent.OptOut
		}
		if err := f.store.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
		stored, _ := f.store.GetUser(ctx, u.Phone)
		if def.Match(stored, now) {
			f.want = append(f.want, u.Phone)
		}
	}
	slices.Sort(f.want)
	seg, err := f.store.CreateSegment(ctx, segment.Segment{Name: "s", Definition: def})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := f.store.CreateTemplate(ctx, template.Template{Name: "T", Content: "Hi"})
	if err != nil {
		t.Fatal(err)
	}
	f.c, err = f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: tpl.ID, SegmentID: seg.ID, Rate: 5, Status: campaign.Running, StartedAt: &now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// launches returns the launch events published since the n-th.
func (f *slicedFixture) launches(t *testing.T, n int) []events.Launch {
	t.Helper()
	var out []events.Launch
	for _, m := range f.events.Published(events.TopicCampaignLaunch)[n:] {
		var ev events.Launch
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// recipients returns the phones of the campaign's messages, sorted, each
// once however often it was written.
func (f *slicedFixture) recipients(t *testing.T) []string {
	t.Helper()
	ms, err := f.store.ListMessages(context.Background(), store.MessageFilter{CampaignID: f.c.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Phone)
	}
	slices.Sort(out)
	return out
}

// drain delivers every launch event published from the n-th on, in the
// order given by pick (which reorders a round of pending events), until
// none is left.
func (f *slicedFixture) drain(t *testing.T, n int, pick func([]events.Launch) []events.Launch) {
	t.Helper()
	for rounds := 0; ; rounds++ {
		pending := f.launches(t, n)
		if len(pending) == 0 {
			return
		}
		if rounds > 1000 {
			t.Fatal("launch events never stop")
		}
		n += len(pending)
		for _, ev := range pick(pending) {
			if err := f.runner.Launch(context.Background(), ev); err != nil {
				t.Fatalf("Launch(%+v): %v", ev, err)
			}
		}
	}
}

func inOrder(evs []events.Launch) []events.Launch { return evs }

func reversed(evs []events.Launch) []events.Launch {
	out := slices.Clone(evs)
	slices.Reverse(out)
	return out
}

func TestLaunch_reads_a_large_segment_in_slices(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		def  string
		pick func([]events.Launch) []events.Launch
	}{
		{"everyone_in_order", `{"attribute":"n","operator":"exists"}`, inOrder},
		{"everyone_slices_interleaved_backwards", `{"attribute":"n","operator":"exists"}`, reversed},
		{"pushed_down_consent_and_range", `{"conditions":[{"attribute":"consent_state","operator":"equals","value":"OPT_IN"},{"attribute":"n","operator":"between","value":[50,250]}]}`, inOrder},
		{"a_phone_prefix_is_read_alone", `{"attribute":"phone_number","operator":"starts_with","value":"+1415"}`, reversed},
		{"nobody", `{"attribute":"n","operator":"gt","value":1000}`, inOrder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newSlicedFixture(t, tc.def)
			if err := f.runner.Launch(ctx, events.Launch{CampaignID: f.c.ID}); err != nil {
				t.Fatal(err)
			}
			started := f.launches(t, 0)
			c, _ := f.store.GetCampaign(ctx, f.c.ID)
			if len(c.FanoutSlices) < 1 || len(c.FanoutSlices) > 4 || len(started) != len(c.FanoutSlices) {
				t.Fatalf("%d slices recorded, %d handed out; want 1 to 4, one event each", len(c.FanoutSlices), len(started))
			}
			for i, ev := range started {
				if ev.Slice == nil || ev.Slice.Index != i || ev.Slice.IDs != c.FanoutSlices[i] || ev.After != "" {
					t.Errorf("event %d = %+v, want the first page of slice %d %+v", i, ev, i, c.FanoutSlices[i])
				}
			}
			f.drain(t, 0, tc.pick)
			if diff := cmp.Diff(f.want, f.recipients(t)); diff != "" {
				t.Errorf("recipients (-want, +got):\n%s", diff)
			}
			c, _ = f.store.GetCampaign(ctx, f.c.ID)
			if !c.FanoutDone || c.Recipients != len(f.want) || len(c.SlicesDone) != len(c.FanoutSlices) {
				t.Errorf("after the slices: fanout %v, recipients %d, slices read %v of %d; want true, %d, all", c.FanoutDone, c.Recipients, c.SlicesDone, len(c.FanoutSlices), len(f.want))
			}
		})
	}
}

func TestLaunch_large_segment_slices_are_balanced(t *testing.T) {
	t.Parallel()
	f := newSlicedFixture(t, `{"attribute":"n","operator":"exists"}`)
	if err := f.runner.Launch(context.Background(), events.Launch{CampaignID: f.c.ID}); err != nil {
		t.Fatal(err)
	}
	c, _ := f.store.GetCampaign(context.Background(), f.c.ID)
	if len(c.FanoutSlices) != 4 {
		t.Fatalf("slices %v, want 4", c.FanoutSlices)
	}
	for _, r := range c.FanoutSlices {
		n, err := f.store.CountUsers(context.Background(), store.UserFilter{IDs: r})
		if err != nil {
			t.Fatal(err)
		}
		if n > 300/4*3/2 {
			t.Errorf("slice %+v holds %d of 300 people, more than 1.5 times its share", r, n)
		}
	}
}

// Events arrive at least once: a repeated start hands out the slices it
// recorded, a repeated page or a page of a slice already read changes
// nothing, and no one gets two messages.
func TestLaunch_redelivered_events(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSlicedFixture(t, `{"attribute":"n","operator":"exists"}`)
	start := events.Launch{CampaignID: f.c.ID}
	if err := f.runner.Launch(ctx, start); err != nil {
		t.Fatal(err)
	}
	first := f.launches(t, 0)
	before, _ := f.store.GetCampaign(ctx, f.c.ID)
	// Users added between the two starts must not move the slices.
	if err := f.store.CreateUser(ctx, user.User{Phone: "+9477999999", Consent: consent.OptIn, Attributes: map[string]any{"n": 1}}, consent.SourceAPI, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Launch(ctx, start); err != nil {
		t.Fatal(err)
	}
	again := f.launches(t, len(first))
	if diff := cmp.Diff(first, again); diff != "" {
		t.Fatalf("a repeated start handed out other slices (-first, +again):\n%s", diff)
	}
	after, _ := f.store.GetCampaign(ctx, f.c.ID)
	if diff := cmp.Diff(before.FanoutSlices, after.FanoutSlices); diff != "" {
		t.Fatalf("recorded slices changed (-before, +after):\n%s", diff)
	}
	// Slice 0 read twice over, page by page.
	n := len(f.launches(t, 0))
	for range 2 {
		ev := first[0]
		for {
			if err := f.runner.Launch(ctx, ev); err != nil {
				t.Fatal(err)
			}
			next := f.launches(t, n)
			n += len(next)
			if len(next) == 0 {
				break
			}
			ev = next[0]
		}
	}
	c, _ := f.store.GetCampaign(ctx, f.c.ID)
	if diff := cmp.Diff([]int{0}, c.SlicesDone); diff != "" {
		t.Errorf("slices read (-want, +got):\n%s", diff)
	}
	// The other slices, each event delivered twice (duplicates publish
	// the same next page, read once per round).
	n = len(f.launches(t, 0))
	for _, ev := range first[1:] {
		if err := f.runner.Launch(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for rounds := 0; ; rounds++ {
		pending := f.launches(t, n)
		n += len(pending)
		if len(pending) == 0 || rounds > 100 {
			break
		}
		seen := map[string]bool{}
		for _, ev := range pending {
			key := fmt.Sprintf("%d %s", ev.Slice.Index, ev.After)
			if seen[key] {
				continue
			}
			seen[key] = true
			for range 2 {
				if err := f.runner.Launch(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// The repeated start's events, late: every slice is read.
	for _, ev := range again[1:] {
		if err := f.runner.Launch(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	got := f.recipients(t)
	if !slices.Equal(slices.Compact(slices.Clone(got)), got) {
		t.Errorf("someone has two messages: %v", got)
	}
	c, _ = f.store.GetCampaign(ctx, f.c.ID)
	if !c.FanoutDone || c.Recipients != len(got) {
		t.Errorf("fanout %v, recipients %d; want true, %d", c.FanoutDone, c.Recipients, len(got))
	}
}

// An event published before slices (After a phone, no slice) reads on from
// that phone and ends the fan-out.
func TestLaunch_event_from_before_slices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSlicedFixture(t, `{"attribute":"n","operator":"exists"}`)
	from := f.want[100]
	if err := f.runner.Launch(ctx, events.Launch{CampaignID: f.c.ID, After: from}); err != nil {
		t.Fatal(err)
	}
	f.drain(t, 0, inOrder)
	if diff := cmp.Diff(f.want[100:], f.recipients(t)); diff != "" {
		t.Errorf("recipients (-want, +got):\n%s", diff)
	}
	c, _ := f.store.GetCampaign(ctx, f.c.ID)
	if !c.FanoutDone || c.Recipients != len(f.want)-100 {
		t.Errorf("fanout %v, recipients %d; want true, %d", c.FanoutDone, c.Recipients, len(f.want)-100)
	}
}
