package twilio_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
)

const content = "HX0123456789abcdef0123456789abcdef"

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// post posts form to target and returns the answer's status.
func post(t *testing.T, target string, form url.Values) int {
	t.Helper()
	resp, err := http.PostForm(target, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fetched is what GET of a message says of its outcome.
type fetched struct {
	Status       string
	ErrorCode    int
	ErrorMessage string
	Body         string
}

func fetch(t *testing.T, tw *api.ApiService, sid string) fetched {
	t.Helper()
	m, err := tw.FetchMessage(sid, nil)
	if err != nil {
		t.Fatalf("FetchMessage() error = %v", err)
	}
	f := fetched{Status: *m.Status, Body: *m.Body}
	if m.ErrorCode != nil {
		f.ErrorCode = *m.ErrorCode
	}
	if m.ErrorMessage != nil {
		f.ErrorMessage = *m.ErrorMessage
	}
	return f
}

const outsideWindow = "Failed to send freeform message because you are outside the allowed window. Please use a Template."

var (
	readLife   = []string{"queued", "sent", "delivered", "read"}
	failedLife = []string{"queued", "failed"}
)

// Free text reaches a person only within the window after their last
// message to the sender; Twilio accepts it anyway and fails it with 63016.
func TestWindow(t *testing.T) {
	t.Parallel()
	inbound := func(from, to string) func(*testing.T, *standin.Server, string) {
		return func(t *testing.T, _ *standin.Server, u string) {
			if code := post(t, u+"/_standin/inbound", url.Values{"From": {from}, "To": {to}, "Body": {"hi"}}); code != http.StatusOK {
				t.Fatalf("POST /_standin/inbound = %d", code)
			}
		}
	}
	hook := func(from, to string) func(*testing.T, *standin.Server, string) {
		return func(t *testing.T, _ *standin.Server, u string) {
			if code := post(t, u+"/_standin/window", url.Values{"From": {from}, "To": {to}}); code != http.StatusNoContent {
				t.Fatalf("POST /_standin/window = %d", code)
			}
		}
	}
	tests := []struct {
		name       string
		window     time.Duration // Config.Window
		open       func(t *testing.T, s *standin.Server, u string)
		after      time.Duration // from the person's message to the send
		to, from   string        // whatsapp:ada and our sender when empty
		contentSID string
		want       []string
		wantFetch  fetched
	}{
		{name: "never_wrote", want: failedLife, wantFetch: fetched{Status: "failed", ErrorCode: 63016, ErrorMessage: outsideWindow, Body: "Hi"}},
		{name: "wrote_an_hour_ago", open: inbound(ada, ""), after: time.Hour, want: readLife, wantFetch: fetched{Status: "read", Body: "Hi"}},
		{name: "wrote_exactly_24h_ago", open: hook("whatsapp:"+ada, sender), after: 24 * time.Hour, want: readLife, wantFetch: fetched{Status: "read", Body: "Hi"}},
		{
			name: "wrote_24h_and_a_second_ago", open: inbound("whatsapp:"+ada, sender), after: 24*time.Hour + time.Second,
			want: failedLife, wantFetch: fetched{Status: "failed", ErrorCode: 63016, ErrorMessage: outsideWindow, Body: "Hi"},
		},
		{
			name: "wrote_to_another_sender", open: hook(ada, "+14155550100"), after: time.Minute,
			want: failedLife, wantFetch: fetched{Status: "failed", ErrorCode: 63016, ErrorMessage: outsideWindow, Body: "Hi"},
		},
		{
			name: "someone_else_wrote", open: inbound("+94771234588", ""), after: time.Minute,
			want: failedLife, wantFetch: fetched{Status: "failed", ErrorCode: 63016, ErrorMessage: outsideWindow, Body: "Hi"},
		},
		{
			name: "shorter_window", window: time.Hour, open: hook(ada, ""), after: 2 * time.Hour,
			want: failedLife, wantFetch: fetched{Status: "failed", ErrorCode: 63016, ErrorMessage: outsideWindow, Body: "Hi"},
		},
		{name: "template_to_someone_who_never_wrote", contentSID: content, want: readLife, wantFetch: fetched{Status: "read"}},
		{name: "sms_has_no_window", to: ada, from: "+14155238886", want: readLife, wantFetch: fetched{Status: "read", Body: "Hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			in, status := newHook(t, nil), newHook(t, nil)
			s, u := start(t, standin.Config{StatusStep: time.Millisecond, Now: clk.Now, InboundURL: in.url, Window: tt.window})
			if tt.open != nil {
				tt.open(t, s, u)
			}
			clk.Add(tt.after)
			params := (&api.CreateMessageParams{}).SetTo(cmpOr(tt.to, "whatsapp:"+ada)).SetFrom(cmpOr(tt.from, sender)).SetStatusCallback(status.url)
			if tt.contentSID != "" {
				params.SetContentSid(tt.contentSID)
			} else {
				params.SetBody("Hi")
			}
			tw := twilioAPI(t, u, authToken)

			m, err := tw.CreateMessage(params)

			if err != nil || *m.Status != "queued" || m.ErrorCode != nil {
				t.Fatalf("CreateMessage() = %v, %v; want it queued with no error, as Twilio", m, err)
			}
			waitFor(t, "every callback", func() bool { return len(status.requests()) == len(tt.want) })
			if diff := cmp.Diff(tt.want, status.statuses(t)); diff != "" {
				t.Errorf("callback statuses (-want, +got):\n%s", diff)
			}
			last := status.requests()[len(tt.want)-1].Form.Get("ErrorCode")
			if want := fmt.Sprint(tt.wantFetch.ErrorCode); last != want && (last != "" || want != "0") {
				t.Errorf("last callback's ErrorCode = %q, want %s", last, want)
			}
			if diff := cmp.Diff(tt.wantFetch, fetch(t, tw, *m.Sid)); diff != "" {
				t.Errorf("FetchMessage() (-want, +got):\n%s", diff)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestOpenWindow_refuses(t *testing.T) {
	t.Parallel()
	_, u := start(t, standin.Config{StatusStep: time.Hour})
	tests := []struct {
		name string
		form url.Values
	}{
		{name: "no_from", form: url.Values{"To": {sender}}},
		{name: "national_from", form: url.Values{"From": {"0771234577"}}},
		{name: "bad_to", form: url.Values{"From": {ada}, "To": {"whatsapp:sandbox"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if code := post(t, u+"/_standin/window", tt.form); code != http.StatusBadRequest {
				t.Errorf("POST /_standin/window %v = %d, want 400", tt.form, code)
			}
		})
	}
}

// A sender takes SenderMPS messages a second and queues the rest, up to
// SenderQueue (four hours' worth by default); past that Twilio refuses a
// From number's message (21611) and fails a Messaging Service's (30001).
// The clock stands still unless a send says otherwise, so the queue only
// fills.
func TestSenderQueue(t *testing.T) {
	t.Parallel()
	const service = "MG0123456789abcdef0123456789abcdef"
	tests := []struct {
		name       string
		mps        float64
		queue      int
		service    bool
		sends      []time.Duration // the clock moves this much before each send
		want       []int           // per send: 0 created, else the refusal's code
		wantFailed map[int]int     // per send: the code it fails with later
	}{
		{name: "unlimited", sends: make([]time.Duration, 30), want: make([]int, 30)},
		{name: "from_refused_when_full", mps: 10, queue: 3, sends: make([]time.Duration, 5), want: []int{0, 0, 0, 21611, 21611}},
		{
			name: "service_fails_later_when_full", mps: 10, queue: 3, service: true, sends: make([]time.Duration, 4),
			want: []int{0, 0, 0, 0}, wantFailed: map[int]int{3: 30001},
		},
		{name: "drains_at_the_rate", mps: 1, queue: 2, sends: []time.Duration{0, 0, 0, 500 * time.Millisecond, 0, time.Second}, want: []int{0, 0, 21611, 0, 21611, 0}},
		// One a hundred seconds: four hours hold 144 messages.
		{name: "default_four_hours", mps: 0.01, sends: make([]time.Duration, 146), want: append(make([]int, 144), 21611, 21611)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			status := newHook(t, nil)
			s, u := start(t, standin.Config{StatusStep: time.Millisecond, Now: clk.Now, SenderMPS: tt.mps, SenderQueue: tt.queue})
			tw := twilioAPI(t, u, authToken)
			var got []int
			sids := map[int]string{}
			for i, d := range tt.sends {
				clk.Add(d)
				params := (&api.CreateMessageParams{}).SetTo("whatsapp:" + ada).SetContentSid(content).SetStatusCallback(status.url)
				if tt.service {
					params.SetMessagingServiceSid(service)
				} else {
					params.SetFrom(sender)
				}
				m, err := tw.CreateMessage(params)
				switch re, ok := err.(*client.TwilioRestError); {
				case err == nil:
					got = append(got, 0)
					sids[i] = *m.Sid
				case ok && re.Status == http.StatusBadRequest:
					got = append(got, re.Code)
				default:
					t.Fatalf("send #%d: %v", i, err)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("created or refused (-want, +got):\n%s", diff)
			}
			for i, code := range tt.wantFailed {
				waitFor(t, "the overflow's failure", func() bool { return fetch(t, tw, sids[i]).Status == "failed" })
				if f := fetch(t, tw, sids[i]); f.ErrorCode != code || f.ErrorMessage != "Queue overflow" {
					t.Errorf("send #%d fetched as %+v, want failed with %d Queue overflow", i, f, code)
				}
			}
			if n := len(s.Sent()); n != len(sids) {
				t.Errorf("%d messages recorded, want the %d created", n, len(sids))
			}
		})
	}
}

// Messages over a sender's MPS are handed on at that rate: each is sent an
// interval after the one before. The clock stands still, so date_sent is
// exact; the 'sent' callbacks follow them in real time.
func TestSenderQueue_paces_sends(t *testing.T) {
	t.Parallel()
	clk := newClock()
	status := newHook(t, nil)
	const step = time.Millisecond
	s, u := start(t, standin.Config{StatusStep: step, Now: clk.Now, SenderMPS: 20})
	tw := twilioAPI(t, u, authToken)
	for i := range 4 {
		_, err := tw.CreateMessage((&api.CreateMessageParams{}).SetTo(fmt.Sprintf("whatsapp:+9477%07d", i)).SetFrom(sender).
			SetContentSid(content).SetStatusCallback(status.url))
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every callback", func() bool { return len(status.requests()) == 4*4 })

	start := clk.Now()
	var got []time.Duration
	for _, m := range s.Sent() {
		got = append(got, m.DateSent.Sub(start))
	}
	// Two status steps (queued, then sent), then one every 50ms.
	want := []time.Duration{2 * step, 2*step + 50*time.Millisecond, 2*step + 100*time.Millisecond, 2*step + 150*time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("date_sent after creation (-want, +got):\n%s", diff)
	}
}

// Templates the stand-in was given are rendered with the message's
// ContentVariables; others are sent as they came, with no body.
func TestContents(t *testing.T) {
	t.Parallel()
	const (
		given = "HX00000000000000000000000000000001"
		added = "HX00000000000000000000000000000002"
	)
	tests := []struct {
		name       string
		contentSID string
		vars       string
		want       []string
		wantFetch  fetched
	}{
		{
			name: "given_rendered", contentSID: given, vars: `{"1":"Arjuna","2":"Colombo"}`,
			want: readLife, wantFetch: fetched{Status: "read", Body: "Hi Arjuna, news from Colombo. Reply STOP to opt out."},
		},
		{name: "added_by_hook_rendered", contentSID: added, vars: `{"1":"Arjuna"}`, want: readLife, wantFetch: fetched{Status: "read", Body: "Your code is Arjuna"}},
		{
			name: "variable_missing", contentSID: given, vars: `{"1":"Arjuna"}`, want: failedLife,
			wantFetch: fetched{
				Status: "failed", ErrorCode: 63028, Body: "Hi Arjuna, news from {{ 2 }}. Reply STOP to opt out.",
				ErrorMessage: "Number of parameters provided does not match the expected number of parameters",
			},
		},
		{name: "unknown_recorded_without_body", contentSID: content, vars: `{"1":"x"}`, want: readLife, wantFetch: fetched{Status: "read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status := newHook(t, nil)
			s, u := start(t, standin.Config{StatusStep: time.Millisecond, Contents: map[string]string{given: "Hi {{1}}, news from {{ 2 }}. Reply STOP to opt out."}})
			if code := post(t, u+"/_standin/contents", url.Values{"Sid": {added}, "Body": {"Your code is {{1}}"}}); code != http.StatusNoContent {
				t.Fatalf("POST /_standin/contents = %d", code)
			}
			tw := twilioAPI(t, u, authToken)

			m, err := tw.CreateMessage((&api.CreateMessageParams{}).SetTo("whatsapp:" + ada).SetFrom(sender).
				SetContentSid(tt.contentSID).SetContentVariables(tt.vars).SetStatusCallback(status.url))

			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "every callback", func() bool { return len(status.requests()) == len(tt.want) })
			if diff := cmp.Diff(tt.want, status.statuses(t)); diff != "" {
				t.Errorf("callback statuses (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFetch, fetch(t, tw, *m.Sid)); diff != "" {
				t.Errorf("FetchMessage() (-want, +got):\n%s", diff)
			}
			if got := s.Sent()[0]; got.ContentSID != tt.contentSID || len(got.ContentVariables) == 0 {
				t.Errorf("recorded content %q %v, want %q with its variables", got.ContentSID, got.ContentVariables, tt.contentSID)
			}
		})
	}
}

func TestAddContent_refuses(t *testing.T) {
	t.Parallel()
	_, u := start(t, standin.Config{StatusStep: time.Hour})
	tests := []struct {
		name string
		form url.Values
	}{
		{name: "no_sid", form: url.Values{"Body": {"Hi {{1}}"}}},
		{name: "bad_sid", form: url.Values{"Sid": {"HX123"}, "Body": {"Hi {{1}}"}}},
		{name: "no_body", form: url.Values{"Sid": {content}}},
		{name: "bad_category", form: url.Values{"Sid": {content}, "Body": {"Hi"}, "Category": {"PROMO"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if code := post(t, u+"/_standin/contents", tt.form); code != http.StatusBadRequest {
				t.Errorf("POST /_standin/contents %v = %d, want 400", tt.form, code)
			}
		})
	}
}

// A person who stopped marketing messages gets no marketing template:
// Twilio accepts it and fails it with 63033; a utility template, and
// everyone else, still get theirs.
func TestStopMarketing(t *testing.T) {
	t.Parallel()
	const (
		marketing = "HX00000000000000000000000000000003"
		utility   = "HX00000000000000000000000000000004"
		bea       = "+94771234578"
	)
	tests := []struct {
		name       string
		to         string
		contentSID string
		want       []string
		wantFetch  fetched
	}{
		{name: "marketing_to_the_stopped", to: ada, contentSID: marketing, want: failedLife,
			wantFetch: fetched{Status: "failed", ErrorCode: 63033, ErrorMessage: "Recipient opted out to receive message", Body: "Sale, Ada"}},
		{name: "utility_to_the_stopped", to: ada, contentSID: utility, want: readLife, wantFetch: fetched{Status: "read", Body: "Your order, Ada"}},
		{name: "marketing_to_someone_else", to: bea, contentSID: marketing, want: readLife, wantFetch: fetched{Status: "read", Body: "Sale, Ada"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status := newHook(t, nil)
			_, u := start(t, standin.Config{StatusStep: time.Millisecond})
			for _, c := range []url.Values{
				{"Sid": {marketing}, "Body": {"Sale, {{1}}"}, "Category": {"marketing"}},
				{"Sid": {utility}, "Body": {"Your order, {{1}}"}, "Category": {"UTILITY"}},
			} {
				if code := post(t, u+"/_standin/contents", c); code != http.StatusNoContent {
					t.Fatalf("POST /_standin/contents = %d", code)
				}
			}
			if code := post(t, u+"/_standin/stop-marketing", url.Values{"From": {"whatsapp:" + ada}}); code != http.StatusNoContent {
				t.Fatalf("POST /_standin/stop-marketing = %d", code)
			}
			tw := twilioAPI(t, u, authToken)
			m, err := tw.CreateMessage((&api.CreateMessageParams{}).SetTo("whatsapp:" + tt.to).SetFrom(sender).
				SetContentSid(tt.contentSID).SetContentVariables(`{"1":"Ada"}`).SetStatusCallback(status.url))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "every callback", func() bool { return len(status.requests()) == len(tt.want) })
			if diff := cmp.Diff(tt.want, status.statuses(t)); diff != "" {
				t.Errorf("callback statuses (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFetch, fetch(t, tw, *m.Sid)); diff != "" {
				t.Errorf("FetchMessage() (-want, +got):\n%s", diff)
			}
		})
	}
	_, u := start(t, standin.Config{StatusStep: time.Hour})
	if code := post(t, u+"/_standin/stop-marketing", url.Values{"From": {"nobody"}}); code != http.StatusBadRequest {
		t.Errorf("POST /_standin/stop-marketing without a number = %d, want 400", code)
	}
}
