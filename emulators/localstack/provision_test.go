package localstack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
)

func TestPushEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, origin, want string
	}{
		{name: "plain_origin", origin: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080/events/inbound-message/projects/p/topics/inbound-message"},
		{name: "trailing_slash", origin: "http://127.0.0.1:8080/", want: "http://127.0.0.1:8080/events/inbound-message/projects/p/topics/inbound-message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := PushEndpoint(tc.origin, "p", events.TopicInbound)
			if got != tc.want {
				t.Errorf("PushEndpoint: got %q, want %q", got, tc.want)
			}
		})
	}
}

// subscription is what Provision promises of a subscription.
type subscription struct {
	Name, Topic, Endpoint  string
	AckDeadline            int32
	MinBackoff, MaxBackoff time.Duration
	DeadLetterTopic        string
	MaxDeliveryAttempts    int32
	Retention              time.Duration
}

func TestProvision_is_idempotent_and_follows_the_origin(t *testing.T) {
	t.Parallel()
	emulatortest.PubSub(t)
	ctx := context.Background()
	project := emulatortest.ProjectID(t)

	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A subscription left by an older provisioning, with no dead-letter
	// policy, is brought up to date.
	old := "projects/" + project + "/topics/" + events.TopicStatus
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: old}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + project + "/subscriptions/" + events.PushSubscription(events.TopicStatus), Topic: old,
		PushConfig: &pubsubpb.PushConfig{PushEndpoint: "http://127.0.0.1:3/old"},
	}); err != nil {
		t.Fatal(err)
	}

	for _, origin := range []string{"http://127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:2"} {
		if err := Provision(ctx, project, origin); err != nil {
			t.Fatalf("Provision(%s): %v", origin, err)
		}
	}
	var gotTopics []string
	for tp, err := range c.TopicAdminClient.ListTopics(ctx, &pubsubpb.ListTopicsRequest{Project: "projects/" + project}).All() {
		if err != nil {
			t.Fatalf("ListTopics: %v", err)
		}
		gotTopics = append(gotTopics, tp.GetName())
	}
	var gotSubs []subscription
	for s, err := range c.SubscriptionAdminClient.ListSubscriptions(ctx, &pubsubpb.ListSubscriptionsRequest{Project: "projects/" + project}).All() {
		if err != nil {
			t.Fatalf("ListSubscriptions: %v", err)
		}
		gotSubs = append(gotSubs, subscription{
			Name: s.GetName(), Topic: s.GetTopic(), Endpoint: s.GetPushConfig().GetPushEndpoint(),
			AckDeadline:         s.GetAckDeadlineSeconds(),
			MinBackoff:          s.GetRetryPolicy().GetMinimumBackoff().AsDuration(),
			MaxBackoff:          s.GetRetryPolicy().GetMaximumBackoff().AsDuration(),
			DeadLetterTopic:     s.GetDeadLetterPolicy().GetDeadLetterTopic(),
			MaxDeliveryAttempts: s.GetDeadLetterPolicy().GetMaxDeliveryAttempts(),
			Retention:           s.GetMessageRetentionDuration().AsDuration(),
		})
	}

	var wantTopics []string
	var wantSubs []subscription
	for _, topic := range events.Topics {
		name := "projects/" + project + "/topics/" + topic
		dead := "projects/" + project + "/topics/" + topic + "-dead-letter"
		wantTopics = append(wantTopics, name, dead)
		wantSubs = append(wantSubs, subscription{
			Name: "projects/" + project + "/subscriptions/" + topic + "-push", Topic: name,
			Endpoint:    "http://127.0.0.1:2/events/" + topic + "/projects/" + project + "/topics/" + topic,
			AckDeadline: 60, MinBackoff: time.Second, MaxBackoff: time.Minute,
			DeadLetterTopic: dead, MaxDeliveryAttempts: events.DeliveryAttempts(topic),
			Retention: 7 * 24 * time.Hour, // the service's default
		}, subscription{
			Name: "projects/" + project + "/subscriptions/" + topic + "-dead-letter-pull", Topic: dead,
			AckDeadline: 60, Retention: 7 * 24 * time.Hour,
		})
	}
	slices.Sort(gotTopics)
	slices.Sort(wantTopics)
	sortSubs := func(s []subscription) {
		slices.SortFunc(s, func(a, b subscription) int { return strings.Compare(a.Name, b.Name) })
	}
	sortSubs(gotSubs)
	sortSubs(wantSubs)
	if diff := cmp.Diff(wantTopics, gotTopics); diff != "" {
		t.Errorf("topics (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSubs, gotSubs); diff != "" {
		t.Errorf("subscriptions (-want, +got):\n%s", diff)
	}
}

