package pubsubevents

import (
	"encoding/json"
	"errors"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
)

// pushData is the data of a Pub/Sub CloudEvent, as Eventarc sends it and
// as functions-framework-go makes it from a push request (which drops the
// subscription and sets only the camelCase fields).
type pushData struct {
	Message *struct {
		Data        []byte            `json:"data"` // base64 in JSON
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		MessageIDPB string            `json:"message_id"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// FromCloudEvent decodes a Pub/Sub CloudEvent into a Message. Its errors
// are errs.Permanent: redelivering the same event cannot fix them.
func FromCloudEvent(e event.Event) (events.Message, error) {
	raw := e.Data()
	if len(raw) == 0 {
		return events.Message{}, errs.E(errs.Permanent, "pubsubevents.FromCloudEvent: event %q has no data", e.ID())
	}
	var d pushData
	if err := json.Unmarshal(raw, &d); err != nil {
		return events.Message{}, errs.Wrap(errs.Permanent, err, "pubsubevents.FromCloudEvent: event "+e.ID())
	}
	if d.Message == nil {
		return events.Message{}, errs.Wrap(errs.Permanent, errors.New(`no "message" in data`), "pubsubevents.FromCloudEvent: event "+e.ID())
	}
	m := events.Message{ID: d.Message.MessageID, Data: d.Message.Data, Attributes: d.Message.Attributes}
	if m.ID == "" {
		m.ID = d.Message.MessageIDPB
	}
	if m.ID == "" {
		// Both Eventarc and functions-framework-go use the message id as the event id.
		m.ID = e.ID()
	}
	return m, nil
}
