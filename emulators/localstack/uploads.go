package localstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/uploads"
)

// UploadsNotification is the notification the uploads bucket has, locally
// and deployed (infra/uploads.tf): each object finalized under
// uploads.ClientFolder, as its JSON resource, on topic
// events.TopicImportUpload of project.
func UploadsNotification(project string) *storage.Notification {
	return &storage.Notification{
		TopicProjectID:   project,
		TopicID:          events.TopicImportUpload,
		EventTypes:       []string{storage.ObjectFinalizeEvent},
		ObjectNamePrefix: uploads.ClientFolder,
		PayloadFormat:    storage.JSONPayload,
	}
}

// ProvisionUploads creates bucket in project on the Cloud Storage emulator
// in STORAGE_EMULATOR_HOST, with UploadsNotification. It is idempotent.
//
// The emulator publishes through the Pub/Sub emulator named in its own
// environment (Start gives it the stack's), to a topic Provision makes.
// Its message is what a consumer of Cloud Storage's reads: the same
// attributes (bucketId, objectId, eventType, payloadFormat, …) but
// notificationConfig, and a shorter object resource that still holds
// bucket, name and size (a decimal string), all events.ObjectFinalized
// reads. Unlike Cloud Storage it publishes once, without retrying, and
// does not check that the topic exists: a notification it failed to
// publish is only in its log (storage.log).
func ProvisionUploads(ctx context.Context, project, bucket string) error {
	if os.Getenv(EnvStorage) == "" {
		// Never create buckets in a real project by accident.
		return errors.New("localstack.ProvisionUploads: " + EnvStorage + " is not set")
	}
	c, err := storage.NewClient(ctx)
	if err != nil {
		return fmt.Errorf("localstack.ProvisionUploads: %w", err)
	}
	defer c.Close()
	b := c.Bucket(bucket)
	var ge *googleapi.Error
	if err := b.Create(ctx, project, nil); err != nil && !(errors.As(err, &ge) && ge.Code == http.StatusConflict) {
		return fmt.Errorf("localstack.ProvisionUploads: create bucket %s: %w", bucket, err)
	}
	want := UploadsNotification(project)
	have, err := b.Notifications(ctx)
	if err != nil {
		return fmt.Errorf("localstack.ProvisionUploads: list notifications of %s: %w", bucket, err)
	}
	for _, n := range have {
		if n.TopicProjectID == want.TopicProjectID && n.TopicID == want.TopicID && n.ObjectNamePrefix == want.ObjectNamePrefix &&
			n.PayloadFormat == want.PayloadFormat && slices.Equal(n.EventTypes, want.EventTypes) {
			return nil
		}
	}
	if _, err := b.AddNotification(ctx, want); err != nil {
		return fmt.Errorf("localstack.ProvisionUploads: add notification to %s: %w", bucket, err)
	}
	return nil
}
