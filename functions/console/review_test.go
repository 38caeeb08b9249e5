package console

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/user"
)

// campaignWith makes a campaign in status st, with one message in each
// of statuses.
func (f *fixture) campaignWith(st campaign.Status, statuses ...message.Status) string {
	f.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	c, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "Spring", Status: st, Rate: 1, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		f.t.Fatal(err)
	}
	var ms []message.Message
	for i, s := range statuses {
		ph := fmt.Sprintf("+9477123%04d", i)
		m := message.Message{ID: message.ID(c.ID, ph), CampaignID: c.ID, Phone: ph, Status: s, CreatedAt: now, UpdatedAt: now}
		if s == message.Sent || s == message.Delivered || s == message.Failed {
			m.SentAt = &now // a failure reported after the send: counted as sent and as failed
		}
		if s == message.Delivered {
			m.DeliveredAt = &now
		}
		if s == message.Failed {
			m.FailedAt = &now
		}
		if s == message.Skipped {
			m.SkipReason = message.SkipReason("consent")
		}
		ms = append(ms, m)
	}
	if _, err := f.store.CreateMessages(ctx, ms); err != nil {
		f.t.Fatal(err)
	}
	return c.ID
}

var progressBar = regexp.MustCompile(`<progress id="progress" max="(\d+)" value="(\d+)">`)

// TestProgressConcluded: the progress bar counts each concluded message
// once, though the summary counts a message failed after its send as
// both sent and failed.
func TestProgressConcluded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.campaignWith(campaign.Running, message.Failed, message.Failed, message.Delivered, message.Skipped, message.Queued)
	f.signIn()
	page := bodyOf(t, f.do("GET", "/campaigns/"+id, nil))
	m := progressBar.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no progress bar\n%s", page)
	}
	if got, want := m[2]+" of "+m[1], "4 of 5"; got != want {
		t.Errorf("progress: %s, want %s (two failed, one delivered, one skipped; one queued)", got, want)
	}
}

// TestConfirmCampaign: a confirmation names the campaign and its status,
// asks a pause or cancel for its reason, and is not offered for a move
// the status does not allow.
func TestConfirmCampaign(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	running := f.campaignWith(campaign.Running)
	draft := f.campaignWith(campaign.Draft)
	f.signIn()
	for _, tc := range []struct {
		name, id, action string
		status           int
		want             []string
	}{
		{"pause_asks_reason", running, "pause", 200, []string{`id="reason"`, "Campaign Spring, now RUNNING", `id="confirm-form"`}},
		{"cancel_asks_reason", running, "cancel", 200, []string{`id="reason"`}},
		{"launch_of_draft", draft, "launch", 200, []string{"Campaign Spring, now DRAFT"}},
		{"pause_of_draft_refused", draft, "pause", http.StatusConflict, []string{"cannot be asked to pause"}},
		{"resume_of_running_refused", running, "resume", http.StatusConflict, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do("GET", "/campaigns/"+tc.id+"/confirm?action="+tc.action, nil)
			body := bodyOf(t, res)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
	// The reason goes to the history.
	res := f.do("POST", "/campaigns/"+running+"/pause", url.Values{"csrf": {f.csrf("/campaigns/" + running)}, "reason": {"wrong audience"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d\n%s", res.StatusCode, bodyOf(t, res))
	}
	if body := bodyOf(t, f.do("GET", "/campaigns/"+running, nil)); !strings.Contains(body, "wrong audience") {
		t.Error("the pause's reason is not in the history")
	}
}

// TestRefusedMoveRefreshURL: a refused action's page names the campaign's
// own address, for its refresh and a reload.
func TestRefusedMoveRefreshURL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.campaignWith(campaign.Completed)
	f.signIn()
	res := f.do("POST", "/campaigns/"+id+"/pause", url.Values{"csrf": {f.csrf("/campaigns/" + id)}})
	if body := bodyOf(t, res); res.StatusCode != http.StatusConflict || !strings.Contains(body, `data-refresh-url="/campaigns/`+id+`"`) {
		t.Errorf("refused pause: %d, want 409 with the page's own address\n%s", res.StatusCode, body)
	}
}

// TestDryRunRunningRefreshes: a campaign page refreshes itself while its
// dry run runs.
func TestDryRunRunningRefreshes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.campaignWith(campaign.Draft)
	now := time.Now().UTC()
	if err := f.store.StartDryRun(context.Background(), dryrun.New(id, "run1", now, now)); err != nil {
		t.Fatal(err)
	}
	f.signIn()
	if body := bodyOf(t, f.do("GET", "/campaigns/"+id, nil)); !strings.Contains(body, "data-refresh=") || !strings.Contains(body, `id="h-dry"`) {
		t.Errorf("a running dry run: want the page to refresh itself\n%s", body)
	}
}

// TestMonitoringRefreshKeepsDeadLetters: the automatic refresh does not
// list dead letters again; the page keeps the list it has.
func TestMonitoringRefreshKeepsDeadLetters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	if body := bodyOf(t, f.do("GET", "/monitoring", nil)); strings.Contains(body, "data-keep") {
		t.Error("opened: the dead letters are kept from before, want them listed")
	}
	req := httptest.NewRequest("GET", "/monitoring", nil)
	req.Header.Set(refreshHeader, "1")
	req.AddCookie(f.cookie)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `id="dead-letters" data-keep`) {
		t.Errorf("refreshed: want the dead letters kept as drawn\n%s", rec.Body)
	}
}

