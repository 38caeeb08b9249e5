package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/api"
	"github.com/eventstreamengine/ese/functions/internal/idtokentest"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/importrun"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/uploads/memuploads"
	"github.com/eventstreamengine/ese/shared/user"
)

const key = "console-test-key"

type fixture struct {
	t     *testing.T
	store *memstore.Store
	s     *Server
	h     http.Handler
	// cookie is the session cookie the browser holds.
	cookie *http.Cookie
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, pub := memstore.New(), memevents.New()
	sum := sha256.Sum256([]byte(key))
	a := &api.Server{
		KeyHash: sum[:], Store: st, Events: pub,
		Runner:  &campaignrun.Runner{Store: st, Events: pub, Queue: memqueue.New()},
		Imports: &importrun.Runner{Store: st, Bucket: memuploads.New(), Events: pub},
		Checks:  map[string]func(context.Context) error{"firestore": func(context.Context) error { return nil }},
	}
	s := &Server{API: a, Store: st, SessionKey: []byte("0123456789abcdef0123456789abcdef"), SessionTTL: time.Hour}
	return &fixture{t: t, store: st, s: s, h: s.Routes()}
}

// do sends a request as the browser does: with its cookie, and a form
// body for a POST.
func (f *fixture) do(method, path string, form url.Values) *http.Response {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if f.cookie != nil {
		req.AddCookie(f.cookie)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	res := rec.Result()
	// Every redirect after an action names an outcome the banner knows.
	if loc, err := url.Parse(res.Header.Get("Location")); err == nil && loc.Query().Has("done") {
		if _, ok := doneMessages[loc.Query().Get("done")]; !ok {
			f.t.Errorf("%s %s redirects to %s: ?done= names no known outcome", method, path, loc)
		}
	}
	for _, c := range res.Cookies() {
		if c.Name == cookieName {
			f.cookie = c
		}
	}
	return res
}

func bodyOf(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token the page at path carries.
func (f *fixture) csrf(path string) string {
	f.t.Helper()
	res := f.do("GET", path, nil)
	m := csrfField.FindStringSubmatch(bodyOf(f.t, res))
	if m == nil {
		f.t.Fatalf("GET %s: no CSRF token in the page", path)
	}
	return m[1]
}

// signIn signs the browser in with the key.
func (f *fixture) signIn() {
	f.t.Helper()
	tok := f.csrf("/login")
	res := f.do("POST", "/login", url.Values{"csrf": {tok}, "key": {key}, "next": {"/users"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/users" {
		f.t.Fatalf("sign-in: %d to %q, want 303 to /users", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.do("GET", "/campaigns", nil)
	if got, want := res.Header.Get("Location"), "/login?next=%2Fcampaigns"; res.StatusCode != http.StatusSeeOther || got != want {
		t.Fatalf("signed out: %d to %q, want 303 to %q", res.StatusCode, got, want)
	}
	tok := f.csrf("/login")
	c := f.cookie
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("cookie %+v: want Secure, HttpOnly, SameSite=Strict, Path=/", c)
	}
	res = f.do("POST", "/login", url.Values{"csrf": {tok}, "key": {"wrong"}})
	if body := bodyOf(t, res); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not the API key") {
		t.Fatalf("wrong key: %d, want 401 saying so", res.StatusCode)
	}
	before := f.cookie.Value
	f.signIn()
	if f.cookie.Value == before {
		t.Error("signing in kept the session: want a new one")
	}
	if res := f.do("GET", "/campaigns", nil); res.StatusCode != http.StatusOK || !strings.Contains(bodyOf(t, res), `action="/logout"`) {
		t.Errorf("signed in: GET /campaigns %d, want 200 with Sign out", res.StatusCode)
	}
	// Signing out ends the session.
	if res := f.do("POST", "/logout", url.Values{"csrf": {f.csrf("/campaigns")}}); res.StatusCode != http.StatusSeeOther || f.cookie.Value != "" {
		t.Errorf("sign out: %d, cookie %q; want 303 and the cookie cleared", res.StatusCode, f.cookie.Value)
	}
	if res := f.do("GET", "/campaigns", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after signing out: %d, want 303 to /login", res.StatusCode)
	}
	f.signIn()
	// A tampered cookie is no session.
	f.cookie.Value = strings.Replace(f.cookie.Value, ".", "x.", 1)
	if res := f.do("GET", "/", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("tampered cookie: %d, want 303 to /login", res.StatusCode)
	}
}

// TestSessionEndsWithTheKey: a session is bound to the API key it was
// signed in under; rotating the key ends every session, even with the
// same CONSOLE_SESSION_KEY, and a copied cookie with it.
func TestSessionEndsWithTheKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	copied := *f.cookie
	rotated := sha256.Sum256([]byte("the-next-key"))
	for _, tc := range []struct {
		name    string
		keyHash []byte
		want    int
	}{
		{"same_key", f.s.API.KeyHash, http.StatusOK},
		{"rotated_key", rotated[:], http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			a := &api.Server{KeyHash: tc.keyHash, Store: st, Events: memevents.New()}
			s := &Server{API: a, Store: st, SessionKey: f.s.SessionKey, SessionTTL: time.Hour}
			req := httptest.NewRequest("GET", "/campaigns", nil)
			req.AddCookie(&copied)
			rec := httptest.NewRecorder()
			s.Routes().ServeHTTP(rec, req)
			if diff := cmp.Diff(tc.want, rec.Code); diff != "" {
				t.Errorf("GET /campaigns with the copied cookie (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestSignInRedirectStaysOnOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, next, want string }{
		{"path", "/users", "/users"},
		{"path_and_query", "/campaigns/c1?done=saved", "/campaigns/c1?done=saved"},
		{"empty", "", "/"},
		{"relative", "users", "/"},
		{"scheme_relative", "//evil.example/", "/"},
		{"absolute", "https://evil.example/", "/"},
		{"javascript", "javascript:alert(1)", "/"},
		{"backslash", "/\\evil.example", "/"},
		{"backslash_later", "/users\\..\\evil", "/"},
		{"tab", "/\t/evil.example/", "/"},
		{"newline", "/\n/evil.example/", "/"},
		{"carriage_return", "/\r/evil.example/", "/"},
		{"nul", "/\x00/evil.example/", "/"},
		{"del", "/\x7f/evil.example/", "/"},
		{"user_info", "/@evil.example", "/@evil.example"},
		{"three_slashes", "///evil.example", "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, safeNext(tc.next)); diff != "" {
				t.Errorf("safeNext(%q) (-want, +got):\n%s", tc.next, diff)
			}
		})
	}
	// Through the form, as the review found it: the redirect stays home.
	f := newFixture(t)
	res := f.do("POST", "/login", url.Values{"csrf": {f.csrf("/login")}, "key": {key}, "next": {"/\t/evil.example/"}})
	if diff := cmp.Diff("/", res.Header.Get("Location")); res.StatusCode != http.StatusSeeOther || diff != "" {
		t.Errorf("POST /login with a tab in next: %d, Location (-want, +got):\n%s", res.StatusCode, diff)
	}
}

// TestDoneMessages: the banner after an action shows a fixed text for a
// known code, and nothing for any other ?done=, which anyone can put in a
// link.
func TestDoneMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	flash := regexp.MustCompile(`<p class="flash" role="status">([^<]*)</p>`)
	for _, tc := range []struct{ name, done, want string }{
		{"known_code", "campaign-created", "Campaign created."},
		{"another_code", "erased", "The person was erased."},
		{"none", "", ""},
		{"free_text", "Your account is locked: call +1 555 0100", ""},
		{"a_message_as_it_was_sent_before", "Campaign created.", ""},
		{"markup", "<b>hi</b>", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bodyOf(t, f.do("GET", "/campaigns?"+url.Values{"done": {tc.done}}.Encode(), nil))
			got := ""
			if m := flash.FindStringSubmatch(body); m != nil {
				got = m[1]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("banner for ?done=%q (-want, +got):\n%s", tc.done, diff)
			}
		})
	}
}

func TestBearerKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"right_key", "Bearer " + key, 200},
		{"wrong_key", "Bearer nope", 401},
	} {
		req := httptest.NewRequest("GET", "/campaigns", nil)
		req.Header.Set("Authorization", tc.auth)
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.want)
		}
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	form := url.Values{"phone_number": {"+94771234567"}}
	if res := f.do("POST", "/users", form); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a token: %d, want 403", res.StatusCode)
	}
	// A token from another session is refused.
	other := newFixture(t)
	other.s = f.s
	other.h = f.h
	other.signIn()
	form.Set("csrf", other.csrf("/users"))
	if res := f.do("POST", "/users", form); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST with another session's token: %d, want 403", res.StatusCode)
	}
	form.Set("csrf", f.csrf("/users"))
	if res := f.do("POST", "/users", form); res.StatusCode != http.StatusSeeOther {
		t.Errorf("POST with the session's token: %d, want 303", res.StatusCode)
	}
	if _, err := f.store.GetUser(context.Background(), "+94771234567"); err != nil {
		t.Errorf("the user was not created: %v", err)
	}
}

