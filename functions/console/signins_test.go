package console

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/logging"
)

// attemptSignIn posts the sign-in form as a browser at client (the
// connection's address), with a fresh session, and returns the status,
// the Retry-After header and what was logged.
func (f *fixture) attemptSignIn(client, try string) (status int, retryAfter, logged string) {
	f.t.Helper()
	return f.postSignIn(client, try, true)
}

// postSignIn is attemptSignIn, its CSRF token dropped unless withCSRF.
func (f *fixture) postSignIn(client, try string, withCSRF bool) (status int, retryAfter, logged string) {
	f.t.Helper()
	f.cookie = nil
	tok := f.csrf("/login")
	if !withCSRF {
		tok = ""
	}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"csrf": {tok}, "key": {try}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = net.JoinHostPort(client, "4321")
	req.Header.Set("X-Forwarded-For", "192.0.2.250") // written by the client: not its address here
	req.AddCookie(f.cookie)
	var logs bytes.Buffer
	req = req.WithContext(logging.WithLogger(req.Context(), logging.New(&logs, nil)))
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("Retry-After"), logs.String()
}

// fakeClock is the time the sign-in guard reads.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSignInLimit: a client address gets a few wrong keys, then 429 with
// Retry-After until its bucket refills; other addresses are not held up,
// right keys use up nothing, and the refusal is logged with the address,
// never the key.
func TestSignInLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.s.signIns.now, f.s.signIns.failDelay = clock.now, 0

	type result struct {
		Status     int
		RetryAfter string
	}
	var got, want []result
	for range signInBurst + 3 { // right keys use up nothing
		status, ra, _ := f.attemptSignIn("203.0.113.7", key)
		got, want = append(got, result{status, ra}), append(want, result{http.StatusSeeOther, ""})
	}
	for range signInBurst {
		status, ra, _ := f.attemptSignIn("203.0.113.7", "guess")
		got, want = append(got, result{status, ra}), append(want, result{http.StatusUnauthorized, ""})
	}
	status, ra, logged := f.attemptSignIn("203.0.113.7", "guess-again")
	got, want = append(got, result{status, ra}), append(want, result{http.StatusTooManyRequests, "12"})
	// Even the right key waits: the bucket is the address's.
	status, ra, _ = f.attemptSignIn("203.0.113.7", key)
	got, want = append(got, result{status, ra}), append(want, result{http.StatusTooManyRequests, "12"})
	// Another address is not held up.
	status, ra, _ = f.attemptSignIn("198.51.100.9", "guess")
	got, want = append(got, result{status, ra}), append(want, result{http.StatusUnauthorized, ""})
	// A refill gives one attempt back.
	clock.add(signInEvery)
	status, ra, _ = f.attemptSignIn("203.0.113.7", "guess")
	got, want = append(got, result{status, ra}), append(want, result{http.StatusUnauthorized, ""})
	status, ra, _ = f.attemptSignIn("203.0.113.7", "guess")
	got, want = append(got, result{status, ra}), append(want, result{http.StatusTooManyRequests, "12"})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sign-in attempts (-want, +got):\n%s", diff)
	}
	if !strings.Contains(logged, `"client":"203.0.113.7"`) || !strings.Contains(logged, "too many attempts") || strings.Contains(logged, "guess-again") {
		t.Errorf("the refusal's log: want the client and the reason, never the key:\n%s", logged)
	}
	_, _, logged = f.attemptSignIn("192.0.2.1", "wrong-key-typed")
	if !strings.Contains(logged, `"client":"192.0.2.1"`) || strings.Contains(logged, "wrong-key-typed") {
		t.Errorf("a wrong key's log: want the client, never the key:\n%s", logged)
	}
}

