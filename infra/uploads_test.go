package infra

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/eventstreamengine/ese/emulators/localstack"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/uploads"
)

// bucketRoles is what each function holds on the uploads bucket: every
// function reading IMPORT_BUCKET reads files; the signers (signers) also
// create them. TestUploadsAccess keeps it honest.
var bucketRoles = map[string][]string{
	"API":        {"roles/storage.objectCreator", "roles/storage.objectViewer"},
	"Console":    {"roles/storage.objectCreator", "roles/storage.objectViewer"},
	"ReadImport": {"roles/storage.objectViewer"},
}

// signers are the entry points that sign upload URLs (SignedPutURL), as
// their own service account, and where in the code they do it;
// TestSignersInCode keeps the list honest.
var signers = map[string]string{
	"API": "functions/api",
	// The Console signs through the API's code, in process.
	"Console": "functions/api",
}

// uploadsBucket returns the bucket the functions' IMPORT_BUCKET names,
// checking they all name the same one and that it is declared.
func uploadsBucket(t *testing.T, d *deployment) (string, cty.Value) {
	t.Helper()
	regs := registrations(t, repoRoot)
	cr := newConfigReader(t, repoRoot)
	names := map[string][]string{} // bucket -> functions
	for _, fn := range sortedKeys(regs) {
		settings, _ := cr.Config(t, regs[fn].Dir)
		if !slices.ContainsFunc(settings, func(s setting) bool { return s.Name == "IMPORT_BUCKET" }) {
			continue
		}
		plain, _ := env(d.functions[fn])
		names[plain["IMPORT_BUCKET"]] = append(names[plain["IMPORT_BUCKET"]], fn)
	}
	if len(names) != 1 {
		t.Fatalf("the functions reading IMPORT_BUCKET name %d buckets (%v), want one", len(names), names)
	}
	name := sortedKeys(names)[0]
	for addr, b := range d.Of("google_storage_bucket") {
		if str(b, "name") == name {
			return addr, b
		}
	}
	t.Fatalf("IMPORT_BUCKET %q (functions %v) is no google_storage_bucket", name, names[name])
	return "", cty.NilVal
}

// The bucket keeps personal data for a day at most, is never public, and
// announces clients' uploads as localstack's emulator bucket does and as
// ReadImport reads them.
func TestUploadsBucket(t *testing.T) {
	t.Parallel()
	d := load(t)
	addr, b := uploadsBucket(t, d)
	name := str(b, "name")

	got := map[string]string{
		"uniform_bucket_level_access": at(b, "uniform_bucket_level_access").GoString(),
		"public_access_prevention":    str(b, "public_access_prevention"),
		"soft_delete retention":       at(b, "soft_delete_policy", 0, "retention_duration_seconds").GoString(),
		"versioning":                  at(b, "versioning", 0, "enabled").GoString(),
	}
	want := map[string]string{
		"uniform_bucket_level_access": cty.True.GoString(),
		"public_access_prevention":    "enforced",
		// A deleted file leaves no copy behind.
		"soft_delete retention": cty.NumberIntVal(0).GoString(),
		"versioning":            cty.NilVal.GoString(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want, +got):\n%s", addr, diff)
	}
	var deletes []string
	rules := at(b, "lifecycle_rule")
	for i := range lengthOf(rules) {
		if str(rules, i, "action", 0, "type") == "Delete" {
			deletes = append(deletes, at(rules, i, "condition", 0).GoString())
		}
	}
	if diff := cmp.Diff([]string{cty.ObjectVal(map[string]cty.Value{"age": cty.NumberIntVal(1)}).GoString()}, deletes); diff != "" {
		t.Errorf("%s: Delete rules' conditions (-want one: a day old, +got):\n%s", addr, diff)
	}

	// One notification: OBJECT_FINALIZE under uploads.ClientFolder, on
	// import-upload, JSON_API_V1, as localstack sets it up locally.
	var notes []string
	for naddr, n := range d.Of("google_storage_notification") {
		if str(n, "bucket") != name {
			t.Errorf("%s: a notification of bucket %q, want only the uploads bucket's", naddr, str(n, "bucket"))
			continue
		}
		notes = append(notes, naddr)
		local := localstack.UploadsNotification(d.project)
		got := map[string]any{"topic": str(n, "topic"), "payload_format": str(n, "payload_format"),
			"object_name_prefix": str(n, "object_name_prefix"), "event_types": strs(at(n, "event_types"))}
		want := map[string]any{"topic": "projects/" + local.TopicProjectID + "/topics/" + events.TopicImportUpload, "payload_format": local.PayloadFormat,
			"object_name_prefix": uploads.ClientFolder, "event_types": local.EventTypes}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want, +got):\n%s", naddr, diff)
		}
		if local.ObjectNamePrefix != uploads.ClientFolder {
			t.Errorf("localstack.UploadsNotification's prefix %q is not uploads.ClientFolder %q", local.ObjectNamePrefix, uploads.ClientFolder)
		}
		checkNotificationPublisher(t, d, naddr)
	}
	if len(notes) != 1 {
		t.Errorf("the uploads bucket has notifications %v, want one", notes)
	}
}

