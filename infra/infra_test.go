package infra

// These tests prove infra/ consistent with the code, with no provider and
// no network (terraform validate needs both):
//   - every .tf file is formatted as terraform fmt would;
//   - every function registered in code (functions.HTTP / CloudEvent) has
//     its google_cloudfunctions2_function, on go126, with that entry point
//     and its own service account, and no function is declared that the
//     code does not register;
//   - every topic in events.Topics exists with its push subscription to the
//     function serving it (localroutes.EventFunctions): endpoint, OIDC,
//     retry policy, dead-letter policy to its dead-letter topic, which has
//     its pull subscription; the Pub/Sub service agent and push-invoker
//     hold what dead-lettering and pushing need;
//   - every setting a function's Config requires is set on it (or comes
//     from a secret), GOOGLE_CLOUD_PROJECT too; every secret named exists
//     and only the functions using it can read it;
//   - functions using Cloud Tasks hold queue admin on campaign- queues
//     only; the ones creating send tasks (taskCreators) sign them as
//     tasks-invoker and hold enqueuer and actAs, and no one else does;
//   - every composite index in gcpfirestore.Indexes exists (and no other),
//     every TTL field has its policy (none on contacts or consent), no
//     index exemption touches a queried field;
//   - no IAM grant anywhere is a primitive role (owner, editor, viewer);
//   - only Webhooks is public, and each function's invokers are the ones
//     it expects.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/eventstreamengine/ese/functions/localroutes"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/store/gcpfirestore"
)

const repoRoot = ".."

