package vip

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ProbeTiming says how a duplicate-address probe runs: Count ARP probes
// per address, Interval apart, then Wait for the last answers. RFC 5227
// asks for three probes one to two seconds apart before an address is
// first used; a VIP that moves between directors must be taken in
// milliseconds, so the defaults are three probes 50 ms apart and 100 ms
// of waiting (200 ms in all): enough for any host on the segment to
// answer, short enough to run before a takeover.
type ProbeTiming struct {
	Count    int
	Interval time.Duration
	Wait     time.Duration
}

// DefaultProbeTiming is the ProbeTiming used where none is given.
var DefaultProbeTiming = ProbeTiming{Count: 3, Interval: 50 * time.Millisecond, Wait: 100 * time.Millisecond}

func (t ProbeTiming) withDefaults() ProbeTiming {
	if t.Count <= 0 {
		t.Count = DefaultProbeTiming.Count
	}
	if t.Interval <= 0 {
		t.Interval = DefaultProbeTiming.Interval
	}
	if t.Wait <= 0 {
		t.Wait = DefaultProbeTiming.Wait
	}
	return t
}

// Duration is how long a probe with this timing takes.
func (t ProbeTiming) Duration() time.Duration {
	t = t.withDefaults()
	return time.Duration(t.Count-1)*t.Interval + t.Wait
}

// Claim is another host claiming an address on a link: an ARP packet seen
// there whose sender IP is the address (RFC 5227 §2.1.1: a reply to our
// probe, or any request or announcement of its own).
type Claim struct {
	Iface string
	Addr  netip.Addr
	MAC   net.HardwareAddr
}

func (c Claim) String() string { return fmt.Sprintf("%s is at %s on %s", c.Addr, c.MAC, c.Iface) }
