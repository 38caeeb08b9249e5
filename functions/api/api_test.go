package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/importusers"
	"github.com/eventstreamengine/ese/functions/internal/idtokentest"
	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/health"
	"github.com/eventstreamengine/ese/shared/importrun"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/uploads/memuploads"
	"github.com/eventstreamengine/ese/shared/webhook"
)

const key = "test-key"

type fixture struct {
	t      *testing.T
	store  *memstore.Store
	events *memevents.Publisher
	bucket *memuploads.Bucket
	server *Server
	h      http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, pub, bucket := memstore.New(), memevents.New(), memuploads.New()
	sum := sha256.Sum256([]byte(key))
	hasher, err := erasure.NewHasher([]byte("api-test-erasure-key-of-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		KeyHash: sum[:], Store: st, Events: pub, Erasure: hasher,
		Runner:  &campaignrun.Runner{Store: st, Events: pub, Queue: memqueue.New()},
		Imports: &importrun.Runner{Store: st, Bucket: bucket, Events: pub},
		Checks:  map[string]func(context.Context) error{"firestore": func(context.Context) error { return nil }},
	}
	return &fixture{t: t, store: st, events: pub, bucket: bucket, server: s, h: s.Routes()}
}

// call sends a request with the key and decodes the JSON answer.
func (f *fixture) call(method, path, body string) (int, map[string]any) {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	return f.serve(req)
}

func (f *fixture) serve(req *http.Request) (int, map[string]any) {
	f.t.Helper()
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	out := map[string]any{}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		f.t.Fatalf("%s %s: answer is not a JSON object: %q", req.Method, req.URL, rec.Body.String())
	}
	return rec.Code, out
}

func (f *fixture) id(path, body string) string {
	f.t.Helper()
	code, out := f.call("POST", path, body)
	if code != http.StatusCreated {
		f.t.Fatalf("POST %s = %d %v", path, code, out)
	}
	return out["id"].(string)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name, path, header string
		want               int
	}{
		{"no_key", "/api/v1/users", "", 401},
		{"wrong_key", "/api/v1/users", "Bearer nope", 401},
		{"not_bearer", "/api/v1/users", "Basic " + key, 401},
		{"right_key", "/api/v1/users", "Bearer " + key, 200},
		{"unknown_route_still_needs_key", "/api/v1/nothing", "", 401},
		{"health_is_open", "/health", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			if got, body := f.serve(req); got != tc.want {
				t.Errorf("GET %s = %d %v, want %d", tc.path, got, body, tc.want)
			}
		})
	}
}

// signer signs the ID tokens of the IAM tests; trustIAM makes s admit
// only its tokens, for idtokentest.Audience.
var signer = sync.OnceValue(idtokentest.New)

func trustIAM(s *Server) {
	s.TrustIAM, s.IDTokens, s.Audiences = true, signer().Validator(), []string{idtokentest.Audience}
}

// idToken is a Google ID token for email, signed by the test key.
func idToken(email string) string { return signer().Email(email) }

