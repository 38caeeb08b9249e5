package memuploads_test

import (
	"testing"

	"github.com/eventstreamengine/ese/shared/uploads/memuploads"
	"github.com/eventstreamengine/ese/shared/uploads/uploadstest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	uploadstest.Run(t, func(*testing.T) uploadstest.Harness {
		return uploadstest.Harness{Bucket: memuploads.New()}
	})
}
