// Package ese is the root package the Go buildpack builds: importing every
// function package registers each function, and a deploy picks one with
// --entry-point (API, Console, Webhooks, Sender, ImportUsers, LaunchCampaign,
// ProcessRecipients, HandleInbound, HandleStatus).
package ese

import (
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	_ "github.com/eventstreamengine/ese/functions/api"
	_ "github.com/eventstreamengine/ese/functions/console"
	_ "github.com/eventstreamengine/ese/functions/deliverystatus"
	_ "github.com/eventstreamengine/ese/functions/importusers"
	_ "github.com/eventstreamengine/ese/functions/inbound"
	_ "github.com/eventstreamengine/ese/functions/launch"
	_ "github.com/eventstreamengine/ese/functions/readimport"
	_ "github.com/eventstreamengine/ese/functions/recipients"
	_ "github.com/eventstreamengine/ese/functions/sender"
	_ "github.com/eventstreamengine/ese/functions/webhooks"
)
