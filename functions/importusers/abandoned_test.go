package importusers_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/functions/importusers"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// A job whose reader went silent long ago is failed by its batches, so it
// neither hangs in RECEIVING nor applies half a file.
func TestHandler_abandoned_upload_fails_the_job(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	long := time.Now().UTC().Add(-2 * time.Hour)
	if err := st.CreateImportJob(ctx, userimport.Job{ID: "j1", State: userimport.Receiving, Format: "csv", CreatedAt: long, UpdatedAt: long}); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(events.ImportBatch{JobID: "j1", Rows: []userimport.Row{{Line: 2, Phone: "+94771234567"}}})
	if err := importusers.New(st)(ctx, events.Message{ID: "1", Data: data}); err != nil {
		t.Fatalf("handler = %v, want nil (acked)", err)
	}
	job, _ := st.GetImportJob(ctx, "j1")
	if job.State != userimport.Failed {
		t.Errorf("job state %s, want FAILED", job.State)
	}
	if _, err := st.GetUser(ctx, "+94771234567"); err == nil {
		t.Errorf("a row of an abandoned upload was applied")
	}
}
