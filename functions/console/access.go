package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
)

// cookieName has the __Host- prefix: the browser keeps it only when it is
// Secure, for this host alone, with Path=/.
const cookieName = "__Host-ese-console"

// session is what the signed cookie holds: an id the CSRF tokens are tied
// to, who signed in ("" before), and when it ends.
type session struct {
	ID      string
	Who     string
	Expires time.Time
}

func (s *Server) sign(msg string) string {
	m := hmac.New(sha256.New, s.SessionKey)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// keyFingerprint names the API key in force (an HMAC of its hash, so the
// cookie reveals nothing of it): a session signed under another key has
// ended, so rotating the API key signs everyone out even when
// CONSOLE_SESSION_KEY stays.
func (s *Server) keyFingerprint() string {
	var h []byte
	if s.API != nil {
		h = s.API.KeyHash
	}
	return s.sign("api-key|" + hex.EncodeToString(h))[:22]
}

// encode is "id|who|expiry|key fingerprint" in base64, a dot, and its
// signature.
func (s *Server) encode(ss session) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(ss.ID + "|" + ss.Who + "|" + strconv.FormatInt(ss.Expires.Unix(), 10) + "|" + s.keyFingerprint()))
	return payload + "." + s.sign("session|"+payload)
}

func (s *Server) decode(v string) (session, bool) {
	payload, sig, ok := strings.Cut(v, ".")
	if !ok || subtle.ConstantTimeCompare([]byte(sig), []byte(s.sign("session|"+payload))) != 1 {
		return session{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return session{}, false
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 || subtle.ConstantTimeCompare([]byte(parts[3]), []byte(s.keyFingerprint())) != 1 {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !s.now().Before(time.Unix(exp, 0)) {
		return session{}, false
	}
	return session{ID: parts[0], Who: parts[1], Expires: time.Unix(exp, 0)}, true
}

// session reads r's session cookie; ok is false without a valid one.
func (s *Server) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	return s.decode(c.Value)
}

// startSession sets a new session cookie (a fresh id: signing in never
// keeps the id a page was served under).
func (s *Server) startSession(w http.ResponseWriter, who string) session {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	ss := session{ID: base64.RawURLEncoding.EncodeToString(b), Who: who, Expires: s.now().Add(s.SessionTTL)}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: s.encode(ss), Path: "/", Expires: ss.Expires,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return ss
}

// csrfToken is tied to the session: a token from another session, or
// from before sign-in, is refused.
func (s *Server) csrfToken(ss session) string { return s.sign("csrf|" + ss.ID) }

func (s *Server) csrfOK(r *http.Request, ss session) bool {
	got := r.PostFormValue("csrf")
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrfToken(ss))) == 1
}

// visitor is who is asking, and how.
type visitor struct {
	Who  string
	CSRF string // the token forms carry; "" for a tool using the bearer key
	// Tool: authenticated by its Authorization header, which a browser
	// never sends across sites, so it needs no CSRF token.
	Tool bool
}

type visitorKey struct{}

func visitorOf(ctx context.Context) visitor {
	v, _ := ctx.Value(visitorKey{}).(visitor)
	return v
}

// signedIn admits a signed-in admin, as the API would:
//   - API_AUTH=key: the bearer key in Authorization (tools), or the session
//     cookie the sign-in form set; a page asked for without either
//     redirects to /login.
//   - API_AUTH=iam: the Google identity whose ID token the API checked
//     (signature, expiry, issuer, audience), in Admins when set; a session
//     cookie is kept only for CSRF.
//
// Every POST from a browser must carry the session's CSRF token.
func (s *Server) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.admit(w, r)
		if !ok {
			return
		}
		log := logging.FromContext(r.Context()).With("caller", v.Who)
		ctx := context.WithValue(logging.WithLogger(r.Context(), log), visitorKey{}, v)
		next(w, r.WithContext(ctx))
	}
}

