// Package emulatortest gives integration tests the emulators that
// scripts/test started: it skips a test under -short and fails it when an
// emulator's address is missing, so that a run can never pass by quietly
// testing nothing.
package emulatortest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Host returns the address held by env (such as FIRESTORE_EMULATOR_HOST).
func Host(t testing.TB, env string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs an emulator (%s); skipped under -short", env)
	}
	h := os.Getenv(env)
	if h == "" {
		t.Fatalf("%s is not set: run the tests with scripts/test, which starts the emulators", env)
	}
	return h
}

// Firestore returns FIRESTORE_EMULATOR_HOST.
func Firestore(t testing.TB) string { return Host(t, "FIRESTORE_EMULATOR_HOST") }

// PubSub returns PUBSUB_EMULATOR_HOST.
func PubSub(t testing.TB) string { return Host(t, "PUBSUB_EMULATOR_HOST") }

// CloudTasks returns CLOUD_TASKS_EMULATOR_HOST.
func CloudTasks(t testing.TB) string { return Host(t, "CLOUD_TASKS_EMULATOR_HOST") }

// Storage returns STORAGE_EMULATOR_HOST.
func Storage(t testing.TB) string { return Host(t, "STORAGE_EMULATOR_HOST") }

var notID = regexp.MustCompile(`[^a-z0-9-]+`)

// ProjectID returns a project id of its own for t, so that tests sharing
// an emulator never see each other's data.
func ProjectID(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := notID.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(name) > 18 {
		name = name[:18]
	}
	return "t-" + strings.Trim(name, "-") + "-" + hex.EncodeToString(b)
}
