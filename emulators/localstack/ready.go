package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// readyProject is a project no test or developer uses, for probes.
const readyProject = "localstack-ready"

// firestoreReady: the emulator answers "Ok" on / once it serves.
func firestoreReady(ctx context.Context, host string) error {
	body, err := get(ctx, "http://"+host+"/")
	if err != nil {
		return err
	}
	if strings.TrimSpace(body) != "Ok" {
		return fmt.Errorf("GET /: unexpected answer %q", body)
	}
	return nil
}

// pubsubReady lists topics over the emulator's REST adapter: it answers
// only once the Pub/Sub service itself is up, not just the port.
func pubsubReady(ctx context.Context, host string) error {
	_, err := get(ctx, "http://"+host+"/v1/projects/"+readyProject+"/topics")
	return err
}

// cloudTasksReady connects, then lists queues over gRPC as the app will.
func cloudTasksReady(ctx context.Context, host string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("net.Dial: %w", err)
	}
	_ = conn.Close()
	c, err := cloudtasks.NewClient(ctx,
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return fmt.Errorf("cloudtasks.NewClient: %w", err)
	}
	defer c.Close()
	it := c.ListQueues(ctx, &cloudtaskspb.ListQueuesRequest{Parent: "projects/" + readyProject + "/locations/us-central1"})
	if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
		return fmt.Errorf("cloudtasks.ListQueues: %w", err)
	}
	return nil
}

// storageReady lists buckets over the JSON API, as the storage client will.
func storageReady(ctx context.Context, host string) error {
	_, err := get(ctx, "http://"+host+"/storage/v1/b?project="+readyProject)
	return err
}

// get returns the body of a 200 answer to GET url.
func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("http.NewRequest: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("http.Get: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
	if err != nil {
		return "", fmt.Errorf("http.Get: read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return string(b), nil
}
