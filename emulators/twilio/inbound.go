package twilio

import (
	"cmp"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// inboundRetryPause is the wait before an inbound webhook's retry: Twilio
// retries within its total time of 15 s.
const inboundRetryPause = 100 * time.Millisecond

// inboundAnswer is what /_standin/inbound says: the inbound message's SID
// and what our webhook answered (TwiML, usually).
type inboundAnswer struct {
	MessageSID      string  `json:"message_sid,omitempty"`
	WebhookStatus   int     `json:"webhook_status,omitempty"`
	WebhookResponse *string `json:"webhook_response,omitempty"`
	Error           string  `json:"error,omitempty"`
}

// postInbound plays a WhatsApp user writing to us: it opens their window
// with To, builds the form Twilio would post, signs it for InboundURL and
// posts it there, retried as InboundURL's connection overrides say
// (Twilio's "#rc=..&rp=.." fragment; without them a failed connection is
// tried once more, an answer never).
func (s *Server) postInbound(w http.ResponseWriter, r *http.Request) {
	in, err := readFields(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, inboundAnswer{Error: err.Error()})
		return
	}
	from := strings.TrimPrefix(in["from"], channel)
	if !e164.MatchString(from) {
		writeJSON(w, http.StatusBadRequest, inboundAnswer{Error: "From must be an E.164 number, e.g. +94771234577 or whatsapp:+94771234577"})
		return
	}
	to := cmp.Or(in["to"], DefaultInboundTo)
	if !strings.HasPrefix(to, channel) {
		to = channel + to
	}
	if s.cfg.InboundURL == "" {
		writeJSON(w, http.StatusServiceUnavailable, inboundAnswer{Error: "the stand-in has no InboundURL to post to"})
		return
	}
	// Twilio has the message whatever our webhook answers: the person's
	// window is open.
	s.OpenWindow(from, to)
	sid := cmp.Or(in["messagesid"], newSID("SM"))
	form := url.Values{
		"MessageSid":       {sid},
		"SmsMessageSid":    {sid},
		"SmsSid":           {sid},
		"AccountSid":       {s.cfg.AccountSID},
		"From":             {channel + from},
		"To":               {to},
		"Body":             {in["body"]},
		"NumMedia":         {"0"},
		"NumSegments":      {"1"},
		"ReferralNumMedia": {"0"},
		"SmsStatus":        {"received"},
		"MessageType":      {"text"},
		"ApiVersion":       {apiVersion},
		"WaId":             {strings.TrimPrefix(from, "+")},
		"ProfileName":      {cmp.Or(in["profilename"], "Stand-in User")},
	}
	// Retried only as InboundURL's connection overrides ask, at once.
	code, body, err := s.deliverRead(r.Context(), s.cfg.InboundURL, form, newSID(""), func(int) time.Duration { return inboundRetryPause })
	if err != nil {
		s.log.Warn("twilio stand-in: inbound webhook failed", "sid", sid, "from", mask(from), "err", err)
		writeJSON(w, http.StatusBadGateway, inboundAnswer{MessageSID: sid, Error: err.Error()})
		return
	}
	s.log.Info("twilio stand-in: inbound message posted", "sid", sid, "from", mask(from), "webhook_status", code)
	answer := string(body)
	writeJSON(w, http.StatusOK, inboundAnswer{MessageSID: sid, WebhookStatus: code, WebhookResponse: &answer})
}

// readFields reads a form or a JSON object of strings, with names folded
// to lower case so that "From" and "from" both work.
func readFields(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	out := make(map[string]string)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		var obj map[string]string
		if err := json.NewDecoder(r.Body).Decode(&obj); err != nil {
			return nil, err
		}
		for k, v := range obj {
			out[strings.ToLower(k)] = v
		}
		return out, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	for k := range r.Form {
		out[strings.ToLower(k)] = r.Form.Get(k)
	}
	return out, nil
}
