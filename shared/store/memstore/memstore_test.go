package memstore_test

import (
	"testing"

	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) store.Store { return memstore.New() })
}

func BenchmarkApplyImportBatch(b *testing.B) {
	storetest.BenchApplyImportBatch(b, memstore.New())
}

func BenchmarkCountMessages(b *testing.B) {
	storetest.BenchCountMessages(b, memstore.New())
}

func BenchmarkErase(b *testing.B) {
	storetest.BenchErase(b, memstore.New())
}
