// Package vrrptest provides an in-memory LAN of vrrp.PacketConn ports for
// testing VRRP senders and listeners without sockets or root. The LAN can
// drop, delay and duplicate deliveries, decided per delivery by a Fault
// function.
package vrrptest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"vigil/vrrp"
)

// Delivery is one copy of a message on its way from one port to another.
type Delivery struct {
	From, To netip.Addr // the ports' addresses
	Dst      netip.Addr // the destination written (group or unicast)
	Payload  []byte     // do not modify
}

// Fate is what the LAN does with a Delivery.
type Fate struct {
	Drop   bool
	Delay  time.Duration // deliver later (in a timer goroutine)
	Copies int           // extra copies (duplicates); 0 for just one
}

// LAN is a broadcast domain: a message written to the IPv4 or IPv6 VRRP
// group reaches every other port of that family; a unicast message reaches
// the port with that address. A port never receives its own messages
// (IP_MULTICAST_LOOP off).
type LAN struct {
	mu    sync.Mutex
	ports []*Port
	fault func(Delivery) Fate
	next  int
}

// NewLAN returns an empty LAN that delivers everything at once.
func NewLAN() *LAN { return &LAN{} }

// SetFault installs f (nil: deliver everything once, at once). f is called
// with the LAN's lock held and must not call back into it.
func (l *LAN) SetFault(f func(Delivery) Fate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fault = f
}

// Port attaches a port with address addr. Its writes go out with hop limit
// 255 unless SetHopLimit changes it.
func (l *LAN) Port(addr netip.Addr) *Port {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	p := &Port{
		lan: l, addr: addr, ifIndex: l.next, hopLimit: vrrp.HopLimit,
		queue: make(chan packet, 256), closed: make(chan struct{}), dlChanged: make(chan struct{}),
	}
	l.ports = append(l.ports, p)
	return p
}

// String renders the LAN's ports, one line each, in attachment order.
func (l *LAN) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, p := range l.ports {
		fmt.Fprintf(&b, "port %d %v queued=%d\n", p.ifIndex, p.addr, len(p.queue))
	}
	return b.String()
}

type packet struct {
	b    []byte
	info vrrp.PacketInfo
}

// Port is one host's interface on the LAN. It implements vrrp.PacketConn.
type Port struct {
	lan     *LAN
	addr    netip.Addr
	ifIndex int

	mu        sync.Mutex
	hopLimit  int
	deadline  time.Time
	dlChanged chan struct{} // closed and replaced when the deadline changes
	queue     chan packet   // full queue drops, like a socket buffer
	closed    chan struct{}
	closeOnce sync.Once
}

var _ vrrp.PacketConn = (*Port)(nil)

// Addr returns the port's address (the source of its messages).
func (p *Port) Addr() netip.Addr { return p.addr }

// SetHopLimit sets the TTL / hop limit of the port's messages as received.
func (p *Port) SetHopLimit(h int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hopLimit = h
}

// WriteTo implements vrrp.PacketConn.
func (p *Port) WriteTo(b []byte, dst netip.Addr) error {
	select {
	case <-p.closed:
		return fmt.Errorf("vrrptest: write to %v: %w", dst, net.ErrClosed)
	default:
	}
	p.mu.Lock()
	hl := p.hopLimit
	p.mu.Unlock()
	payload := append([]byte(nil), b...)
	l := p.lan
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, q := range l.ports {
		if q == p || q.addr.Is4() != p.addr.Is4() {
			continue
		}
		if !dst.IsMulticast() && q.addr != dst {
			continue
		}
		f := Fate{}
		if l.fault != nil {
			f = l.fault(Delivery{From: p.addr, To: q.addr, Dst: dst, Payload: payload})
		}
		if f.Drop {
			continue
		}
		pk := packet{b: payload, info: vrrp.PacketInfo{Src: p.addr, Dst: dst, HopLimit: hl, IfIndex: q.ifIndex}}
		for range 1 + f.Copies {
			if f.Delay > 0 {
				time.AfterFunc(f.Delay, func() { q.enqueue(pk) })
			} else {
				q.enqueue(pk)
			}
		}
	}
	return nil
}

func (p *Port) enqueue(pk packet) {
	select {
	case <-p.closed:
	case p.queue <- pk:
	default: // queue full: dropped
	}
}

// ReadFrom implements vrrp.PacketConn.
func (p *Port) ReadFrom(b []byte) (int, vrrp.PacketInfo, error) {
	for {
		p.mu.Lock()
		dl, changed := p.deadline, p.dlChanged
		p.mu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, vrrp.PacketInfo{}, fmt.Errorf("vrrptest: read: %w", os.ErrDeadlineExceeded)
			}
			t := time.NewTimer(d)
			timeout = t.C
			defer t.Stop() // at most once per deadline change
		}
		select {
		case <-p.closed:
			return 0, vrrp.PacketInfo{}, fmt.Errorf("vrrptest: read: %w", net.ErrClosed)
		case pk := <-p.queue:
			return copy(b, pk.b), pk.info, nil
		case <-timeout: // loop: the deadline check above returns
		case <-changed:
		}
	}
}

// SetReadDeadline implements vrrp.PacketConn.
func (p *Port) SetReadDeadline(t time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadline = t
	close(p.dlChanged)
	p.dlChanged = make(chan struct{})
	return nil
}

// Close implements vrrp.PacketConn: it detaches the port from the LAN.
func (p *Port) Close() error {
	err := fmt.Errorf("vrrptest: close: %w", net.ErrClosed)
	p.closeOnce.Do(func() {
		err = nil
		close(p.closed)
		l := p.lan
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, q := range l.ports {
			if q == p {
				l.ports = append(l.ports[:i], l.ports[i+1:]...)
				break
			}
		}
	})
	return err
}
