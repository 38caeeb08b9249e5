package twilio

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	maxForm         = 1 << 20
	maxBody         = 1600 // characters, as Twilio
	defaultPageSize = 50
	maxPageSize     = 1000
)

// rejections are the recipient numbers that fail at once.
var rejections = map[string]struct {
	code int
	msg  string
}{
	NumberInvalid:   {21211, "The 'To' number %s is not a valid phone number."},
	NumberBlocked:   {21610, "Attempt to send to unsubscribed recipient"},
	NumberNotMobile: {21614, "'To' number %s is not a valid mobile number"},
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "The request could not be parsed: "+err.Error())
		return
	}
	f := r.PostForm
	to, from, body, callback := f.Get("To"), f.Get("From"), f.Get("Body"), f.Get("StatusCallback")
	service, contentSID, rawVars := f.Get("MessagingServiceSid"), f.Get("ContentSid"), f.Get("ContentVariables")
	number := strings.TrimPrefix(to, channel)
	vars, varsOK := contentVariables(rawVars)
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case from == "" && service == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case service != "" && !serviceSID.MatchString(service):
		writeError(w, http.StatusBadRequest, 21701, "The Messaging Service Sid "+service+" is invalid.")
		return
	case body == "" && contentSID == "" && len(f["MediaUrl"]) == 0:
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case contentSID != "" && !contentSIDPattern.MatchString(contentSID):
		writeError(w, http.StatusBadRequest, 21655, "The ContentSid is Invalid.")
		return
	case !varsOK:
		writeError(w, http.StatusBadRequest, 21656, "The ContentVariables Parameter is invalid.")
		return
	case utf8.RuneCountInString(body) > maxBody:
		writeError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	case callback != "" && !absoluteHTTP(callback):
		writeError(w, http.StatusBadRequest, 21609, "The StatusCallback URL "+callback+" is not a valid URL.")
		return
	}
	if rej, ok := rejections[number]; ok {
		msg := rej.msg
		if strings.Contains(msg, "%s") {
			msg = fmt.Sprintf(msg, number)
		}
		writeError(w, http.StatusBadRequest, rej.code, msg)
		s.log.Info("twilio stand-in: message rejected", "to", mask(to), "code", rej.code)
		return
	}
	if number == NumberNoAnswer {
		<-r.Context().Done() // the caller's timeout; nothing was created
		return
	}
	if !e164.MatchString(number) {
		writeError(w, http.StatusBadRequest, 21211, "The 'To' number "+number+" is not a valid phone number.")
		return
	}
	if from == "" {
		// The service picks a sender of the To's channel from its pool.
		from = strings.TrimPrefix(ServiceSender, channel)
		if strings.HasPrefix(to, channel) {
			from = ServiceSender
		}
	}
	if strings.HasPrefix(to, channel) != strings.HasPrefix(from, channel) {
		writeError(w, http.StatusBadRequest, 21910, "Invalid From and To pair. From and To should be of the same channel")
		return
	}

	if service == "" {
		// As Twilio does since April 2024: a send with From names the
		// account's Default Messaging Service.
		service = DefaultServiceSID
	}
	now := s.cfg.Now().UTC()
	m := &Message{
		SID:                 newSID("SM"),
		To:                  to,
		From:                from,
		Body:                body,
		Status:              "queued",
		StatusCallback:      callback,
		DateCreated:         now,
		DateUpdated:         now,
		MessagingServiceSID: service,
		ContentSID:          contentSID,
		ContentVariables:    vars,
	}
	created, ok := s.admit(m, number == NumberFailsLater)
	if !ok {
		writeError(w, http.StatusBadRequest, codeFromQueueFull, "This 'From' number has exceeded the maximum number of queued messages")
		s.log.Info("twilio stand-in: sender queue full", "to", mask(to), "code", codeFromQueueFull)
		return
	}
	s.log.Info("twilio stand-in: message created", "sid", created.SID, "to", mask(to), "callback", callback != "")
	if s.chaos.draw(func(f Faults) float64 { return f.Drop }, func(i *Injected) *int { return &i.Dropped }) && drop(w) {
		s.log.Info("twilio stand-in: fault injected: connection dropped after the message was created", "sid", created.SID)
		return
	}

	if number == NumberLostAnswer {
		writeError(w, http.StatusServiceUnavailable, 20503, "Service Unavailable")
		return
	}
	writeJSON(w, http.StatusCreated, s.apiMessage(created))
}

var (
	serviceSID        = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	contentSIDPattern = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)
)