func TestFormatted(t *testing.T) {
	t.Parallel()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if got := hclwrite.Format(src); string(got) != string(src) {
			line, want := firstDifference(string(src), string(got))
			t.Errorf("infra/%s:%d is not formatted (run terraform fmt infra): want\n%s", path, line, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// firstDifference returns the first line of got that differs from src, and
// its number.
func firstDifference(src, got string) (int, string) {
	a, b := strings.Split(src, "\n"), strings.Split(got, "\n")
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i + 1, b[i]
		}
	}
	return min(len(a), len(b)), ""
}

// deployment is the evaluated module with the lookups the checks share.
type deployment struct {
	*module
	project, region string
	functions       map[string]cty.Value // by function name
	functionAddr    map[string]string    // function name -> address
	byService       map[string]string    // Cloud Run service -> function name
}

func load(t *testing.T) *deployment {
	t.Helper()
	return deploymentOf(t, loadModule(t, "."))
}

// deploymentOf indexes m's functions by entry point.
func deploymentOf(t *testing.T, m *module) *deployment {
	t.Helper()
	d := &deployment{module: m, project: m.Vars["project"].AsString(), region: m.Vars["region"].AsString(),
		functions: map[string]cty.Value{}, functionAddr: map[string]string{}, byService: map[string]string{}}
	// Functions are known by their entry point, which the code registers;
	// their deployed names are ids of their own (see TestFunctions).
	for addr, f := range m.Of("google_cloudfunctions2_function") {
		name := str(f, "build_config", 0, "entry_point")
		if name == "" {
			t.Fatalf("%s: entry_point is not known", addr)
		}
		if prev, dup := d.functionAddr[name]; dup {
			t.Errorf("%s and %s both declare entry point %q", prev, addr, name)
		}
		d.functions[name] = f
		d.functionAddr[name] = addr
		d.byService[str(f, "service_config", 0, "service")] = name
	}
	return d
}

// url is the deterministic URL of the function with entry point name.
func (d *deployment) url(name string) string {
	return functionURL(d.region, d.project, str(d.functions[name], "name"))
}

// functionID is what Cloud Functions accepts as a function's name.
var functionID = regexp.MustCompile(`^[a-z][a-z0-9-]{2,61}[a-z0-9]$`)

// account finds the google_service_account with account_id id.
func (d *deployment) account(id string) (cty.Value, bool) {
	for _, sa := range d.Of("google_service_account") {
		if str(sa, "account_id") == id {
			return sa, true
		}
	}
	return cty.NilVal, false
}

// grants lists every IAM member resource of typ granting role, by address.
func (d *deployment) grants(typ, role string) map[string]cty.Value {
	out := map[string]cty.Value{}
	for addr, g := range d.Of(typ) {
		if str(g, "role") == role {
			out[addr] = g
		}
	}
	return out
}

// invokers lists the members holding run.invoker on function name's
// Cloud Run service.
func (d *deployment) invokers(name string) []string {
	var out []string
	for _, g := range d.grants("google_cloud_run_v2_service_iam_member", "roles/run.invoker") {
		if d.byService[str(g, "name")] == name {
			out = append(out, str(g, "member"))
		}
	}
	slices.Sort(out)
	return out
}

func TestFunctions(t *testing.T) {
	t.Parallel()
	d := load(t)
	regs := registrations(t, repoRoot)
	if len(regs) == 0 {
		t.Fatal("no function registrations found under functions/")
	}
	accounts := map[string]string{}
	for _, name := range sortedKeys(regs) {
		f, ok := d.functions[name]
		if !ok {
			t.Errorf("function %s (registered at %s) has no google_cloudfunctions2_function with that entry point", name, regs[name].Where)
			continue
		}
		addr := d.functionAddr[name]
		if id := str(f, "name"); !functionID.MatchString(id) {
			t.Errorf("%s: name %q is not a function id (4 to 63 lowercase letters, digits and hyphens)", addr, id)
		}
		if got := str(f, "build_config", 0, "runtime"); got != "go126" {
			t.Errorf("%s: runtime = %q, want go126", addr, got)
		}
		if got := str(f, "build_config", 0, "source", 0, "storage_source", 0, "object"); !regexp.MustCompile(`^source-[0-9a-f]{64}\.zip$`).MatchString(got) {
			t.Errorf("%s: source object %q is not named by its content hash (source-<sha256>.zip)", addr, got)
		}
		sa, ok := d.account("fn-" + strings.ToLower(name))
		if !ok {
			t.Errorf("%s: no google_service_account fn-%s of its own", addr, strings.ToLower(name))
			continue
		}
		email := str(f, "service_config", 0, "service_account_email")
		if email != str(sa, "email") {
			t.Errorf("%s: runs as %q, want its own account %s", addr, email, str(sa, "email"))
		}
		if other, dup := accounts[email]; dup {
			t.Errorf("%s and %s share service account %s", other, name, email)
		}
		accounts[email] = name
	}
	for name, addr := range d.functionAddr {
		if _, ok := regs[name]; !ok {
			t.Errorf("%s declares entry point %q, which no code registers", addr, name)
		}
	}
}

func TestPubSub(t *testing.T) {
	t.Parallel()
	d := load(t)
	regs := registrations(t, repoRoot)

	topics := map[string]string{} // name -> address
	for addr, v := range d.Of("google_pubsub_topic") {
		topics[str(v, "name")] = addr
	}
	subs := map[string]cty.Value{}
	for _, v := range d.Of("google_pubsub_subscription") {
		subs[str(v, "name")] = v
	}
	serving := map[string]string{} // topic -> function
	for _, f := range localroutes.EventFunctions {
		serving[f.Topic] = f.Name
	}
	for name, r := range regs {
		if r.Kind == "CloudEvent" && !slices.ContainsFunc(localroutes.EventFunctions, func(f localroutes.EventFunction) bool { return f.Name == name }) {
			t.Errorf("event function %s (%s) is missing from localroutes.EventFunctions: nothing would push to it", name, r.Where)
		}
	}

	pushInvoker, ok := d.account("push-invoker")
	if !ok {
		t.Fatal("no google_service_account push-invoker (it signs the pushes)")
	}
	agents := d.pubsubAgentMembers()
	if len(agents) == 0 {
		t.Fatal("no member is the Pub/Sub service agent (service-<number>@gcp-sa-pubsub)")
	}
	holds := func(typ, role, attr, target, member string) bool {
		for _, g := range d.grants(typ, role) {
			if lastSegment(str(g, attr)) == target && str(g, "member") == member {
				return true
			}
		}
		return false
	}

	want := map[string]bool{}
	for _, topic := range events.Topics {
		fn, ok := serving[topic]
		if !ok {
			t.Errorf("topic %s: no function serves it in localroutes.EventFunctions", topic)
			continue
		}
		dl, push, pull := events.DeadLetterTopic(topic), events.PushSubscription(topic), events.DeadLetterSubscription(topic)
		want[topic], want[dl] = true, true
		for _, name := range []string{topic, dl} {
			if _, ok := topics[name]; !ok {
				t.Errorf("google_pubsub_topic %q is missing", name)
			}
		}

		s, ok := subs[push]
		if !ok {
			t.Errorf("push subscription %q (topic %s -> %s) is missing", push, topic, fn)
		} else {
			checkPush(t, d, s, push, topic, fn, str(pushInvoker, "email"))
		}
		if s, ok := subs[pull]; !ok {
			t.Errorf("dead-letter subscription %q on %s is missing", pull, dl)
		} else {
			if got := lastSegment(str(s, "topic")); got != dl {
				t.Errorf("subscription %s: topic %q, want %q", pull, got, dl)
			}
			if at(s, "push_config") != cty.NilVal {
				t.Errorf("subscription %s must be a pull subscription (the API reads it)", pull)
			}
		}

		// The function buries what it gives up on (edge.EventFunc).
		if f, ok := d.functions[fn]; ok {
			member := "serviceAccount:" + str(f, "service_config", 0, "service_account_email")
			if !holds("google_pubsub_topic_iam_member", "roles/pubsub.publisher", "topic", dl, member) {
				t.Errorf("%s lacks roles/pubsub.publisher on %s: it cannot bury an event past EVENT_MAX_AGE", fn, dl)
			}
		}
		for _, agent := range agents {
			if !holds("google_pubsub_topic_iam_member", "roles/pubsub.publisher", "topic", dl, agent) {
				t.Errorf("the Pub/Sub service agent %s lacks roles/pubsub.publisher on %s: it cannot dead-letter", agent, dl)
			}
			if !holds("google_pubsub_subscription_iam_member", "roles/pubsub.subscriber", "subscription", push, agent) {
				t.Errorf("the Pub/Sub service agent %s lacks roles/pubsub.subscriber on %s: it cannot dead-letter", agent, push)
			}
		}
		if got := d.invokers(fn); !slices.Contains(got, str(pushInvoker, "member")) {
			t.Errorf("function %s: push-invoker lacks roles/run.invoker (invokers %v)", fn, got)
		}
	}
	for name, addr := range topics {
		if !want[name] {
			t.Errorf("%s: topic %q is not in events.Topics nor a dead-letter topic of one", addr, name)
		}
	}
	for _, agent := range agents {
		found := false
		for _, g := range d.grants("google_service_account_iam_member", "roles/iam.serviceAccountTokenCreator") {
			if str(g, "service_account_id") == str(pushInvoker, "name") && str(g, "member") == agent {
				found = true
			}
		}
		if !found {
			t.Errorf("the Pub/Sub service agent %s lacks roles/iam.serviceAccountTokenCreator on push-invoker: no OIDC tokens", agent)
		}
	}
}

// pubsubAgentMembers lists the members that name the Pub/Sub service agent.
func (d *deployment) pubsubAgentMembers() []string {
	seen := map[string]bool{}
	for _, typ := range []string{"google_pubsub_topic_iam_member", "google_pubsub_subscription_iam_member", "google_service_account_iam_member"} {
		for _, g := range d.Of(typ) {
			if m := str(g, "member"); strings.Contains(m, "@gcp-sa-pubsub.iam.gserviceaccount.com") {
				seen[m] = true
			}
		}
	}
	return sortedKeys(seen)
}

func checkPush(t *testing.T, d *deployment, s cty.Value, name, topic, fn, invoker string) {
	t.Helper()
	if got := lastSegment(str(s, "topic")); got != topic {
		t.Errorf("subscription %s: topic %q, want %q", name, got, topic)
	}
	wantEndpoint := d.url(fn) + "/projects/" + d.project + "/topics/" + topic
	if got := str(s, "push_config", 0, "push_endpoint"); got != wantEndpoint {
		t.Errorf("subscription %s: push_endpoint %q, want %q (function %s)", name, got, wantEndpoint, fn)
	}
	if got := str(s, "push_config", 0, "oidc_token", 0, "service_account_email"); got != invoker {
		t.Errorf("subscription %s: OIDC token of %q, want push-invoker %q", name, got, invoker)
	}
	if got := str(s, "push_config", 0, "oidc_token", 0, "audience"); got != d.url(fn) {
		t.Errorf("subscription %s: OIDC audience %q, want %q", name, got, d.url(fn))
	}
	if str(s, "retry_policy", 0, "minimum_backoff") == "" || str(s, "retry_policy", 0, "maximum_backoff") == "" {
		t.Errorf("subscription %s: no retry_policy with minimum and maximum backoff", name)
	}
	if got := lastSegment(str(s, "dead_letter_policy", 0, "dead_letter_topic")); got != events.DeadLetterTopic(topic) {
		t.Errorf("subscription %s: dead_letter_topic %q, want %q", name, got, events.DeadLetterTopic(topic))
	}
	// The local emulator's subscriptions use events.DeliveryAttempts too.
	want := int64(events.DeliveryAttempts(topic))
	if v := at(s, "dead_letter_policy", 0, "max_delivery_attempts"); v == cty.NilVal || !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
		t.Errorf("subscription %s: dead_letter_policy has no max_delivery_attempts (want %d, events.DeliveryAttempts)", name, want)
	} else if got, _ := v.AsBigFloat().Int64(); !v.AsBigFloat().IsInt() || got != want {
		t.Errorf("subscription %s: max_delivery_attempts %s, want events.DeliveryAttempts(%q) = %d", name, v.AsBigFloat().String(), topic, want)
	}
}

