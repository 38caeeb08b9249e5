package twilio_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
)

// FuzzListQuery feeds the message list arbitrary queries: it must answer
// a page (200) or a Twilio error (400), always as JSON.
func FuzzListQuery(f *testing.F) {
	f.Add("To=whatsapp%3A%2B94771234577&DateSent%3E=2026-01-01T00%3A00%3A00Z&PageSize=2&Page=1")
	f.Add("DateSent=2026-01-01&DateSent%3C=2026-01-02T05%3A00%3A00%2B05%3A30")
	f.Add("PageSize=0&Page=-1")
	f.Add("DateSent%3E=yesterday&PageSize=99999999999999999999")
	s := standin.New(standin.Config{AccountSID: accountSID, AuthToken: authToken, StatusStep: time.Millisecond, Logger: quiet})
	f.Cleanup(s.Close)
	for _, to := range []string{"+94771234577", "+94771234588", "+94771234577"} {
		r := httptest.NewRequest(http.MethodPost, "/2010-04-01/Accounts/"+accountSID+"/Messages.json",
			strings.NewReader(url.Values{"To": {"whatsapp:" + to}, "From": {sender}, "Body": {"Hi"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(accountSID, authToken)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			f.Fatalf("create: %d %s", w.Code, w.Body)
		}
	}
	time.Sleep(20 * time.Millisecond) // some sent, with a date_sent
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest(http.MethodGet, "/2010-04-01/Accounts/"+accountSID+"/Messages.json", nil)
		r.URL.RawQuery = query
		r.SetBasicAuth(accountSID, authToken)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("GET ?%s = %d, want 200 or 400", query, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("GET ?%s answered non-JSON %q", query, w.Body.String())
		}
	})
}

// FuzzInbound feeds /_standin/inbound arbitrary bodies; with no InboundURL
// it must refuse them as JSON (400 for bad input, 503 otherwise).
func FuzzInbound(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "From=%2B94771234577&Body=STOP")
	f.Add("application/json", `{"From":"whatsapp:+94771234577","Body":"hi"}`)
	f.Add("application/json; charset=utf-8", `{"From":1}`)
	f.Add("text/plain", "From=%zz")
	s := standin.New(standin.Config{AccountSID: accountSID, AuthToken: authToken, Logger: quiet})
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := httptest.NewRequest(http.MethodPost, "/_standin/inbound", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("POST %q = %d, want 400 or 503", body, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("POST %q answered non-JSON %q", body, w.Body.String())
		}
	})
}