// TestEscaped: attributes holding markup are shown as text, on the list
// and on the person's page.
func TestEscaped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	if err := f.store.CreateUser(context.Background(), user.User{Phone: "+94771234567", Consent: consent.OptIn,
		Attributes: map[string]any{"name": evil, evil: "key-markup"}, CreatedAt: now, UpdatedAt: now}, consent.SourceAPI, ""); err != nil {
		t.Fatal(err)
	}
	f.signIn()
	for _, path := range []string{"/users", "/users/+94771234567"} {
		body := bodyOf(t, f.do("GET", path, nil))
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("GET %s: markup from an attribute reached the page unescaped", path)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("GET %s: the attribute is not shown as text", path)
		}
	}
	// The list masks numbers (a link to the person's page names them).
	if body := withoutLinks(bodyOf(t, f.do("GET", "/users", nil))); strings.Contains(body, "94771234567") || !strings.Contains(body, "94*****4567") {
		t.Errorf("the users list shows a whole number, or no masked one:\n%s", body)
	}
}

func TestFieldErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	res := f.do("POST", "/users", url.Values{"csrf": {f.csrf("/users")}, "phone_number": {"12"}})
	body := bodyOf(t, res)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad phone: %d, want 400", res.StatusCode)
	}
	if !strings.Contains(body, `id="phone_number-error"`) || !strings.Contains(body, `aria-invalid="true"`) {
		t.Errorf("the API's error is not shown next to the phone field:\n%s", body)
	}
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	for _, path := range []string{"/", "/users", "/segments", "/templates", "/campaigns", "/monitoring"} {
		res := f.do("GET", path, nil)
		body := bodyOf(t, res)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", path, res.StatusCode, body)
		}
		if !strings.Contains(body, `<main id="main"`) {
			t.Errorf("GET %s: no main", path)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
	if res := f.do("GET", "/nowhere", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nowhere: %d, want 404", res.StatusCode)
	}
}

