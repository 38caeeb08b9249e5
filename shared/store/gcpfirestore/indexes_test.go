package gcpfirestore_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/eventstreamengine/ese/shared/store/gcpfirestore"
)

// The lists infra's test compares with Terraform must make sense on their
// own: a composite has two fields or more, none is listed twice, and no
// TTL deletes contacts or their consent history.
func TestIndexLists(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, ix := range gcpfirestore.Indexes {
		var parts []string
		for _, f := range ix.Fields {
			if f.Order != gcpfirestore.Asc && f.Order != gcpfirestore.Desc {
				t.Errorf("index for %s: field %s has order %q", ix.Serves, f.Path, f.Order)
			}
			parts = append(parts, f.Path+" "+string(f.Order))
		}
		key := ix.Collection + ": " + strings.Join(parts, ", ")
		if len(ix.Fields) < 2 {
			t.Errorf("index %s (%s): a composite index needs two fields or more", key, ix.Serves)
		}
		if seen[key] {
			t.Errorf("index %s listed twice", key)
		}
		seen[key] = true
	}
	for _, col := range []string{"users", "consent_history"} {
		if f, ok := gcpfirestore.TTLFields[col]; ok {
			t.Errorf("TTLFields[%q] = %q: contacts and their consent history must never expire", col, f)
		}
	}
	for col, f := range gcpfirestore.TTLFields {
		if slices.Contains(gcpfirestore.Queried[col], f) {
			t.Errorf("TTL field %s.%s is also queried; its index would be exempted", col, f)
		}
	}
}