// forged is a token with the right claims and no valid signature: what
// anyone can write.
func forged(email string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"idtokentest"}`)) + "." +
		enc([]byte(`{"iss":"https://accounts.google.com","email":"`+email+`","email_verified":true,"aud":"`+idtokentest.Audience+`","exp":4102444800}`)) + ".c2ln"
}

// Deployed behind Cloud Run IAM: admins send their Google ID token;
// automation may send the API key beside one, the token then going in
// X-Serverless-Authorization. The API checks each token itself.
func TestAuth_behind_IAM(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte(key))
	st := memstore.New()
	other := idtokentest.New()
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	for _, tc := range []struct {
		name       string
		keyHash    []byte
		headers    map[string]string
		wantCode   int
		wantCaller string
	}{
		{"id_token_in_authorization", sum[:], bearer(idToken("admin@example.com")), 200, "admin@example.com"},
		{"id_token_beside_the_key", sum[:], map[string]string{
			"X-Serverless-Authorization": "Bearer " + idToken("robot@p.iam.gserviceaccount.com"), "Authorization": "Bearer " + key}, 200, "robot@p.iam.gserviceaccount.com"},
		{"wrong_key_beside_a_token", sum[:], map[string]string{
			"X-Serverless-Authorization": "Bearer " + idToken("robot@p.iam.gserviceaccount.com"), "Authorization": "Bearer nope"}, 401, ""},
		{"key_beside_a_token_with_no_key_configured", nil, map[string]string{
			"X-Serverless-Authorization": "Bearer " + idToken("robot@p.iam.gserviceaccount.com"), "Authorization": "Bearer " + key}, 401, ""},
		{"key_alone_is_no_identity", sum[:], bearer(key), 401, ""},
		{"nothing", sum[:], nil, 401, ""},
		{"not_a_jwt", sum[:], bearer("a.b"), 401, ""},
		{"forged_unsigned", sum[:], bearer(forged("admin@example.com")), 401, ""},
		{"forged_beside_the_key", sum[:], map[string]string{
			"X-Serverless-Authorization": "Bearer " + forged("robot@p.iam.gserviceaccount.com"), "Authorization": "Bearer " + key}, 401, ""},
		{"signed_by_another_key", sum[:], bearer(other.Email("admin@example.com")), 401, ""},
		{"expired", sum[:], bearer(signer().Token(idtokentest.Claims{"email": "admin@example.com", "email_verified": true,
			"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()})), 401, ""},
		{"another_audience", sum[:], bearer(signer().Token(idtokentest.Claims{"email": "admin@example.com", "email_verified": true, "aud": "https://other.example"})), 401, ""},
		{"another_issuer", sum[:], bearer(signer().Token(idtokentest.Claims{"email": "admin@example.com", "email_verified": true, "iss": "https://evil.example"})), 401, ""},
		{"email_not_verified", sum[:], bearer(signer().Token(idtokentest.Claims{"email": "admin@example.com", "email_verified": false})), 401, ""},
		{"subject_only", sum[:], bearer(signer().Token(idtokentest.Claims{"sub": "1234567890"})), 200, "1234567890"},
		{"signature_removed_not_trusted", sum[:], bearer(removed(idToken("admin@example.com"))), 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var caller string
			s := &Server{KeyHash: tc.keyHash, Store: st}
			trustIAM(s)
			h := s.authenticated(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				caller = callerOf(r.Context()) // what the campaign history records
			}))
			req := httptest.NewRequest("GET", "/api/v1/users", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := struct {
				Code   int
				Caller string
			}{rec.Code, caller}
			want := struct {
				Code   int
				Caller string
			}{tc.wantCode, tc.wantCaller}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want, +got):\n%s\nbody: %s", diff, rec.Body)
			}
		})
	}
}

// removed is tok as Cloud Run IAM hands it on: checked, its signature
// replaced.
func removed(tok string) string {
	return tok[:strings.LastIndex(tok, ".")] + ".SIGNATURE_REMOVED_BY_GOOGLE"
}

// Deployed (TRUST_CLOUD_RUN_IAM), a token whose signature Cloud Run IAM
// removed is admitted on its claims, which are still checked; a forged
// signature is still refused.
func TestAuth_signature_removed_by_Cloud_Run(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	expired := signer().Token(idtokentest.Claims{"email": "admin@example.com", "email_verified": true,
		"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()})
	for _, tc := range []struct {
		name, token string
		wantCode    int
		wantCaller  string
	}{
		{"removed_by_cloud_run", removed(idToken("admin@example.com")), 200, "admin@example.com"},
		{"signed", idToken("admin@example.com"), 200, "admin@example.com"},
		{"forged_signature", forged("admin@example.com"), 401, ""},
		{"removed_but_expired", removed(expired), 401, ""},
		{"removed_but_another_audience", removed(signer().Token(idtokentest.Claims{"email": "a@example.com", "email_verified": true, "aud": "https://other.example"})), 401, ""},
		{"removed_but_another_issuer", removed(signer().Token(idtokentest.Claims{"email": "a@example.com", "email_verified": true, "iss": "https://evil.example"})), 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &Server{Store: st}
			trustIAM(s)
			s.TrustCloudRunIAM = true
			checkCaller(t, s, tc.token, tc.wantCode, tc.wantCaller)
		})
	}
}

// checkCaller sends s's authentication a request bearing token and checks
// its answer and the caller it names.
func checkCaller(t *testing.T, s *Server, token string, wantCode int, wantCaller string) {
	t.Helper()
	var caller string
	h := s.authenticated(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { caller = callerOf(r.Context()) }))
	req := httptest.NewRequest("GET", "/api/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	type result struct {
		Code   int
		Caller string
	}
	if diff := cmp.Diff(result{wantCode, wantCaller}, result{rec.Code, caller}); diff != "" {
		t.Errorf("(-want, +got):\n%s\nbody: %s", diff, rec.Body)
	}
}

// With API_ADMINS, a valid token of anyone else is refused (403): any
// Google account can mint a token for gcloud's client id.
func TestAuth_admins(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	for _, tc := range []struct {
		name, token string
		wantCode    int
		wantCaller  string
	}{
		{"admin", idToken("admin@example.com"), 200, "admin@example.com"},
		{"admin_other_case", idToken("Admin@Example.com"), 200, "Admin@Example.com"},
		{"scheduler", idToken("scheduler@p.iam.gserviceaccount.com"), 200, "scheduler@p.iam.gserviceaccount.com"},
		{"anyone_else", idToken("stranger@gmail.com"), 403, ""},
		{"forged_admin", forged("admin@example.com"), 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &Server{Store: st, Admins: EmailSet([]string{" ADMIN@example.com", "scheduler@p.iam.gserviceaccount.com"})}
			trustIAM(s)
			checkCaller(t, s, tc.token, tc.wantCode, tc.wantCaller)
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"key_mode_with_key", Config{Auth: AuthKey, APIKey: "k"}, ""},
		{"key_mode_with_hash", Config{Auth: AuthKey, APIKeySHA256: strings.Repeat("ab", 32)}, ""},
		{"key_mode_without_key", Config{Auth: AuthKey}, "API_AUTH=key needs API_KEY or API_KEY_SHA256"},
		{"iam_mode_without_key", Config{Auth: AuthIAM, IDTokenAudiences: []string{"https://api"}}, ""},
		{"iam_mode_without_audiences", Config{Auth: AuthIAM}, "API_AUTH=iam needs ID_TOKEN_AUDIENCES: the audiences an admin's ID token may be for (the function's URL)"},
		{"bad_hash", Config{Auth: AuthIAM, IDTokenAudiences: []string{"https://api"}, APIKeySHA256: "abc"}, "API_KEY_SHA256 must be 64 hex digits"},
		{"unknown_mode", Config{Auth: "open"}, `API_AUTH="open": want key or iam`},
		{"trust_cloud_run_iam_off_cloud_run", Config{Auth: AuthIAM, IDTokenAudiences: []string{"https://api"}, TrustCloudRunIAM: true},
			"TRUST_CLOUD_RUN_IAM=true is only for Cloud Run (K_SERVICE unset): elsewhere nothing checked the signature it trusts removed"},
		{"trust_cloud_run_iam_on_cloud_run", Config{Auth: AuthIAM, IDTokenAudiences: []string{"https://api"}, TrustCloudRunIAM: true, KService: "ese-api"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ""
			if err := tc.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("Validate() = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestHealth_unhealthy_when_a_dependency_is_down(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.h = (&Server{Checks: map[string]func(context.Context) error{
		"firestore": func(context.Context) error { return nil },
		"twilio":    func(context.Context) error { return errors.New("connection refused") },
		"cloud_tasks": func(context.Context) error {
			return errs.Wrap(errs.Permission, errors.New("PermissionDenied"), "cloudtasks.CreateTask: missing iam.serviceAccounts.actAs")
		},
	}}).Routes()
	code, body := f.serve(httptest.NewRequest("GET", "/health", nil))
	want := map[string]any{"firestore": "ok", "twilio": "unavailable", "cloud_tasks": "permission_denied"}
	if code != 503 || body["status"] != "unhealthy" || cmp.Diff(want, body["checks"]) != "" {
		t.Errorf("GET /health = %d %v", code, body)
	}
}

// Deployed, the API makes no Cloud Tasks call of its own: /health tells
// the misconfigurations the Sender and the campaign steps recorded, for
// health.Window after they were last seen.
func TestHealth_reports_problems_other_functions_recorded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, tc := range []struct {
		name      string
		seen      time.Time
		wantCode  int
		wantState string
	}{
		{"recent", now.Add(-time.Minute), 503, "act_as"},
		{"past_the_window", now.Add(-health.Window - time.Minute), 200, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			p := health.Problem{Dependency: "cloud_tasks", Kind: "act_as", Hint: "grant roles/iam.serviceAccountUser", Reporter: "Sender", At: tc.seen}
			if err := st.RecordProblem(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			f := &fixture{t: t, h: (&Server{Store: st, Checks: map[string]func(context.Context) error{
				"cloud_tasks": recordedProblems(st, "cloud_tasks", nil),
			}}).Routes()}
			code, body := f.serve(httptest.NewRequest("GET", "/health", nil))
			checks, _ := body["checks"].(map[string]any)
			if code != tc.wantCode || checks["cloud_tasks"] != tc.wantState {
				t.Errorf("GET /health = %d %v, want %d with cloud_tasks %q", code, body, tc.wantCode, tc.wantState)
			}
			if tc.wantCode == 503 {
				ps, _ := body["problems"].([]any)
				if len(ps) != 1 || ps[0].(map[string]any)["reporter"] != "Sender" || ps[0].(map[string]any)["hint"] != p.Hint {
					t.Errorf("problems = %v, want the Sender's act_as with its hint", body["problems"])
				}
			}
		})
	}
}

func TestErrors_say_what_and_where(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tpl := f.id("/api/v1/templates", `{"name":"W","content":"Hi {name}","variables":["name"]}`)
	seg := f.id("/api/v1/segments", `{"name":"C","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
	cases := []struct {
		name, method, path, body string
		wantCode                 int
		wantField                string
	}{
		{"bad_phone", "POST", "/api/v1/users", `{"phone_number":"0771234567"}`, 400, "phone_number"},
		{"bad_consent", "POST", "/api/v1/users", `{"phone_number":"+94771234567","consent_state":"MAYBE"}`, 400, "consent_state"},
		{"bad_timezone", "POST", "/api/v1/users", `{"phone_number":"+94771234567","timezone":"Mars/Base"}`, 400, "timezone"},
		{"rate_too_high", "POST", "/api/v1/campaigns", `{"topic":"t","template_id":"` + tpl + `","segment_id":"` + seg + `","rate_limit_per_second":501}`, 400, "rate_limit_per_second"},
		{"rate_not_integer", "POST", "/api/v1/campaigns", `{"topic":"t","template_id":"` + tpl + `","segment_id":"` + seg + `","rate_limit_per_second":1.5}`, 400, "rate_limit_per_second"},
		{"unknown_template", "POST", "/api/v1/campaigns", `{"topic":"t","template_id":"nope","segment_id":"` + seg + `","rate_limit_per_second":1}`, 400, "template_id"},
		{"bad_quiet_hours", "POST", "/api/v1/campaigns", `{"topic":"t","template_id":"` + tpl + `","segment_id":"` + seg + `","rate_limit_per_second":1,"quiet_hours_start":"25:00","quiet_hours_end":"08:00"}`, 400, "quiet_hours_start"},
		{"unknown_field", "POST", "/api/v1/templates", `{"name":"x","content":"y","colour":"red"}`, 400, "colour"},
		{"wrong_type", "POST", "/api/v1/templates", `{"name":5,"content":"y"}`, 400, "name"},
		{"bad_operator", "POST", "/api/v1/segments", `{"name":"x","definition_json":{"attribute":"city","operator":"like","value":"C"}}`, 400, "definition_json.operator"},
		{"unknown_campaign", "GET", "/api/v1/campaigns/nope", "", 404, ""},
		{"unknown_user", "GET", "/api/v1/users/%2B94771234567", "", 404, ""},
		{"unknown_import", "GET", "/api/v1/ingest/status/nope", "", 404, ""},
		{"bad_page", "GET", "/api/v1/users?per_page=1000", "", 400, "per_page"},
		{"messages_need_campaign", "GET", "/api/v1/reporting/messages/status", "", 400, "campaign_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.call(tc.method, tc.path, tc.body)
			if code != tc.wantCode || body["error"] == "" {
				t.Fatalf("%s %s = %d %v, want %d with an error", tc.method, tc.path, code, body, tc.wantCode)
			}
			if tc.wantField == "" {
				return
			}
			details, _ := body["details"].([]any)
			for _, d := range details {
				if d.(map[string]any)["field"] == tc.wantField {
					return
				}
			}
			t.Errorf("details %v do not name field %q", details, tc.wantField)
		})
	}
}

