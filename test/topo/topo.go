// Package topo is the topology every cluster test and benchmark runs on:
// three directors on a LAN (link 0) and a heartbeat network (link 1), each
// answering TCP connections on ServicePort with its own name (so a client
// can tell who the VIP led it to), and a client on the LAN. On it run one
// daemon per director, vigil or keepalived (Daemons), which faults kill,
// restart and pause; and from the client an Observer records who answers
// ARP for the VIP. The end-to-end tests (test/e2e) and the failover
// benchmark (test/bench/failover) share it, so that vigil and keepalived
// are tested and measured on the very same hosts.
package topo

import (
	"fmt"
	"net"
	"time"

	"vigil/test/netns"
)

// ServicePort is where every director answers with its name.
const ServicePort = 8080

// Names are the directors' names, in priority order.
var Names = []string{"d1", "d2", "d3"}

// Subnets are the first three octets of the LAN and of the heartbeat
// network: the directors are .11, .12 and .13 on both, the client .100
// on the LAN, and the VIP is the LAN's .200.
type Subnets struct{ LAN, HB string }

// VIP is the virtual address the directors contend for.
func (s Subnets) VIP() string { return s.LAN + ".200" }

// Director is one director's host and its two links.
type Director struct {
	Name    string
	Host    *netns.Host
	LAN, HB *netns.Iface
	// LANIP and HBIP are its addresses on the two links.
	LANIP, HBIP string
}

// Three is the lab: three directors, a client, two bridges.
type Three struct {
	Lab     *netns.Lab
	Net     Subnets
	D       map[string]*Director
	Client  *netns.Host
	LAN, HB *netns.Bridge
}

// New builds the topology in lab, once no other process has a topology
// (exclusiveLock). The name services stop at t's cleanup.
func New(t netns.T, lab *netns.Lab, sn Subnets) *Three {
	t.Helper()
	exclusiveLock(t, lab)
	th := &Three{Lab: lab, Net: sn, D: map[string]*Director{}}
	th.LAN, th.HB = lab.Bridge("lan"), lab.Bridge("hb")
	for i, n := range Names {
		h := lab.Host(n)
		d := &Director{Name: n, Host: h, LANIP: fmt.Sprintf("%s.%d", sn.LAN, 11+i), HBIP: fmt.Sprintf("%s.%d", sn.HB, 11+i)}
		d.LAN = h.Link(th.LAN, "eth0", d.LANIP+"/24")
		d.HB = h.Link(th.HB, "eth1", d.HBIP+"/24")
		ServeName(t, h, n)
		th.D[n] = d
	}
	th.Client = lab.Host("client")
	th.Client.Link(th.LAN, "eth0", sn.LAN+".100/24")
	return th
}

// ServeName answers every TCP connection on ServicePort in h with name,
// until t's cleanup: how a client (Ask) tells which host a VIP led it to.
func ServeName(t netns.T, h *netns.Host, name string) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", ServicePort))
		return err
	}); err != nil {
		t.Fatalf("topo: serve %s's name: %v", name, err)
	}
	t.Cleanup(func() { ln.Close() })
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

// Ask opens a new TCP connection from the client to the VIP and returns
// the name of the director that answered ("" if none did within timeout).
func (th *Three) Ask(timeout time.Duration) string { return th.AskAt(th.Net.VIP(), timeout) }

// AskAt is Ask for another address (another instance's VIP).
func (th *Three) AskAt(addr string, timeout time.Duration) string {
	got, _ := th.Client.ReadLine(fmt.Sprintf("%s:%d", addr, ServicePort), timeout)
	return got
}

// WaitAnswer asks every poll until ok accepts the answering director, and
// returns it and how long that took.
func (th *Three) WaitAnswer(within, poll, timeout time.Duration, ok func(string) bool) (string, time.Duration, error) {
	return th.WaitAnswerAt(th.Net.VIP(), within, poll, timeout, ok)
}

// WaitAnswerAt is WaitAnswer for another address.
func (th *Three) WaitAnswerAt(addr string, within, poll, timeout time.Duration, ok func(string) bool) (string, time.Duration, error) {
	start := time.Now()
	for time.Since(start) < within {
		if got := th.AskAt(addr, timeout); got != "" && ok(got) {
			return got, time.Since(start), nil
		}
		time.Sleep(poll)
	}
	return "", 0, fmt.Errorf("nothing acceptable answered on %s within %v (last: %q)", addr, within, th.AskAt(addr, timeout))
}

// MACs maps each director's LAN hardware address to its name.
func (th *Three) MACs() (map[string]string, error) {
	macs := map[string]string{}
	for n, d := range th.D {
		mac, err := d.LAN.MAC()
		if err != nil {
			return nil, fmt.Errorf("topo: MAC of %s: %w", n, err)
		}
		macs[mac] = n
	}
	return macs, nil
}
