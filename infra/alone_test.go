package infra

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"github.com/zclconf/go-cty/cty"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/emulators/localstack"
	"github.com/eventstreamengine/ese/functions/localroutes"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sms/twilio"
	"github.com/eventstreamengine/ese/shared/store/gcpfirestore"
	"github.com/eventstreamengine/ese/shared/uploads"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// Test values of the secrets Terraform hands the functions.
const (
	aloneTwilioToken = "alonetoken"
	aloneAPIKey      = "alone-key"
)

// secretValues are the secret versions the deployer creates, by secret id.
var secretValues = map[string]string{
	"twilio-auth-token":   aloneTwilioToken,
	"erasure-key":         "alone-erasure-key-of-at-least-32-bytes",
	"console-session-key": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	"api-key-sha256":      func() string { s := sha256.Sum256([]byte(aloneAPIKey)); return hex.EncodeToString(s[:]) }(),
}

// Each function is started as Cloud Functions starts it (the root package,
// FUNCTION_TARGET naming the function, its own PORT) with only the
// environment Terraform gives it, plus the emulators' hosts and test values
// of its secrets, and must answer one request as deployed: a setting the
// code needs that Terraform does not give, or one it gives wrong (a URL the
// signatures do not cover, a topic path the framework cannot read), fails
// here. The local stack cannot show this: it serves every function from one
// process with one environment.
func TestFunctionsStartAloneWithTerraformsEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts each function against the emulators")
	}
	t.Parallel()
	hosts := map[string]string{
		"FIRESTORE_EMULATOR_HOST":   emulatortest.Firestore(t),
		"PUBSUB_EMULATOR_HOST":      emulatortest.PubSub(t),
		"CLOUD_TASKS_EMULATOR_HOST": emulatortest.CloudTasks(t),
		"STORAGE_EMULATOR_HOST":     emulatortest.Storage(t),
	}
	project := emulatortest.ProjectID(t)
	d := deploymentOf(t, loadModuleWith(t, ".", map[string]cty.Value{"project": cty.StringVal(project)}))
	// The topics and subscriptions Terraform makes; the push endpoints are
	// not used (the test posts as the push subscription would).
	if err := localstack.Provision(t.Context(), project, "http://127.0.0.1:9"); err != nil {
		t.Fatalf("localstack.Provision: %v", err)
	}
	bin := buildFunctionBinary(t)

	pushed := func(topic string, payload any) func(base string) *http.Request {
		return pushRequest(project, topic, payload, "1", time.Now())
	}
	// What two of them must change: a known person's STOP and a sent
	// message's delivery.
	st, err := gcpfirestore.Open(t.Context(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	const stopper = "+94771234599"
	if err := st.CreateUser(t.Context(), user.User{Phone: stopper, Consent: consent.OptIn}, consent.SourceAPI, ""); err != nil {
		t.Fatal(err)
	}
	sent := message.Message{ID: message.ID("c1", "+94771234598"), CampaignID: "c1", Phone: "+94771234598",
		Status: message.Sent, ProviderSID: "SMalone3", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if _, err := st.CreateMessages(t.Context(), []message.Message{sent}); err != nil {
		t.Fatal(err)
	}
	// A client's file in the bucket Terraform names, and its import.
	upload := userimport.Job{ID: "alone1", State: userimport.Receiving, Object: uploads.ClientFolder + "alone1", CreatedAt: time.Now().UTC()}
	bucket := uploadsFile(t, d.environment(t, "ReadImport")["IMPORT_BUCKET"], project, upload.Object, "phone\n+94771234597\n")
	if err := st.CreateImportJob(t.Context(), upload); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		request  func(base string) *http.Request
		wantCode int
		wantBody string // a part of the answer
		check    func(t *testing.T)
	}{
		"API": {func(base string) *http.Request {
			r, _ := http.NewRequest("GET", base+"/health", nil)
			r.Header.Set("Authorization", "Bearer "+fakeIDToken("admin@example.com"))
			return r
		}, 200, `"status":"healthy"`, nil},
		// The dashboard, for the Google identity Cloud Run admitted.
		"Console": {func(base string) *http.Request {
			r, _ := http.NewRequest("GET", base+"/", nil)
			r.Header.Set("Authorization", "Bearer "+fakeIDToken("admin@example.com"))
			return r
		}, 200, "<h1>Dashboard</h1>", nil},
		"Webhooks": {func(base string) *http.Request {
			form := url.Values{"From": {"whatsapp:+94771234567"}, "Body": {"hello"}, "MessageSid": {"SMalone1"}}
			r, _ := http.NewRequest("POST", base+"/webhooks/inbound", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			// Signed as Twilio signs the URL it is given (the output).
			r.Header.Set("X-Twilio-Signature", twilio.Sign(aloneTwilioToken, d.url("Webhooks")+"/webhooks/inbound", form))
			return r
		}, 200, "<Response>", nil},
		"Sender": {func(base string) *http.Request {
			r, _ := http.NewRequest("POST", base+"/", strings.NewReader(`{"campaign_id":"c1","message_id":"m1"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 200, `"outcome":"dropped"`, nil},
		"ReadImport": {pushed(events.TopicImportUpload, events.ObjectFinalized{Bucket: bucket, Name: upload.Object, Size: "19"}), 200, "",
			func(t *testing.T) {
				if j, err := st.PeekImportJob(t.Context(), upload.ID); err != nil || j.State != userimport.Queued {
					t.Errorf("after ReadImport read the upload, its import is %q (%v), want QUEUED", j.State, err)
				}
			}},
		"ImportUsers":       {pushed(events.TopicUserImport, events.ImportBatch{JobID: "nojob", Batch: 0}), 200, "", nil},
		"LaunchCampaign":    {pushed(events.TopicCampaignLaunch, events.Launch{CampaignID: "nocampaign"}), 200, "", nil},
		"ProcessRecipients": {pushed(events.TopicRecipients, events.Recipients{CampaignID: "nocampaign", MessageIDs: []string{"m1"}}), 200, "", nil},
		"HandleInbound": {pushed(events.TopicInbound, webhook.Event{ID: "inbound-SMalone2", Kind: webhook.Inbound, MessageSID: "SMalone2",
			Params: map[string]string{"From": "whatsapp:" + stopper, "Body": "STOP"}, ReceivedAt: time.Now()}), 200, "",
			func(t *testing.T) {
				if u, err := st.GetUser(t.Context(), stopper); err != nil || u.Consent != consent.Stop {
					t.Errorf("after HandleInbound took a STOP, the person's consent is %q (%v), want STOP", u.Consent, err)
				}
			}},
		"HandleStatus": {pushed(events.TopicStatus, webhook.Event{ID: "status-SMalone3-delivered", Kind: webhook.Status, MessageSID: "SMalone3",
			MessageID: sent.ID, Status: "delivered", Params: map[string]string{"MessageStatus": "delivered"}, ReceivedAt: time.Now()}), 200, "",
			func(t *testing.T) {
				if m, err := st.GetMessage(t.Context(), sent.ID); err != nil || m.Status != message.Delivered {
					t.Errorf("after HandleStatus took a delivered status, the message is %q (%v), want DELIVERED", m.Status, err)
				}
			}},
	}
	for _, f := range localroutes.EventFunctions {
		if _, ok := cases[f.Name]; !ok {
			t.Errorf("event function %s has no case here", f.Name)
		}
	}
	for name := range d.functions {
		tc, ok := cases[name]
		if !ok {
			t.Errorf("function %s has no case here", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := d.environment(t, name)
			for k, v := range hosts {
				env[k] = v
			}
			base := startFunction(t, bin, name, env)
			resp, err := http.DefaultClient.Do(tc.request(base))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode || !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("%s answered %d %s; want %d with %q\nenvironment: %v", name, resp.StatusCode, body, tc.wantCode, tc.wantBody, keysOfMap(env))
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}
}

// uploadsFile creates bucket on the emulator and stores content as name
// in it, as a client's PUT would; it returns bucket.
func uploadsFile(t *testing.T, bucket, project, name, content string) string {
	t.Helper()
	c, err := storage.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bucket(bucket).Create(t.Context(), project, nil); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	w := c.Bucket(bucket).Object(name).NewWriter(t.Context())
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return bucket
}

// pushRequest is a Pub/Sub push of payload, published at published, as
// the function sees it: to the push endpoint with the function's name
// stripped, as cloudfunctions.net does.
func pushRequest(project, topic string, payload any, id string, published time.Time) func(base string) *http.Request {
	return func(base string) *http.Request {
		data, _ := json.Marshal(payload)
		body, _ := json.Marshal(map[string]any{
			"subscription": "projects/" + project + "/subscriptions/" + events.PushSubscription(topic),
			"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data), "messageId": id,
				"publishTime": published.UTC().Format(time.RFC3339Nano)},
		})
		r, _ := http.NewRequest("POST", base+"/projects/"+project+"/topics/"+topic, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
}

// An event older than EVENT_MAX_AGE is neither handled nor dropped: the
// deployed wiring (EVENT_MAX_AGE from Terraform, a Pub/Sub client, the
// topic read from the push) buries it among its topic's dead letters.
func TestFunctionAloneBuriesAnEventPastItsMaxAge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a function against the emulators")
	}
	t.Parallel()
	hosts := map[string]string{
		"FIRESTORE_EMULATOR_HOST": emulatortest.Firestore(t),
		"PUBSUB_EMULATOR_HOST":    emulatortest.PubSub(t),
	}
	project := emulatortest.ProjectID(t)
	d := deploymentOf(t, loadModuleWith(t, ".", map[string]cty.Value{"project": cty.StringVal(project)}))
	if err := localstack.Provision(t.Context(), project, "http://127.0.0.1:9"); err != nil {
		t.Fatalf("localstack.Provision: %v", err)
	}
	env := d.environment(t, "HandleInbound")
	for k, v := range hosts {
		env[k] = v
	}
	base := startFunction(t, buildFunctionBinary(t), "HandleInbound", env)
	old := webhook.Event{ID: "inbound-SMold", Kind: webhook.Inbound, MessageSID: "SMold",
		Params: map[string]string{"From": "whatsapp:+94771234567", "Body": "STOP"}, ReceivedAt: time.Now().Add(-48 * time.Hour)}
	resp, err := http.DefaultClient.Do(pushRequest(project, events.TopicInbound, old, "old-1", time.Now().Add(-48*time.Hour))(base))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HandleInbound answered %d to an event past its max age, want 200 (acked once buried)", resp.StatusCode)
	}
	client, err := pubsub.NewClient(t.Context(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	dls, err := pubsubevents.NewDeadLetters(client, events.Topics).List(t.Context(), events.TopicInbound, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].OriginalID != "old-1" || !strings.Contains(dls[0].Reason, "EVENT_MAX_AGE") {
		t.Errorf("dead letters of %s = %+v, want the old event, original id old-1, with a reason naming EVENT_MAX_AGE", events.TopicInbound, dls)
	}
}

// A function missing a setting stops at start, naming it: the deploy fails
// where it is made instead of answering 503 to every request.
func TestFunctionStartedWithoutASettingStopsNamingIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a function")
	}
	t.Parallel()
	d := load(t)
	bin := buildFunctionBinary(t)
	env := d.environment(t, "Sender")
	delete(env, "TWILIO_FROM")
	env["FUNCTION_TARGET"] = "Sender"
	env["PORT"] = strconv.Itoa(freePort(t))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = envList(env)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `"severity":"CRITICAL"`) || !strings.Contains(string(out), "TWILIO_FROM") {
		t.Errorf("Sender without TWILIO_FROM: exit %v, output %s; want a non-zero exit and a CRITICAL line naming TWILIO_FROM", err, out)
	}
}

// environment is what Terraform sets on function name, secrets given their
// test values, and what Cloud Run sets on every service (K_SERVICE).
func (d *deployment) environment(t *testing.T, name string) map[string]string {
	t.Helper()
	plain, secrets := env(d.functions[name])
	out := map[string]string{"K_SERVICE": str(d.functions[name], "name")}
	for k, v := range plain {
		out[k] = v
	}
	for k, secret := range secrets {
		v, ok := secretValues[secret]
		if !ok {
			t.Fatalf("%s: secret %s has no test value", name, secret)
		}
		out[k] = v
	}
	return out
}

// buildFunctionBinary builds emulators/function, which serves one function
// as the Go buildpack's main does.
func buildFunctionBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "function")
	cmd := exec.Command("go", "build", "-o", bin, "../emulators/function")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./emulators/function: %v\n%s", err, out)
	}
	return bin
}

// startFunction runs bin as function name with exactly env (and the port),
// waits until it listens, and returns its base URL.
func startFunction(t *testing.T, bin, name string, env map[string]string) string {
	t.Helper()
	port := freePort(t)
	env["FUNCTION_TARGET"] = name
	env["PORT"] = strconv.Itoa(port)
	cmd := exec.Command(bin)
	cmd.Env = envList(env)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, logs.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited at start: %v", name, err) // its output follows
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within 30 s", name, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// envList is env as os/exec takes it, with nothing of this process's
// environment: what Cloud Functions gives is all the function gets.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func keysOfMap(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// fakeIDToken is a JWT as Cloud Run IAM forwards it once it has checked
// it: an admin's gcloud token (gcloud's client id as its audience), its
// signature replaced (TRUST_CLOUD_RUN_IAM accepts it on its claims).
func fakeIDToken(email string) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"iss":"https://accounts.google.com","aud":"32555940559.apps.googleusercontent.com","email":%q,"email_verified":true,"exp":%d}`,
		email, time.Now().Add(time.Hour).Unix())
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".SIGNATURE_REMOVED_BY_GOOGLE"
}
