package localstack

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The duplicator answers with the upstream's answer, delivers the share
// asked for a second time (same path, headers and body), and answers
// 502 when the upstream is down, so that the emulator retries.
func TestDuplicator(t *testing.T) {
	var mu sync.Mutex
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.URL.RequestURI()+" "+r.Header.Get("X-CloudTasks-TaskName")+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "done")
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)

	for _, tt := range []struct {
		rate float64
		want []string
	}{
		{0, []string{"/tasks/send?x=1 t1 payload"}},
		{1, []string{"/tasks/send?x=1 t1 payload", "/tasks/send?x=1 t1 payload"}},
	} {
		got = nil
		d := NewDuplicator(target, tt.rate, 1, nil)
		d.MaxLag = 10 * time.Millisecond
		front := httptest.NewServer(d)
		req, _ := http.NewRequest("POST", front.URL+"/tasks/send?x=1", strings.NewReader("payload"))
		req.Header.Set("X-CloudTasks-TaskName", "t1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || string(b) != "done" {
			t.Errorf("rate %g: answer %d %q, want the upstream's 202 done", tt.rate, resp.StatusCode, b)
		}
		d.Wait()
		front.Close()
		mu.Lock()
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("rate %g: upstream got (-want +got):\n%s", tt.rate, diff)
		}
		mu.Unlock()
		if want := len(tt.want) - 1; d.Duplicated() != want {
			t.Errorf("rate %g: Duplicated = %d, want %d", tt.rate, d.Duplicated(), want)
		}
	}

	up.Close()
	front := httptest.NewServer(NewDuplicator(target, 0, 1, nil))
	defer front.Close()
	resp, err := http.Post(front.URL+"/events/x", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("upstream down: %d, want 502", resp.StatusCode)
	}
}
