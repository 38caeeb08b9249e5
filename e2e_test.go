package ese

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/emulators/localstack"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
)

// TestSeedDemo drives the seed README's demonstration (parts 1-8) through
// the HTTP API of the whole local stack, started with scripts/dev as the
// README says, on the emulators scripts/test started.
func TestSeedDemo(t *testing.T) {
	d := newDemo(t)
	project := d.project

	// Part 1: health (newDemo waited for it).
	if code, _ := d.doNoAuth("GET", "/api/v1/users"); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/users without a key = %d, want 401", code)
	}

	// Part 2: bulk upload of the seed's four users, one as whatsapp:+...
	job := d.upload("/api/v1/ingest/users/bulk", "scripts/sample/test_users.json")
	d.expect(job["valid_rows"], 4.0, "valid rows")
	d.eventually("import completes", 30*time.Second, func() (bool, string) {
		_, st := d.do("GET", "/api/v1/ingest/status/"+job["id"].(string), nil, "")
		return st["state"] == "COMPLETED", fmt.Sprint(st)
	})
	_, users := d.do("GET", "/api/v1/users", nil, "")
	d.expect(users["total"], 4.0, "users after import")
	code, grace := d.do("GET", "/api/v1/users/"+url.PathEscape("+94771234577"), nil, "")
	if code != 200 || grace["consent_state"] != "OPT_IN" || grace["name"] != "Grace Wilson" {
		t.Fatalf("GET user given as whatsapp:+94771234577 = %d %v", code, grace)
	}

	// Part 3: two segments.
	colomboSeg := d.create("/api/v1/segments", `{"name":"Colombo Area Users","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
	major := d.create("/api/v1/segments", `{"name":"Major Cities","definition_json":{"conditions":[{"attribute":"city","operator":"equals","value":"Colombo"},{"attribute":"city","operator":"equals","value":"Matara"}],"logic":"OR"}}`)
	_, preview := d.do("GET", "/api/v1/segments/"+major+"/preview", nil, "")
	d.expect(preview["matching_users"], 2.0, "Major Cities preview")
	_, segs := d.do("GET", "/api/v1/segments", nil, "")
	d.expect(segs["total"], 2.0, "segments")
	// A definition tried before it is kept (no one has written yet), and
	// a kept one edited; Firestore filters the country's people in memory
	// and the consent state in the query.
	_, tried := d.do("POST", "/api/v1/segments/preview", strings.NewReader(`{"definition_json":{"conditions":[
		{"attribute":"phone_country","operator":"equals","value":"LK"},
		{"attribute":"consent_state","operator":"equals","value":"OPT_IN"},
		{"not":{"attribute":"last_inbound_at","operator":"within_last","value":"30d"}}]}}`), "application/json")
	d.expect(tried["matching_users"], 4.0, "unsaved preview")
	_, edited := d.do("PUT", "/api/v1/segments/"+colomboSeg, strings.NewReader(`{"name":"Colombo Area Users","description":"the city and its suburbs","definition_json":{"attribute":"city","operator":"in","value":["Colombo","Dehiwala"]}}`), "application/json")
	d.expect(edited["description"], "the city and its suburbs", "edited segment")
	_, preview = d.do("GET", "/api/v1/segments/"+colomboSeg+"/preview", nil, "")
	d.expect(preview["matching_users"], 1.0, "edited Colombo preview")

	// Part 4: two templates.
	// Approved at WhatsApp (their content SIDs), so they reach people who
	// have not written in the last 24 hours; the stand-in knows them.
	welcome := d.create("/api/v1/templates", `{"name":"Welcome Message","content":"Hi {name}! Welcome from {city}. Thanks for joining our service! Reply STOP to opt out.","variables":["name","city"],
		"content_sid":"HX5b3a1e0c9d8f4e2a7b6c5d4e3f2a1b0c","content_variables":{"1":"name","2":"city"},"category":"marketing"}`)
	d.create("/api/v1/templates", `{"name":"City Promotion","content":"Hello {name}! Special offer for {city} residents. Limited time only! Reply STOP to unsubscribe.","variables":["name","city"],
		"content_sid":"HX9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f","content_variables":{"1":"name","2":"city"},"category":"marketing"}`)
	_, tpls := d.do("GET", "/api/v1/templates", nil, "")
	d.expect(tpls["total"], 2.0, "templates")
	code, pv := d.do("POST", "/api/v1/templates/"+welcome+"/preview", strings.NewReader(`{"phone_number":"+94771234567"}`), "application/json")
	if code != http.StatusOK || pv["body"] != "Hi Arjuna Silva! Welcome from Colombo. Thanks for joining our service! Reply STOP to opt out." ||
		pv["send_as"] != "content_sid" || pv["channel"] != "template" || pv["consent_state"] != "OPT_IN" || pv["unfilled"] != false || pv["blocked_by"] != nil {
		t.Errorf("template preview for Arjuna = %d %v", code, pv)
	}

	// Part 5: the campaign, a draft until triggered.
	cid := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":"API Demo Campaign","template_id":%q,"segment_id":%q,"rate_limit_per_second":1,"quiet_hours_start":null,"quiet_hours_end":null}`, welcome, major))
	_, c := d.do("GET", "/api/v1/campaigns/"+cid, nil, "")
	d.expect(c["status"], "DRAFT", "new campaign")

	// A dry run first: every step, nothing sent, the campaign untouched.
	code, dry := d.do("POST", "/api/v1/campaigns/"+cid+"/trigger", strings.NewReader(`{"dry_run":true}`), "application/json")
	wantDry := map[string]any{"recipients": 2.0, "send_now": 2.0, "deferred": 0.0, "channels": map[string]any{"template": 2.0},
		"blocked": map[string]any{"consent": 0.0, "duplicate": 0.0, "frequency_cap": 0.0, "content": 0.0, "channel_policy": 0.0}}
	gotDry := map[string]any{"recipients": dry["recipients"], "send_now": dry["send_now"], "deferred": dry["deferred"], "channels": dry["channels"], "blocked": dry["blocked"]}
	if diff := cmp.Diff(wantDry, gotDry); code != http.StatusOK || diff != "" {
		t.Errorf("dry run = %d (-want +got):\n%s", code, diff)
	}
	_, c = d.do("GET", "/api/v1/campaigns/"+cid, nil, "")
	d.expect(c["status"], "DRAFT", "campaign after its dry run")

	// Part 6: trigger; it completes with both sends concluded.
	code, trig := d.do("POST", "/api/v1/campaigns/"+cid+"/trigger", strings.NewReader(`{}`), "application/json")
	if code != http.StatusAccepted || trig["status"] != "RUNNING" || trig["campaign_id"] != cid {
		t.Fatalf("trigger = %d %v", code, trig)
	}
	d.eventually("campaign completes", 60*time.Second, func() (bool, string) {
		_, c := d.do("GET", "/api/v1/campaigns/"+cid, nil, "")
		return c["status"] == "COMPLETED", fmt.Sprint(c)
	})
	d.eventually("both delivered", 30*time.Second, func() (bool, string) {
		_, s := d.do("GET", "/api/v1/reporting/campaigns/"+cid+"/summary", nil, "")
		return s["messages_delivered"] == 2.0, fmt.Sprint(s)
	})
	sent := d.standinMessages()
	if len(sent) != 2 {
		t.Fatalf("stand-in got %d sends, want 2: %v", len(sent), sent)
	}
	got := map[string]string{}
	for _, m := range sent {
		got[fmt.Sprint(m["to"])] = fmt.Sprint(m["body"])
	}
	want := map[string]string{
		"whatsapp:+94771234567": "Hi Arjuna Silva! Welcome from Colombo. Thanks for joining our service! Reply STOP to opt out.",
		"whatsapp:+94771234576": "Hi Frank Miller! Welcome from Matara. Thanks for joining our service! Reply STOP to opt out.",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sends (-want, +got):\n%s", diff)
	}
	for _, m := range sent {
		if m["content_sid"] != "HX5b3a1e0c9d8f4e2a7b6c5d4e3f2a1b0c" {
			t.Errorf("send to %v went as %v, want the approved template's content SID", m["to"], m["content_sid"])
		}
	}
	_, ms := d.do("GET", "/api/v1/reporting/messages/status?campaign_id="+cid+"&limit=10", nil, "")
	msgs, _ := ms["messages"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("messages/status = %v", ms)
	}
	// Paced by the campaign's own queue (how it spaces dispatches is tested
	// in shared/sendqueue/cloudtasks), deleted once the campaign completed:
	// a region holds only about 1,000 queues.
	d.eventually("campaign queue released", 30*time.Second, func() (bool, string) {
		_, err := d.queue(project, "campaign-"+cid)
		return status.Code(err) == codes.NotFound, fmt.Sprint(err)
	})
	for _, m := range msgs {
		if mm := m.(map[string]any); mm["claimed_at"] == nil || mm["sent_at"] == nil || mm["status"] != "READ" && mm["status"] != "DELIVERED" {
			t.Errorf("message %v: want claimed, sent and delivered", mm)
		}
	}

	// Exactly once: delivering each send task again sends nothing.
	for _, m := range msgs {
		body := fmt.Sprintf(`{"campaign_id":%q,"message_id":%q}`, cid, m.(map[string]any)["id"])
		code, out := d.doNoAuthBody("POST", "/tasks/send", body)
		if code != 200 || out["outcome"] != "duplicate" {
			t.Errorf("redelivered task = %d %v, want 200 duplicate", code, out)
		}
	}
	if code, _ := d.do("POST", "/api/v1/campaigns/"+cid+"/trigger", strings.NewReader(`{}`), "application/json"); code != http.StatusConflict {
		t.Errorf("trigger of a completed campaign = %d, want 409", code)
	}
	// And redelivering the campaign's events through Pub/Sub, as it may,
	// sends nothing either.
	var ids []string
	for _, m := range msgs {
		ids = append(ids, fmt.Sprint(m.(map[string]any)["id"]))
	}
	d.publish(events.TopicCampaignLaunch, events.Launch{CampaignID: cid})
	d.publish(events.TopicRecipients, events.Recipients{CampaignID: cid, MessageIDs: ids})

	// Part 7: a reply, then a STOP from Grace, signed by the stand-in.
	d.inbound("+94771234576", "Hello world", "SM123test")
	reply := d.inbound("+94771234577", "STOP", "SM456test")
	if !strings.Contains(reply, "unsubscribed") {
		t.Errorf("TwiML reply to STOP = %q", reply)
	}
	d.eventually("STOP sets consent", 30*time.Second, func() (bool, string) {
		_, u := d.do("GET", "/api/v1/users/%2B94771234577", nil, "")
		return u["consent_state"] == "STOP", fmt.Sprint(u)
	})
	// Every message records when the person last wrote, a plain reply too.
	d.eventually("the reply records last_inbound_at", 30*time.Second, func() (bool, string) {
		_, u := d.do("GET", "/api/v1/users/%2B94771234576", nil, "")
		return u["last_inbound_at"] != nil, fmt.Sprint(u)
	})
	_, hist := d.do("GET", "/api/v1/users/%2B94771234577/consent/history", nil, "")
	if h, _ := hist["history"].([]any); len(h) < 2 || h[len(h)-1].(map[string]any)["source"] != "inbound" {
		t.Errorf("consent history = %v", hist)
	}

	// Unsigned and tampered webhooks: 403, nothing stored.
	form := "From=whatsapp%3A%2B94771234567&To=whatsapp%3A%2B14155238886&Body=STOP&MessageSid=SMforged"
	if code, _ := d.doNoAuthForm("/webhooks/inbound", form, ""); code != http.StatusForbidden {
		t.Errorf("unsigned inbound = %d, want 403", code)
	}
	if code, _ := d.doNoAuthForm("/webhooks/inbound", form, "bm90IGEgc2lnbmF0dXJl"); code != http.StatusForbidden {
		t.Errorf("tampered inbound = %d, want 403", code)
	}
	// Replaying a delivered webhook changes nothing.
	d.inbound("+94771234577", "STOP", "SM456test")
	_, in := d.do("GET", "/api/v1/monitoring/inbound?limit=10", nil, "")
	inMsgs, _ := in["messages"].([]any)
	if len(inMsgs) != 2 {
		t.Fatalf("monitoring/inbound has %d messages, want 2 (one per MessageSid): %v", len(inMsgs), in)
	}
	for _, m := range inMsgs {
		p := fmt.Sprint(m.(map[string]any)["phone_number"])
		if strings.Contains(p, "771234577") || strings.Contains(p, "771234576") {
			t.Errorf("inbound phone %q is not masked", p)
		}
	}
	_, u := d.do("GET", "/api/v1/users/%2B94771234567", nil, "")
	d.expect(u["consent_state"], "OPT_IN", "consent of the forged STOP's target")

	// Part 8: the summary.
	_, sum := d.do("GET", "/api/v1/reporting/campaigns/"+cid+"/summary", nil, "")
	for k, v := range map[string]float64{
		"total_recipients": 2, "messages_queued": 2, "messages_sent": 2, "messages_delivered": 2,
		"messages_failed": 0, "delivery_rate_percent": 100,
	} {
		if sum[k] != v {
			t.Errorf("summary %s = %v, want %v (%v)", k, sum[k], v, sum)
		}
	}
	_, dash := d.do("GET", "/api/v1/monitoring/dashboard", nil, "")
	if us, _ := dash["users"].(map[string]any); us["STOP"] != 1.0 || us["total"] != 4.0 {
		t.Errorf("dashboard users = %v", dash["users"])
	}
	if len(d.standinMessages()) != 2 {
		t.Errorf("stand-in sends changed after redeliveries")
	}

	// The same people again, as the seed's CSV: a re-import never raises
	// Grace's STOP back to OPT_IN.
	csvJob := d.upload("/api/v1/users/bulk", "scripts/sample/test_users.csv")
	d.eventually("CSV import completes", 30*time.Second, func() (bool, string) {
		_, st := d.do("GET", "/api/v1/ingest/status/"+csvJob["id"].(string), nil, "")
		return st["state"] == "COMPLETED", fmt.Sprint(st)
	})
	_, grace = d.do("GET", "/api/v1/users/%2B94771234577", nil, "")
	d.expect(grace["consent_state"], "STOP", "Grace's consent after a re-import saying OPT_IN")

	// Quiet hours around now in Colombo: the Colombo user's message is
	// deferred to the window's end, and the campaign stays RUNNING.
	colombo, _ := time.LoadLocation("Asia/Colombo")
	now := time.Now().In(colombo)
	quiet := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":"Night","template_id":%q,"segment_id":%q,"rate_limit_per_second":5,"quiet_hours_start":%q,"quiet_hours_end":%q}`,
		welcome, colomboSeg, now.Add(-time.Hour).Format("15:04"), now.Add(2*time.Hour).Format("15:04")))
	d.do("POST", "/api/v1/campaigns/"+quiet+"/trigger", nil, "")
	d.eventually("deferred for quiet hours", 30*time.Second, func() (bool, string) {
		_, s := d.do("GET", "/api/v1/reporting/campaigns/"+quiet+"/summary", nil, "")
		return s["messages_deferred"] == 1.0 && s["status"] == "RUNNING" && s["messages_sent"] == 0.0, fmt.Sprint(s)
	})
}

