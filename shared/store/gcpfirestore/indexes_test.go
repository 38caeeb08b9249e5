package gcpfirestore_test

import (
	"os"
	"path/filepath"
	"regexp"
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

// queryField finds the fields this package's queries filter or order on.
var queryField = regexp.MustCompile(`\.(?:Where|OrderBy)\("([a-z_]+)"`)

// A query on a field the lists do not know would be served by no index
// Terraform declares (or by one it exempts): every field a query names is
// in Queried or in a composite index.
func TestEveryQueriedFieldIsListed(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, fields := range gcpfirestore.Queried {
		for _, f := range fields {
			known[f] = true
		}
	}
	for _, ix := range gcpfirestore.Indexes {
		for _, f := range ix.Fields {
			known[f.Path] = true
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range queryField.FindAllStringSubmatch(string(src), -1) {
			found++
			if !known[m[1]] {
				t.Errorf("%s queries %q, which neither gcpfirestore.Queried nor gcpfirestore.Indexes lists", file, m[1])
			}
		}
	}
	if found == 0 {
		t.Fatal("found no queries: the pattern no longer matches the code")
	}
}