// FuzzContentVariables feeds a template send arbitrary ContentVariables:
// it is created with exactly the values given (a JSON object of strings)
// or refused with 21656, always as JSON.
func FuzzContentVariables(f *testing.F) {
	for _, v := range []string{`{"1":"Arjuna","2":"Colombo"}`, `{}`, `null`, `[]`, `{"1":2}`, `{"1":"a"`, `"x"`, `{"1":"\u0000"}`} {
		f.Add(v)
	}
	s := standin.New(standin.Config{AccountSID: accountSID, AuthToken: authToken, StatusStep: time.Hour, Logger: quiet})
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, vars string) {
		form := url.Values{"To": {"whatsapp:+94771234577"}, "From": {sender}, "ContentSid": {"HX0123456789abcdef0123456789abcdef"}, "ContentVariables": {vars}}
		r := httptest.NewRequest(http.MethodPost, "/2010-04-01/Accounts/"+accountSID+"/Messages.json", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(accountSID, authToken)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		var answer struct {
			SID  string `json:"sid"`
			Code int    `json:"code"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("ContentVariables %q answered non-JSON %q", vars, w.Body.String())
		}
		var want map[string]string
		valid := vars == "" || (json.Unmarshal([]byte(vars), &want) == nil && want != nil)
		switch {
		case valid && w.Code != http.StatusCreated:
			t.Fatalf("ContentVariables %q = %d %s, want 201", vars, w.Code, w.Body)
		case !valid && (w.Code != http.StatusBadRequest || answer.Code != 21656):
			t.Fatalf("ContentVariables %q = %d %s, want 400 with code 21656", vars, w.Code, w.Body)
		case !valid:
			return
		}
		for _, m := range s.Sent() {
			if m.SID == answer.SID {
				if len(want) == 0 && len(m.ContentVariables) == 0 {
					return
				}
				got, _ := json.Marshal(m.ContentVariables)
				exp, _ := json.Marshal(want)
				if string(got) != string(exp) {
					t.Fatalf("ContentVariables %q recorded as %s, want %s", vars, got, exp)
				}
				return
			}
		}
		t.Fatalf("created %s is not recorded", answer.SID)
	})
}

// FuzzHooks feeds the test hooks /_standin/window and /_standin/contents
// arbitrary bodies: each opens (or adds) and answers 204, or refuses with
// a JSON 400.
func FuzzHooks(f *testing.F) {
	f.Add("window", "application/x-www-form-urlencoded", "From=%2B94771234577&To=whatsapp%3A%2B14155238886")
	f.Add("window", "application/json", `{"from":"whatsapp:+94771234577"}`)
	f.Add("contents", "application/json", `{"Sid":"HX0123456789abcdef0123456789abcdef","Body":"Hi {{1}}"}`)
	f.Add("contents", "application/x-www-form-urlencoded", "Sid=HX1&Body=")
	s := standin.New(standin.Config{AccountSID: accountSID, AuthToken: authToken, Logger: quiet})
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, hook, contentType, body string) {
		path := "/_standin/window"
		if hook == "contents" {
			path = "/_standin/contents"
		}
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		switch {
		case w.Code == http.StatusNoContent:
		case w.Code == http.StatusBadRequest && json.Valid(w.Body.Bytes()):
		default:
			t.Fatalf("POST %s %q = %d %q, want 204, or 400 as JSON", path, body, w.Code, w.Body)
		}
	})
}

// FuzzRender sends a template the stand-in was given, with arbitrary text
// and variables: it is always created; a template with no placeholder is
// sent as it is; and with plain values (no digit, brace or blank) no
// placeholder it had a value for is left in the body.
func FuzzRender(f *testing.F) {
	f.Add("Hi {{1}}, from {{ 2 }}", "Arjuna", "Colombo")
	f.Add("{{1}}{{1}}{{2", "{{2}}", "x")
	f.Add("{{}} {{a_b}} plain", "", "")
	left := regexp.MustCompile(`\{\{\s*[12]\s*\}\}`)
	plain := regexp.MustCompile(`^[^0-9{}]*[^\s0-9{}][^0-9{}]*$`)
	f.Fuzz(func(t *testing.T, template, one, two string) {
		s := standin.New(standin.Config{AccountSID: accountSID, AuthToken: authToken, StatusStep: time.Hour, Logger: quiet,
			Contents: map[string]string{"HX0123456789abcdef0123456789abcdef": template}})
		defer s.Close()
		vars, _ := json.Marshal(map[string]string{"1": one, "2": two})
		form := url.Values{"To": {"whatsapp:+94771234577"}, "From": {sender}, "ContentSid": {"HX0123456789abcdef0123456789abcdef"}, "ContentVariables": {string(vars)}}
		r := httptest.NewRequest(http.MethodPost, "/2010-04-01/Accounts/"+accountSID+"/Messages.json", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(accountSID, authToken)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			t.Fatalf("create = %d %s", w.Code, w.Body)
		}
		got := s.Sent()[0].Body
		switch {
		case !strings.Contains(template, "{{") && got != template:
			t.Fatalf("template %q with no placeholder sent as %q", template, got)
		case plain.MatchString(one) && plain.MatchString(two) && left.MatchString(got):
			t.Fatalf("template %q with %q, %q rendered as %q, a placeholder left", template, one, two, got)
		}
	})
}