// zeros reads as endless '0's.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// TestImportTooLarge: a request over Cloud Run's limit is refused before
// it is read, saying where a large file goes.
func TestImportTooLarge(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	req := httptest.NewRequest("POST", "/users/import", strings.NewReader("x"))
	req.ContentLength = importBodyMax + 1
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	req.AddCookie(f.cookie)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "Cloud Storage") {
		t.Errorf("POST /users/import over the limit: %d, want 413\n%s", rec.Code, rec.Body)
	}
	// Without a length (chunked), the limit is met while the form is read
	// for its CSRF token: still 413, not "Form expired".
	body := io.MultiReader(strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n"+f.csrf("/users")+
		"\r\n--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n"),
		io.LimitReader(zeros{}, importBodyMax+1), strings.NewReader("\r\n--x--\r\n"))
	req = httptest.NewRequest("POST", "/users/import", body)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	req.AddCookie(f.cookie)
	rec = httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "File too large") {
		t.Errorf("POST /users/import over the limit, without a length: %d, want 413 File too large\n%s", rec.Code, rec.Body)
	}
	if body := bodyOf(t, f.do("GET", "/users", nil)); !strings.Contains(body, fmt.Sprintf(`data-direct-max="%d"`, importThroughMax)) {
		t.Error("the users page does not send files over the threshold straight to Cloud Storage")
	}
}

