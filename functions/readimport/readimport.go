// Package readimport is the ReadImport function: when a client's file
// arrives in the uploads bucket (through a signed URL), it reads the file
// and hands its batches on (topic import-upload, Cloud Storage's
// notifications of finalized objects).
package readimport

import (
	"context"
	"errors"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
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
func Build(ctx context.Context, l envconfig.Lookuper) (edge.Handler, error) {
	var cfg Config
	if err := setup.Load(ctx, &cfg, l); err != nil {
		return nil, err
	}
	return nil, errors.New("readimport: not yet built") // TODO(issue 6): the import runner
}
