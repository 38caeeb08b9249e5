package pubsubevents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
)

// newEvent makes a Pub/Sub CloudEvent with id and raw JSON data.
func newEvent(t testing.TB, id string, data []byte) event.Event {
	t.Helper()
	e := event.New()
	e.SetID(id)
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	if data != nil {
		if err := e.SetData(event.ApplicationJSON, data); err != nil {
			t.Fatalf("SetData: %v", err)
		}
	}
	return e
}

func TestFromCloudEvent(t *testing.T) {
	t.Parallel()
	// What functions-framework-go makes of the emulator's push body
	// (testdata/emulator_push.json): the message under "message", with
	// "@type", camelCase ids and no subscription.
	framework := `{"message":{"@type":"type.googleapis.com/google.pubusb.v1.PubsubMessage",` +
		`"attributes":{"k":"v"},"data":"eyJhIjoxfQ==","messageId":"1","publishTime":"2026-11-26T16:58:59.727Z"}}`
	// What Eventarc sends a gen2 function.
	eventarc := `{"message":{"attributes":{"k":"v"},"data":"eyJhIjoxfQ==","messageId":"42","message_id":"42",` +
		`"publishTime":"2026-11-26T16:58:59.727Z","publish_time":"2026-11-26T16:58:59.727Z"},` +
		`"subscription":"projects/p/subscriptions/eventarc-sub"}`
	tests := []struct {
		name    string
		id      string // the event's id
		data    string // "" for no data
		want    events.Message
		wantErr bool // of kind Permanent
	}{
		{name: "functions_framework", id: "1", data: framework,
			want: events.Message{ID: "1", Data: []byte(`{"a":1}`), Attributes: map[string]string{"k": "v"}}},
		{name: "eventarc", id: "42", data: eventarc,
			want: events.Message{ID: "42", Data: []byte(`{"a":1}`), Attributes: map[string]string{"k": "v"}}},
		{name: "no_attributes", id: "7", data: `{"message":{"data":"e30=","messageId":"7"}}`,
			want: events.Message{ID: "7", Data: []byte(`{}`)}},
		{name: "snake_case_id_only", id: "ev", data: `{"message":{"data":"e30=","message_id":"8"}}`,
			want: events.Message{ID: "8", Data: []byte(`{}`)}},
		{name: "id_from_event", id: "9", data: `{"message":{"data":"e30="}}`,
			want: events.Message{ID: "9", Data: []byte(`{}`)}},
		{name: "empty_message", id: "10", data: `{"message":{}}`,
			want: events.Message{ID: "10"}},
		{name: "no_data", id: "e", wantErr: true},
		{name: "not_json", id: "e", data: `hello`, wantErr: true},
		{name: "no_message", id: "e", data: `{"subscription":"s"}`, wantErr: true},
		{name: "null_message", id: "e", data: `{"message":null}`, wantErr: true},
		{name: "message_not_object", id: "e", data: `{"message":"x"}`, wantErr: true},
		{name: "bad_base64", id: "e", data: `{"message":{"data":"not base64!"}}`, wantErr: true},
		{name: "attributes_not_strings", id: "e", data: `{"message":{"attributes":{"k":1}}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var data []byte
			if tt.data != "" {
				data = []byte(tt.data)
			}
			got, err := pubsubevents.FromCloudEvent(newEvent(t, tt.id, data))
			if tt.wantErr {
				if !errs.Is(err, errs.Permanent) {
					t.Errorf("FromCloudEvent = %v, want a permanent error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromCloudEvent: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FromCloudEvent (-want, +got):\n%s", diff)
			}
		})
	}
}

// The emulator's push body, through functions-framework-go's conversion,
// to FromCloudEvent: the path every local push subscription takes.
func TestFromCloudEventEmulatorPush(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	ctx := t.Context()
	topic := "projects/" + client.Project() + "/topics/topic-push"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	sub := &pubsubpb.Subscription{
		Name:       "projects/" + client.Project() + "/subscriptions/sub-push",
		Topic:      topic,
		PushConfig: &pubsubpb.PushConfig{PushEndpoint: "http://" + functionsAddr(t) + "/push/" + topic},
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, sub); err != nil {
		t.Fatalf("CreateSubscription: %v", err)
	}

	attrs := map[string]string{"trace": "abc"}
	id, err := client.Publisher(topic).Publish(ctx, &pubsub.Message{Data: []byte(`{"campaign_id":"c1"}`), Attributes: attrs}).Get(ctx)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}

	select {
	case e := <-pushed(topic):
		got, err := pubsubevents.FromCloudEvent(e)
		if err != nil {
			t.Fatalf("FromCloudEvent: %v", err)
		}
		want := events.Message{ID: id, Data: []byte(`{"campaign_id":"c1"}`), Attributes: attrs}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FromCloudEvent (-want, +got):\n%s", diff)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no push arrived in 30 s")
	}
}

var (
	framework     sync.Once
	frameworkAddr string
	frameworkErr  error
	pushedMu      sync.Mutex
	pushedTo      = map[string]chan event.Event{} // by the event's source topic
)

// pushed returns the channel that gets the CloudEvents for topic.
func pushed(topic string) chan event.Event {
	pushedMu.Lock()
	defer pushedMu.Unlock()
	ch, ok := pushedTo[topic]
	if !ok {
		ch = make(chan event.Event, 10)
		pushedTo[topic] = ch
	}
	return ch
}

// functionsAddr starts, once per process, a functions-framework server
// with one CloudEvent function under /push/. The framework has no way to
// stop it, so it lives as long as the test binary.
func functionsAddr(t *testing.T) string {
	framework.Do(func() {
		if os.Getenv("FUNCTION_TARGET") != "" {
			frameworkErr = fmt.Errorf("FUNCTION_TARGET is set; the framework would serve only that")
			return
		}
		frameworkErr = funcframework.RegisterCloudEventFunctionContext(context.Background(), "/push/", func(_ context.Context, e event.Event) error {
			pushed(strings.TrimPrefix(e.Source(), "//pubsub.googleapis.com/")) <- e
			return nil
		})
		if frameworkErr != nil {
			return
		}
		// The framework listens itself: take a free port and hand it over.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			frameworkErr = err
			return
		}
		frameworkAddr = l.Addr().String()
		_ = l.Close()
		_, port, _ := net.SplitHostPort(frameworkAddr)
		go func() { _ = funcframework.StartHostPort("127.0.0.1", port) }()
		for range 100 {
			resp, err := http.Post("http://"+frameworkAddr+"/push/", "text/plain", bytes.NewReader(nil))
			if err == nil {
				_ = resp.Body.Close()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		frameworkErr = fmt.Errorf("functions framework did not start on %s", frameworkAddr)
	})
	if frameworkErr != nil {
		t.Fatalf("functions framework: %v", frameworkErr)
	}
	return frameworkAddr
}

func FuzzFromCloudEvent(f *testing.F) {
	seed, err := os.ReadFile("testdata/emulator_push.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"message":{"data":"e30=","messageId":"7"}}`))
	f.Add([]byte(`{"message":{"attributes":{"a":"b"},"message_id":"8"}}`))
	f.Add([]byte(`{"message":{}}`))
	f.Add([]byte(`{"message":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := pubsubevents.FromCloudEvent(newEvent(t, "ev-1", data))
		if err != nil {
			if !errs.Is(err, errs.Permanent) {
				t.Fatalf("error %v is not permanent", err)
			}
			return
		}
		if m.ID == "" {
			t.Fatal("decoded message has no id")
		}
		// What was decoded encodes back to the same message.
		again, err := json.Marshal(map[string]any{"message": map[string]any{
			"data": m.Data, "attributes": m.Attributes, "messageId": m.ID,
		}})
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		m2, err := pubsubevents.FromCloudEvent(newEvent(t, "ev-2", again))
		if err != nil {
			t.Fatalf("FromCloudEvent(re-encoded %s): %v", again, err)
		}
		if diff := cmp.Diff(m, m2); diff != "" {
			t.Fatalf("round trip (-first, +second):\n%s", diff)
		}
	})
}