func TestUsers_and_consent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	code, u := f.call("POST", "/api/v1/users", `{"phone_number":"whatsapp:+94 77 123 4567","name":"Arjuna","attributes":{"city":"Colombo"}}`)
	if code != 201 || u["id"] != "+94771234567" || u["name"] != "Arjuna" || u["consent_state"] != "OPT_IN" {
		t.Fatalf("create = %d %v", code, u)
	}
	if code, _ := f.call("POST", "/api/v1/users", `{"phone_number":"+94771234567"}`); code != 409 {
		t.Errorf("second create = %d, want 409", code)
	}
	if code, u := f.call("PUT", "/api/v1/users/%2B94771234567/consent", `{"consent_state":"OPT_OUT","reason":"asked by phone"}`); code != 200 || u["consent_state"] != "OPT_OUT" {
		t.Errorf("admin opt-out = %d %v", code, u)
	}
	if code, u := f.call("PUT", "/api/v1/users/%2B94771234567/consent", `{"consent_state":"STOP"}`); code != 400 {
		t.Errorf("admin STOP = %d %v, want 400 (STOP is the person's)", code, u)
	}
	_, list := f.call("GET", "/api/v1/users?consent_state=OPT_OUT", "")
	if list["total"] != 1.0 || list["has_next"] != false || list["page"] != 1.0 || list["per_page"] != 50.0 {
		t.Errorf("filtered list = %v", list)
	}
	_, h := f.call("GET", "/api/v1/users/%2B94771234567/consent/history", "")
	hist, _ := h["history"].([]any)
	if len(hist) != 2 || hist[1].(map[string]any)["source"] != "admin" || hist[1].(map[string]any)["ref"] != "asked by phone" {
		t.Errorf("history = %v", h)
	}
}

