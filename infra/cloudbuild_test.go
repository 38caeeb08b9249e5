package infra

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Cloud Build's test step runs scripts/test, whose go test -race needs cgo:
// the emulators image may lack gcc (and git), so the step installs them
// when missing, before running the tests.
func TestCloudBuildTestStepHasCompiler(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join(repoRoot, "cloudbuild.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	step := string(src)
	start := strings.Index(step, "- id: test\n")
	if start < 0 {
		t.Fatal("cloudbuild.yaml has no step with id test")
	}
	step = step[start+len("- id: test\n"):]
	if end := strings.Index(step, "- id: "); end >= 0 {
		step = step[:end]
	}
	run := strings.Index(step, "scripts/test")
	if run < 0 {
		t.Fatal("cloudbuild.yaml's test step does not run scripts/test")
	}
	// The install line itself must bring what the checks found missing.
	for _, want := range []string{"command -v gcc", "command -v git", `pkgs="$$pkgs gcc libc6-dev"`, `pkgs="$$pkgs git"`, "apt-get install -y -qq --no-install-recommends $$pkgs"} {
		if i := strings.Index(step, want); i < 0 || i > run {
			t.Errorf("cloudbuild.yaml's test step lacks %q before scripts/test (go test -race needs gcc)", want)
		}
	}
}
