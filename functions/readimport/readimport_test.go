package readimport_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/functions/readimport"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/importrun"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/uploads/memuploads"
	"github.com/eventstreamengine/ese/shared/userimport"
)

func TestReadImport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		bucket, object string
		wantErr        bool
		wantRetry      bool
		wantState      userimport.State
		wantBatches    int
	}{
		{name: "client_upload_is_read", bucket: "b", object: "uploads/j1", wantState: userimport.Queued, wantBatches: 1},
		{name: "other_bucket_is_ignored", bucket: "other", object: "uploads/j1", wantState: userimport.Receiving},
		{name: "sweep_resume_of_an_api_file_is_read", bucket: "b", object: "direct/j1", wantState: userimport.Queued, wantBatches: 1},
		{name: "nested_name_is_ignored", bucket: "b", object: "uploads/j1/x", wantState: userimport.Receiving},
		{name: "unknown_job_is_not_retried", bucket: "b", object: "uploads/nope", wantErr: true, wantState: userimport.Receiving},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, pub, bucket := memstore.New(), memevents.New(), memuploads.New()
			now := time.Now().UTC()
			if err := st.CreateImportJob(ctx, userimport.Job{ID: "j1", State: userimport.Receiving, Object: "uploads/j1", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			bucket.Put("uploads/j1", []byte("phone\n+94771234567\n"))
			bucket.Put("uploads/nope", []byte("phone\n+94771234567\n"))
			h := readimport.New(&importrun.Runner{Store: st, Bucket: bucket, Events: pub}, "b")
			data, _ := json.Marshal(events.ObjectFinalized{Bucket: tc.bucket, Name: tc.object, Size: "20"})
			err := h(ctx, events.Message{ID: "1", Data: data})
			if (err != nil) != tc.wantErr || errs.Retry(err) != tc.wantRetry {
				t.Fatalf("handler = %v (retry %v), want error %v, retry %v", err, errs.Retry(err), tc.wantErr, tc.wantRetry)
			}
			job, _ := st.PeekImportJob(ctx, "j1")
			if job.State != tc.wantState || len(pub.Published(events.TopicUserImport)) != tc.wantBatches {
				t.Errorf("job %s with %d batches out, want %s with %d", job.State, len(pub.Published(events.TopicUserImport)), tc.wantState, tc.wantBatches)
			}
		})
	}
}