func TestConsent_admin_cannot_lift_a_persons_stop(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.id("/api/v1/users", `{"phone_number":"+94771234567","consent_state":"STOP"}`)
	for _, to := range []string{"OPT_IN", "OPT_OUT"} {
		// OPT_OUT too: else OPT_OUT then OPT_IN would lift it.
		if code, body := f.call("PUT", "/api/v1/users/%2B94771234567/consent", `{"consent_state":"`+to+`"}`); code != 409 {
			t.Errorf("admin %s over STOP = %d %v, want 409", to, code, body)
		}
	}
}

func upload(t *testing.T, name, content string) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	// The part's content type says JSON; the name says CSV: the name wins.
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + name + `"`}
	h["Content-Type"] = []string{"application/json"}
	pw, _ := mw.CreatePart(h)
	io.WriteString(pw, content)
	mw.Close()
	req := httptest.NewRequest("POST", "/api/v1/ingest/users/bulk", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	return req
}

// applyAll runs the ImportUsers handler on everything published.
func (f *fixture) applyAll() {
	f.t.Helper()
	h := importusers.New(f.store, f.server.Erasure)
	for _, m := range f.events.Published(events.TopicUserImport) {
		if err := h(context.Background(), m); err != nil {
			f.t.Fatalf("ImportUsers: %v", err)
		}
	}
}

