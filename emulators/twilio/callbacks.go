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

const (
	callbackAttempts = 4        // Twilio retries a callback that failed to arrive
	maxWebhookAnswer = 64 << 10 // how much of a webhook's answer is kept
)

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
	for attempt := range callbackAttempts {
		if attempt > 0 && !s.sleep(s.cfg.StatusStep<<(attempt-1)) {
			return
		}
		code, _, err := s.post(s.ctx, m.StatusCallback, form, idem)
		switch {
		case err == nil && code < 300:
			log.Debug("twilio stand-in: status callback delivered", "http_status", code)
			return
		case err == nil && code < 500:
			log.Warn("twilio stand-in: status callback refused; not retried", "http_status", code)
			return
		case s.ctx.Err() != nil:
			return
		}
		if err != nil {
			log.Warn("twilio stand-in: status callback failed", "attempt", attempt+1, "err", err)
		} else {
			log.Warn("twilio stand-in: status callback failed", "attempt", attempt+1, "http_status", code)
		}
	}
	log.Error("twilio stand-in: status callback given up", "attempts", callbackAttempts)
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
