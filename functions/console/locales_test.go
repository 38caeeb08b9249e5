package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/template"
)

var localeErrors = regexp.MustCompile(`<p class="field-error" id="(locale-error-\d+|locales-error)">([^<]*)</p>`)

// TestTemplateLocales: locale variants typed as rows are sent as the
// API's locales, filled back from the stored template, and each row's
// errors (the console's and the API's) are shown beside it.
func TestTemplateLocales(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	base := url.Values{"name": {"Hello"}, "content": {"Hi {name|there}! Reply STOP to opt out."}, "variables": {"name"}}
	with := func(codes, contents, sids []string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		v["locale_code"], v["locale_content"], v["locale_content_sid"] = codes, contents, sids
		v.Set("csrf", f.csrf("/templates"))
		return v
	}
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantErrors map[string]string // by the error's id
	}{
		{
			name:       "content_required",
			form:       with([]string{"si", ""}, []string{"", ""}, []string{"", ""}),
			wantStatus: http.StatusBadRequest,
			wantErrors: map[string]string{"locale-error-1": "Content is required"},
		},
		{
			name:       "code_required",
			form:       with([]string{"si", ""}, []string{"Ayubowan {name}!", "Vanakkam {name}!"}, []string{"", ""}),
			wantStatus: http.StatusBadRequest,
			wantErrors: map[string]string{"locale-error-2": "needs a language code"},
		},
		{
			name:       "code_repeated",
			form:       with([]string{"si", "si"}, []string{"Ayubowan {name}!", "Ayubowan!"}, []string{"", ""}),
			wantStatus: http.StatusBadRequest,
			wantErrors: map[string]string{"locale-error-2": `repeats the language code &#34;si&#34; of another row`},
		},
		{
			name:       "bad_code",
			form:       with([]string{"SI"}, []string{"Ayubowan {name}!"}, []string{""}),
			wantStatus: http.StatusBadRequest,
			wantErrors: map[string]string{"locales-error": `has the key &#34;SI&#34;; want a lower-case language code such as si, ta or pt-br`},
		},
		{
			name:       "saved_empty_rows_ignored",
			form:       with([]string{"", "ta", "si", ""}, []string{"", "Vanakkam {name}!", "Ayubowan {name}!", " "}, []string{"", "", "", ""}),
			wantStatus: http.StatusSeeOther,
		},
	}
	for _, tc := range tests {
		res := f.do("POST", "/templates", tc.form)
		body := bodyOf(t, res)
		if res.StatusCode != tc.wantStatus {
			t.Errorf("%s: status %d, want %d\n%s", tc.name, res.StatusCode, tc.wantStatus, body)
			continue
		}
		got := map[string]string{}
		for _, m := range localeErrors.FindAllStringSubmatch(body, -1) {
			got[m[1]] = m[2]
		}
		if len(tc.wantErrors) == 0 {
			tc.wantErrors = map[string]string{}
		}
		if diff := cmp.Diff(tc.wantErrors, got); diff != "" {
			t.Errorf("%s: errors beside the rows (-want, +got):\n%s", tc.name, diff)
		}
		if res.StatusCode == http.StatusBadRequest && !strings.Contains(body, `name="locale_code" value="`+tc.form["locale_code"][0]+`"`) {
			t.Errorf("%s: the rows typed are not shown again", tc.name)
		}
	}

	ts, _, err := f.store.ListTemplates(context.Background(), store.Page{Page: 1, PerPage: 10})
	if err != nil || len(ts) != 1 {
		t.Fatalf("templates %v, %v; want the one saved", ts, err)
	}
	want := map[string]template.Locale{"si": {Content: "Ayubowan {name}!"}, "ta": {Content: "Vanakkam {name}!"}}
	if diff := cmp.Diff(want, ts[0].Locales); diff != "" {
		t.Errorf("saved locales (-want, +got):\n%s", diff)
	}
	// The edit form has a row for each, by code, and an empty one.
	body := bodyOf(t, f.do("GET", "/templates/"+ts[0].ID, nil))
	var rows []string
	for _, m := range regexp.MustCompile(`id="locale-code-(\d+)" name="locale_code" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		rows = append(rows, m[1]+"="+m[2])
	}
	if diff := cmp.Diff([]string{"1=si", "2=ta", "3="}, rows); diff != "" {
		t.Errorf("the edit form's rows (-want, +got):\n%s", diff)
	}
	// A row emptied removes its variant.
	path := "/templates/" + ts[0].ID
	form := with([]string{"si", ""}, []string{"Ayubowan {name}!", ""}, []string{"", ""})
	form.Set("csrf", f.csrf(path))
	if res := f.do("POST", path, form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", res.StatusCode, bodyOf(t, res))
	}
	got, err := f.store.GetTemplate(context.Background(), ts[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]template.Locale{"si": {Content: "Ayubowan {name}!"}}, got.Locales); diff != "" {
		t.Errorf("locales after the edit (-want, +got):\n%s", diff)
	}
}
