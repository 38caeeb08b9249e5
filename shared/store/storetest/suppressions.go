package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/suppression"
)

// testSuppressions: adding again keeps the first time and takes the new
// reason; pages come newest first; a batch lookup names only the
// suppressed; removing what is absent is NotExist; bad entries are
// Invalid.
func testSuppressions(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, p := range []string{"+94770000001", "+94770000002", "+94770000003"} {
		if _, err := s.Suppress(ctx, suppression.Entry{Phone: p, Reason: "complaint", By: "admin", CreatedAt: at(i)}); err != nil {
			t.Fatalf("Suppress: %v", err)
		}
	}
	again, err := s.Suppress(ctx, suppression.Entry{Phone: "+94770000001", Reason: "legal hold", CreatedAt: at(9)})
	if err != nil {
		t.Fatal(err)
	}
	if want := (suppression.Entry{Phone: "+94770000001", Reason: "legal hold", CreatedAt: kept(at(0))}); !cmp.Equal(want, again) {
		t.Errorf("re-suppress = %+v, want %+v", again, want)
	}
	page, total, err := s.ListSuppressions(ctx, store.Page{Page: 1, PerPage: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []suppression.Entry{
		{Phone: "+94770000003", Reason: "complaint", By: "admin", CreatedAt: kept(at(2))},
		{Phone: "+94770000002", Reason: "complaint", By: "admin", CreatedAt: kept(at(1))},
	}
	if diff := cmp.Diff(want, page); diff != "" || total != 3 {
		t.Errorf("page 1 of %d (-want +got):\n%s", total, diff)
	}
	got, err := s.Suppressed(ctx, []string{"+94770000002", "+94779999999", "+94770000001"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"+94770000001": true, "+94770000002": true}, got); diff != "" {
		t.Errorf("Suppressed (-want +got):\n%s", diff)
	}
	if err := s.Unsuppress(ctx, "+94770000002"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsuppress(ctx, "+94770000002"); !errs.Is(err, errs.NotExist) {
		t.Errorf("second Unsuppress = %v, want NotExist", err)
	}
	if got, _ := s.Suppressed(ctx, []string{"+94770000002"}); got["+94770000002"] {
		t.Errorf("removed number still suppressed")
	}
	for _, e := range []suppression.Entry{{Phone: "0771234567"}, {Phone: "+94770000009", Reason: string(make([]byte, 501))}} {
		if _, err := s.Suppress(ctx, e); !errs.Is(err, errs.Invalid) {
			t.Errorf("Suppress(%q, %d-byte reason) = %v, want Invalid", e.Phone, len(e.Reason), err)
		}
	}
	if _, err := s.Suppressed(ctx, make([]string, store.MaxSuppressedLookup+1)); !errs.Is(err, errs.Invalid) {
		t.Errorf("oversized lookup = %v, want Invalid", err)
	}
}