// Every variable's value (its default, or testVars') passes its
// validation blocks, and those blocks refuse what they promise to.
func TestVariableValidation(t *testing.T) {
	t.Parallel()
	m := loadModule(t, ".")
	for _, name := range sortedKeys(m.varBlocks) {
		for _, msg := range m.invalid(name) {
			t.Errorf("variable %s = %#v fails its validation: %s", name, m.Vars[name], msg)
		}
	}
	attempts := func(n int64) cty.Value {
		vals := map[string]cty.Value{}
		for _, topic := range events.Topics {
			vals[topic] = cty.NumberIntVal(int64(events.DeliveryAttempts(topic)))
		}
		vals[events.TopicRecipients] = cty.NumberIntVal(n)
		return cty.MapVal(vals)
	}
	for admin, ok := range map[string]bool{"alice@example.com": true, "user:alice@example.com": false, "alice": false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"console_admins": cty.ListVal([]cty.Value{cty.StringVal(admin)})})
		if got := len(m.invalid("console_admins")) == 0; got != ok {
			t.Errorf("console_admins = [%q]: valid %v, want %v", admin, got, ok)
		}
	}
	// The API and the console check ID tokens, but only Cloud Run IAM
	// says who may call: never anyone at all.
	for member, ok := range map[string]bool{"user:alice@example.com": true, "group:ops@example.com": true,
		"allUsers": false, "allAuthenticatedUsers": false, "allusers": false, " allAuthenticatedUsers": false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"admin_members": cty.ListVal([]cty.Value{cty.StringVal("user:bob@example.com"), cty.StringVal(member)})})
		if got := len(m.invalid("admin_members")) == 0; got != ok {
			t.Errorf("admin_members holding %q: valid %v, want %v", member, got, ok)
		}
	}
	for n, ok := range map[int64]bool{4: false, 5: true, 100: true, 101: false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"delivery_attempts": attempts(n)})
		if got := len(m.invalid("delivery_attempts")) == 0; got != ok {
			t.Errorf("delivery_attempts with %s = %d: valid %v, want %v", events.TopicRecipients, n, got, ok)
		}
	}
	// The Sender's one WhatsApp sender (setup.Twilio): a number or a
	// Messaging Service, never both or neither.
	const service = "MG0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		from, service string
		ok            bool
	}{
		{"whatsapp:+15550100", "", true}, {"", service, true}, {"", "", false},
		{"whatsapp:+15550100", service, false}, {"", "MG123", false}, {"+15550100", "", false},
	} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"twilio_from": cty.StringVal(tc.from), "twilio_messaging_service_sid": cty.StringVal(tc.service)})
		got := len(m.invalid("twilio_from"))+len(m.invalid("twilio_messaging_service_sid")) == 0
		if got != tc.ok {
			t.Errorf("twilio_from = %q, twilio_messaging_service_sid = %q: valid %v, want %v", tc.from, tc.service, got, tc.ok)
		}
	}
	// AUTO_PAUSE_WINDOW is read as an int, 0 or more (setup.AutoPause).
	for v, ok := range map[float64]bool{0: true, 100: true, -1: false, 2.5: false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"auto_pause_window": cty.NumberFloatVal(v)})
		if got := len(m.invalid("auto_pause_window")) == 0; got != ok {
			t.Errorf("auto_pause_window = %v: valid %v, want %v", v, got, ok)
		}
	}
	// FREQUENCY_CAP_PER_24H is read as an int, 0 or more (setup.FrequencyCap).
	for v, ok := range map[float64]bool{0: true, 3: true, -1: false, 2.5: false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"frequency_cap_per_24h": cty.NumberFloatVal(v)})
		if got := len(m.invalid("frequency_cap_per_24h")) == 0; got != ok {
			t.Errorf("frequency_cap_per_24h = %v: valid %v, want %v", v, got, ok)
		}
	}
	// TWILIO_SENDER_MPS is read as an int, 0 or more (setup.SenderCeiling).
	for v, ok := range map[float64]bool{0: true, 80: true, -1: false, 0.5: false, 2.5: false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"twilio_sender_mps": cty.NumberFloatVal(v)})
		if got := len(m.invalid("twilio_sender_mps")) == 0; got != ok {
			t.Errorf("twilio_sender_mps = %v: valid %v, want %v", v, got, ok)
		}
	}
	// WHATSAPP_TIER (setup.MessagingLimit): a whole number of people, or
	// unlimited.
	for v, ok := range map[string]bool{"unlimited": true, "1000": true, "250": true, "0": false, "1.5": false, "tier 2": false, "": false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"whatsapp_tier": cty.StringVal(v)})
		if got := len(m.invalid("whatsapp_tier")) == 0; got != ok {
			t.Errorf("whatsapp_tier = %q: valid %v, want %v", v, got, ok)
		}
	}
	// EVENT_MAX_AGE is read with time.ParseDuration and must be above
	// zero (setup.Events): a typo fails the plan, not the started function.
	for v, ok := range map[string]bool{"24h": true, "36h30m": true, "1.5h": true, "90m": true,
		"0s": false, "0": false, "a day": false, "24": false, "1d": false, "": false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"event_max_age": cty.StringVal(v)})
		if got := len(m.invalid("event_max_age")) == 0; got != ok {
			t.Errorf("event_max_age = %q: valid %v, want %v", v, got, ok)
		}
	}
	// UNKNOWN_OUTCOME names a policy (setup.Reconcile).
	for v, ok := range map[string]bool{"resend_after": true, "hold": true, "": false, "resend": false, "HOLD": false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"unknown_outcome": cty.StringVal(v)})
		if got := len(m.invalid("unknown_outcome")) == 0; got != ok {
			t.Errorf("unknown_outcome = %q: valid %v, want %v", v, got, ok)
		}
	}
	// The erasure key's version is pinned: a number, never latest.
	for v, ok := range map[string]bool{"1": true, "12": true, "latest": false, "0": false, "": false, "v1": false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"erasure_key_version": cty.StringVal(v)})
		if got := len(m.invalid("erasure_key_version")) == 0; got != ok {
			t.Errorf("erasure_key_version = %q: valid %v, want %v", v, got, ok)
		}
	}
	// MARKETING_OPT_OUT_CODES is a list of 5-digit codes
	// (setup.MarketingOptOut).
	for v, ok := range map[string]bool{"63033": true, "63033,63099": true, "": false, "131050": false, "63033 ": false, "63033,": false, "stop": false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"marketing_opt_out_codes": cty.StringVal(v)})
		if got := len(m.invalid("marketing_opt_out_codes")) == 0; got != ok {
			t.Errorf("marketing_opt_out_codes = %q: valid %v, want %v", v, got, ok)
		}
	}
	// TWILIO_TIMEOUT and RECONCILE_AFTER are Go durations above zero
	// (setup.Twilio, setup.CheckReconcile: the Sender checks the rest).
	for _, name := range []string{"twilio_timeout", "reconcile_after"} {
		for v, ok := range map[string]bool{"15s": true, "2m": true, "1m30s": true, "0s": false, "15": false, "": false, "a minute": false} {
			m := loadModuleWith(t, ".", map[string]cty.Value{name: cty.StringVal(v)})
			if got := len(m.invalid(name)) == 0; got != ok {
				t.Errorf("%s = %q: valid %v, want %v", name, v, got, ok)
			}
		}
	}
}