// newDemo starts the whole local stack with scripts/dev, as the README
// says, on the emulators scripts/test started, and waits for /health.
func newDemo(t testing.TB, settings ...string) *demo {
	env := []string{
		"FIRESTORE_EMULATOR_HOST=" + emulatortest.Firestore(t),
		"PUBSUB_EMULATOR_HOST=" + emulatortest.PubSub(t),
		"CLOUD_TASKS_EMULATOR_HOST=" + emulatortest.CloudTasks(t),
		"STORAGE_EMULATOR_HOST=" + emulatortest.Storage(t),
	}
	port, standin := freePort(t), freePort(t)
	d := &demo{t: t, base: "http://127.0.0.1:" + port, key: "e2e-key", standin: "http://127.0.0.1:" + standin, project: emulatortest.ProjectID(t)}
	d.start(append(append(env,
		"PORT="+port, "TWILIO_STANDIN_PORT="+standin, "GOOGLE_CLOUD_PROJECT="+d.project,
		"API_KEY="+d.key, "TWILIO_AUTH_TOKEN=e2etoken", "PUBLIC_BASE_URL="+d.base,
	), settings...))
	d.eventually("health", 90*time.Second, func() (bool, string) {
		code, body := d.do("GET", "/health", nil, "")
		return code == 200 && body["status"] == "healthy", fmt.Sprint(code, body)
	})
	return d
}