// TestUsersPrevious: the users list goes back a page as well as forward.
func TestUsersPrevious(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	for i := range 3*usersPerPage + 1 {
		if err := f.store.CreateUser(context.Background(), user.User{Phone: fmt.Sprintf("+9477100%04d", i), Consent: consent.OptIn,
			CreatedAt: now, UpdatedAt: now}, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.signIn()
	first := bodyOf(t, f.do("GET", "/users", nil))
	follow := func(page string, re *regexp.Regexp) string {
		t.Helper()
		m := re.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no %s link", re)
		}
		return bodyOf(t, f.do("GET", strings.ReplaceAll(m[1], "&amp;", "&"), nil))
	}
	second := follow(first, nextLink)
	third := follow(second, nextLink)
	if got := follow(third, prevLink); rows(got) != rows(second) {
		t.Errorf("back from the third page: not the second")
	}
	if got := follow(second, prevLink); rows(got) != rows(first) {
		t.Errorf("back from the second page: not the first")
	}
	if prevLink.MatchString(first) {
		t.Error("the first page offers a previous one")
	}
}

var (
	prevLink = regexp.MustCompile(`<a href="(/users[^"]*)" rel="prev">`)
	userRow  = regexp.MustCompile(`<a href="/users/[^"]+">`)
)

func rows(page string) string { return strings.Join(userRow.FindAllString(page, -1), " ") }

// TestFormsMarkup: a user without attributes says so outside the <dl>;
// the campaign form asks for a template and a segment rather than
// choosing the first; a template's category error is tied to its field.
func TestFormsMarkup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	if err := f.store.CreateUser(context.Background(), user.User{Phone: "+94771230000", Consent: consent.OptIn, CreatedAt: now, UpdatedAt: now}, consent.SourceAPI, ""); err != nil {
		t.Fatal(err)
	}
	f.signIn()
	if body := bodyOf(t, f.do("GET", "/users/"+url.PathEscape("+94771230000"), nil)); regexp.MustCompile(`(?s)<dl[^>]*>\s*<p`).MatchString(body) || !strings.Contains(body, `<p id="no-attributes">None.</p>`) {
		t.Errorf("a user without attributes: want None. outside a <dl>\n%s", body)
	}
	body := bodyOf(t, f.do("GET", "/campaigns", nil))
	for _, want := range []string{`<select id="template_id" name="template_id" required`, `<option value="">Choose a template…</option>`, `<option value="">Choose a segment…</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("campaign form lacks %q", want)
		}
	}
	res := f.do("POST", "/templates", url.Values{"csrf": {f.csrf("/templates")}, "name": {"Hi"}, "content": {"Hi! Reply STOP to opt out."}, "category": {"nonsense"}})
	if body := bodyOf(t, res); !strings.Contains(body, `aria-describedby="category-error"`) || !strings.Contains(body, `id="category-error"`) {
		t.Errorf("category error: want it tied to the select (%d)\n%s", res.StatusCode, body)
	}
}

// TestUsersPagingHidesNumbers: the users list's links hold no phone
// number, plain or in the store's base64 JSON cursor, and a cursor
// altered or sealed by another console is refused with 400.
func TestUsersPagingHidesNumbers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	var phones []string
	for i := range 3*usersPerPage + 1 {
		p := fmt.Sprintf("+9477100%04d", i)
		phones = append(phones, p)
		if err := f.store.CreateUser(context.Background(), user.User{Phone: p, Consent: consent.OptIn,
			CreatedAt: now, UpdatedAt: now}, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.signIn()
	pageLink := regexp.MustCompile(`<a href="(/users\?[^"]*)"`)
	check := func(link string) {
		t.Helper()
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		texts := []string{link, u.RawQuery, u.Query().Encode()}
		for _, vs := range u.Query() {
			for _, v := range vs {
				texts = append(texts, v)
				for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
					if b, err := enc.DecodeString(v); err == nil {
						texts = append(texts, string(b))
					}
				}
			}
		}
		for _, text := range texts {
			for _, p := range phones {
				if strings.Contains(text, p[1:]) {
					t.Fatalf("link %s holds %s", link, p)
				}
			}
		}
	}
	page := bodyOf(t, f.do("GET", "/users", nil))
	var last string
	for range 3 {
		links := pageLink.FindAllStringSubmatch(page, -1)
		for _, m := range links {
			check(strings.ReplaceAll(m[1], "&amp;", "&"))
		}
		m := nextLink.FindStringSubmatch(page)
		if m == nil {
			break
		}
		last = strings.ReplaceAll(m[1], "&amp;", "&")
		page = bodyOf(t, f.do("GET", last, nil))
	}
	if last == "" {
		t.Fatal("no next page")
	}
	u, _ := url.Parse(last)
	after := u.Query().Get("after")
	other := &Server{SessionKey: []byte("another console's key of 32 byte")}
	foreign, err := other.sealCursor(base64.URLEncoding.EncodeToString([]byte(`{"phone":"+94771000030"}`)))
	if err != nil {
		t.Fatal(err)
	}
	for name, cursor := range map[string]string{
		"tampered":   after[:10] + map[bool]string{true: "B", false: "A"}[after[10] == 'A'] + after[11:],
		"foreign":    foreign,
		"store_form": base64.URLEncoding.EncodeToString([]byte(`{"phone":"+94771000030"}`)),
	} {
		res := f.do("GET", "/users?"+url.Values{"after": {cursor}}.Encode(), nil)
		if body := bodyOf(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Page link not valid") {
			t.Errorf("%s cursor: %d, want 400 Page link not valid", name, res.StatusCode)
		}
	}
}