func TestBulkImport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	csv := "phone_number,name,city,consent_state\n+94771234567,Arjuna,Colombo,OPT_IN\nnot-a-phone,Bad,X,\nwhatsapp:+94771234577,Grace,Anuradhapura,\n"
	code, job := f.serve(upload(t, "contacts.csv", csv))
	if code != 202 || job["valid_rows"] != 2.0 || job["rejected_rows"] != 1.0 {
		t.Fatalf("upload = %d %v", code, job)
	}
	errs, _ := job["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["row"] != 3.0 || errs[0].(map[string]any)["field"] != "phone_number" {
		t.Errorf("row errors = %v, want row 3 field phone_number", errs)
	}
	f.applyAll()
	_, st := f.call("GET", "/api/v1/ingest/status/"+job["id"].(string), "")
	if st["state"] != "COMPLETED" || st["users_created"] != 2.0 {
		t.Errorf("status = %v", st)
	}

	// A re-import never raises an opted-out person back to OPT_IN.
	f.call("PUT", "/api/v1/users/%2B94771234567/consent", `{"consent_state":"OPT_OUT"}`)
	code, _ = f.call("POST", "/api/v1/users/bulk", `[{"phone_number":"+94771234567","consent_state":"OPT_IN","city":"Galle"}]`)
	if code != 202 {
		t.Fatalf("JSON body import = %d", code)
	}
	f.applyAll()
	_, u := f.call("GET", "/api/v1/users/%2B94771234567", "")
	if u["consent_state"] != "OPT_OUT" || u["city"] != "Galle" {
		t.Errorf("after re-import: %v; want OPT_OUT kept, city updated", u)
	}
}

