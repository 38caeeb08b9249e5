package gcpfirestore_test

import (
	"context"
	"testing"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/gcpfirestore"
	"github.com/eventstreamengine/ese/shared/store/storetest"
)

// open returns a store over a project of t's own on the emulator.
func open(t testing.TB) *gcpfirestore.Store {
	t.Helper()
	emulatortest.Firestore(t)
	s, err := gcpfirestore.Open(context.Background(), emulatortest.ProjectID(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	emulatortest.Firestore(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func BenchmarkApplyImportBatch(b *testing.B) {
	storetest.BenchApplyImportBatch(b, open(b))
}

func BenchmarkCountMessages(b *testing.B) {
	storetest.BenchCountMessages(b, open(b))
}
