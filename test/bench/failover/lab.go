package main

import (
	"fmt"
	"os"
	"time"

	"vigil/test/netns"
	"vigil/test/topo"
)

// lab is the topology of issue 3 (topo.Three: three directors on a LAN
// and a heartbeat network, a client on the LAN), the same hosts the
// end-to-end tests and the nemesis use, so vigil and keepalived are
// measured the same way.
type lab struct {
	*topo.Three
	d      map[string]*netns.Host
	client *netns.Host
}

var names = topo.Names

func newLab(t netns.T, prefix string) *lab {
	th := topo.New(t, netns.NewNamed(t, prefix), topo.Subnets{LAN: "10.97.0", HB: "192.168.97"})
	l := &lab{Three: th, d: map[string]*netns.Host{}, client: th.Client}
	for n, d := range th.D {
		l.d[n] = d.Host
	}
	return l
}

// ask opens a new TCP connection to the VIP from the client and returns
// the name of the director that answered ("" if none did within 100 ms).
func (l *lab) ask() string { return l.Ask(100 * time.Millisecond) }

// waitAnswer starts a connection attempt every 20 ms (each waits up to
// 100 ms for its answer, so attempts overlap) until ok accepts the
// answering director, and returns when that answer arrived.
func (l *lab) waitAnswer(within time.Duration, ok func(string) bool) (string, time.Duration, error) {
	start := time.Now()
	answers := make(chan string, 16)
	done := make(chan struct{})
	defer close(done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(within)
	attempt := func() {
		go func() {
			select {
			case answers <- l.ask():
			case <-done:
			}
		}()
	}
	attempt()
	for {
		select {
		case got := <-answers:
			if got != "" && ok(got) {
				return got, time.Since(start), nil
			}
		case <-tick.C:
			attempt()
		case <-deadline:
			return "", 0, fmt.Errorf("no acceptable answer within %v (last %q)", within, l.ask())
		}
	}
}

func writeFile(path, s string) {
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
}