// contentVariables reads ContentVariables as Twilio does: a JSON object
// whose values are strings; empty is none.
func contentVariables(raw string) (map[string]string, bool) {
	if raw == "" {
		return nil, true
	}
	var vars map[string]string
	if err := json.Unmarshal([]byte(raw), &vars); err != nil || vars == nil {
		return nil, false
	}
	return vars, true
}

// admit decides m's life as Twilio and WhatsApp would, keeps m and starts
// its life (unless the server is closing), and returns a copy of it as
// created: from then on m belongs to its life (see live). It reports
// false, keeping nothing, when m's From has no room in its queue; through
// a Messaging Service such a message is kept and fails (30001).
func (s *Server) admit(m *Message, failLater bool) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	life := delivered
	if failLater || s.chaos.draw(func(f Faults) float64 { return f.FailLater }, func(i *Injected) *int { return &i.FailedLater }) {
		life = failsLater
	}
	if tpl, ok := s.contents[m.ContentSID]; ok && m.ContentSID != "" {
		body, complete := render(tpl, m.ContentVariables)
		m.Body = body
		if !complete {
			life = failsWith(CodeParamsMismatch, true)
		}
	}
	// A person who stopped marketing messages gets no marketing template:
	// WhatsApp refuses it when it is handed on.
	if m.ContentSID != "" && s.marketing[m.ContentSID] && s.stoppedMarketing[bare(m.To)] {
		life = failsWith(CodeMarketingOptOut, true)
	}
	// Free text (no ContentSid) only reaches a person inside the window;
	// Twilio accepts it anyway and reports the refusal later.
	if strings.HasPrefix(m.To, channel) && m.ContentSID == "" && !s.windowOpen(m.To, m.From, m.DateCreated) {
		life = failsWith(CodeOutsideWindow, true)
	}
	slot, ok := s.turn(bare(m.From), m.DateCreated)
	if !ok {
		if m.MessagingServiceSID == DefaultServiceSID {
			return Message{}, false
		}
		life = failsWith(CodeQueueOverflow, false)
	}
	s.msgs = append(s.msgs, m)
	s.bySID[m.SID] = m
	if !s.closed {
		s.wg.Add(1)
		go s.live(m.SID, life, slot)
	}
	return *m, true
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var filters []func(*Message) bool
	if to := q.Get("To"); to != "" {
		filters = append(filters, func(m *Message) bool { return m.To == to })
	}
	if from := q.Get("From"); from != "" {
		filters = append(filters, func(m *Message) bool { return m.From == from })
	}
	// Twilio reads DateSent filters as whole UTC days: DateSent> is "on or
	// after", DateSent< "on or before"; a message not yet sent matches none.
	for _, d := range []struct {
		name string
		keep func(sent, day time.Time) bool
	}{
		{"DateSent", func(sent, day time.Time) bool { return !sent.Before(day) && sent.Before(day.AddDate(0, 0, 1)) }},
		{"DateSent>", func(sent, day time.Time) bool { return !sent.Before(day) }},
		{"DateSent<", func(sent, day time.Time) bool { return sent.Before(day.AddDate(0, 0, 1)) }},
	} {
		v := q.Get(d.name)
		if v == "" {
			continue
		}
		day, err := parseDay(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, 20001, "Invalid "+d.name+" value: "+v)
			return
		}
		filters = append(filters, func(m *Message) bool { return !m.DateSent.IsZero() && d.keep(m.DateSent, day) })
	}
	size, err := intParam(q, "PageSize", defaultPageSize)
	if err != nil || size < 1 {
		writeError(w, http.StatusBadRequest, 20001, "Invalid PageSize")
		return
	}
	size = min(size, maxPageSize)
	page, err := intParam(q, "Page", 0)
	if err != nil || page < 0 {
		writeError(w, http.StatusBadRequest, 20001, "Invalid Page")
		return
	}

	keep := func(m *Message) bool {
		for _, f := range filters {
			if !f(m) {
				return false
			}
		}
		return true
	}
	s.mu.Lock()
	var found []Message
	for i := len(s.msgs) - 1; i >= 0; i-- { // newest first
		if m := s.msgs[i]; keep(m) {
			found = append(found, *m)
		}
	}
	s.mu.Unlock()
	slices.SortStableFunc(found, func(a, b Message) int { return b.DateCreated.Compare(a.DateCreated) })

	start := len(found)
	if page <= len(found)/size { // and page*size cannot overflow
		start = page * size
	}
	end := min(start+size, len(found))
	out := make([]apiMessage, 0, end-start)
	for _, m := range found[start:end] {
		out = append(out, s.apiMessage(m))
	}
	pageURI := func(p int) *string {
		v := url.Values{}
		for k, vs := range q {
			if k != "Page" && k != "PageSize" && k != "PageToken" {
				v[k] = vs
			}
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		u := r.URL.Path + "?" + v.Encode()
		return &u
	}
	resp := listResponse{
		FirstPageURI: *pageURI(0),
		URI:          *pageURI(page),
		Page:         page,
		PageSize:     size,
		Start:        start,
		End:          max(end-1, start),
		Messages:     out,
	}
	if end < len(found) {
		resp.NextPageURI = pageURI(page + 1)
	}
	if page > 0 {
		resp.PreviousPageURI = pageURI(page - 1)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) fetchMessage(w http.ResponseWriter, r *http.Request) {
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	s.mu.Lock()
	m, found := s.bySID[sid]
	var c Message
	if found {
		c = *m
	}
	s.mu.Unlock()
	if !ok || !found {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.apiMessage(c))
}

func (s *Server) fetchAccount(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.PathValue("file"), ".json") {
		notFound(w, r)
		return
	}
	uri := "/2010-04-01/Accounts/" + s.cfg.AccountSID
	writeJSON(w, http.StatusOK, map[string]any{
		"sid":               s.cfg.AccountSID,
		"owner_account_sid": s.cfg.AccountSID,
		"friendly_name":     "Twilio stand-in",
		"status":            "active",
		"type":              "Full",
		"date_created":      rfc2822(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)),
		"date_updated":      rfc2822(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)),
		"uri":               uri + ".json",
		"subresource_uris":  map[string]string{"messages": uri + "/Messages.json"},
	})
}