func (s *Server) admit(w http.ResponseWriter, r *http.Request) (visitor, bool) {
	ss, hasSession := s.session(r)
	if s.IAM {
		who, err := s.API.Caller(r)
		if errs.Is(err, errs.Permission) {
			s.problem(w, r, http.StatusForbidden, "Not an admin", err.Error())
			return visitor{}, false
		}
		if err != nil {
			s.problem(w, r, http.StatusUnauthorized, "Sign-in needed", err.Error())
			return visitor{}, false
		}
		if len(s.Admins) > 0 && !s.Admins[strings.ToLower(who)] {
			s.problem(w, r, http.StatusForbidden, "Not an admin", who+" is not among the console's admins (CONSOLE_ADMINS).")
			return visitor{}, false
		}
		if !hasSession {
			ss = s.startSession(w, "")
		}
		return s.checkPost(w, r, visitor{Who: who, CSRF: s.csrfToken(ss)}, ss)
	}
	if r.Header.Get("Authorization") != "" {
		who, err := s.API.Caller(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="event-stream-engine"`)
			s.problem(w, r, http.StatusUnauthorized, "Wrong key", err.Error())
			return visitor{}, false
		}
		return visitor{Who: who, Tool: true}, true
	}
	if !hasSession || ss.Who == "" {
		if r.Method == http.MethodGet {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		} else {
			s.problem(w, r, http.StatusUnauthorized, "Sign-in needed", "Your session has ended: sign in again.")
		}
		return visitor{}, false
	}
	return s.checkPost(w, r, visitor{Who: ss.Who, CSRF: s.csrfToken(ss)}, ss)
}

func (s *Server) checkPost(w http.ResponseWriter, r *http.Request, v visitor, ss session) (visitor, bool) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return v, true
	}
	// The form is read here for its CSRF token: a body over its limit
	// (limitImport, when it gave no length) is said so, not "Form expired".
	if err := r.ParseMultipartForm(32 << 20); errors.As(err, new(*http.MaxBytesError)) {
		s.fileTooLarge(w, r)
		return visitor{}, false
	}
	if !s.csrfOK(r, ss) {
		s.problem(w, r, http.StatusForbidden, "Form expired", "This form's security token is missing or belongs to another session. Go back, reload the page and try again.")
		return visitor{}, false
	}
	return v, true
}

// safeNext keeps a redirect after sign-in on this origin: a path that
// begins with exactly one '/', with no scheme, host or user, and no
// backslash or control character anywhere (browsers drop a tab or a
// newline and read "/\t/evil" as "//evil", and "/\\evil" as "//evil").
func safeNext(next string) string {
	if strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.IAM {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	ss, ok := s.session(r)
	if !ok {
		ss = s.startSession(w, "")
	}
	s.render(w, r, http.StatusOK, "login", page{Title: "Sign in", CSRF: s.csrfToken(ss), Data: map[string]any{"Next": safeNext(r.URL.Query().Get("next"))}})
}

// login takes the API key once and signs the browser in. Attempts are
// limited by client address (signInGuard); the key is never logged.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	client := clientAddr(r, s.CloudRun)
	log := logging.FromContext(r.Context()).With("client", client)
	if s.IAM {
		s.problem(w, r, http.StatusForbidden, "Form expired", "Reload the sign-in page and try again.")
		return
	}
	ss, ok := s.session(r)
	if !ok && !cookieKept(r) {
		log.Warn("console sign-in refused: no session cookie over plain http", "host", r.Host)
		s.problem(w, r, http.StatusForbidden, "Sign-in needs https or localhost",
			"Your browser did not send back the console's session cookie. It is a Secure cookie, which browsers keep only over https or at localhost, and this page was opened over plain http at "+r.Host+
				". Open the console over https, or at http://localhost (on this machine, or through an SSH tunnel), and sign in again.")
		return
	}
	if !ok || !s.csrfOK(r, ss) {
		s.problem(w, r, http.StatusForbidden, "Form expired", "Reload the sign-in page and try again.")
		return
	}
	// Only now, a well-formed sign-in, does it take an attempt: a request
	// without a valid form cannot drain anyone's bucket, nor everyone's.
	attempt, ok, wait := s.signIns.attempt(client)
	if !ok {
		secs := int(math.Ceil(wait.Seconds()))
		log.Warn("console sign-in refused: too many attempts", "retry_after_s", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.problem(w, r, http.StatusTooManyRequests, "Too many sign-in attempts",
			fmt.Sprintf("Too many sign-in attempts from your address. Wait %d seconds, then reload the sign-in page and try again.", secs))
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if !s.API.KeyMatches(r.PostFormValue("key")) {
		log.Warn("console sign-in refused: wrong key")
		s.signIns.wait(r)
		s.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in", CSRF: s.csrfToken(ss),
			Errors: map[string]string{"key": "That is not the API key."}, Data: map[string]any{"Next": next}})
		return
	}
	attempt.succeeded()
	s.startSession(w, "api-key")
	log.Info("console sign-in")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// cookieKept is false when the browser cannot have kept the session
// cookie: the request came without any cookie of ours, over plain http,
// to a host other than localhost (where browsers drop Secure cookies).
func cookieKept(r *http.Request) bool {
	if _, err := r.Cookie(cookieName); err == nil {
		return true
	}
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
