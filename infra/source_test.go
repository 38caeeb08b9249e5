package infra

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// The functions' archive: its object is named by var.source_hash when
// given, scripts/source-archive makes the archive and that hash, and the
// hash moves only with the files that build the functions.

func TestSourceObjectName(t *testing.T) {
	t.Parallel()
	hash := strings.Repeat("ab", 32)
	for given, want := range map[string]string{
		"":   "source-" + strings.Repeat("0", 64) + ".zip", // filesha256 of the zip (zeros here)
		hash: "source-" + hash + ".zip",
	} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"source_hash": cty.StringVal(given)})
		if got := str(m.Of("google_storage_bucket_object")["google_storage_bucket_object.source"], "name"); got != want {
			t.Errorf("source_hash %q: object %q, want %q", given, got, want)
		}
	}
	for given, ok := range map[string]bool{"": true, hash: true, "ABAB": false, hash + "0": false} {
		m := loadModuleWith(t, ".", map[string]cty.Value{"source_hash": cty.StringVal(given)})
		if got := len(m.invalid("source_hash")) == 0; got != ok {
			t.Errorf("source_hash %q: valid %v, want %v", given, got, ok)
		}
	}
}

// The release makes the archive with the script, and nothing else holds a
// copy of its list of files.
func TestOneSourceList(t *testing.T) {
	t.Parallel()
	build, err := os.ReadFile(filepath.Join(repoRoot, "cloudbuild.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scripts/source-archive", "TF_VAR_source_hash=\"$$(cat source.hash)\""} {
		if !bytes.Contains(build, []byte(want)) {
			t.Errorf("cloudbuild.yaml does not contain %s", want)
		}
	}
	for _, name := range []string{"cloudbuild.yaml", "README.md", "infra/README.md", ".gcloudignore"} {
		src, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(src, []byte(":(exclude)")) || bytes.Contains(src, []byte("git archive --")) {
			t.Errorf("%s runs git archive or lists pathspecs itself: use scripts/source-archive", name)
		}
	}
}

func TestSourceArchive(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	script, err := os.ReadFile(filepath.Join(repoRoot, "scripts", "source-archive"))
	if err != nil {
		t.Fatal(err)
	}
	// A repository of its own, shaped like this one, the script in it.
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                      "module example.com/m\n",
		"functions.go":                "package m\n",
		"functions/api/api.go":        "package api\n",
		"functions/api/api_test.go":   "package api\n",
		"shared/x/x.go":               "package x\n",
		"shared/x/testdata/case.json": "{}\n",
		"README.md":                   "# m\n",
		"infra/main.tf":               "\n",
		"emulators/e.go":              "package e\n",
		"cloudbuild.yaml":             "steps: []\n",
		".gcloudignore":               "infra/\n",
	}
	for name, content := range files {
		write(t, filepath.Join(dir, name), content)
	}
	write(t, filepath.Join(dir, "scripts", "source-archive"), string(script))
	if err := os.Chmod(filepath.Join(dir, "scripts", "source-archive"), 0o755); err != nil {
		t.Fatal(err)
	}
	commitTime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	git := func(args ...string) {
		t.Helper()
		commitTime = commitTime.Add(time.Hour)
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(gitFreeEnv(),
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			"GIT_AUTHOR_DATE="+commitTime.Format(time.RFC3339), "GIT_COMMITTER_DATE="+commitTime.Format(time.RFC3339),
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// run runs the script from a subfolder, into a folder outside the
	// repository, and returns the hash and the zip's bytes.
	outs := t.TempDir()
	run := func(out string) (string, []byte) {
		t.Helper()
		out = filepath.Join(outs, out)
		cmd := exec.Command("../../scripts/source-archive", out)
		cmd.Dir = filepath.Join(dir, "shared", "x")
		cmd.Env = append(gitFreeEnv(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scripts/source-archive: %v\n%s", err, b)
		}
		hash, err := os.ReadFile(filepath.Join(out, "source.hash"))
		if err != nil {
			t.Fatal(err)
		}
		zipped, err := os.ReadFile(filepath.Join(out, "source.zip"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(hash)), zipped
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "one")

	hash, zipped := run("out1")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hash) {
		t.Fatalf("source.hash %q is not a sha256", hash)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			got = append(got, f.Name)
		}
	}
	slices.Sort(got)
	want := []string{"functions.go", "functions/api/api.go", "go.mod", "shared/x/x.go"}
	if !slices.Equal(got, want) {
		t.Errorf("archive holds %v, want %v", got, want)
	}

	// A commit touching no archived file: new zip bytes, same hash.
	write(t, filepath.Join(dir, "README.md"), "# m, again\n")
	write(t, filepath.Join(dir, "shared/x/x_test.go"), "package x\n")
	git("add", "-A")
	git("commit", "-q", "-m", "docs and tests")
	hash2, zipped2 := run("out2")
	if hash2 != hash {
		t.Errorf("source.hash moved from %s to %s on a commit touching no archived file", hash, hash2)
	}
	if bytes.Equal(zipped, zipped2) {
		t.Log("the zip did not change either (git archive no longer stamps the commit time?)")
	}

	// A commit changing an archived file: a new hash.
	write(t, filepath.Join(dir, "shared/x/x.go"), "package x\n\nconst X = 1\n")
	git("add", "-A")
	git("commit", "-q", "-m", "code")
	if hash3, _ := run("out3"); hash3 == hash {
		t.Errorf("source.hash %s did not change with shared/x/x.go", hash3)
	}

	// A change not committed, staged or not, would make what was tested
	// (the work tree), hashed (the index) and archived (HEAD) disagree:
	// refused.
	refused := func(what, out string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "scripts", "source-archive"), filepath.Join(outs, out))
		cmd.Env = append(gitFreeEnv(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if b, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("scripts/source-archive with %s succeeded:\n%s", what, b)
		}
	}
	write(t, filepath.Join(dir, "functions.go"), "package m // unstaged\n")
	refused("an unstaged change", "out4")
	write(t, filepath.Join(dir, "functions.go"), "package m // staged\n")
	git("add", "functions.go")
	refused("a staged change", "out5")
}

// gitFreeEnv is the environment without GIT_* variables, so git finds the
// test's repository and not the one go test runs in.
func gitFreeEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			out = append(out, kv)
		}
	}
	return out
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
