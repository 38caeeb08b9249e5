package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eventstreamengine/ese/emulators/localstack"
)

// banner is what the developer needs once the stack is up.
type banner struct {
	cfg     config
	stack   *localstack.Stack
	twilio  string // the stand-in's URL
	events  string // the event functions' process
	logDir  string
	startup time.Duration
}

// printBanner writes b as plain text (the logs go to stderr as JSON).
func printBanner(w io.Writer, b banner) {
	origin := "http://127.0.0.1:" + strconv.Itoa(b.cfg.Port)
	emulator := func(host, given, log string) string {
		if given != "" {
			return host + "\t(reused: given by the environment)"
		}
		return host + "\t(log: " + filepath.Join(b.logDir, log) + ")"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nEvent Stream Engine is running locally (up in %.1fs)\n\n", b.startup.Seconds())
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		// localhost: browsers keep the console's Secure cookie over plain
		// HTTP for localhost.
		{"Console", "http://localhost:" + strconv.Itoa(b.cfg.Port) + "/\t(sign in with API_KEY)"},
		{"Health", origin + "/health"},
		{"API", origin + "/api/\t(Authorization: Bearer <API_KEY>)"},
		{"Twilio webhooks", origin + "/webhooks/"},
		{"Event functions", b.events + "/events/<topic>/\t(their own process: the emulator's push subscriptions post here)"},
		{"Public base URL", b.cfg.PublicBaseURL},
		{"Twilio stand-in", b.twilio + "\t(sent messages: " + b.twilio + "/_standin/messages)"},
		{"Firestore", emulator(b.stack.FirestoreHost, b.cfg.FirestoreHost, "firestore.log")},
		{"Pub/Sub", emulator(b.stack.PubSubHost, b.cfg.PubSubHost, "pubsub.log")},
		{"Cloud Tasks", emulator(b.stack.CloudTasksHost, b.cfg.CloudTasksHost, "cloudtasks.log")},
		{"Cloud Storage", emulator(b.stack.StorageHost, b.cfg.StorageHost, "storage.log")},
		{"Project", b.cfg.Project},
		{"Uploads bucket", b.cfg.ImportBucket},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", row[0], row[1])
	}
	tw.Flush()
	if len(b.cfg.Defaulted) > 0 {
		sb.WriteString("\nDefaults in use (local only; set the variable to change):\n")
		for _, d := range b.cfg.Defaulted {
			sb.WriteString("  " + d + "\n")
		}
	}
	// scripts/inbound finds the stand-in from PORT unless told otherwise.
	inbound := "scripts/inbound +94771234577 hello"
	if b.twilio != "http://127.0.0.1:"+strconv.Itoa(b.cfg.Port+twilioOffset) {
		inbound = "TWILIO_STANDIN_URL=" + b.twilio + " " + inbound
	} else if b.cfg.Port != defaultPort {
		inbound = "PORT=" + strconv.Itoa(b.cfg.Port) + " " + inbound
	}
	sb.WriteString("\nSimulate an inbound WhatsApp message:\n  " + inbound + "\n")
	sb.WriteString("Stop everything with Ctrl-C.\n\n")
	io.WriteString(w, sb.String())
}