// env is a function's environment: plain values and secret-backed keys.
func env(f cty.Value) (plain map[string]string, secrets map[string]string) {
	plain, secrets = map[string]string{}, map[string]string{}
	vars := at(f, "service_config", 0, "environment_variables")
	for _, k := range keysOf(vars) {
		plain[k] = str(vars, k)
	}
	sev := at(f, "service_config", 0, "secret_environment_variables")
	if sev != cty.NilVal && sev.CanIterateElements() {
		for it := sev.ElementIterator(); it.Next(); {
			_, s := it.Element()
			secrets[str(s, "key")] = lastSegment(str(s, "secret"))
		}
	}
	return plain, secrets
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	d := load(t)
	regs := registrations(t, repoRoot)
	cr := newConfigReader(t, repoRoot)

	secrets := map[string]bool{}
	for _, s := range d.Of("google_secret_manager_secret") {
		secrets[str(s, "secret_id")] = true
	}
	readers := map[string][]string{} // secret -> members with secretAccessor
	for addr, g := range d.grants("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor") {
		secret := lastSegment(str(g, "secret_id"))
		if secret == "" {
			t.Errorf("%s: secret is not known", addr)
		}
		readers[secret] = append(readers[secret], str(g, "member"))
	}
	for _, typ := range []string{"google_project_iam_member", "google_project_iam_binding"} {
		for addr, g := range d.Of(typ) {
			if strings.HasPrefix(str(g, "role"), "roles/secretmanager.") {
				t.Errorf("%s grants %s on the whole project: secrets are granted one by one", addr, str(g, "role"))
			}
		}
	}

	wantReaders := map[string][]string{} // secret -> members of the functions using it
	for _, name := range sortedKeys(regs) {
		f, ok := d.functions[name]
		if !ok {
			continue // TestFunctions reports it
		}
		addr := d.functionAddr[name]
		settings, from := cr.Config(t, regs[name].Dir)
		plain, secretEnv := env(f)
		if plain["GOOGLE_CLOUD_PROJECT"] != d.project {
			t.Errorf("%s: GOOGLE_CLOUD_PROJECT = %q, want %q", addr, plain["GOOGLE_CLOUD_PROJECT"], d.project)
		}
		for _, s := range settings {
			_, isPlain := plain[s.Name]
			_, isSecret := secretEnv[s.Name]
			if isPlain && isSecret {
				t.Errorf("%s: %s is set both as a value and from a secret", addr, s.Name)
			}
			if s.Required && !isPlain && !isSecret {
				t.Errorf("%s: %s is required by %s (%s) and not set", addr, s.Name, from, s.Field)
			}
		}
		member := "serviceAccount:" + str(f, "service_config", 0, "service_account_email")
		for key, secret := range secretEnv {
			if !secrets[secret] {
				t.Errorf("%s: %s comes from secret %q, which no google_secret_manager_secret declares", addr, key, secret)
			}
			wantReaders[secret] = append(wantReaders[secret], member)
		}
	}
	for secret := range secrets {
		want, got := slices.Clone(wantReaders[secret]), slices.Clone(readers[secret])
		slices.Sort(want)
		want = slices.Compact(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("secret %s: who may read it (-functions using it, +secretAccessor grants):\n%s", secret, diff)
		}
	}
}

// taskCreators are the entry points that create send tasks, each signed
// by tasks-invoker, and where in the code they do it. Only they may hold
// roles/cloudtasks.enqueuer and actAs (roles/iam.serviceAccountUser) on
// tasks-invoker; TestTaskCreatorsInCode keeps the list honest.
var taskCreators = map[string]string{
	// shared/campaignrun: Runner.Recipients -> Runner.queue -> Queue.Enqueue,
	// one task per recipient of a batch (topic recipient-batch).
	"ProcessRecipients": "shared/campaignrun",
	// shared/sending: Sender.deferUntil -> enqueueDeferred -> Queue.Enqueue,
	// a new task for a message deferred (quiet hours, rate limits).
	"Sender": "shared/sending",
}

