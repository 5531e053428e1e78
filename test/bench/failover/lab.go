package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"vigil/test/netns"
)

// benchT lets the namespace lab report to this program: a fatal error
// unwinds to main, which cleans up.
type benchT struct{ cleanups []func() }

type failure struct{ msg string }

func (*benchT) Helper()                           {}
func (*benchT) Logf(string, ...any)               {}
func (*benchT) Fatalf(format string, args ...any) { panic(failure{fmt.Sprintf(format, args...)}) }
func (*benchT) Skip(args ...any)                  { panic(failure{fmt.Sprint(args...)}) }
func (t *benchT) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }
func (t *benchT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

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

func newLab(t *benchT, prefix string) *lab {
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
		panic(failure{err.Error()})
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
	var got string
	_ = l.client.Do(func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", vip, svcPort), 100*time.Millisecond)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		line, _ := bufio.NewReader(c).ReadString('\n')
		got = strings.TrimSpace(line)
		return nil
	})
	return got
}

// waitAnswer polls every 20 ms until ok accepts the answering director.
func (l *lab) waitAnswer(within time.Duration, ok func(string) bool) (string, time.Duration, error) {
	start := time.Now()
	for time.Since(start) < within {
		if got := l.ask(); got != "" && ok(got) {
			return got, time.Since(start), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", 0, fmt.Errorf("no acceptable answer within %v (last %q)", within, l.ask())
}

func writeFile(path, s string) {
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		panic(failure{err.Error()})
	}
}
