package localstack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/events"
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
}

func TestProvision_is_idempotent_and_follows_the_origin(t *testing.T) {
	t.Parallel()
	emulatortest.PubSub(t)
	ctx := context.Background()
	project := emulatortest.ProjectID(t)

	for _, origin := range []string{"http://127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:2"} {
		if err := Provision(ctx, project, origin); err != nil {
			t.Fatalf("Provision(%s): %v", origin, err)
		}
	}

	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
			AckDeadline: s.GetAckDeadlineSeconds(),
			MinBackoff:  s.GetRetryPolicy().GetMinimumBackoff().AsDuration(),
			MaxBackoff:  s.GetRetryPolicy().GetMaximumBackoff().AsDuration(),
		})
	}

	var wantTopics []string
	var wantSubs []subscription
	for _, topic := range events.Topics {
		name := "projects/" + project + "/topics/" + topic
		wantTopics = append(wantTopics, name)
		wantSubs = append(wantSubs, subscription{
			Name: "projects/" + project + "/subscriptions/" + topic + "-push", Topic: name,
			Endpoint:    "http://127.0.0.1:2/events/" + topic + "/projects/" + project + "/topics/" + topic,
			AckDeadline: 60, MinBackoff: time.Second, MaxBackoff: time.Minute,
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
