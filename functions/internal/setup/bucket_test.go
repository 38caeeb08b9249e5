package setup_test

import (
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/functions/internal/setup"
)

// The bucket IMPORT_BUCKET names is opened on the emulator that
// STORAGE_EMULATOR_HOST names, with nothing else configured.
func TestBucket_opens_on_the_emulator(t *testing.T) {
	emulatortest.Storage(t)
	t.Parallel()
	ctx := t.Context()
	project := emulatortest.ProjectID(t)
	c, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bucket(project).Create(ctx, project, nil); err != nil {
		t.Fatal(err)
	}
	var u setup.Uploads
	if err := setup.Load(ctx, &u, envconfig.MapLookuper(map[string]string{"IMPORT_BUCKET": project})); err != nil {
		t.Fatal(err)
	}
	b, err := setup.Bucket(ctx, u)
	if err != nil {
		t.Fatalf("setup.Bucket: %v", err)
	}
	defer b.Close()
	if _, err := b.Write(ctx, "direct/j1", strings.NewReader("phone\n")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if _, err := c.Bucket(project).Object("direct/j1").Attrs(ctx); err != nil {
		t.Errorf("the object written is not in bucket %s: %v", project, err)
	}
}
