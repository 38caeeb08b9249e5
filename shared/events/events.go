// Package events names the Pub/Sub topics that chain the work and the
// payload each carries. Handlers take a Message, so the same code serves
// a push subscription (through a CloudEvent) and a pull loop.
package events

import (
	"context"
	"encoding/json"

	gojson "github.com/goccy/go-json"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/userimport"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// Topics, one per step of the chain.
const (
	TopicUserImport     = "user-import"     // ImportBatch
	TopicCampaignLaunch = "campaign-launch" // Launch
	TopicRecipients     = "recipient-batch" // Recipients
	TopicInbound        = "inbound-message" // webhook.Event
	TopicStatus         = "delivery-status" // webhook.Event
	// TopicImportUpload carries the uploads bucket's notifications of
	// finalized objects (ObjectFinalized), which Cloud Storage publishes.
	TopicImportUpload = "import-upload"
)

// Topics lists every topic, for provisioning and health checks.
var Topics = []string{TopicImportUpload, TopicUserImport, TopicCampaignLaunch, TopicRecipients, TopicInbound, TopicStatus}

// PushSubscription names the push subscription that delivers topic to its
// function, locally and deployed.
func PushSubscription(topic string) string { return topic + "-push" }

// DeadLetterTopic names the topic where topic's push subscription puts a
// message it could not deliver within its attempts.
func DeadLetterTopic(topic string) string { return topic + "-dead-letter" }

// DeliveryAttempts is how many times topic's push subscription delivers a
// message before dead-lettering it (Pub/Sub allows 5 to 100). Every refused
// push counts, including a 429 from a function at its instance cap: the
// campaign fan-out topics, whose functions are capped to keep Cloud Tasks'
// ramp and whose backlog a large campaign fills for an hour, get the most;
// so does the inbound topic, which carries a STOP the Webhooks function
// could not store (Firestore down): ten attempts span some 40 minutes of
// backoff, and a longer outage would dead-letter a STOP the person was
// told was honoured.
func DeliveryAttempts(topic string) int32 {
	switch topic {
	case TopicCampaignLaunch, TopicRecipients, TopicInbound:
		return 100
	}
	return 10
}

// DeadLetterSubscription names the pull subscription on topic's dead-letter
// topic, from which dead letters are listed and replayed.
func DeadLetterSubscription(topic string) string { return DeadLetterTopic(topic) + "-pull" }

// ImportBatch is a slice of an import's valid rows.
type ImportBatch struct {
	JobID string           `json:"job_id"`
	Batch int              `json:"batch"` // 0-based
	Rows  []userimport.Row `json:"rows"`
}

// ObjectFinalized is the part of a Cloud Storage object notification
// (payload format JSON_API_V1: the object's resource) an import reads.
type ObjectFinalized struct {
	Bucket string `json:"bucket"`
	Name   string `json:"name"`
	Size   string `json:"size"` // decimal, as the JSON API gives it
}

// Launch asks for a campaign's recipients, one page per event so no
// invocation runs long. Without a Slice it starts the fan-out: the
// segment's ids are cut into slices, each read by events of its own side
// by side. With one, it reads the page of that slice after After (the
// cursor the page before returned; empty to start). An event without a
// Slice but with an After comes from before slices, when After was the
// last phone read.
//
// With DryRun, it asks instead for the next part of the dry run of that
// id (campaignrun.Runner.DryRun): an audience too large to read within
// the request that asked is read a part an event, where the stored run's
// read stopped.
type Launch struct {
	CampaignID string       `json:"campaign_id"`
	After      string       `json:"after,omitempty"`
	Slice      *LaunchSlice `json:"slice,omitempty"`
	DryRun     string       `json:"dry_run,omitempty"`
}

// LaunchSlice is one slice of a campaign's fan-out: the Index-th range of
// ids.
type LaunchSlice struct {
	Index int           `json:"index"`
	IDs   segment.Range `json:"ids"`
}

// Recipients is a batch of a campaign's messages to check and queue; or,
// with Settle, a request to move the campaign's messages and queue as its
// status asks after a pause, resume or cancel (campaignrun.Runner.Settle),
// one page per event; or, with ShareCeiling (and no campaign), a request
// to give the running campaigns' queues their shares of the sender's
// ceiling again (campaignrun.Runner.ShareCeilingAgain).
type Recipients struct {
	CampaignID string   `json:"campaign_id"`
	MessageIDs []string `json:"message_ids"`
	Settle     bool     `json:"settle,omitempty"`
	// SettleNext marks a settle request for a later page, asked by the
	// page before: the move's queue shares were given by the first.
	SettleNext   bool `json:"settle_next,omitempty"`
	ShareCeiling bool `json:"share_ceiling,omitempty"`
	// SweepStranded asks for the stranded-message sweep
	// (campaignrun.Runner.SweepStranded).
	SweepStranded bool `json:"sweep_stranded,omitempty"`
	// Retask asks for the tasks of MessageIDs, given a task generation of
	// their own (campaignrun.Runner.RetaskSoon).
	Retask bool `json:"retask,omitempty"`
}

// Webhook is a stored Twilio callback passed on for processing.
type Webhook = webhook.Event

// WebhookTopic is the topic a stored callback of kind k goes to.
func WebhookTopic(k webhook.Kind) string {
	if k == webhook.Status {
		return TopicStatus
	}
	return TopicInbound
}

// Message is one delivered Pub/Sub message, whatever delivered it.
type Message struct {
	ID         string
	Data       []byte
	Attributes map[string]string
}

// Encode is v's JSON payload as both publishers send it: the bytes
// encoding/json gives (map keys sorted, HTML escaped), made by go-json,
// which takes a webhook callback's form in 2 allocations where
// encoding/json takes 30 (TestEncode_matches_encoding_json).
func Encode(v any) ([]byte, error) { return gojson.Marshal(v) }

// Decode reads m's JSON payload into v; a payload that cannot be read is a
// permanent failure (redelivery will not fix it).
func Decode(m Message, v any) error {
	if err := json.Unmarshal(m.Data, v); err != nil {
		return errs.Wrap(errs.Permanent, err, "events.Decode")
	}
	return nil
}

// Publisher publishes payloads as JSON.
type Publisher interface {
	// Publish sends v to topic and returns once the broker has it.
	Publish(ctx context.Context, topic string, v any) error
}