func TestIAM(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	signer := idtokentest.New()
	f.s.IAM, f.s.API.TrustIAM = true, true
	f.s.API.IDTokens, f.s.API.Audiences = signer.Validator(), []string{idtokentest.Audience}
	f.s.Admins = map[string]bool{"admin@example.com": true}
	enc := func(s string) string { return strings.TrimRight(base64URL(s), "=") }
	forged := enc(`{"alg":"RS256","kid":"idtokentest"}`) + "." +
		enc(`{"iss":"https://accounts.google.com","aud":"`+idtokentest.Audience+`","email":"admin@example.com","email_verified":true,"exp":4102444800}`) + ".sig"
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"admin", "Bearer " + signer.Email("admin@example.com"), 200},
		{"admin_in_other_case", "Bearer " + signer.Email("Admin@Example.COM"), 200},
		{"not_an_admin", "Bearer " + signer.Email("someone@example.com"), 403},
		{"forged_token", "Bearer " + forged, 401},
		{"signed_by_another_key", "Bearer " + idtokentest.New().Email("admin@example.com"), 401},
		{"another_audience", "Bearer " + signer.Token(idtokentest.Claims{"email": "admin@example.com", "email_verified": true, "aud": "https://elsewhere.example"}), 401},
		{"no_identity", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("GET", "/campaigns", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if diff := cmp.Diff(tc.want, rec.Code); diff != "" {
				t.Errorf("status (-want, +got):\n%s\n%s", diff, rec.Body)
			}
			// Google's sign-in admits the visitor: the console has none to end.
			if rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), `action="/logout"`) {
				t.Error("the page offers Sign out in IAM mode")
			}
		})
	}
}