// The Cloud Tasks grants, with the queue-name condition (the default) and
// without it (tasks_iam_condition = false, for a Cloud Tasks that ignores it).
func TestSendTasks(t *testing.T) {
	t.Parallel()
	for _, conditioned := range []bool{true, false} {
		t.Run(fmt.Sprintf("tasks_iam_condition=%v", conditioned), func(t *testing.T) {
			t.Parallel()
			d := deploymentOf(t, loadModuleWith(t, ".", map[string]cty.Value{"tasks_iam_condition": cty.BoolVal(conditioned)}))
			checkSendTasks(t, d, conditioned)
		})
	}
}

func checkSendTasks(t *testing.T, d *deployment, conditioned bool) {
	invoker, ok := d.account("tasks-invoker")
	if !ok {
		t.Fatal("no google_service_account tasks-invoker (it signs the send tasks)")
	}
	prefix := fmt.Sprintf(`resource.name.startsWith("projects/%s/locations/%s/queues/campaign-")`, d.project, d.region)
	// Every Cloud Tasks grant is limited to campaign queues, or, only when
	// tasks_iam_condition is false, carries no condition at all.
	scoped := func(g cty.Value) bool {
		if conditioned {
			return strings.Contains(str(g, "condition", 0, "expression"), prefix)
		}
		return at(g, "condition", 0) == cty.NilVal
	}
	want := "limited to campaign queues (" + prefix + ")"
	if !conditioned {
		want = "unconditioned (tasks_iam_condition = false)"
	}
	holders := map[string]map[string]bool{} // role -> members
	for _, role := range []string{"roles/cloudtasks.queueAdmin", "roles/cloudtasks.enqueuer"} {
		holders[role] = map[string]bool{}
		for addr, g := range d.grants("google_project_iam_member", role) {
			if !scoped(g) {
				t.Errorf("%s: %s is not %s", addr, role, want)
				continue
			}
			holders[role][str(g, "member")] = true
		}
	}
	actAs := map[string]bool{}
	for _, g := range d.grants("google_service_account_iam_member", "roles/iam.serviceAccountUser") {
		if str(g, "service_account_id") == str(invoker, "name") {
			actAs[str(g, "member")] = true
		}
	}

	creators := map[string]bool{} // members of the taskCreators
	for _, name := range sortedKeys(taskCreators) {
		f, ok := d.functions[name]
		if !ok {
			t.Errorf("task creator %s has no function", name)
			continue
		}
		creators["serviceAccount:"+str(f, "service_config", 0, "service_account_email")] = true
	}
	for _, name := range sortedKeys(d.functions) {
		f := d.functions[name]
		plain, _ := env(f)
		member := "serviceAccount:" + str(f, "service_config", 0, "service_account_email")
		addr := d.functionAddr[name]
		if _, ok := plain["TASKS_LOCATION"]; ok {
			if plain["TASKS_LOCATION"] != d.region {
				t.Errorf("%s: TASKS_LOCATION = %q, want the region %q", addr, plain["TASKS_LOCATION"], d.region)
			}
			if !holders["roles/cloudtasks.queueAdmin"][member] {
				t.Errorf("%s: uses Cloud Tasks but lacks roles/cloudtasks.queueAdmin %s", addr, want)
			}
		}
		if sa, ok := plain["TASKS_SERVICE_ACCOUNT"]; ok {
			if sa != str(invoker, "email") {
				t.Errorf("%s: TASKS_SERVICE_ACCOUNT = %q, want tasks-invoker %q", addr, sa, str(invoker, "email"))
			}
			if plain["SENDER_URL"] != d.url("Sender") || plain["TASKS_AUDIENCE"] != d.url("Sender") {
				t.Errorf("%s: SENDER_URL %q and TASKS_AUDIENCE %q, want the Sender's URL %q", addr, plain["SENDER_URL"], plain["TASKS_AUDIENCE"], d.url("Sender"))
			}
		}
		if _, creates := taskCreators[name]; !creates {
			continue
		}
		if plain["TASKS_SERVICE_ACCOUNT"] != str(invoker, "email") {
			t.Errorf("%s: creates send tasks but TASKS_SERVICE_ACCOUNT is %q, not tasks-invoker", addr, plain["TASKS_SERVICE_ACCOUNT"])
		}
		if !holders["roles/cloudtasks.enqueuer"][member] {
			t.Errorf("%s: creates send tasks (%s) but lacks roles/cloudtasks.enqueuer %s", addr, taskCreators[name], want)
		}
		if !actAs[member] {
			t.Errorf("%s: creates tasks signed by tasks-invoker (%s) but lacks roles/iam.serviceAccountUser on it", addr, taskCreators[name])
		}
	}
	// Nobody else: no other function, nor any other member.
	for what, members := range map[string]map[string]bool{
		"roles/cloudtasks.enqueuer":                     holders["roles/cloudtasks.enqueuer"],
		"roles/iam.serviceAccountUser on tasks-invoker": actAs,
	} {
		for _, m := range sortedKeys(members) {
			if creators[m] {
				continue
			}
			who := m
			for name, f := range d.functions {
				if m == "serviceAccount:"+str(f, "service_config", 0, "service_account_email") {
					who = d.functionAddr[name]
				}
			}
			t.Errorf("%s holds %s but creates no send task (taskCreators)", who, what)
		}
	}
	if got, want := d.invokers("Sender"), []string{str(invoker, "member")}; !slices.Equal(got, want) {
		t.Errorf("Sender invokers %v, want only tasks-invoker %v", got, want)
	}
}

// enqueueCall is a call that creates a send task.
var enqueueCall = regexp.MustCompile(`\.Enqueue\(`)

