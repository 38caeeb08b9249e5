package main

import (
	"strings"
	"testing"

	"github.com/eventstreamengine/ese/emulators/localstack"
)

func TestPrintBanner_inbound_command(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		port   int
		twilio string
		want   string
	}{
		{name: "defaults", port: 8080, twilio: "http://127.0.0.1:48080", want: "\n  scripts/inbound +94771234577 hello\n"},
		{name: "other_port", port: 9090, twilio: "http://127.0.0.1:49090", want: "\n  PORT=9090 scripts/inbound +94771234577 hello\n"},
		{name: "own_standin_port", port: 8080, twilio: "http://127.0.0.1:5000", want: "\n  TWILIO_STANDIN_URL=http://127.0.0.1:5000 scripts/inbound +94771234577 hello\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sb strings.Builder
			printBanner(&sb, banner{
				cfg:    config{Port: tc.port, APIKey: "k", Defaulted: []string{"API_KEY=k"}},
				stack:  &localstack.Stack{FirestoreHost: "f:1", PubSubHost: "p:2", CloudTasksHost: "c:3"},
				twilio: tc.twilio,
				logDir: ".run",
			})
			got := sb.String()
			for _, w := range []string{tc.want, "  API_KEY=k\n", "/health", "Console", "f:1", "p:2", "c:3"} {
				if !strings.Contains(got, w) {
					t.Errorf("banner lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
