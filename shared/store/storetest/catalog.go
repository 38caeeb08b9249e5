package storetest

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/template"
)

// definition reads a segment definition from its JSON form.
func definition(t *testing.T, js string) segment.Definition {
	t.Helper()
	var d segment.Definition
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatalf("segment definition %s: %v", js, err)
	}
	return d
}

// listCase checks one page of a newest-first list against the items
// created, in creation order.
type listCase struct {
	name string
	p    store.Page
	want []int // indexes into the created items
}

var newestFirstCases = []listCase{
	{"first_page", store.Page{Page: 1, PerPage: 2}, []int{2, 1}},
	{"second_page", store.Page{Page: 2, PerPage: 2}, []int{0}},
	{"past_the_end", store.Page{Page: 3, PerPage: 2}, nil},
	{"all", store.Page{Page: 1, PerPage: 10}, []int{2, 1, 0}},
}

// checkList runs newestFirstCases against list.
func checkList[T any](t *testing.T, created []T, list func(store.Page) ([]T, int, error)) {
	t.Helper()
	for _, tc := range newestFirstCases {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := list(tc.p)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			var want []T
			for _, i := range tc.want {
				want = append(want, created[i])
			}
			if d := diff(want, got); d != "" {
				t.Errorf("list (-want, +got):\n%s", d)
			}
			if total != len(created) {
				t.Errorf("total = %d, want %d", total, len(created))
			}
		})
	}
	t.Run("invalid_page", func(t *testing.T) {
		if _, _, err := list(store.Page{Page: 0, PerPage: 2}); !errs.Is(err, errs.Invalid) {
			t.Errorf("list(page 0): %v, want kind Invalid", err)
		}
	})
}

func testSegments(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := []segment.Segment{
		{ID: "ignored", Name: "Colombo", Definition: definition(t, `{"attribute":"city","operator":"equals","value":"Colombo"}`), CreatedAt: at(0).In(lanka), UpdatedAt: at(1)},
		{Name: "Colombo or Kandy", Description: "Both big cities", Definition: definition(t, `{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"city","operator":"equals","value":"Kandy"}],"logic":"OR"}`), CreatedAt: at(2)},
		{Name: "Created now", Definition: definition(t, `{"attribute":"vip","operator":"equals","value":true}`)},
	}
	var created []segment.Segment
	ids := map[string]bool{}
	for i, seg := range in {
		before := time.Now()
		got, err := s.CreateSegment(ctx, seg)
		if err != nil {
			t.Fatalf("CreateSegment %d: %v", i, err)
		}
		if got.ID == "" || got.ID == "ignored" || ids[got.ID] {
			t.Fatalf("CreateSegment %d assigned id %q: want a new, unique id", i, got.ID)
		}
		ids[got.ID] = true
		want := seg
		want.ID = got.ID
		want.CreatedAt, want.UpdatedAt = kept(seg.CreatedAt), kept(seg.UpdatedAt)
		if seg.CreatedAt.IsZero() {
			if got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(time.Now().Add(time.Second)) {
				t.Errorf("CreatedAt = %v, want about now", got.CreatedAt)
			}
			want.CreatedAt = got.CreatedAt
		}
		if want.UpdatedAt.IsZero() {
			want.UpdatedAt = want.CreatedAt
		}
		if d := diff(want, got); d != "" {
			t.Errorf("CreateSegment %d (-want, +got):\n%s", i, d)
		}
		stored, err := s.GetSegment(ctx, got.ID)
		if err != nil {
			t.Fatalf("GetSegment: %v", err)
		}
		if d := diff(want, stored); d != "" {
			t.Errorf("GetSegment %d (-want, +got):\n%s", i, d)
		}
		checkUTC(t, "GetSegment", stored.CreatedAt, stored.UpdatedAt)
		created = append(created, stored)
	}
	for _, id := range []string{"nope", ""} {
		if _, err := s.GetSegment(ctx, id); !errs.Is(err, errs.NotExist) {
			t.Errorf("GetSegment(%q): %v, want kind NotExist", id, err)
		}
	}
	checkList(t, created, func(p store.Page) ([]segment.Segment, int, error) { return s.ListSegments(ctx, p) })
}