// The packages creating send tasks, outside the queue implementations and
// tests, are exactly those taskCreators names: a new one means a function
// needs enqueuer and actAs (and an entry above).
func TestTaskCreatorsInCode(t *testing.T) {
	t.Parallel()
	want := map[string]bool{}
	for _, pkg := range taskCreators {
		want[pkg] = true
	}
	got := map[string]bool{}
	for _, dir := range []string{"functions", "shared"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, filepath.Dir(path))
			rel = filepath.ToSlash(rel)
			if rel == "shared/sendqueue" || strings.HasPrefix(rel, "shared/sendqueue/") {
				return nil // the queues themselves and their conformance tests
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if enqueueCall.Match(src) {
				got[rel] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages calling Queue.Enqueue (-taskCreators, +code):\n%s", diff)
	}
}

func TestFirestore(t *testing.T) {
	t.Parallel()
	d := load(t)

	type index struct {
		Collection string
		Fields     string
		Scope      string
	}
	key := func(col string, fields []string, scope string) index {
		return index{col, strings.Join(fields, ", "), scope}
	}
	var want, got []index
	for _, ix := range gcpfirestore.Indexes {
		var fs []string
		for _, f := range ix.Fields {
			fs = append(fs, f.Path+" "+string(f.Order))
		}
		scope := "COLLECTION"
		if ix.Group {
			scope = "COLLECTION_GROUP"
		}
		want = append(want, key(ix.Collection, fs, scope))
	}
	for _, ix := range d.Of("google_firestore_index") {
		scope := str(ix, "query_scope")
		if scope == "" {
			scope = "COLLECTION"
		}
		var fs []string
		fields := at(ix, "fields")
		for i := range fields.LengthInt() {
			fs = append(fs, str(fields, i, "field_path")+" "+str(fields, i, "order"))
		}
		got = append(got, key(str(ix, "collection"), fs, scope))
	}
	less := func(a, b index) int {
		return strings.Compare(a.Collection+": "+a.Fields+" "+a.Scope, b.Collection+": "+b.Fields+" "+b.Scope)
	}
	slices.SortFunc(want, less)
	slices.SortFunc(got, less)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("composite indexes (-gcpfirestore.Indexes, +google_firestore_index):\n%s", diff)
	}

	ttl := map[string]string{}
	for addr, f := range d.Of("google_firestore_field") {
		col, field := str(f, "collection"), str(f, "field")
		ic := at(f, "index_config", 0)
		exempt := ic != cty.NilVal && at(ic, "indexes") == cty.NilVal
		if at(f, "ttl_config", 0) != cty.NilVal {
			ttl[col] = field
			// A TTL time rises with each write: indexed, it would hold
			// its collection to ~500 writes/s.
			if !exempt {
				t.Errorf("%s: TTL field %s.%s keeps its single-field indexes; give it an empty index_config", addr, col, field)
			}
		}
		if exempt && slices.Contains(gcpfirestore.Queried[col], field) {
			t.Errorf("%s: exempts %s.%s from indexing, but queries use it (gcpfirestore.Queried)", addr, col, field)
		}
	}
	if diff := cmp.Diff(gcpfirestore.TTLFields, ttl); diff != "" {
		t.Errorf("TTL policies (-gcpfirestore.TTLFields, +google_firestore_field ttl_config):\n%s", diff)
	}

	dbs := d.Of("google_firestore_database")
	if len(dbs) != 1 {
		t.Fatalf("%d google_firestore_database, want 1", len(dbs))
	}
	for addr, db := range dbs {
		for attr, want := range map[string]string{
			"name":                              "(default)",
			"type":                              "FIRESTORE_NATIVE",
			"point_in_time_recovery_enablement": "POINT_IN_TIME_RECOVERY_ENABLED",
			"delete_protection_state":           "DELETE_PROTECTION_ENABLED",
		} {
			if got := str(db, attr); got != want {
				t.Errorf("%s: %s = %q, want %q", addr, attr, got, want)
			}
		}
	}
	if len(d.Of("google_firestore_backup_schedule")) == 0 {
		t.Error("no google_firestore_backup_schedule: Firestore is not backed up")
	}
}

var primitive = regexp.MustCompile(`roles/(owner|editor|viewer)\b`)

func TestNoPrimitiveRoles(t *testing.T) {
	t.Parallel()
	d := load(t)
	for _, r := range d.Resources {
		if !strings.Contains(r.Type, "_iam_") {
			continue
		}
		for key, v := range r.Instances {
			role := str(v, "role")
			if role == "" && at(v, "policy_data") == cty.NilVal {
				t.Errorf("%s: role is not known", r.Addr(key))
			}
			if primitive.MatchString(role) {
				t.Errorf("%s grants %s: use the predefined roles the function needs", r.Addr(key), role)
			}
		}
	}
	// Whatever the evaluation missed (policies, dynamic blocks).
	for name, src := range d.Files {
		if loc := primitive.FindIndex(src); loc != nil {
			t.Errorf("%s mentions %s", name, src[loc[0]:loc[1]])
		}
	}
}

func TestInvokers(t *testing.T) {
	t.Parallel()
	d := load(t)
	member := func(id string) string {
		sa, ok := d.account(id)
		if !ok {
			t.Fatalf("no google_service_account %s", id)
		}
		return str(sa, "member")
	}
	want := map[string][]string{
		"API":      append(strs(d.Vars["admin_members"]), member("scheduler")),
		"Console":  strs(d.Vars["admin_members"]),
		"Webhooks": {"allUsers"},
		"Sender":   {member("tasks-invoker")},
	}
	for _, f := range localroutes.EventFunctions {
		want[f.Name] = []string{member("push-invoker")}
	}
	for _, name := range sortedKeys(d.functions) {
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: no expectation for who may invoke it", d.functionAddr[name])
			continue
		}
		slices.Sort(w)
		if diff := cmp.Diff(w, d.invokers(name)); diff != "" {
			t.Errorf("%s: roles/run.invoker (-want, +got):\n%s", d.functionAddr[name], diff)
		}
	}
	// Nothing but Webhooks' service is public, whatever the resource type.
	for _, r := range d.Resources {
		if !strings.Contains(r.Type, "_iam_") {
			continue
		}
		for key, v := range r.Instances {
			members := append(strs(at(v, "members")), str(v, "member"))
			public := slices.ContainsFunc(members, func(m string) bool { return m == "allUsers" || m == "allAuthenticatedUsers" })
			if public && (r.Type != "google_cloud_run_v2_service_iam_member" || d.byService[str(v, "name")] != "Webhooks") {
				t.Errorf("%s makes something public; only the Webhooks function may be", r.Addr(key))
			}
		}
	}
}

// maintenanceRoute finds the API's maintenance routes in its source.
var maintenanceRoute = regexp.MustCompile(`"POST (/api/v1/maintenance/[a-z-]+)"`)