type demo struct {
	t         testing.TB
	project   string
	base, key string
	standin   string
	client    http.Client
	exited    chan struct{} // closed when scripts/dev ends
	logPath   string        // scripts/dev's output
}

// publish sends v to topic on the emulator, as a redelivery would, and
// gives the push a moment to land.
func (d *demo) publish(topic string, v any) {
	d.t.Helper()
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, d.project)
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	p := pubsubevents.New(c)
	defer p.Close()
	if err := p.Publish(ctx, topic, v); err != nil {
		d.t.Fatalf("publish to %s: %v", topic, err)
	}
	time.Sleep(time.Second)
}

// queue reads a Cloud Tasks queue from the emulator.
func (d *demo) queue(project, id string) (*cloudtaskspb.Queue, error) {
	d.t.Helper()
	ctx := context.Background()
	c, err := cloudtasks.NewClient(ctx, option.WithEndpoint(emulatortest.CloudTasks(d.t)), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	return c.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: "projects/" + project + "/locations/us-central1/queues/" + id})
}

func freePort(t testing.TB) string {
	t.Helper()
	p, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

// start runs scripts/dev and stops it (SIGINT, as Ctrl-C) at the end.
func (d *demo) start(env []string) {
	d.t.Helper()
	cmd := exec.Command("scripts/dev")
	cmd.Env = append(os.Environ(), env...)
	logPath := filepath.Join(d.t.TempDir(), "dev.log")
	d.logPath = logPath
	log, err := os.Create(logPath)
	if err != nil {
		d.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("scripts/dev: %v", err)
	}
	d.exited = make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(d.exited) }()
	d.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-d.exited:
			if waitErr != nil {
				d.t.Errorf("scripts/dev ended with %v after SIGINT, want exit 0", waitErr)
			}
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			d.t.Errorf("scripts/dev did not stop on SIGINT")
		}
		if d.t.Failed() {
			b, _ := os.ReadFile(logPath)
			d.t.Logf("scripts/dev output:\n%s", tail(string(b), 12000))
		}
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (d *demo) request(method, path string, body io.Reader, ctype string, auth bool) (int, map[string]any) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+d.key)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, map[string]any{"transport_error": err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if json.Unmarshal(b, &out) != nil {
		out["raw"] = string(b)
	}
	return resp.StatusCode, out
}