func testTemplates(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := []template.Template{
		{Name: "welcome", Content: "Hi {first_name}!", Variables: []string{"first_name"}, CreatedAt: at(0)},
		{
			Name: "offer", Content: "{first_name}, 10% off in {city}", Variables: []string{"first_name", "city"}, CreatedAt: at(1).In(lanka), UpdatedAt: at(2),
			// Sent as Twilio's approved template, in two more languages.
			ContentSID: "HX0123456789abcdef0123456789abcdef", ContentVariables: map[string]string{"1": "first_name", "2": "city|your city"},
			Category: template.Marketing, Locales: map[string]template.Locale{
				"si":    {Content: "{first_name}, {city} 10%", ContentSID: "HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
				"pt-br": {Content: "{first_name}, 10% em {city}", ContentSID: "HXbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
			},
		},
		{Name: "plain", Content: "No placeholders", CreatedAt: at(3)},
	}
	var created []template.Template
	for i, tpl := range in {
		got, err := s.CreateTemplate(ctx, tpl)
		if err != nil {
			t.Fatalf("CreateTemplate %d: %v", i, err)
		}
		if got.ID == "" {
			t.Fatalf("CreateTemplate %d assigned no id", i)
		}
		want := tpl
		want.ID, want.Variables = got.ID, slices.Clone(tpl.Variables)
		want.ContentVariables, want.Locales = maps.Clone(tpl.ContentVariables), maps.Clone(tpl.Locales)
		want.CreatedAt, want.UpdatedAt = kept(tpl.CreatedAt), kept(tpl.UpdatedAt)
		if want.UpdatedAt.IsZero() {
			want.UpdatedAt = want.CreatedAt
		}
		if d := diff(want, got); d != "" {
			t.Errorf("CreateTemplate %d (-want, +got):\n%s", i, d)
		}
		if len(tpl.Variables) > 0 { // the store keeps copies of its own
			tpl.Variables[0], got.Variables[0] = "aliased", "aliased too"
		}
		if len(tpl.ContentVariables) > 0 {
			tpl.ContentVariables["1"], got.ContentVariables["1"] = "aliased", "aliased too"
			tpl.Locales["si"], got.Locales["si"] = template.Locale{Content: "aliased"}, template.Locale{Content: "aliased too"}
		}
		stored, err := s.GetTemplate(ctx, got.ID)
		if err != nil {
			t.Fatalf("GetTemplate: %v", err)
		}
		if d := diff(want, stored); d != "" {
			t.Errorf("GetTemplate %d (-want, +got):\n%s", i, d)
		}
		created = append(created, stored)
	}
	if _, err := s.GetTemplate(ctx, "nope"); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetTemplate(unknown): %v, want kind NotExist", err)
	}
	checkList(t, created, func(p store.Page) ([]template.Template, int, error) { return s.ListTemplates(ctx, p) })
}

// UpdateTemplate replaces what fn sets, keeps the id, refuses with fn's
// error, and changes nothing on Unchanged; an unknown id is NotExist.
func testUpdateTemplate(t *testing.T, s store.Store) {
	ctx := t.Context()
	tpl, err := s.CreateTemplate(ctx, template.Template{Name: "welcome", Content: "Hi {name}", Variables: []string{"name"}, CreatedAt: at(0)})
	if err != nil {
		t.Fatal(err)
	}
	edited := template.Template{
		ID: tpl.ID, Name: "welcome v2", Content: "Hi {name|there}", Variables: []string{"name"}, CreatedAt: kept(at(0)), UpdatedAt: kept(at(5)),
		ContentSID: "HX0123456789abcdef0123456789abcdef", ContentVariables: map[string]string{"1": "name|there"}, Category: template.Utility,
		Locales: map[string]template.Locale{"ta": {Content: "வணக்கம் {name}", ContentSID: "HXcccccccccccccccccccccccccccccccc"}},
	}
	got, err := s.UpdateTemplate(ctx, tpl.ID, func(cur *template.Template) error {
		if d := diff(tpl, *cur); d != "" {
			t.Errorf("UpdateTemplate's fn sees (-want, +got):\n%s", d)
		}
		next := edited
		next.ID = "ignored" // the id is the document's
		next.UpdatedAt = at(5).In(lanka)
		*cur = next
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateTemplate: %v", err)
	}
	if d := diff(edited, got); d != "" {
		t.Errorf("UpdateTemplate (-want, +got):\n%s", d)
	}
	stored, err := s.GetTemplate(ctx, tpl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(edited, stored); d != "" {
		t.Errorf("GetTemplate after update (-want, +got):\n%s", d)
	}
	checkUTC(t, "GetTemplate", stored.CreatedAt, stored.UpdatedAt)

	refused := errs.E(errs.Conflict, "no")
	if _, err := s.UpdateTemplate(ctx, tpl.ID, func(cur *template.Template) error { cur.Name = "half"; return refused }); !errors.Is(err, refused) {
		t.Errorf("UpdateTemplate refused: %v, want fn's error", err)
	}
	same, err := s.UpdateTemplate(ctx, tpl.ID, func(cur *template.Template) error { cur.Name = "half"; return store.Unchanged })
	if err != nil {
		t.Fatalf("UpdateTemplate unchanged: %v", err)
	}
	if d := diff(edited, same); d != "" {
		t.Errorf("UpdateTemplate unchanged (-want, +got):\n%s", d)
	}
	if stored, _ := s.GetTemplate(ctx, tpl.ID); stored.Name != edited.Name {
		t.Errorf("after a refused and an unchanged update the name is %q, want %q", stored.Name, edited.Name)
	}
	for _, id := range []string{"nope", ""} {
		if _, err := s.UpdateTemplate(ctx, id, func(*template.Template) error { return nil }); !errs.Is(err, errs.NotExist) {
			t.Errorf("UpdateTemplate(%q): %v, want kind NotExist", id, err)
		}
	}
}

func newCampaign(n int) campaign.Campaign {
	return campaign.Campaign{
		Topic: "spring sale", TemplateID: "tpl-1", SegmentID: "seg-1", Rate: 10 * (n + 1),
		QuietStart: "21:00", QuietEnd: "08:00", Status: campaign.Draft, CreatedAt: at(n),
	}
}

func mustCreateCampaign(t *testing.T, s store.Store, c campaign.Campaign) campaign.Campaign {
	t.Helper()
	got, err := s.CreateCampaign(t.Context(), c)
	if err != nil {
		t.Fatalf("CreateCampaign: %v", err)
	}
	return got
}

func testCampaigns(t *testing.T, s store.Store) {
	ctx := t.Context()
	started := at(5).In(lanka)
	in := []campaign.Campaign{newCampaign(0), newCampaign(1), newCampaign(2)}
	in[1].Status, in[1].StartedAt, in[1].Recipients, in[1].FanoutDone = campaign.Running, &started, 120, true
	var created []campaign.Campaign
	for i, c := range in {
		got := mustCreateCampaign(t, s, c)
		if got.ID == "" {
			t.Fatalf("CreateCampaign %d assigned no id", i)
		}
		want := c
		want.ID = got.ID
		want.CreatedAt, want.UpdatedAt = kept(c.CreatedAt), kept(c.CreatedAt)
		if c.StartedAt != nil {
			want.StartedAt = keptPtr(*c.StartedAt)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("CreateCampaign %d (-want, +got):\n%s", i, d)
		}
		stored, err := s.GetCampaign(ctx, got.ID)
		if err != nil {
			t.Fatalf("GetCampaign: %v", err)
		}
		if d := diff(want, stored); d != "" {
			t.Errorf("GetCampaign %d (-want, +got):\n%s", i, d)
		}
		if stored.StartedAt != nil {
			checkUTC(t, "GetCampaign", *stored.StartedAt)
		}
		created = append(created, stored)
	}
	for st, want := range map[campaign.Status]int{"": 3, campaign.Running: 1, campaign.Draft: 2, campaign.Completed: 0} {
		if got, err := s.CountCampaigns(ctx, st); err != nil || got != want {
			t.Errorf("CountCampaigns(%q) = %d, %v; want %d", st, got, err, want)
		}
	}
	if _, err := s.GetCampaign(ctx, "nope"); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetCampaign(unknown): %v, want kind NotExist", err)
	}
	checkList(t, created, func(p store.Page) ([]campaign.Campaign, int, error) { return s.ListCampaigns(ctx, p) })
}

func testUpdateCampaign(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateCampaign(t, s, newCampaign(0))

	t.Run("applies", func(t *testing.T) {
		got, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
			c.ID = "renamed" // ids are not the function's to change
			return c.Trigger(at(1), "api-key", "triggered")
		})
		if err != nil {
			t.Fatalf("UpdateCampaign: %v", err)
		}
		want := c
		want.Status, want.StartedAt, want.UpdatedAt, want.StatusReason = campaign.Running, keptPtr(at(1)), kept(at(1)), "triggered"
		if d := diff(want, got); d != "" {
			t.Errorf("UpdateCampaign (-want, +got):\n%s", d)
		}
		stored, err := s.GetCampaign(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetCampaign: %v", err)
		}
		if d := diff(want, stored); d != "" {
			t.Errorf("GetCampaign (-want, +got):\n%s", d)
		}
		c = stored
	})

	t.Run("queue_and_failure_kept", func(t *testing.T) {
		// Lanka time on the way in: the store keeps UTC.
		created, released := at(2).In(lanka), at(3).In(lanka)
		got, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
			c.QueueGeneration, c.QueueCreatedAt, c.QueueReleasedAt = 2, &created, &released
			c.FanoutSlices = []segment.Range{{To: "+9477"}, {From: "+9477", To: "+948"}, {From: "+948"}}
			c.SlicesDone = []int{2, 0}
			if !c.Fail(at(3), "its send queue could not be created") {
				t.Error("Fail refused a running campaign")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateCampaign: %v", err)
		}
		want := c
		want.Status, want.FailureReason, want.UpdatedAt = campaign.Failed, "its send queue could not be created", kept(at(3))
		want.StatusReason = want.FailureReason
		want.QueueGeneration, want.QueueCreatedAt, want.QueueReleasedAt = 2, keptPtr(at(2)), keptPtr(at(3))
		want.EndedAt = keptPtr(at(3)) // a final move records the end
		want.FanoutSlices = []segment.Range{{To: "+9477"}, {From: "+9477", To: "+948"}, {From: "+948"}}
		want.SlicesDone = []int{2, 0}
		if d := diff(want, got); d != "" {
			t.Errorf("UpdateCampaign (-want, +got):\n%s", d)
		}
		stored, err := s.GetCampaign(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetCampaign: %v", err)
		}
		if d := diff(want, stored); d != "" {
			t.Errorf("GetCampaign (-want, +got):\n%s", d)
		}
		checkUTC(t, "GetCampaign", *stored.QueueCreatedAt, *stored.QueueReleasedAt)
		if n, err := s.CountCampaigns(ctx, campaign.Failed); err != nil || n != 1 {
			t.Errorf("CountCampaigns(FAILED) = %d, %v; want 1", n, err)
		}
		c = stored
	})

	t.Run("unchanged_writes_nothing", func(t *testing.T) {
		got, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
			c.Topic = "scribbled on, then refused"
			return store.Unchanged
		})
		if err != nil {
			t.Fatalf("UpdateCampaign: %v", err)
		}
		if d := diff(c, got); d != "" {
			t.Errorf("UpdateCampaign (-want, +got):\n%s", d)
		}
		stored, err := s.GetCampaign(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetCampaign: %v", err)
		}
		if d := diff(c, stored); d != "" {
			t.Errorf("GetCampaign (-want, +got):\n%s", d)
		}
	})

	t.Run("error_returned_as_is", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
			c.Topic = "scribbled on, then failed"
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("UpdateCampaign: %v, want %v", err, boom)
		}
		_, err = s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error { return c.Trigger(at(2), "api-key", "") })
		if !errs.Is(err, errs.Conflict) {
			t.Errorf("UpdateCampaign(trigger a running campaign): %v, want kind Conflict", err)
		}
		stored, err := s.GetCampaign(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetCampaign: %v", err)
		}
		if d := diff(c, stored); d != "" {
			t.Errorf("GetCampaign (-want, +got):\n%s", d)
		}
	})

	t.Run("not_exist", func(t *testing.T) {
		called := false
		_, err := s.UpdateCampaign(ctx, "nope", func(*campaign.Campaign) error { called = true; return nil })
		if !errs.Is(err, errs.NotExist) {
			t.Errorf("UpdateCampaign(unknown): %v, want kind NotExist", err)
		}
		if called {
			t.Error("fn was called for an unknown campaign")
		}
	})
}

func testUpdateCampaignConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateCampaign(t, s, newCampaign(0))
	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.UpdateCampaign(ctx, c.ID, func(c *campaign.Campaign) error {
				c.Recipients++
				return nil
			}); err != nil {
				t.Errorf("UpdateCampaign: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetCampaign(ctx, c.ID)
	if err != nil {
		t.Fatalf("GetCampaign: %v", err)
	}
	if got.Recipients != n {
		t.Errorf("Recipients = %d after %d concurrent increments, want %d", got.Recipients, n, n)
	}
}
