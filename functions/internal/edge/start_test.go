package edge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/functions/internal/setup"
)

// A deployed function (FUNCTION_TARGET) with a configuration it cannot
// run with stops at start, so the deploy fails where it is made; other
// failures wait for a request, as a dependency may come back.
func TestStartIfTarget(t *testing.T) {
	// Not parallel: it sets FUNCTION_TARGET and replaces os.Exit.
	for _, tc := range []struct {
		name     string
		target   string
		buildErr error
		want     []string
	}{
		{"config_error_stops_the_process", "Sender", fmt.Errorf("%w: missing required value: TWILIO_FROM", setup.ErrConfig), []string{"build", "exit 1"}},
		{"other_error_waits_for_a_request", "Sender", errors.New("firestore unreachable"), []string{"build"}},
		{"built_at_start", "Sender", nil, []string{"build"}},
		{"another_function_is_not_built", "API", fmt.Errorf("%w: x", setup.ErrConfig), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FUNCTION_TARGET", tc.target)
			events := make(chan string, 4)
			defer edge.SetExit(func(code int) { events <- fmt.Sprintf("exit %d", code) })()
			l := &edge.Lazy[int]{Build: func(context.Context) (int, error) {
				events <- "build"
				return 1, tc.buildErr
			}}
			edge.StartIfTarget("Sender", l)
			var got []string
			for timeout := time.After(200 * time.Millisecond); len(got) < len(tc.want); {
				select {
				case e := <-events:
					got = append(got, e)
				case <-timeout:
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
			select {
			case e := <-events:
				got = append(got, e)
			case <-time.After(50 * time.Millisecond):
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want, +got):\n%s", diff)
			}
		})
	}
}
