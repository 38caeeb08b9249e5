package localstack

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// The ports FreePort draws from: below Linux's ephemeral range (32768–60999
// by default), which the kernel hands out both for a listen on port 0 and
// as the source port of every outgoing connection. A port found free there
// is free only until the next connection takes it, and a process told to
// listen on it a moment later fails with "address already in use" (seen
// under the full test run, which opens thousands of connections at once).
const (
	portLow  = 20000
	portHigh = 32000
)

var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a port nobody listens on now, outside the ephemeral
// range, and never the same one twice in this process. Another process may
// still take it before it is used; drawn at random from 12,000 ports, two
// test processes rarely pick the same one.
func FreePort() (int, error) {
	given.Lock()
	defer given.Unlock()
	for range 200 {
		p := portLow + rand.IntN(portHigh-portLow)
		if given.ports[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		_ = l.Close()
		given.ports[p] = true
		return p, nil
	}
	return 0, errors.New("localstack.FreePort: no free port found between 20000 and 32000")
}