// Every maintenance route of the API is called by Cloud Scheduler with the
// scheduler's OIDC token (IAM protects it, not the API key).
func TestScheduler(t *testing.T) {
	t.Parallel()
	d := load(t)
	sa, ok := d.account("scheduler")
	if !ok {
		t.Fatal("no google_service_account scheduler")
	}
	src, err := os.ReadFile(filepath.Join(repoRoot, "functions", "api", "api.go"))
	if err != nil {
		t.Fatal(err)
	}
	routes := maintenanceRoute.FindAllStringSubmatch(string(src), -1)
	if len(routes) == 0 {
		t.Fatal("no maintenance routes found in functions/api/api.go")
	}
	for _, route := range routes {
		found := false
		for addr, j := range d.Of("google_cloud_scheduler_job") {
			if str(j, "http_target", 0, "uri") != d.url("API")+route[1] {
				continue
			}
			found = true
			if got := str(j, "http_target", 0, "oidc_token", 0, "service_account_email"); got != str(sa, "email") {
				t.Errorf("%s: OIDC token of %q, want scheduler %q", addr, got, str(sa, "email"))
			}
			if got := str(j, "http_target", 0, "oidc_token", 0, "audience"); got != d.url("API") {
				t.Errorf("%s: audience %q, want %q", addr, got, d.url("API"))
			}
		}
		if !found {
			t.Errorf("no google_cloud_scheduler_job calls %s%s", d.url("API"), route[1])
		}
	}
}

// Nothing is declared that nothing reads: every variable, local and data
// source is referenced by some expression.
func TestNoUnused(t *testing.T) {
	t.Parallel()
	d := load(t)
	used := d.references(t)
	for _, name := range sortedKeys(d.Vars) {
		if !used["var."+name] {
			t.Errorf("variable %q is declared and never read", name)
		}
	}
	for _, name := range sortedKeys(d.localExpr) {
		if !used["local."+name] {
			t.Errorf("local %q is declared and never read", name)
		}
	}
	for _, r := range d.Resources {
		if r.Data && !used["data."+r.Type+"."+r.Name] {
			t.Errorf("%s (%s) is declared and never read", r.Addr(""), r.File)
		}
	}
}

// publishers lists the topics each function publishes to, and where its
// code does; burying in a function's own dead-letter topic is checked by
// TestPubSub. TestPublishersInCode keeps this list honest.
var publishers = map[string][]string{
	// imports (importrun, run by the API for a request's file and by the
	// import sweep), triggers (campaignrun.Trigger), the republish sweep
	// (maintenance.go) and dead-letter replays.
	"API": events.Topics,
	// a client's file, read once it arrives (importrun).
	"ReadImport": {events.TopicUserImport},
	// stored callbacks handed on (functions/webhooks); a campaign paused
	// for its failed statuses, settled (campaignrun.settleSoon).
	"Webhooks":     {events.TopicInbound, events.TopicStatus, events.TopicRecipients},
	"HandleStatus": {events.TopicRecipients},
	// the next page and the recipient batches (campaignrun.Launch).
	"LaunchCampaign": {events.TopicCampaignLaunch, events.TopicRecipients},
	// settling: the held fan-out page, the next settle page
	// (campaignrun.Settle).
	"ProcessRecipients": {events.TopicCampaignLaunch, events.TopicRecipients},
	// the Console runs the API's code in process (api.Server.As).
	"Console": events.Topics,
}

// A function publishes only where it is granted, and is granted only
// where it publishes.
func TestPublishers(t *testing.T) {
	t.Parallel()
	d := load(t)
	granted := map[string]map[string]bool{} // member -> topic
	for _, g := range d.grants("google_pubsub_topic_iam_member", "roles/pubsub.publisher") {
		m := str(g, "member")
		if granted[m] == nil {
			granted[m] = map[string]bool{}
		}
		granted[m][lastSegment(str(g, "topic"))] = true
	}
	for _, name := range sortedKeys(d.functions) {
		member := "serviceAccount:" + str(d.functions[name], "service_config", 0, "service_account_email")
		want := map[string]bool{}
		for _, topic := range publishers[name] {
			want[topic] = true
		}
		for _, f := range localroutes.EventFunctions {
			if f.Name == name {
				want[events.DeadLetterTopic(f.Topic)] = true
			}
		}
		got := granted[member]
		if got == nil {
			got = map[string]bool{}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s may publish to (-want, +got):\n%s", name, diff)
		}
	}
}

// publishCall finds a Publish call and the topic expression it names.
var publishCall = regexp.MustCompile(`\.Publish\([^,()]+, ([^,]+),`)

