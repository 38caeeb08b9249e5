package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	smstwilio "github.com/eventstreamengine/ese/shared/sms/twilio"
)

const maxWebhookAnswer = 64 << 10 // how much of a webhook's answer is kept

// overrides are what a webhook URL's connection overrides (Twilio's
// "#rc=3&rp=ct,5xx" fragment, "Webhooks connection overrides") ask of
// its delivery: how many times a failed post is tried again (rc, 0 to 5)
// and after which failures (rp: ct a connection that failed, rt an
// answer that timed out, 4xx, 5xx, all). Without them Twilio tries once
// more after a failed connection only, never after an answer: a 5xx is
// retried only when the URL asks.
type overrides struct {
	retries int
	policy  map[string]bool
}

// connectionOverrides splits target into the URL Twilio posts to and
// signs (the fragment is never sent) and its overrides.
func connectionOverrides(target string) (string, overrides) {
	o := overrides{retries: 1, policy: map[string]bool{"ct": true}}
	clean, fragment, found := strings.Cut(target, "#")
	if !found {
		return target, o
	}
	q, err := url.ParseQuery(fragment)
	if err != nil {
		return clean, o
	}
	if rc, err := strconv.Atoi(q.Get("rc")); err == nil {
		o.retries = min(max(rc, 0), 5)
	}
	if rp := q.Get("rp"); rp != "" {
		o.policy = map[string]bool{}
		for _, p := range strings.Split(rp, ",") {
			o.policy[strings.TrimSpace(p)] = true
		}
	}
	return clean, o
}

// retry reports whether a post that answered code (or failed with err)
// is tried again under o.
func (o overrides) retry(code int, err error) bool {
	class := ""
	var ne interface{ Timeout() bool }
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout():
		class = "rt"
	case err != nil:
		class = "ct"
	case code >= 500:
		class = "5xx"
	case code >= 400:
		class = "4xx"
	default:
		return false
	}
	return o.policy["all"] || o.policy[class]
}

// live plays a message's life, each status StatusStep after the last
// (the one handed on by the sender at its turn, slot, when it has one),
// posting it to the message's StatusCallback when it has one. The
// callbacks of one message go out one at a time, in order.
func (s *Server) live(sid string, life []step, slot time.Time) {
	defer s.wg.Done()
	for _, st := range life {
		wait := s.cfg.StatusStep
		if st.atSlot && !slot.IsZero() {
			wait = max(slot.Sub(s.cfg.Now()), 0)
		}
		if !s.sleep(wait) {
			return
		}
		if m := s.advance(sid, st, slot); m.StatusCallback != "" {
			s.deliverCallback(m)
		}
	}
}

// advance moves the stored message to st and returns a copy.
func (s *Server) advance(sid string, st step, slot time.Time) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.bySID[sid]
	now := s.cfg.Now().UTC()
	m.Status, m.DateUpdated = st.status, now
	switch st.status {
	case "sent":
		m.DateSent = now
		if !slot.IsZero() {
			m.DateSent = slot.UTC() // its turn, exactly, for a stopped test clock
		}
	case "failed":
		m.ErrorCode = st.code
	}
	return *m
}

// sleep waits d, or reports false at once when the server closes.
func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// callback posts m's status as Twilio does, retrying on a 5xx or a
// connection error but never on a 4xx.
func (s *Server) callback(m Message) {
	form := url.Values{
		"MessageSid":    {m.SID},
		"SmsSid":        {m.SID},
		"AccountSid":    {s.cfg.AccountSID},
		"From":          {m.From},
		"To":            {m.To},
		"MessageStatus": {m.Status},
		"SmsStatus":     {m.Status},
		"ApiVersion":    {apiVersion},
	}
	if strings.HasPrefix(m.To, channel) {
		form.Set("ChannelPrefix", "whatsapp")
		form.Set("ChannelToAddress", strings.TrimPrefix(m.To, channel))
		form.Set("StructuredMessage", "false")
	}
	if m.ErrorCode != 0 {
		form.Set("ErrorCode", strconv.Itoa(m.ErrorCode))
	}
	// One token for all attempts, as Twilio's, so receivers can spot retries.
	idem := newSID("")
	log := s.log.With("sid", m.SID, "status", m.Status, "callback", where(m.StatusCallback))
	code, err := s.deliver(s.ctx, m.StatusCallback, form, idem, func(attempt int) time.Duration { return s.cfg.StatusStep << (attempt - 1) })
	switch {
	case err == nil && code < 300:
		log.Debug("twilio stand-in: status callback delivered", "http_status", code)
	case s.ctx.Err() != nil:
	case err != nil:
		log.Error("twilio stand-in: status callback failed", "err", err)
	default:
		log.Error("twilio stand-in: status callback refused", "http_status", code)
	}
}

// deliver posts form to target (signed for it, its connection overrides
// honoured: see overrides), waiting pause(n) before the nth retry, and
// returns the last answer's status, or the last error.
func (s *Server) deliver(ctx context.Context, target string, form url.Values, idem string, pause func(attempt int) time.Duration) (int, error) {
	code, _, err := s.deliverRead(ctx, target, form, idem, pause)
	return code, err
}

// deliverRead is deliver, returning the start of the last answer's body.
func (s *Server) deliverRead(ctx context.Context, target string, form url.Values, idem string, pause func(attempt int) time.Duration) (int, []byte, error) {
	clean, o := connectionOverrides(target)
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !s.sleep(pause(attempt)) {
			return 0, nil, s.ctx.Err()
		}
		code, body, err := s.post(ctx, clean, form, idem)
		if attempt >= o.retries || !o.retry(code, err) || ctx.Err() != nil {
			return code, body, err
		}
		if err != nil {
			s.log.Warn("twilio stand-in: webhook failed; retried", "callback", where(clean), "attempt", attempt+1, "err", err)
		} else {
			s.log.Warn("twilio stand-in: webhook failed; retried", "callback", where(clean), "attempt", attempt+1, "http_status", code)
		}
	}
}

// post sends form, signed for target, as Twilio posts its webhooks, and
// returns the answer's status and (the start of) its body.
func (s *Server) post(ctx context.Context, target string, form url.Values, idem string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, fmt.Errorf("http.NewRequest: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("I-Twilio-Idempotency-Token", idem)
	req.Header.Set(smstwilio.SignatureHeader, smstwilio.Sign(s.cfg.AuthToken, target, form))
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error // it quotes the whole URL
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("post to %s: %w", where(target), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswer))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read webhook answer: %w", err)
	}
	return resp.StatusCode, body, nil
}

// where names a webhook for logs without its query, which may hold secrets.
func where(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Host + u.Path
}