func TestProvision_push_reaches_the_origin(t *testing.T) {
	t.Parallel()
	emulatortest.PubSub(t)
	ctx := context.Background()
	project := emulatortest.ProjectID(t)

	type push struct {
		Path string
		Data []byte
	}
	got := make(chan push, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Message struct {
				Data []byte `json:"data"`
			} `json:"message"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("push body %q: %v", b, err)
		}
		got <- push{Path: r.URL.Path, Data: body.Message.Data}
	}))
	defer srv.Close()

	if err := Provision(ctx, project, srv.URL); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pub := c.Publisher(events.TopicInbound)
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte(`{"hello":"push"}`)}).Get(ctx); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	want := push{
		Path: "/events/" + events.TopicInbound + "/projects/" + project + "/topics/" + events.TopicInbound,
		Data: []byte(`{"hello":"push"}`),
	}
	select {
	case p := <-got:
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("push (-want, +got):\n%s", diff)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no push delivery within 15 s")
	}
}

// The emulator honours the push subscription's dead-letter policy: a
// message its endpoint always refuses ends, after the bounded attempts,
// in the dead-letter pull subscription, where pubsubevents.DeadLetters
// lists it and replays it to the endpoint.
func TestProvision_refused_push_is_dead_lettered(t *testing.T) {
	t.Parallel()
	emulatortest.PubSub(t)
	ctx := context.Background()
	project := emulatortest.ProjectID(t)

	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		http.Error(w, "always down", http.StatusInternalServerError)
	}))
	defer srv.Close()

	// 5 is the fewest attempts Pub/Sub allows.
	policy := pushPolicy{maxAttempts: 5, minBackoff: time.Second, maxBackoff: time.Second}
	if err := provision(ctx, project, srv.URL, policy); err != nil {
		t.Fatalf("provision: %v", err)
	}
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pub := c.Publisher(events.TopicRecipients)
	defer pub.Stop()
	start := time.Now()
	data := []byte(`{"campaign_id":"c1"}`)
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: data, Attributes: map[string]string{"k": "v"}}).Get(ctx); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	dl := pubsubevents.NewDeadLetters(c, events.Topics)
	var got []events.DeadLetter
	for deadline := time.Now().Add(60 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		// Each List on an empty subscription waits about 2 s: no sleep needed.
		if got, err = dl.List(ctx, "", 10); err != nil {
			t.Fatalf("List: %v", err)
		}
	}
	if len(got) == 0 {
		t.Fatalf("no dead letter within 60 s; the endpoint was tried %d times", attempts.Load())
	}
	t.Logf("dead-lettered after %v and %d push attempts", time.Since(start).Round(time.Millisecond), attempts.Load())
	if n := attempts.Load(); n < policy.maxAttempts {
		t.Errorf("dead-lettered after %d attempts, want at least %d", n, policy.maxAttempts)
	}
	if p := got[0].PublishTime; p.Before(start.Add(-time.Second)) || p.After(time.Now()) {
		t.Errorf("publish time %v is not the original publish's (at %v)", p, start)
	}
	want := []events.DeadLetter{{
		Topic: events.TopicRecipients, ID: got[0].ID, Data: data, Attributes: map[string]string{"k": "v"},
		PublishTime: got[0].PublishTime, DeliveryAttempts: int(policy.maxAttempts),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead letters (-want, +got):\n%s", diff)
	}

	// A replay is pushed to the endpoint again.
	before := attempts.Load()
	if err := dl.Replay(ctx, events.TopicRecipients, got[0].ID); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); attempts.Load() == before && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if attempts.Load() == before {
		t.Error("the replayed message was not pushed within 30 s")
	}
}
