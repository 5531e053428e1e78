package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"vigil/test/netns"
)

const (
	vip     = "10.97.0.200"
	svcPort = 8080
)

// lab is three directors on a LAN (link 0) and a heartbeat network
// (link 1), and a client on the LAN: the topology of issue 3, shared by
// vigil and keepalived so both are measured the same way.
type lab struct {
	l      *netns.Lab
	d      map[string]*netns.Host
	lanIf  map[string]*netns.Iface
	client *netns.Host
	lns    []net.Listener
}

var names = []string{"d1", "d2", "d3"}

func newLab(t netns.T, prefix string) *lab {
	l := &lab{l: netns.NewNamed(t, prefix), d: map[string]*netns.Host{}, lanIf: map[string]*netns.Iface{}}
	t.Cleanup(l.l.Close)
	lan, hb := l.l.Bridge("lan"), l.l.Bridge("hb")
	for i, n := range names {
		h := l.l.Host(n)
		l.lanIf[n] = h.Link(lan, "eth0", fmt.Sprintf("10.97.0.%d/24", 11+i))
		h.Link(hb, "eth1", fmt.Sprintf("192.168.97.%d/24", 11+i))
		l.d[n] = h
		l.serveName(h, n)
	}
	l.client = l.l.Host("client")
	l.client.Link(lan, "eth0", "10.97.0.100/24")
	t.Cleanup(func() {
		for _, ln := range l.lns {
			ln.Close()
		}
	})
	return l
}

// serveName answers every TCP connection on :8080 with the director's
// name: the "real service" behind the VIP.
func (l *lab) serveName(h *netns.Host, name string) {
	var ln net.Listener
	if err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", svcPort))
		return err
	}); err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
	l.lns = append(l.lns, ln)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, name)
			c.Close()
		}
	}()
}

// ask opens a new TCP connection to the VIP from the client and returns
// the name of the director that answered ("" if none did within 100 ms).
func (l *lab) ask() string {
	got, _ := l.client.ReadLine(fmt.Sprintf("%s:%d", vip, svcPort), 100*time.Millisecond)
	return got
}

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