// TestSignInLimitNeedsAWellFormedSignIn: posts without a valid CSRF form
// take no attempt, from the address's bucket or from everyone's, so no one
// can lock the sign-in with them.
func TestSignInLimitNeedsAWellFormedSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.s.signIns.now, f.s.signIns.failDelay = clock.now, 0
	for i := range allSignInsBurst + signInBurst {
		if status, _, _ := f.postSignIn(fmt.Sprintf("198.51.100.%d", i%250+1), "guess", false); status != http.StatusForbidden {
			t.Fatalf("a sign-in without its CSRF token: %d, want 403", status)
		}
		if status, _, _ := f.postSignIn("203.0.113.7", "guess", false); status != http.StatusForbidden {
			t.Fatalf("a sign-in without its CSRF token: %d, want 403", status)
		}
	}
	if status, _, _ := f.attemptSignIn("203.0.113.7", key); status != http.StatusSeeOther {
		t.Errorf("the right key after many posts without a form: %d, want 303", status)
	}
}

// TestSignInFailDelay: a wrong key is answered after the fixed delay, a
// right one at once.
func TestSignInFailDelay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.s.signIns.failDelay = 200 * time.Millisecond
	for _, tc := range []struct {
		name, key string
		slow      bool
	}{
		{"wrong_key", "nope", true},
		{"right_key", key, false},
	} {
		start := time.Now()
		f.attemptSignIn("203.0.113.8", tc.key)
		if got := time.Since(start) >= f.s.signIns.failDelay; got != tc.slow {
			t.Errorf("%s: delayed %v, want %v", tc.name, got, tc.slow)
		}
	}
}

// TestClientAddr: on Cloud Run the client is the hop its front end
// appends (the last), never one the client wrote; elsewhere nothing
// proxies, and X-Forwarded-For is ignored.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cloudRun bool
		xff      []string
		remote   string
		want     string
	}{
		{"cloud_run_last_hop", true, []string{"198.51.100.66, 203.0.113.7"}, "169.254.1.1:1234", "203.0.113.7"},
		{"cloud_run_one_hop", true, []string{"2001:db8::1"}, "169.254.1.1:1234", "2001:db8::1"},
		{"cloud_run_last_header", true, []string{"198.51.100.66", "203.0.113.7"}, "169.254.1.1:1234", "203.0.113.7"},
		{"cloud_run_no_header", true, nil, "192.0.2.5:5555", "192.0.2.5"},
		{"cloud_run_not_an_address", true, []string{"203.0.113.7, evil"}, "192.0.2.5:5555", "192.0.2.5"},
		{"local_ignores_the_header", false, []string{"203.0.113.7"}, "127.0.0.1:5555", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/login", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if diff := cmp.Diff(tc.want, clientAddr(r, tc.cloudRun)); diff != "" {
				t.Errorf("(-want, +got):\n%s", diff)
			}
		})
	}
}

// TestSignInWithoutSecureContext: over plain http to a host other than
// localhost the browser drops the Secure session cookie, and the sign-in
// says so instead of "Form expired".
func TestSignInWithoutSecureContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.s.signIns.failDelay = 0
	for _, tc := range []struct {
		name, url, proto string
		want             string
	}{
		{"lan_address", "http://192.168.1.20:8080/login", "", "Sign-in needs https or localhost"},
		{"lan_hostname", "http://devbox.lan:8080/login", "", "Sign-in needs https or localhost"},
		{"localhost", "http://localhost:8080/login", "", "Form expired"},
		{"loopback", "http://127.0.0.1:8080/login", "", "Form expired"},
		{"loopback_v6", "http://[::1]:8080/login", "", "Form expired"},
		{"https", "https://console.example/login", "", "Form expired"},
		{"behind_https_proxy", "http://console.example/login", "https", "Form expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("POST", tc.url, strings.NewReader(url.Values{"csrf": {"x"}, "key": {key}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			got := ""
			for _, title := range []string{"Sign-in needs https or localhost", "Form expired"} {
				if strings.Contains(rec.Body.String(), title) {
					got = title
					break
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || rec.Code != http.StatusForbidden {
				t.Errorf("%d, want 403; the page's title (-want, +got):\n%s", rec.Code, diff)
			}
		})
	}
}