// TestAdminsCaseInsensitive: CONSOLE_ADMINS as typed, in any case.
func TestAdminsCaseInsensitive(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "IMPORT_BUCKET": "ese-uploads", "ERASURE_KEY": "console-test-erasure-key-of-32-bytes!",
		"API_AUTH": "iam", "ID_TOKEN_AUDIENCES": idtokentest.Audience, "CONSOLE_SESSION_KEY": strings.Repeat("ab", 32),
		"CONSOLE_ADMINS": "Alice@Example.com, bob@example.COM"}
	var cfg Config
	if err := setup.Load(context.Background(), &cfg, envconfig.MapLookuper(env)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"alice@example.com": true, "bob@example.com": true}, api.EmailSet(cfg.Admins)); diff != "" {
		t.Errorf("admins (-want, +got):\n%s", diff)
	}
}

// TestImport: a file posted from the users page goes to the API's bulk
// import, and its page shows the counts and the bad row.
func TestImport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", f.csrf("/users"))
	fw, _ := mw.CreateFormFile("file", "people.csv")
	_, _ = io.WriteString(fw, "phone_number,name\n+94771234567,Arjuna\nnot-a-number,Nobody\n")
	_ = mw.Close()
	req := httptest.NewRequest("POST", "/users/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(f.cookie)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/imports/") {
		t.Fatalf("POST /users/import: %d to %q, want 303 to /imports/{id}\n%s", rec.Code, loc, rec.Body)
	}
	page := bodyOf(t, f.do("GET", loc, nil))
	for _, want := range []string{"<dt>Rejected</dt><dd>1</dd>", "<dt>Valid</dt><dd>1</dd>", "phone_number"} {
		if !strings.Contains(page, want) {
			t.Errorf("import page lacks %q", want)
		}
	}
}

// TestResolve: a message held with an unknown outcome is listed on its
// campaign's page (masked), and recorded as sent after a confirmation.
func TestResolve(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	c, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "held", Status: campaign.Running, Rate: 1, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	m := message.Message{ID: message.ID(c.ID, "+94771234567"), CampaignID: c.ID, Phone: "+94771234567", Status: message.Reconcile,
		ClaimedAt: &now, Attempts: 1, HeldAt: &now, CreatedAt: now, UpdatedAt: now}
	if _, err := f.store.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	f.signIn()
	page := bodyOf(t, f.do("GET", "/campaigns/"+c.ID, nil))
	if !strings.Contains(page, "Awaiting an operator") || !strings.Contains(page, "94*****4567") || strings.Contains(withoutLinks(page), "94771234567") {
		t.Fatalf("campaign page: want the held message listed, its number masked\n%s", page)
	}
	confirm := "/campaigns/" + c.ID + "/messages/" + m.ID + "/confirm?outcome=sent&attempts=1"
	if !strings.Contains(page, "/confirm?outcome=sent&amp;attempts=1") {
		t.Errorf("campaign page: want the decision about the held attempt (attempts=1)")
	}
	res := f.do("POST", "/campaigns/"+c.ID+"/messages/"+m.ID+"/resolve", url.Values{"csrf": {f.csrf(confirm)}, "outcome": {"sent"}, "attempts": {"1"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d, want 303\n%s", res.StatusCode, bodyOf(t, res))
	}
	got, err := f.store.GetMessage(ctx, m.ID)
	if err != nil || got.Status != message.Sent {
		t.Errorf("after resolving as sent: %q (%v), want SENT", got.Status, err)
	}
}

var link = regexp.MustCompile(`href="[^"]*"`)

// withoutLinks is a page without its links' addresses: what it shows.
func withoutLinks(page string) string { return link.ReplaceAllString(page, "") }

// TestTemplate: a template is edited through the API's PUT (its errors by
// field) and previewed for a person.
func TestTemplate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	if err := f.store.CreateUser(context.Background(), user.User{Phone: "+94771234567", Consent: consent.OptIn,
		Attributes: map[string]any{"name": "Arjuna"}, CreatedAt: now, UpdatedAt: now}, consent.SourceAPI, ""); err != nil {
		t.Fatal(err)
	}
	f.signIn()
	res := f.do("POST", "/templates", url.Values{"csrf": {f.csrf("/templates")}, "name": {"Hello"}, "content": {"Hi {name}!"}, "variables": {"name"}})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/templates/") {
		t.Fatalf("create: %d to %q\n%s", res.StatusCode, loc, bodyOf(t, res))
	}
	path := strings.SplitN(loc, "?", 2)[0]
	res = f.do("POST", path, url.Values{"csrf": {f.csrf(path)}, "name": {"Hello"}, "content": {"Hi {name}!"}, "variables": {"name"}, "content_sid": {"HXnot-a-sid"}})
	if body := bodyOf(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="content_sid-error"`) {
		t.Errorf("a bad content SID: %d, want 400 with the error next to the field", res.StatusCode)
	}
	// An error in a locale variant is shown beside its row.
	res = f.do("POST", path, url.Values{"csrf": {f.csrf(path)}, "name": {"Hello"}, "content": {"Hi {name}!"}, "variables": {"name"},
		"locale_code": {"si"}, "locale_content": {" "}, "locale_content_sid": {"HXnot-a-sid"}})
	if body := bodyOf(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="locale-error-1"`) {
		t.Errorf("a bad locale: %d, want 400 with the error beside its row\n%s", res.StatusCode, body)
	}
	res = f.do("POST", path+"/preview", url.Values{"csrf": {f.csrf(path)}, "preview_phone": {"+94771234567"}})
	if body := bodyOf(t, res); res.StatusCode != http.StatusOK || !strings.Contains(body, "Hi Arjuna!") {
		t.Errorf("preview: %d, want 200 with the rendered text\n%s", res.StatusCode, body)
	}
}