// Upload options are query parameters: national numbers read for a
// default region, a Windows-1252 export transcoded, duplicates counted;
// an option the reader cannot honour is a 400 naming it.
func TestBulkImport_options(t *testing.T) {
	t.Parallel()
	windows1252 := "phone,name\n077 123 4567,Jos\xe9\n0771234567,Jos\xe9 again\n"
	for _, tc := range []struct {
		name, query, csv string
		wantCode         int
		want             map[string]any // a subset of the answer
		wantUser         map[string]any // +94771234567 after applying, when set
	}{
		{"national_numbers_for_a_region", "?default_region=LK&encoding=windows-1252", windows1252, 202,
			map[string]any{"valid_rows": 2.0, "rejected_rows": 0.0, "duplicates": 1.0},
			map[string]any{"name": "José again"}},
		{"national_numbers_without_a_region", "?encoding=windows-1252", windows1252, 202,
			map[string]any{"valid_rows": 0.0, "rejected_rows": 2.0, "duplicates": 0.0}, nil},
		{"unknown_region", "?default_region=XX", "phone\n+94771234567\n", 400,
			map[string]any{"details": []any{map[string]any{"field": "default_region", "message": "is not a region with phone numbers"}}}, nil},
		{"unknown_encoding", "?encoding=ebcdic", "phone\n+94771234567\n", 400,
			map[string]any{"details": []any{map[string]any{"field": "encoding", "message": "is not one of utf-8, windows-1252, iso-8859-1"}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			req := upload(t, "contacts.csv", tc.csv)
			req.URL.RawQuery = strings.TrimPrefix(tc.query, "?")
			code, got := f.serve(req)
			if code != tc.wantCode {
				t.Fatalf("upload = %d %v, want %d", code, got, tc.wantCode)
			}
			if code == 400 {
				if _, list := f.call("GET", "/api/v1/users", ""); list["total"] != 0.0 {
					t.Errorf("users after a refused upload = %v", list["total"])
				}
			}
			for k, v := range tc.want {
				if diff := cmp.Diff(v, got[k]); diff != "" {
					t.Errorf("%s (-want, +got):\n%s", k, diff)
				}
			}
			if tc.wantUser == nil {
				return
			}
			f.applyAll()
			_, u := f.call("GET", "/api/v1/users/%2B94771234567", "")
			for k, v := range tc.wantUser {
				if u[k] != v {
					t.Errorf("user %s = %v, want %v (user %v)", k, u[k], v, u)
				}
			}
		})
	}
}

func TestBulkImport_malformed_file_applies_nothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.server.Imports.BatchRows = 1
	body := `[{"phone_number":"+94771234567"},{"phone_number":"+94771234568"},{"phone_number": oops`
	code, out := f.call("POST", "/api/v1/users/bulk", body)
	if code != 400 {
		t.Fatalf("malformed JSON = %d %v, want 400", code, out)
	}
	// The file is read whole before any batch goes out.
	if n := len(f.events.Published(events.TopicUserImport)); n != 0 {
		t.Fatalf("%d batches handed on from a malformed file, want none", n)
	}
	if _, list := f.call("GET", "/api/v1/users", ""); list["total"] != 0.0 {
		t.Errorf("users after a malformed import = %v, want none", list["total"])
	}
}