func (d *demo) do(method, path string, body io.Reader, ctype string) (int, map[string]any) {
	d.t.Helper()
	return d.request(method, path, body, ctype, true)
}

func (d *demo) doNoAuth(method, path string) (int, map[string]any) {
	d.t.Helper()
	return d.request(method, path, nil, "", false)
}

func (d *demo) doNoAuthBody(method, path, body string) (int, map[string]any) {
	d.t.Helper()
	return d.request(method, path, strings.NewReader(body), "application/json", false)
}

func (d *demo) doNoAuthForm(path, form, signature string) (int, map[string]any) {
	d.t.Helper()
	req, _ := http.NewRequest("POST", d.base+path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// create POSTs a JSON resource and returns its id.
func (d *demo) create(path, body string) string {
	d.t.Helper()
	code, out := d.do("POST", path, strings.NewReader(body), "application/json")
	id, _ := out["id"].(string)
	if code != http.StatusCreated || id == "" {
		d.t.Fatalf("POST %s = %d %v", path, code, out)
	}
	return id
}

func (d *demo) upload(path, file string) map[string]any {
	d.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", filepath.Base(file))
	b, err := os.ReadFile(file)
	if err != nil {
		d.t.Fatal(err)
	}
	fw.Write(b)
	mw.Close()
	code, out := d.do("POST", path, &buf, mw.FormDataContentType())
	if code != http.StatusAccepted {
		d.t.Fatalf("upload = %d %v", code, out)
	}
	return out
}

func (d *demo) expect(got, want any, what string) {
	d.t.Helper()
	if got != want {
		d.t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func (d *demo) eventually(what string, within time.Duration, ok func() (bool, string)) {
	d.t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			d.t.Fatalf("%s: scripts/dev ended", what)
		default:
		}
		var done bool
		if done, last = ok(); done {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.t.Fatalf("%s: not within %v; last: %s", what, within, last)
}

func (d *demo) standinMessages() []map[string]any {
	d.t.Helper()
	resp, err := d.client.Get(d.standin + "/_standin/messages")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		d.t.Fatalf("stand-in messages: %v", err)
	}
	return out
}

// inbound has the stand-in deliver a signed inbound message; it returns
// the webhook's TwiML answer.
func (d *demo) inbound(from, body, sid string) string {
	d.t.Helper()
	form := url.Values{"From": {from}, "Body": {body}, "MessageSid": {sid}}
	resp, err := d.client.PostForm(d.standin+"/_standin/inbound", form)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		d.t.Fatal(err)
	}
	if out["webhook_status"] != 200.0 {
		d.t.Fatalf("inbound %s: webhook answered %v", sid, out)
	}
	return fmt.Sprint(out["webhook_response"])
}

// approvedTemplate creates a template sent by a content SID of its own,
// with vars as Twilio's variables 1, 2, ..., and gives the stand-in its
// approved text, as Meta's approval and Twilio's Content API would.
func (d *demo) approvedTemplate(name, content string, vars ...string) string {
	d.t.Helper()
	return d.approvedTemplateIn("", name, content, vars...)
}

// approvedTemplateIn is approvedTemplate approved in WhatsApp's category
// (marketing or utility; "" for none), on the stand-in and on ours.
func (d *demo) approvedTemplateIn(category, name, content string, vars ...string) string {
	d.t.Helper()
	sum := sha256.Sum256([]byte(d.project + "/" + name))
	sid := "HX" + hex.EncodeToString(sum[:16])
	approved, bindings := content, map[string]string{}
	for i, v := range vars {
		n := strconv.Itoa(i + 1)
		approved = strings.ReplaceAll(approved, "{"+v+"}", "{{"+n+"}}")
		bindings[n] = v
	}
	resp, err := d.client.PostForm(d.standin+"/_standin/contents", url.Values{"Sid": {sid}, "Body": {approved}, "Category": {category}})
	if err != nil {
		d.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		d.t.Fatalf("giving the stand-in %s: %s", sid, resp.Status)
	}
	tpl := map[string]any{"name": name, "content": content, "content_sid": sid, "content_variables": bindings}
	if category != "" {
		tpl["category"] = category
	}
	b, err := json.Marshal(tpl)
	if err != nil {
		d.t.Fatal(err)
	}
	return d.create("/api/v1/templates", string(b))
}