// TestCampaignForms: a campaign made and edited in the forms, the API's
// errors next to their fields, and a move refused by the lifecycle shown.
func TestCampaignForms(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	res := f.do("POST", "/templates", url.Values{"csrf": {f.csrf("/templates")}, "name": {"Hello"}, "content": {"Hi {name|there}! Reply STOP to opt out."}})
	tpl := strings.TrimPrefix(strings.SplitN(res.Header.Get("Location"), "?", 2)[0], "/templates/")
	res = f.do("POST", "/segments", url.Values{"csrf": {f.csrf("/segments")}, "name": {"All"}, "definition_json": {`{"attribute": "consent_state", "operator": "equals", "value": "OPT_IN"}`}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("segment: %d\n%s", res.StatusCode, bodyOf(t, res))
	}
	segs, _, err := f.store.ListSegments(context.Background(), store.Page{Page: 1, PerPage: 10})
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments %v %v", segs, err)
	}
	form := url.Values{"csrf": {f.csrf("/campaigns")}, "topic": {"Spring"}, "template_id": {tpl}, "segment_id": {segs[0].ID}, "rate_limit_per_second": {"0"}}
	if res := f.do("POST", "/campaigns", form); res.StatusCode != http.StatusBadRequest || !strings.Contains(bodyOf(t, res), `id="rate_limit_per_second-error"`) {
		t.Errorf("a rate of 0: %d, want 400 with the error next to the rate", res.StatusCode)
	}
	form.Set("rate_limit_per_second", "5")
	res = f.do("POST", "/campaigns", form)
	path := strings.SplitN(res.Header.Get("Location"), "?", 2)[0]
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(path, "/campaigns/") {
		t.Fatalf("create: %d to %q", res.StatusCode, path)
	}
	form.Set("csrf", f.csrf(path))
	form.Set("topic", "Spring, renamed")
	if res := f.do("POST", path+"/edit", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", res.StatusCode, bodyOf(t, res))
	}
	if body := bodyOf(t, f.do("GET", path, nil)); !strings.Contains(body, "Spring, renamed") || !strings.Contains(body, "Edit before launch") {
		t.Error("the campaign page does not show the edit, or no longer offers editing a draft")
	}
	// A draft cannot be paused: the API's 409, shown on the page.
	res = f.do("POST", path+"/pause", url.Values{"csrf": {f.csrf(path)}})
	if body := bodyOf(t, res); res.StatusCode != http.StatusConflict || !strings.Contains(body, "Pause refused") {
		t.Errorf("pausing a draft: %d, want 409 saying the pause was refused", res.StatusCode)
	}
}

