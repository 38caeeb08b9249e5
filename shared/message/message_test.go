package message

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestID(t *testing.T) {
	t.Parallel()

	a := ID("c1", "+94771234567")
	if a != ID("c1", "+94771234567") {
		t.Fatal("ID is not deterministic")
	}
	if !strings.HasSuffix(a, "-c1") || len(a) != 20+len("-c1") || strings.Trim(a[:20], "0123456789abcdef") != "" {
		t.Errorf("ID = %q, want 20 hex digits then -c1", a)
	}
	if strings.Contains(a, "94771234567") {
		t.Errorf("ID %q reveals the number", a)
	}
	for _, other := range []string{ID("c2", "+94771234567"), ID("c1", "+94771234568"), ID("c1+", "94771234567")} {
		if other == a {
			t.Errorf("ID collision: %q", other)
		}
	}
	// The separator keeps "c1"+"2..." and "c12"+"..." apart.
	if ID("c1", "2+9") == ID("c12", "+9") {
		t.Error("ID does not separate campaign and phone")
	}
}

func TestConcluded(t *testing.T) {
	t.Parallel()
	want := map[Status]bool{
		Pending: false, Deferred: false, Queued: false, Sending: false, Reconcile: false,
		Sent: true, Delivered: true, Read: true, Failed: true, Skipped: true,
	}
	for s, w := range want {
		if got := s.Concluded(); got != w {
			t.Errorf("%s.Concluded() = %v, want %v", s, got, w)
		}
	}
}

func TestBodyNeverSerialised(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Message{ID: "m", Body: "secret offer"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "secret") {
		t.Errorf("JSON %s contains the body", b)
	}
}

func TestApply(t *testing.T) {
	t.Parallel()

	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	t1, t2, t3 := t0.Add(time.Second), t0.Add(2*time.Second), t0.Add(3*time.Second)
	at := func(t time.Time) *time.Time { return &t }

	cases := []struct {
		name        string
		m           Message
		u           ProviderUpdate
		want        Message
		wantChanged bool
	}{
		{
			name:        "queued_is_ignored",
			m:           Message{Status: Sending},
			u:           ProviderUpdate{Status: Queued, At: t1},
			want:        Message{Status: Sending},
			wantChanged: false,
		},
		{
			name:        "sent",
			m:           Message{Status: Sending},
			u:           ProviderUpdate{Status: Sent, At: t1},
			want:        Message{Status: Sent, SentAt: at(t1), UpdatedAt: t1},
			wantChanged: true,
		},
		{
			name:        "sent_resolves_reconcile",
			m:           Message{Status: Reconcile},
			u:           ProviderUpdate{Status: Sent, At: t1},
			want:        Message{Status: Sent, SentAt: at(t1), UpdatedAt: t1},
			wantChanged: true,
		},
		{
			name:        "sent_twice_is_a_no_op",
			m:           Message{Status: Sent, SentAt: at(t1), UpdatedAt: t1},
			u:           ProviderUpdate{Status: Sent, At: t2},
			want:        Message{Status: Sent, SentAt: at(t1), UpdatedAt: t1},
			wantChanged: false,
		},
		{
			name:        "delivered_before_sent_fills_sent",
			m:           Message{Status: Sending},
			u:           ProviderUpdate{Status: Delivered, At: t2},
			want:        Message{Status: Delivered, SentAt: at(t2), DeliveredAt: at(t2), UpdatedAt: t2},
			wantChanged: true,
		},
		{
			name:        "late_sent_never_demotes_delivered",
			m:           Message{Status: Delivered, SentAt: at(t1), DeliveredAt: at(t2), UpdatedAt: t2},
			u:           ProviderUpdate{Status: Sent, At: t3},
			want:        Message{Status: Delivered, SentAt: at(t1), DeliveredAt: at(t2), UpdatedAt: t2},
			wantChanged: false,
		},
		{
			name:        "read",
			m:           Message{Status: Delivered, SentAt: at(t1), DeliveredAt: at(t2), UpdatedAt: t2},
			u:           ProviderUpdate{Status: Read, At: t3},
			want:        Message{Status: Read, SentAt: at(t1), DeliveredAt: at(t2), ReadAt: at(t3), UpdatedAt: t3},
			wantChanged: true,
		},
		{
			name:        "late_delivered_after_read_records_nothing_new",
			m:           Message{Status: Read, SentAt: at(t1), DeliveredAt: at(t2), ReadAt: at(t2), UpdatedAt: t2},
			u:           ProviderUpdate{Status: Delivered, At: t3},
			want:        Message{Status: Read, SentAt: at(t1), DeliveredAt: at(t2), ReadAt: at(t2), UpdatedAt: t2},
			wantChanged: false,
		},
		{
			name:        "read_first_fills_all",
			m:           Message{Status: Sent, SentAt: at(t1), UpdatedAt: t1},
			u:           ProviderUpdate{Status: Read, At: t3},
			want:        Message{Status: Read, SentAt: at(t1), DeliveredAt: at(t3), ReadAt: at(t3), UpdatedAt: t3},
			wantChanged: true,
		},
		{
			name:        "failed_after_sent",
			m:           Message{Status: Sent, SentAt: at(t1), UpdatedAt: t1},
			u:           ProviderUpdate{Status: Failed, ErrorCode: "63016", At: t2},
			want:        Message{Status: Failed, ErrorCode: "63016", SentAt: at(t1), FailedAt: at(t2), UpdatedAt: t2},
			wantChanged: true,
		},
		{
			name:        "failed_after_delivered_is_ignored",
			m:           Message{Status: Delivered, SentAt: at(t1), DeliveredAt: at(t2), UpdatedAt: t2},
			u:           ProviderUpdate{Status: Failed, ErrorCode: "30008", At: t3},
			want:        Message{Status: Delivered, SentAt: at(t1), DeliveredAt: at(t2), UpdatedAt: t2},
			wantChanged: false,
		},
		{
			name:        "failed_twice_keeps_the_first",
			m:           Message{Status: Failed, ErrorCode: "63016", FailedAt: at(t1), UpdatedAt: t1},
			u:           ProviderUpdate{Status: Failed, ErrorCode: "30008", At: t2},
			want:        Message{Status: Failed, ErrorCode: "63016", FailedAt: at(t1), UpdatedAt: t1},
			wantChanged: false,
		},
		{
			name:        "sent_after_failed_records_time_keeps_failed",
			m:           Message{Status: Failed, ErrorCode: "63016", FailedAt: at(t1), UpdatedAt: t1},
			u:           ProviderUpdate{Status: Sent, At: t2},
			want:        Message{Status: Failed, ErrorCode: "63016", SentAt: at(t2), FailedAt: at(t1), UpdatedAt: t2},
			wantChanged: true,
		},
		{
			name:        "unknown_status_ignored",
			m:           Message{Status: Sent, SentAt: at(t1), UpdatedAt: t1},
			u:           ProviderUpdate{Status: "undelivered", At: t2},
			want:        Message{Status: Sent, SentAt: at(t1), UpdatedAt: t1},
			wantChanged: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.m
			changed := got.Apply(tc.u)
			if changed != tc.wantChanged {
				t.Errorf("Apply changed = %v, want %v", changed, tc.wantChanged)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Apply (-want, +got):\n%s", diff)
			}
			// Applying the same update again never changes anything.
			again := got
			if again.Apply(tc.u) {
				t.Errorf("second Apply of the same update changed %+v", got)
			}
		})
	}
}

