package localstack

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/pubsubevents"
	"github.com/eventstreamengine/ese/shared/uploads"
	"github.com/eventstreamengine/ese/shared/uploads/gcsuploads"
)

// A file PUT by a client to a signed URL is announced on the project's
// import-upload topic, as Cloud Storage announces it deployed, in a form
// events.ObjectFinalized reads; what the API writes under direct/ is not.
func TestProvisionUploads_notifies_what_clients_upload(t *testing.T) {
	emulatortest.Storage(t)
	emulatortest.PubSub(t)
	t.Parallel()
	ctx := t.Context()
	project := emulatortest.ProjectID(t)
	bucket := project + "-uploads"

	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	topic := "projects/" + project + "/topics/" + events.TopicImportUpload
	if _, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	sub := "projects/" + project + "/subscriptions/watch"
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic}); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		if err := ProvisionUploads(ctx, project, bucket); err != nil {
			t.Fatalf("ProvisionUploads #%d: %v", i+1, err)
		}
	}
	checkOneNotification(t, project, bucket)

	b, err := gcsuploads.Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if _, err := b.Write(ctx, uploads.APIFolder+"j0", strings.NewReader("phone\n+94771234567\n")); err != nil {
		t.Fatal(err)
	}
	u, err := b.SignedPutURL(ctx, uploads.ClientFolder+"j1", time.Now().Add(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	file := []byte("phone\n+94771234567\n+94771234568\n")
	resp, err := http.DefaultClient.Do(mustRequest(t, http.MethodPut, u, file))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the signed URL: %s", resp.Status)
	}
	// Whoever writes under uploads/ is announced; written last, it also
	// lets a wrong announcement of direct/j0, published before it, show.
	if _, err := b.Write(ctx, uploads.ClientFolder+"j2", strings.NewReader("phone\n")); err != nil {
		t.Fatal(err)
	}

	type seen struct {
		Object        events.ObjectFinalized
		EventType     string
		PayloadFormat string
		BucketID      string
		ObjectID      string
		HasGeneration bool
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var mu sync.Mutex
	got := map[string]seen{}
	err = pubsubevents.Receive(rctx, ps, "watch", func(_ context.Context, m events.Message) error {
		var o events.ObjectFinalized
		if err := events.Decode(m, &o); err != nil {
			t.Errorf("notification %s: %v (data %s)", m.ID, err, m.Data)
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		got[o.Name] = seen{Object: o, EventType: m.Attributes["eventType"], PayloadFormat: m.Attributes["payloadFormat"],
			BucketID: m.Attributes["bucketId"], ObjectID: m.Attributes["objectId"], HasGeneration: m.Attributes["objectGeneration"] != ""}
		_, j1 := got[uploads.ClientFolder+"j1"]
		if _, j2 := got[uploads.ClientFolder+"j2"]; j1 && j2 {
			cancel()
		}
		return nil
	})
	if err != nil && rctx.Err() == nil {
		t.Fatalf("Receive: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]seen{}
	for name, size := range map[string]string{uploads.ClientFolder + "j1": "32", uploads.ClientFolder + "j2": "6"} {
		want[name] = seen{Object: events.ObjectFinalized{Bucket: bucket, Name: name, Size: size}, EventType: "OBJECT_FINALIZE",
			PayloadFormat: "JSON_API_V1", BucketID: bucket, ObjectID: name, HasGeneration: true}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications by object (-want, +got):\n%s", diff)
	}
}

// checkOneNotification checks the bucket has UploadsNotification once.
func checkOneNotification(t *testing.T, project, bucket string) {
	t.Helper()
	c, err := storage.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ns, err := c.Bucket(bucket).Notifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []storage.Notification
	for _, n := range ns {
		got = append(got, storage.Notification{TopicProjectID: n.TopicProjectID, TopicID: n.TopicID, EventTypes: n.EventTypes,
			ObjectNamePrefix: n.ObjectNamePrefix, PayloadFormat: n.PayloadFormat})
	}
	if diff := cmp.Diff([]storage.Notification{*UploadsNotification(project)}, got); diff != "" {
		t.Errorf("notifications of %s after two provisions (-want, +got):\n%s", bucket, diff)
	}
}

func mustRequest(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}