// checkNotificationPublisher checks that Cloud Storage's service agent
// may publish to import-upload, and that notification naddr waits for it.
func checkNotificationPublisher(t *testing.T, d *deployment, naddr string) {
	t.Helper()
	var agent string
	for _, r := range d.Resources {
		if r.Data && r.Type == "google_storage_project_service_account" {
			agent = str(r.Instances[""], "member")
		}
	}
	if agent == "" {
		t.Error("no data google_storage_project_service_account: Cloud Storage's service agent is never named")
		return
	}
	var grants []string
	for gaddr, g := range d.grants("google_pubsub_topic_iam_member", "roles/pubsub.publisher") {
		if lastSegment(str(g, "topic")) == events.TopicImportUpload && str(g, "member") == agent {
			grants = append(grants, gaddr)
		}
	}
	if len(grants) != 1 {
		t.Fatalf("Cloud Storage's agent %s holds roles/pubsub.publisher on %s by %v, want one grant", agent, events.TopicImportUpload, grants)
	}
	var after []string
	for _, r := range d.Resources {
		if r.Data || r.Addr("") != naddr {
			continue
		}
		if a, ok := r.Block.Body.Attributes["depends_on"]; ok {
			for _, tr := range a.Expr.Variables() {
				after = append(after, traversalAddr(tr))
			}
		}
	}
	if !slices.Contains(after, grants[0]) {
		t.Errorf("%s depends on %v, want %s: Cloud Storage refuses a notification its agent cannot publish", naddr, after, grants[0])
	}
}

// traversalAddr is the resource address a depends_on entry names.
func traversalAddr(tr hcl.Traversal) string {
	parts := []string{tr.RootName()}
	for _, step := range tr[1:] {
		if a, ok := step.(hcl.TraverseAttr); ok {
			parts = append(parts, a.Name)
		}
	}
	return strings.Join(parts, ".")
}

func lengthOf(v cty.Value) int {
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return 0
	}
	return v.LengthInt()
}

// Browsers may PUT from the console's origins only, and only when some
// are given.
func TestUploadsCORS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		origins []string
		want    []map[string]any
	}{
		{name: "none_given_none_allowed"},
		{name: "the_consoles", origins: []string{"https://console.example.com", "http://localhost:5173"},
			want: []map[string]any{{"origin": []string{"https://console.example.com", "http://localhost:5173"}, "method": []string{"PUT"}, "response_header": []string{"Content-Type"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vals := []cty.Value{}
			for _, o := range tc.origins {
				vals = append(vals, cty.StringVal(o))
			}
			list := cty.ListValEmpty(cty.String)
			if len(vals) > 0 {
				list = cty.ListVal(vals)
			}
			d := deploymentOf(t, loadModuleWith(t, ".", map[string]cty.Value{"upload_origins": list}))
			addr, b := uploadsBucket(t, d)
			var got []map[string]any
			cors := at(b, "cors")
			for i := range lengthOf(cors) {
				got = append(got, map[string]any{"origin": strs(at(cors, i, "origin")), "method": strs(at(cors, i, "method")),
					"response_header": strs(at(cors, i, "response_header"))})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: cors (-want, +got):\n%s", addr, diff)
			}
		})
	}
	for o, ok := range map[string]bool{"https://console.example.com": true, "http://localhost:5173": true,
		"https://console.example.com/": false, "console.example.com": false, "https://console.example.com/app": false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"upload_origins": cty.ListVal([]cty.Value{cty.StringVal(o)})})
		if got := len(m.invalid("upload_origins")) == 0; got != ok {
			t.Errorf("upload_origins = [%q]: valid %v, want %v", o, got, ok)
		}
	}
}