// TestApplyOrderIndependent delivers every ordering of a message's
// callbacks and expects the same final status.
func TestApplyOrderIndependent(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	updates := []ProviderUpdate{
		{Status: Queued, At: t0},
		{Status: Sent, At: t0.Add(time.Second)},
		{Status: Delivered, At: t0.Add(2 * time.Second)},
		{Status: Read, At: t0.Add(3 * time.Second)},
	}
	var permute func([]ProviderUpdate, int)
	permute = func(u []ProviderUpdate, k int) {
		if k == len(u) {
			m := Message{Status: Sending}
			for _, x := range u {
				m.Apply(x)
			}
			if m.Status != Read || m.SentAt == nil || m.DeliveredAt == nil || m.ReadAt == nil {
				t.Errorf("order %v ends %+v", u, m)
			}
			return
		}
		for i := k; i < len(u); i++ {
			u[k], u[i] = u[i], u[k]
			permute(u, k+1)
			u[k], u[i] = u[i], u[k]
		}
	}
	permute(updates, 0)
}

// TestSkipReasons reads this package's source for every constant of type
// SkipReason, so that one added without a place in SkipReasons fails
// here rather than undercounting big campaigns' summaries on Firestore.
func TestSkipReasons(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		declared = append(declared, skipReasonConsts(t, f)...)
	}
	if len(declared) == 0 {
		t.Fatal("found no SkipReason constants: the test no longer reads the declarations")
	}
	var listed []string
	for _, r := range SkipReasons {
		listed = append(listed, string(r))
	}
	slices.Sort(declared)
	slices.Sort(listed)
	if diff := cmp.Diff(declared, listed); diff != "" {
		t.Errorf("SkipReasons against the SkipReason constants declared (-want, +got):\n%s", diff)
	}
}

// skipReasonConsts returns the values of f's constants of type SkipReason.
// Every one is declared with its type and a string literal; a constant
// declared otherwise fails the test, so that none is passed over.
func skipReasonConsts(t *testing.T, f *ast.File) []string {
	t.Helper()
	var out []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			id, ok := vs.Type.(*ast.Ident)
			if !ok || id.Name != "SkipReason" {
				if vs.Type == nil && len(vs.Names) > 0 && strings.HasPrefix(vs.Names[0].Name, "Skip") {
					t.Errorf("constant %s has no explicit type: declare it as SkipReason = \"...\"", vs.Names[0].Name)
				}
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("constant %s is not a string literal", name.Name)
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, v)
			}
		}
	}
	return out
}