// Each Publish call in the code is in a function, or in a domain package
// that only functions listed in publishers run, to a topic they list.
func TestPublishersInCode(t *testing.T) {
	t.Parallel()
	// Where a Publish call lives -> who runs it, and the topic expressions
	// it may use.
	webhookTopics := []string{events.TopicInbound, events.TopicStatus}
	calls := map[string]struct {
		runBy  []string
		topics map[string][]string // the topic expression -> the topics it names
	}{
		"shared/importrun/importrun.go":  {[]string{"API", "ReadImport"}, map[string][]string{"events.TopicUserImport": {events.TopicUserImport}}},
		"shared/importrun/sweep.go":      {[]string{"API"}, map[string][]string{"events.TopicImportUpload": {events.TopicImportUpload}}},
		"functions/api/maintenance.go":   {[]string{"API"}, map[string][]string{"events.WebhookTopic(e.Kind)": webhookTopics}},
		"functions/webhooks/webhooks.go": {[]string{"Webhooks"}, map[string][]string{"events.WebhookTopic(e.Kind)": webhookTopics, "events.WebhookTopic(kind)": webhookTopics}},
		// Trigger (API); Launch (LaunchCampaign).
		"shared/campaignrun/campaignrun.go": {[]string{"API"}, map[string][]string{"events.TopicCampaignLaunch": {events.TopicCampaignLaunch}}},
		// A dry run too large for its request (API) is read by LaunchCampaign,
		// a part an event, each asking for the next.
		"shared/campaignrun/dryrun.go": {[]string{"API", "LaunchCampaign"}, map[string][]string{"events.TopicCampaignLaunch": {events.TopicCampaignLaunch}}},
		"shared/campaignrun/launch.go": {[]string{"LaunchCampaign"}, map[string][]string{
			"events.TopicCampaignLaunch": {events.TopicCampaignLaunch}, "events.TopicRecipients": {events.TopicRecipients}}},
		// The campaign check (API) asks for the sender's ceiling to be
		// shared again.
		"shared/campaignrun/rates.go": {[]string{"API"}, map[string][]string{"events.TopicRecipients": {events.TopicRecipients}}},
		// The campaign check (API) asks for the stranded-message sweep.
		"shared/campaignrun/stranded.go": {[]string{"API"}, map[string][]string{"events.TopicRecipients": {events.TopicRecipients}}},
		// A resend an operator asks for (API) and a new attempt after
		// Twilio's rate limit (HandleStatus, Webhooks in place) ask for the
		// message's task.
		"shared/campaignrun/retask.go": {[]string{"API", "HandleStatus", "Webhooks"}, map[string][]string{
			"events.TopicRecipients": {events.TopicRecipients}}},
		// Settle (ProcessRecipients) publishes the held page.
		"shared/campaignrun/lifecycle.go": {[]string{"API", "ProcessRecipients", "LaunchCampaign"}, map[string][]string{
			"events.TopicCampaignLaunch": {events.TopicCampaignLaunch}}},
		// Pause, resume, cancel and the sweeps (API) ask for settling, as
		// Settle (ProcessRecipients) does for its next page; a Launch that
		// finds its campaign cancelled settles it; an auto-pause on failed
		// statuses (HandleStatus, Webhooks in place) settles the pause.
		"shared/campaignrun/settlesoon.go": {[]string{"API", "ProcessRecipients", "LaunchCampaign", "HandleStatus", "Webhooks"}, map[string][]string{
			"events.TopicRecipients": {events.TopicRecipients}}},
	}
	for rel, c := range calls {
		if slices.Contains(c.runBy, "API") {
			// The Console acts through the API's code, in process.
			c.runBy = append(c.runBy, "Console")
		}
		for _, fn := range c.runBy {
			for _, topics := range c.topics {
				for _, topic := range topics {
					if !slices.Contains(publishers[fn], topic) {
						t.Errorf("%s (run by %s) publishes to %s, which publishers does not list for it", rel, fn, topic)
					}
				}
			}
		}
	}
	var seen []string
	err := filepath.WalkDir(filepath.Join(repoRoot), func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		if de.IsDir() {
			if rel == "emulators" || rel == "infra" || strings.HasPrefix(rel, ".") && rel != "." || rel == filepath.Join("shared", "events") {
				return filepath.SkipDir // tools, this test, and the events port with its adapters
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range publishCall.FindAllStringSubmatch(string(src), -1) {
			c, ok := calls[rel]
			if !ok {
				t.Errorf("%s publishes to %s: add it to calls here and its function to publishers", rel, m[1])
				continue
			}
			if _, ok := c.topics[m[1]]; !ok {
				t.Errorf("%s publishes to %s, which calls here does not list", rel, m[1])
			}
			seen = append(seen, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range calls {
		if !slices.Contains(seen, rel) {
			t.Errorf("calls lists %s, which publishes nothing any more", rel)
		}
	}
}

// The Sender is given the one WhatsApp sender Terraform was, under the
// name setup.Twilio reads: a number, or a Messaging Service.
func TestSenderGetsOneTwilioSender(t *testing.T) {
	t.Parallel()
	const service = "MG0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name, from, service string
		want                map[string]string
	}{
		{"number", "whatsapp:+15550100", "", map[string]string{"TWILIO_FROM": "whatsapp:+15550100"}},
		{"messaging_service", "", service, map[string]string{"TWILIO_MESSAGING_SERVICE_SID": service}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := deploymentOf(t, loadModuleWith(t, ".", map[string]cty.Value{
				"twilio_from": cty.StringVal(tc.from), "twilio_messaging_service_sid": cty.StringVal(tc.service),
			}))
			plain, _ := env(d.functions["Sender"])
			got := map[string]string{}
			for _, k := range []string{"TWILIO_FROM", "TWILIO_MESSAGING_SERVICE_SID"} {
				if v, ok := plain[k]; ok {
					got[k] = v
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Sender's sender settings (-want, +got):\n%s", diff)
			}
		})
	}
}

// The API admits by ID token only the e-mails of API_ADMINS: admin_members'
// users and service accounts, api_admins (groups' members) and the
// scheduler, which calls the maintenance routes. Any Google account can
// mint a token for gcloud's client id, one of ID_TOKEN_AUDIENCES.
func TestAPIAdmins(t *testing.T) {
	t.Parallel()
	d := deploymentOf(t, loadModuleWith(t, ".", map[string]cty.Value{
		"admin_members": cty.ListVal([]cty.Value{cty.StringVal("user:Alice@Example.com"), cty.StringVal("serviceAccount:ci@p.iam.gserviceaccount.com"),
			cty.StringVal("group:ops@example.com"), cty.StringVal("domain:example.com")}),
		"api_admins": cty.ListVal([]cty.Value{cty.StringVal("bob@example.com")}),
	}))
	sa, ok := d.account("scheduler")
	if !ok {
		t.Fatal("no google_service_account scheduler")
	}
	plain, _ := env(d.functions["API"])
	got := strings.Split(plain["API_ADMINS"], ",")
	want := []string{"alice@example.com", "ci@p.iam.gserviceaccount.com", "bob@example.com", str(sa, "email")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the API's API_ADMINS (-want, +got):\n%s", diff)
	}
	if plain["API_AUTH"] != "iam" {
		t.Errorf("the API's API_AUTH = %q, want iam: API_ADMINS applies to ID tokens", plain["API_AUTH"])
	}
}

// Every function that reads ERASURE_KEY reads the version
// erasure_key_version pins: a new version added to the secret must not
// reach some functions and not others (they refuse a key other than the
// one Firestore recorded, and stop starting).
func TestErasureKeyPinned(t *testing.T) {
	t.Parallel()
	m := loadModuleWith(t, ".", map[string]cty.Value{"erasure_key_version": cty.StringVal("7")})
	d := deploymentOf(t, m)
	readers := 0
	for name, f := range d.functions {
		sev := at(f, "service_config", 0, "secret_environment_variables")
		if sev == cty.NilVal || !sev.CanIterateElements() {
			continue
		}
		for it := sev.ElementIterator(); it.Next(); {
			_, s := it.Element()
			if str(s, "key") != "ERASURE_KEY" {
				continue
			}
			readers++
			if got := str(s, "version"); got != "7" {
				t.Errorf("%s: ERASURE_KEY version %q, want erasure_key_version's", name, got)
			}
		}
	}
	if readers == 0 {
		t.Fatal("no function reads ERASURE_KEY")
	}
}
