package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
)

// refusingStore refuses every change of a segment, as the API may for a
// segment a running campaign uses.
type refusingStore struct{ store.Store }

func (refusingStore) UpdateSegment(context.Context, string, func(*segment.Segment) error) (segment.Segment, error) {
	return segment.Segment{}, errs.E(errs.Conflict, "segment is used by running campaign c1")
}

// TestSegmentEdit: a stored segment's form filled from its definition,
// saved through the API's PUT, counted without saving, and the API's
// errors and refusals shown on the form.
func TestSegmentEdit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now().UTC()
	def, err := segment.Parse([]byte(`{"attribute": "city", "operator": "equals", "value": "Colombo"}`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.store.CreateSegment(context.Background(), segment.Segment{Name: "Colombo", Description: "the city", Definition: def, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	path := "/segments/" + g.ID
	f.signIn()
	if body := bodyOf(t, f.do("GET", "/segments", nil)); !strings.Contains(body, `<a href="`+path+`">Colombo</a>`) {
		t.Errorf("the segments list does not link %s", path)
	}
	body := bodyOf(t, f.do("GET", path, nil))
	for _, want := range []string{`value="Colombo"`, `value="the city"`, `&#34;city&#34;`, `id="segment-builder"`, `id="seg-count"`, `action="` + path + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the edit page lacks %q", want)
		}
	}

	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantBody   []string
	}{
		{
			name:       "count_without_saving",
			form:       url.Values{"name": {"Colombo"}, "definition_json": {`{"attribute": "city", "operator": "equals", "value": "Kandy"}`}, "preview": {"1"}},
			wantStatus: http.StatusOK,
			wantBody:   []string{"This definition matches 0 people.", "Kandy"},
		},
		{
			name:       "name_required",
			form:       url.Values{"name": {""}, "definition_json": {`{"attribute": "city", "operator": "equals", "value": "Kandy"}`}},
			wantStatus: http.StatusBadRequest,
			wantBody:   []string{`id="seg-name-error"`, `aria-describedby="seg-name-error"`},
		},
		{
			name:       "bad_operator_next_to_definition",
			form:       url.Values{"name": {"Colombo"}, "definition_json": {`{"attribute": "city", "operator": "resembles", "value": "Kandy"}`}},
			wantStatus: http.StatusBadRequest,
			wantBody:   []string{`<div id="definition_json-error">`, "resembles"},
		},
		{
			name:       "not_json",
			form:       url.Values{"name": {"Colombo"}, "definition_json": {`{`}},
			wantStatus: http.StatusBadRequest,
			wantBody:   []string{"is not valid JSON"},
		},
	}
	for _, tc := range tests {
		tc.form.Set("csrf", f.csrf(path))
		res := f.do("POST", path, tc.form)
		body := bodyOf(t, res)
		if res.StatusCode != tc.wantStatus {
			t.Errorf("%s: status %d, want %d\n%s", tc.name, res.StatusCode, tc.wantStatus, body)
		}
		for _, want := range tc.wantBody {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %q", tc.name, want)
			}
		}
	}
	if got, err := f.store.GetSegment(context.Background(), g.ID); err != nil || got.Name != "Colombo" {
		t.Errorf("after refused edits and a count: %+v, %v; want it unchanged", got, err)
	}

	form := url.Values{"csrf": {f.csrf(path)}, "name": {"Kandy"}, "description": {"moved"},
		"definition_json": {`{"logic": "OR", "conditions": [{"attribute": "city", "operator": "equals", "value": "Kandy"}]}`}}
	res := f.do("POST", path, form)
	if got, want := res.Header.Get("Location"), path+"?done=segment-saved"; res.StatusCode != http.StatusSeeOther || got != want {
		t.Fatalf("save: %d to %q, want 303 to %q\n%s", res.StatusCode, got, want, bodyOf(t, res))
	}
	got, err := f.store.GetSegment(context.Background(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	type saved struct{ Name, Description, Definition string }
	b, _ := got.Definition.MarshalJSON()
	want := saved{Name: "Kandy", Description: "moved", Definition: `{"conditions":[{"attribute":"city","operator":"equals","value":"Kandy"}],"logic":"OR"}`}
	if diff := cmp.Diff(want, saved{got.Name, got.Description, string(b)}); diff != "" {
		t.Errorf("saved segment (-want, +got):\n%s", diff)
	}
	if !got.CreatedAt.Equal(g.CreatedAt) {
		t.Errorf("created_at %v, want it kept (%v)", got.CreatedAt, g.CreatedAt)
	}

	if res := f.do("GET", "/segments/no-such", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown segment: %d, want 404", res.StatusCode)
	}
}

// TestSegmentEditRefused: a change the API refuses (a segment in use) is
// shown on the form, with what was typed kept.
func TestSegmentEditRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now().UTC()
	def, err := segment.Parse([]byte(`{"attribute": "city", "operator": "equals", "value": "Colombo"}`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.store.CreateSegment(context.Background(), segment.Segment{Name: "Colombo", Definition: def, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	f.s.API.Store = refusingStore{f.store}
	path := "/segments/" + g.ID
	f.signIn()
	res := f.do("POST", path, url.Values{"csrf": {f.csrf(path)}, "name": {"Typed name"}, "definition_json": {`{"attribute": "city", "operator": "equals", "value": "Kandy"}`}})
	body := bodyOf(t, res)
	if res.StatusCode != http.StatusConflict {
		t.Errorf("status %d, want 409", res.StatusCode)
	}
	for _, want := range []string{`role="alert">Not saved: segment is used by running campaign c1`, `value="Typed name"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q\n%s", want, body)
		}
	}
}
