package console

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Sign-in attempts: each client address gets a bucket of signInBurst
// attempts, refilled one every signInEvery; a wrong key then waits
// signInFailDelay. All addresses together get a larger bucket too, a
// backstop against many addresses. Only a well-formed sign-in (session
// cookie and CSRF token valid) takes an attempt, and only a wrong key
// keeps it.
const (
	signInBurst     = 5
	signInEvery     = 12 * time.Second
	allSignInsBurst = 60
	allSignInsEvery = time.Second
	signInFailDelay = 500 * time.Millisecond
	// signInClients bounds the addresses remembered; idle ones (their
	// bucket full again) are dropped first.
	signInClients = 10000
)

// signInGuard limits sign-in attempts by client address.
type signInGuard struct {
	mu      sync.Mutex
	all     *rate.Limiter
	clients map[string]*signInClient
	// now and failDelay are replaced by tests.
	now       func() time.Time
	failDelay time.Duration
}

type signInClient struct {
	lim  *rate.Limiter
	seen time.Time
}

func newSignInGuard() *signInGuard {
	return &signInGuard{
		all:       rate.NewLimiter(rate.Every(allSignInsEvery), allSignInsBurst),
		clients:   map[string]*signInClient{},
		now:       time.Now,
		failDelay: signInFailDelay,
	}
}

// attempt takes one attempt from client's bucket and from everyone's;
// ok false means too many, and wait is how long until the next. A
// sign-in that succeeds gives its attempt back (succeeded).
func (g *signInGuard) attempt(client string) (a signInAttempt, ok bool, wait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	c, ok := g.clients[client]
	if !ok {
		if len(g.clients) >= signInClients {
			g.forget(now)
		}
		c = &signInClient{lim: rate.NewLimiter(rate.Every(signInEvery), signInBurst)}
		g.clients[client] = c
	}
	c.seen = now
	if tokens := c.lim.TokensAt(now); tokens < 1 {
		return signInAttempt{}, false, time.Duration((1 - tokens) * float64(signInEvery))
	}
	if tokens := g.all.TokensAt(now); tokens < 1 {
		return signInAttempt{}, false, time.Duration((1 - tokens) * float64(allSignInsEvery))
	}
	return signInAttempt{g: g, mine: c.lim.ReserveN(now, 1), all: g.all.ReserveN(now, 1)}, true, 0
}

// signInAttempt holds the tokens one attempt took.
type signInAttempt struct {
	g         *signInGuard
	mine, all *rate.Reservation
}

// succeeded gives the attempt back: only wrong keys use up the limit.
func (a signInAttempt) succeeded() {
	now := a.g.now()
	a.mine.CancelAt(now)
	a.all.CancelAt(now)
}

// forget drops the addresses idle long enough for a full bucket, or, if
// none is, the whole map (a flood of forged addresses).
func (g *signInGuard) forget(now time.Time) {
	for k, c := range g.clients {
		if now.Sub(c.seen) > signInBurst*signInEvery {
			delete(g.clients, k)
		}
	}
	if len(g.clients) >= signInClients {
		clear(g.clients)
	}
}

// wait is the fixed delay after a wrong key, cut short if the client
// goes away.
func (g *signInGuard) wait(r *http.Request) {
	if g.failDelay <= 0 {
		return
	}
	t := time.NewTimer(g.failDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// clientAddr is who is signing in, for the limit and the log. On Cloud Run
// (onCloudRun) it is the last hop of X-Forwarded-For, the one Cloud Run's
// front end appends: the hops before it are whatever the client wrote.
// Elsewhere nothing proxies, so it is the connection's address.
func clientAddr(r *http.Request, onCloudRun bool) string {
	if xff := r.Header.Values("X-Forwarded-For"); onCloudRun && len(xff) > 0 {
		hops := strings.Split(xff[len(xff)-1], ",")
		if ip := net.ParseIP(strings.TrimSpace(hops[len(hops)-1])); ip != nil {
			return ip.String()
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
