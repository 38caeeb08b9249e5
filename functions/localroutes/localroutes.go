// Package localroutes serves the functions locally, as scripts/dev does:
// each HTTP function at the paths it serves when deployed on its own URL,
// all from one origin (the Console at every path no other function
// takes), and each event function under /events/<topic>/, where the
// emulator's push subscription for that topic posts.
package localroutes

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/eventstreamengine/ese/functions/api"
	"github.com/eventstreamengine/ese/functions/console"
	"github.com/eventstreamengine/ese/functions/deliverystatus"
	"github.com/eventstreamengine/ese/functions/importusers"
	"github.com/eventstreamengine/ese/functions/inbound"
	"github.com/eventstreamengine/ese/functions/launch"
	"github.com/eventstreamengine/ese/functions/readimport"
	"github.com/eventstreamengine/ese/functions/recipients"
	"github.com/eventstreamengine/ese/functions/sender"
	"github.com/eventstreamengine/ese/functions/webhooks"
	"github.com/eventstreamengine/ese/shared/events"
)

// SenderPath is where the local send queues dispatch tasks.
const SenderPath = "/tasks/send"

// EventFunction is a Pub/Sub-triggered function and the topic it serves.
type EventFunction struct {
	Name   string // its entry point, as registered
	Topic  string
	Handle func(context.Context, event.Event) error
}

// EventFunctions lists every Pub/Sub-triggered function.
var EventFunctions = []EventFunction{
	{"ReadImport", events.TopicImportUpload, readimport.Handle},
	{"ImportUsers", events.TopicUserImport, importusers.Handle},
	{"LaunchCampaign", events.TopicCampaignLaunch, launch.Handle},
	{"ProcessRecipients", events.TopicRecipients, recipients.Handle},
	{"HandleInbound", events.TopicInbound, inbound.Handle},
	{"HandleStatus", events.TopicStatus, deliverystatus.Handle},
}

// EventPath is the local push endpoint path for topic in project.
func EventPath(project, topic string) string {
	return fmt.Sprintf("/events/%s/projects/%s/topics/%s", topic, project, topic)
}

// Register registers every function on funcframework at its local path.
func Register(ctx context.Context) error {
	if err := RegisterHTTP(ctx); err != nil {
		return err
	}
	return RegisterEvents(ctx)
}

// RegisterHTTP registers the HTTP-triggered functions on funcframework at
// their local paths.
func RegisterHTTP(ctx context.Context) error {
	for path, h := range map[string]func(w http.ResponseWriter, r *http.Request){
		"/api/":      api.Handle,
		"/health":    api.Handle,
		"/webhooks/": webhooks.Handle,
		SenderPath:   sender.Handle,
		// Everything else is the Console's: its pages (/, /users, ...)
		// never begin with the paths above.
		"/": console.Handle,
	} {
		if err := funcframework.RegisterHTTPFunctionContext(ctx, path, h); err != nil {
			return fmt.Errorf("localroutes: %s: %w", path, err)
		}
	}
	return nil
}

// RegisterEvents registers the Pub/Sub-triggered functions on
// funcframework under /events/<topic>/.
func RegisterEvents(ctx context.Context) error {
	for _, f := range EventFunctions {
		if err := funcframework.RegisterCloudEventFunctionContext(ctx, "/events/"+f.Topic+"/", f.Handle); err != nil {
			return fmt.Errorf("localroutes: %s: %w", f.Topic, err)
		}
	}
	return nil
}