// A JSON array cut off after a whole element once read as a good file's
// end: its rows were applied. It is a truncated file: 400, nothing applied.
func TestBulkImport_unclosed_array_applies_nothing(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`[{"phone_number":"+94771234567"}`, `[{"phone_number":"+94771234567"},`, `[`} {
		f := newFixture(t)
		code, out := f.call("POST", "/api/v1/users/bulk", body)
		if code != 400 {
			t.Errorf("%s = %d %v, want 400", body, code, out)
		}
		f.applyAll()
		if _, list := f.call("GET", "/api/v1/users", ""); list["total"] != 0.0 {
			t.Errorf("users after %s = %v, want none", body, list["total"])
		}
	}
}

// Wide rows fill a batch by bytes before they fill it by count: no batch
// grows past what a Pub/Sub message carries, and every row still applies.
func TestBulkImport_batches_are_bounded_by_bytes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var csv strings.Builder
	csv.WriteString("phone,notes\n")
	wide := strings.Repeat("x", 60<<10)
	const rows = 40
	for i := range rows {
		fmt.Fprintf(&csv, "+9477%07d,%s\n", i+1, wide)
	}
	code, job := f.serve(upload(t, "wide.csv", csv.String()))
	if code != 202 || job["valid_rows"] != float64(rows) {
		t.Fatalf("upload = %d %v", code, job)
	}
	batches := f.events.Published(events.TopicUserImport)
	if len(batches) < 3 {
		t.Errorf("%d rows of 60 KiB went out in %d batches, want them split by bytes", rows, len(batches))
	}
	for i, m := range batches {
		if len(m.Data) > 4<<20 {
			t.Errorf("batch %d is %d bytes, want at most a few MB", i, len(m.Data))
		}
	}
	f.applyAll()
	if _, list := f.call("GET", "/api/v1/users?per_page=100", ""); list["total"] != float64(rows) {
		t.Errorf("users = %v, want %d", list["total"], rows)
	}
}