// Each function holds on the bucket what bucketRoles says, granted on the
// bucket alone; a signer also signs as itself (signBlob).
func TestUploadsAccess(t *testing.T) {
	t.Parallel()
	d := load(t)
	_, b := uploadsBucket(t, d)
	name := str(b, "name")
	member := func(fn string) string {
		return "serviceAccount:" + str(d.functions[fn], "service_config", 0, "service_account_email")
	}

	want := map[string][]string{} // member -> roles on the bucket
	regs := registrations(t, repoRoot)
	cr := newConfigReader(t, repoRoot)
	for _, fn := range sortedKeys(regs) {
		settings, _ := cr.Config(t, regs[fn].Dir)
		reads := slices.ContainsFunc(settings, func(s setting) bool { return s.Name == "IMPORT_BUCKET" })
		if _, listed := bucketRoles[fn]; reads != listed {
			t.Errorf("%s: reads IMPORT_BUCKET %v, listed in bucketRoles %v", fn, reads, listed)
		}
		if _, signs := signers[fn]; signs && !slices.Contains(bucketRoles[fn], "roles/storage.objectCreator") {
			t.Errorf("%s signs upload URLs but bucketRoles gives it no roles/storage.objectCreator: a client's PUT would be refused", fn)
		}
	}
	for fn, roles := range bucketRoles {
		if _, ok := d.functions[fn]; !ok {
			t.Errorf("bucketRoles names %s, which has no function", fn)
			continue
		}
		want[member(fn)] = slices.Sorted(slices.Values(roles))
	}
	got := map[string][]string{}
	for _, typ := range []string{"google_storage_bucket_iam_member", "google_storage_bucket_iam_binding"} {
		for addr, g := range d.Of(typ) {
			if str(g, "bucket") != name {
				continue
			}
			members := append(strs(at(g, "members")), str(g, "member"))
			for _, m := range members {
				if m != "" {
					got[m] = append(got[m], str(g, "role"))
				}
			}
			if typ == "google_storage_bucket_iam_binding" {
				t.Errorf("%s: a binding takes the role from whoever else holds it; grant members", addr)
			}
		}
	}
	for m := range got {
		slices.Sort(got[m])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("roles on the uploads bucket (-bucketRoles, +granted):\n%s", diff)
	}
	for addr, g := range d.Of("google_project_iam_member") {
		if strings.HasPrefix(str(g, "role"), "roles/storage.") {
			t.Errorf("%s grants %s on the whole project: storage roles are granted on a bucket", addr, str(g, "role"))
		}
	}

	for fn := range signers {
		sa, ok := d.account("fn-" + strings.ToLower(fn))
		if !ok {
			t.Errorf("signer %s has no service account", fn)
			continue
		}
		found := false
		for _, g := range d.grants("google_service_account_iam_member", "roles/iam.serviceAccountTokenCreator") {
			if str(g, "service_account_id") == str(sa, "name") && str(g, "member") == str(sa, "member") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s signs upload URLs through signBlob but lacks roles/iam.serviceAccountTokenCreator on its own account %s", fn, str(sa, "email"))
		}
	}
}

// signCall is a call that signs an upload URL.
var signCall = regexp.MustCompile(`\.SignedPutURL\(`)

// The packages signing upload URLs, outside the buckets and tests, are
// exactly those signers names.
func TestSignersInCode(t *testing.T) {
	t.Parallel()
	want := map[string]bool{}
	for _, pkg := range signers {
		want[pkg] = true
	}
	got := map[string]bool{}
	for _, dir := range []string{"functions", "shared"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, filepath.Dir(path))
			rel = filepath.ToSlash(rel)
			if rel == "shared/uploads" || strings.HasPrefix(rel, "shared/uploads/") {
				return nil // the buckets themselves and their conformance tests
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if signCall.Match(src) {
				got[rel] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages calling SignedPutURL (-signers, +code):\n%s", diff)
	}
}