// standinMessages lists what was sent, oldest first; ?to= (E.164 or
// whatsapp:) narrows it to one recipient.
func (s *Server) standinMessages(w http.ResponseWriter, r *http.Request) {
	to := strings.TrimPrefix(r.URL.Query().Get("to"), channel)
	out := []Message{}
	for _, m := range s.Sent() {
		if to == "" || strings.TrimPrefix(m.To, channel) == to {
			out = append(out, m)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// apiMessage is Twilio's message resource, nulls included, as twilio-go's
// ApiV2010Message decodes it.
type apiMessage struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                string            `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func (s *Server) apiMessage(m Message) apiMessage {
	uri := "/2010-04-01/Accounts/" + s.cfg.AccountSID + "/Messages/" + m.SID
	a := apiMessage{
		AccountSID:      s.cfg.AccountSID,
		APIVersion:      apiVersion,
		Body:            m.Body,
		DateCreated:     rfc2822(m.DateCreated),
		DateUpdated:     rfc2822(m.DateUpdated),
		Direction:       "outbound-api",
		From:            m.From,
		NumMedia:        "0",
		NumSegments:     "1",
		PriceUnit:       "USD",
		SID:             m.SID,
		Status:          m.Status,
		SubresourceURIs: map[string]string{"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
		To:              m.To,
		URI:             uri + ".json",
	}
	if !m.DateSent.IsZero() {
		d := rfc2822(m.DateSent)
		a.DateSent = &d
	}
	if m.MessagingServiceSID != "" {
		a.MessagingServiceSID = &m.MessagingServiceSID
	}
	if m.ErrorCode != 0 {
		code, msg := m.ErrorCode, cmp.Or(errorMessages[m.ErrorCode], errorMessages[CodeUnknown])
		a.ErrorCode, a.ErrorMessage = &code, &msg
	}
	return a
}

// listResponse is Twilio's page of messages.
type listResponse struct {
	FirstPageURI    string       `json:"first_page_uri"`
	End             int          `json:"end"`
	PreviousPageURI *string      `json:"previous_page_uri"`
	Messages        []apiMessage `json:"messages"`
	URI             string       `json:"uri"`
	PageSize        int          `json:"page_size"`
	Start           int          `json:"start"`
	NextPageURI     *string      `json:"next_page_uri"`
	Page            int          `json:"page"`
}

// rfc2822 formats t as Twilio does: "Mon, 02 Jan 2006 15:04:05 +0000".
func rfc2822(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

// parseDay reads a DateSent filter (a date, or a time as twilio-go sends
// it) as the UTC day it falls on.
func parseDay(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, v); err != nil {
			return time.Time{}, err
		}
	}
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
}

func intParam(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}

func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