func TestCampaign_lifecycle_shapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tpl := f.id("/api/v1/templates", `{"name":"W","content":"Hi {name}"}`)
	seg := f.id("/api/v1/segments", `{"name":"C","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
	code, c := f.call("POST", "/api/v1/campaigns", `{"topic":"t","template_id":"`+tpl+`","segment_id":"`+seg+`","rate_limit_per_second":2,"quiet_hours_start":null,"quiet_hours_end":null}`)
	if code != 201 || c["status"] != "DRAFT" || c["quiet_hours_start"] != nil || c["rate_limit_per_second"] != 2.0 {
		t.Fatalf("create = %d %v", code, c)
	}
	id := c["id"].(string)
	code, trig := f.call("POST", "/api/v1/campaigns/"+id+"/trigger", `{}`)
	if code != 202 || trig["status"] != "RUNNING" || trig["campaign_id"] != id {
		t.Fatalf("trigger = %d %v", code, trig)
	}
	if n := len(f.events.Published(events.TopicCampaignLaunch)); n != 1 {
		t.Errorf("launch events = %d, want 1", n)
	}
	_, list := f.call("GET", "/api/v1/campaigns?per_page=1", "")
	if list["total"] != 1.0 || len(list["campaigns"].([]any)) != 1 || list["has_next"] != false {
		t.Errorf("list = %v", list)
	}
	_, sum := f.call("GET", "/api/v1/reporting/campaigns/"+id+"/summary", "")
	if sum["campaign_id"] != id || sum["total_recipients"] != 0.0 || sum["top_error_codes"] == nil {
		t.Errorf("summary = %v", sum)
	}
}

// A callback stored but never published (its webhook died in between) is
// handed on by the sweep, once.
func TestRepublishWebhooks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	old := time.Now().UTC().Add(-time.Minute)
	for _, e := range []webhook.Event{
		{ID: "inbound-SM1", Kind: webhook.Inbound, MessageSID: "SM1", Params: map[string]string{"Body": "STOP"}, ReceivedAt: old},
		{ID: "status-SM2-sent", Kind: webhook.Status, MessageSID: "SM2", Status: "sent", ReceivedAt: old},
		{ID: "inbound-SM3", Kind: webhook.Inbound, MessageSID: "SM3", ReceivedAt: time.Now().UTC()}, // too young
	} {
		if _, _, err := f.store.RecordWebhook(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []float64{2, 0} {
		if code, out := f.call("POST", "/api/v1/maintenance/republish-webhooks", ""); code != 200 || out["republished"] != want {
			t.Errorf("sweep %d = %d %v, want %v republished", i, code, out, want)
		}
	}
	if a, b := len(f.events.Published(events.TopicInbound)), len(f.events.Published(events.TopicStatus)); a != 1 || b != 1 {
		t.Errorf("published %d inbound, %d status; want 1 and 1", a, b)
	}
}

func TestCheckCampaigns_lists_the_stuck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	started := time.Now().Add(-2 * time.Hour)
	c, err := f.store.CreateCampaign(t.Context(), campaign.Campaign{Topic: "t", TemplateID: "x", SegmentID: "y", Rate: 1,
		Status: campaign.Running, StartedAt: &started, CreatedAt: started, UpdatedAt: started})
	if err != nil {
		t.Fatal(err)
	}
	code, body := f.call("POST", "/api/v1/maintenance/check-campaigns", "")
	stuck, _ := body["stuck"].([]any)
	if code != 200 || len(stuck) != 1 || stuck[0].(map[string]any)["campaign_id"] != c.ID {
		t.Errorf("POST check-campaigns = %d %v, want campaign %s stuck", code, body, c.ID)
	}
}

// The campaign check asks ProcessRecipients (the API has no Cloud Tasks
// client deployed) for the stranded-message sweep and, with a sender's
// ceiling, to share it again, putting right a sharing that failed.
func TestCheckCampaigns_shares_the_ceiling_again(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		ceiling int
		want    []events.Recipients
	}{
		{"ceiling", 10, []events.Recipients{{ShareCeiling: true}, {SweepStranded: true}}},
		{"no_ceiling", 0, []events.Recipients{{SweepStranded: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.server.SenderMPS = tc.ceiling
			if code, body := f.call("POST", "/api/v1/maintenance/check-campaigns", ""); code != 200 {
				t.Fatalf("POST check-campaigns = %d %v", code, body)
			}
			var got []events.Recipients
			for _, m := range f.events.Published(events.TopicRecipients) {
				var ev events.Recipients
				if err := events.Decode(m, &ev); err != nil {
					t.Fatal(err)
				}
				got = append(got, ev)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("recipient-batch requests (-want, +got):\n%s", diff)
			}
		})
	}
}

// The dashboard counts the messages stranded without a task: in a running
// campaign that stopped moving, those waiting past campaignrun's margin.
func TestDashboard_counts_stuck_messages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		age      time.Duration // since the campaign and its messages last moved
		statuses []message.Status
		want     float64
	}{
		{"stranded", 2 * campaignrun.StrandedAfter, []message.Status{message.Queued, message.Pending, message.Sent, message.Sending}, 2},
		{"still_moving", campaignrun.StrandedAfter / 2, []message.Status{message.Queued, message.Pending}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := t.Context()
			at := time.Now().UTC().Add(-tc.age)
			c, err := f.store.CreateCampaign(ctx, campaign.Campaign{Topic: "t", TemplateID: "x", SegmentID: "y", Rate: 1,
				Status: campaign.Running, StartedAt: &at, QueueCreatedAt: &at, FanoutDone: true, CreatedAt: at, UpdatedAt: at})
			if err != nil {
				t.Fatal(err)
			}
			var ms []message.Message
			for i, st := range tc.statuses {
				p := fmt.Sprintf("+9477123450%d", i)
				ms = append(ms, message.Message{ID: message.ID(c.ID, p), CampaignID: c.ID, Phone: p, Status: st, CreatedAt: at, UpdatedAt: at})
			}
			if _, err := f.store.CreateMessages(ctx, ms); err != nil {
				t.Fatal(err)
			}
			code, body := f.call("GET", "/api/v1/monitoring/dashboard", "")
			if code != 200 || body["stuck_messages"] != tc.want {
				t.Errorf("GET dashboard = %d, stuck_messages %v; want %v", code, body["stuck_messages"], tc.want)
			}
		})
	}
}