// TestSuppressions: a number suppressed and lifted from the segments page,
// the lift confirmed; the list masks it.
func TestSuppressions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn()
	if res := f.do("POST", "/suppressions", url.Values{"csrf": {f.csrf("/segments")}, "phone_number": {"12"}}); res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(bodyOf(t, res), `id="sup_phone-error"`) {
		t.Errorf("a bad number: %d, want 400 with the error next to the field", res.StatusCode)
	}
	if res := f.do("POST", "/suppressions", url.Values{"csrf": {f.csrf("/segments")}, "phone_number": {"+94771234567"}, "reason": {"asked"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("suppress: %d", res.StatusCode)
	}
	es, _, err := f.store.ListSuppressions(context.Background(), store.Page{Page: 1, PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.By)
	}
	if diff := cmp.Diff([]string{"api-key"}, got); diff != "" {
		t.Errorf("who added the suppression (-want, +got):\n%s", diff)
	}
	if body := withoutLinks(bodyOf(t, f.do("GET", "/segments", nil))); !strings.Contains(body, "94*****4567") || strings.Contains(body, "94771234567") {
		t.Error("the suppression list does not show the number masked")
	}
	confirm := "/suppressions/+94771234567/confirm"
	if res := f.do("POST", "/suppressions/+94771234567/lift", url.Values{"csrf": {f.csrf(confirm)}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("lift: %d", res.StatusCode)
	}
	if got, _ := f.store.Suppressed(context.Background(), []string{"+94771234567"}); got["+94771234567"] {
		t.Error("still suppressed after the lift")
	}
}

// TestUsersPaging: people a page at a time, the store's cursor carried by
// the next page's link.
func TestUsersPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	for i := range usersPerPage + 5 {
		if err := f.store.CreateUser(context.Background(), user.User{Phone: fmt.Sprintf("+9477100%04d", i), Consent: consent.OptIn,
			Attributes: map[string]any{"city": "Galle"}, CreatedAt: now, UpdatedAt: now}, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.signIn()
	seen := 0
	path := "/users?attr=city&value=Galle"
	for pages := 0; path != "" && pages < 5; pages++ {
		body := bodyOf(t, f.do("GET", path, nil))
		seen += strings.Count(body, `<td class="mono"><a href="/users/`)
		path = ""
		if m := nextLink.FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if seen != usersPerPage+5 {
		t.Errorf("paged through %d people, want %d", seen, usersPerPage+5)
	}
}

var nextLink = regexp.MustCompile(`<a href="(/users\?[^"]+)" rel="next">`)

// TestBuild: the Console starts from its environment, and refuses to
// start deployed (API_AUTH=iam) without a session key, naming it.
func TestBuild(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // in the error; "" for none
	}{
		{"iam_without_session_key", map[string]string{"API_AUTH": "iam"}, "CONSOLE_SESSION_KEY"},
		{"short_session_key", map[string]string{"API_AUTH": "iam", "CONSOLE_SESSION_KEY": "abcd"}, "CONSOLE_SESSION_KEY"},
		{"short_session", map[string]string{"API_KEY": "k", "CONSOLE_SESSION_TTL": "1s"}, "CONSOLE_SESSION_TTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "IMPORT_BUCKET": "b", "ERASURE_KEY": "console-test-erasure-key-of-32-bytes!"}
			for k, v := range tc.env {
				env[k] = v
			}
			var cfg Config
			err := setup.Load(context.Background(), &cfg, envconfig.MapLookuper(env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("setup.Load: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// TestUserSearchTyped: an attribute's value is found as text and as the
// number it reads as.
func TestUserSearchTyped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	for i, age := range []any{40.0, "40", 41.0} {
		if err := f.store.CreateUser(context.Background(), user.User{Phone: fmt.Sprintf("+9477200000%d", i), Consent: consent.OptIn,
			Attributes: map[string]any{"age": age}, CreatedAt: now, UpdatedAt: now}, consent.SourceAPI, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.signIn()
	body := bodyOf(t, f.do("GET", "/users?attr=age&value=40", nil))
	if got := strings.Count(body, `<td class="mono"><a href="/users/`); got != 2 {
		t.Errorf("age 40: %d people, want 2 (the number and the text)", got)
	}
}

// TestListPages: a list of more than a page links the next one.
func TestListPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 51 {
		if _, err := f.store.CreateTemplate(context.Background(), template.Template{Name: fmt.Sprintf("t%02d", i), Content: "Hi"}); err != nil {
			t.Fatal(err)
		}
	}
	f.signIn()
	if body := bodyOf(t, f.do("GET", "/templates", nil)); !strings.Contains(body, `href="/templates?page=2" rel="next"`) {
		t.Error("page 1 of 51 templates links no page 2")
	}
	if body := bodyOf(t, f.do("GET", "/templates?page=2", nil)); !strings.Contains(body, `rel="prev"`) || strings.Contains(body, `rel="next"`) {
		t.Error("page 2 of 51 templates: want a link back and none on")
	}
}
