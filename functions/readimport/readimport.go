// Package readimport is the ReadImport function: when a client's file
// arrives in the uploads bucket (through a signed URL), it reads the file
// and hands its batches on (topic import-upload, Cloud Storage's
// notifications of finalized objects).
package readimport

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/shared/importrun"
)

func init() {
	functions.CloudEvent("ReadImport", Handle)
}

// Handle serves the ReadImport function.
var Handle = edge.EventFunc("ReadImport", Build)

// Config is what ReadImport reads from its environment.
type Config struct {
	setup.Project
	setup.Events // read by edge.EventFunc
	setup.Uploads
}

// Build makes the handler from the environment (or l, in tests).
func Build(ctx context.Context, l envconfig.Lookuper) (_ edge.Handler, err error) {
	var opened setup.Opened
	defer opened.CloseIf(&err)
	var cfg Config
	st, err := setup.LoadStore(ctx, &cfg, l)
	if err != nil {
		return nil, err
	}
	opened.Add(st.Close)
	psc, pub, err := setup.PubSub(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	opened.Add(psc.Close)
	bucket, err := setup.Bucket(ctx, cfg.Uploads)
	if err != nil {
		return nil, err
	}
	opened.Add(bucket.Close)
	return New(&importrun.Runner{Store: st, Bucket: bucket, BucketName: cfg.Uploads.Bucket, Events: pub}, cfg.Uploads.Bucket), nil
}
