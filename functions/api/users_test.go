package api

import (
	"testing"
	"time"
)

// A user shows when they last wrote; only their messages set it, never a
// client's field of that name.
func TestUsers_last_inbound_at(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.id("/api/v1/users", `{"phone_number":"+94771234567","last_inbound_at":"2020-01-01T00:00:00Z"}`)
	_, u := f.call("GET", "/api/v1/users/%2B94771234567", "")
	if _, ok := u["last_inbound_at"]; ok {
		t.Errorf("before any message: last_inbound_at = %v, want none", u["last_inbound_at"])
	}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	if err := f.store.RecordInbound(t.Context(), "+94771234567", at); err != nil {
		t.Fatal(err)
	}
	_, u = f.call("GET", "/api/v1/users/%2B94771234567", "")
	if u["last_inbound_at"] != "2026-11-26T10:00:00Z" {
		t.Errorf("last_inbound_at = %v, want 2026-11-26T10:00:00Z", u["last_inbound_at"])
	}
	if attrs, _ := u["attributes"].(map[string]any); attrs["last_inbound_at"] != nil {
		t.Errorf("the client's field became the attribute %v, want it ignored as the user's own field", attrs["last_inbound_at"])
	}
}
