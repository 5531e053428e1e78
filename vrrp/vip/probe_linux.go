package vip

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
)

// ProbeFrame returns the Ethernet frame of an ARP probe (RFC 5227 §2.1.1)
// for addr from the interface with hardware address mac, broadcast:
//
//	Ethernet  dst ff:ff:ff:ff:ff:ff, src mac, type 0x0806, padded to 60 bytes
//	ARP       request: sender mac/0.0.0.0 (no host's cache learns anything
//	          from it), target 00:00:00:00:00:00/addr
//
// A host that has addr answers with a reply whose sender IP is addr.
func ProbeFrame(mac net.HardwareAddr, addr netip.Addr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("%w: hardware address %s is not Ethernet", ErrInvalid, mac)
	}
	addr = addr.Unmap()
	if !addr.Is4() {
		return nil, fmt.Errorf("%w: an ARP probe needs an IPv4 address, got %s", ErrInvalid, addr)
	}
	return arpFrame(arp.OperationRequest, mac, netip.IPv4Unspecified(), net.HardwareAddr{0, 0, 0, 0, 0, 0}, addr)
}

// claimOf says who an Ethernet frame claims has an address: the sender of
// an ARP packet, unless its sender IP is 0.0.0.0 (a probe, which claims
// nothing: other directors probe the same VIPs at the same time).
func claimOf(frame []byte) (netip.Addr, net.HardwareAddr, bool) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(frame); err != nil || f.EtherType != ethernet.EtherTypeARP {
		return netip.Addr{}, nil, false
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		return netip.Addr{}, nil, false
	}
	ip := p.SenderIP.Unmap()
	if !ip.Is4() || ip.IsUnspecified() {
		return netip.Addr{}, nil, false
	}
	return ip, p.SenderHardwareAddr, true
}

// Probe asks, RFC 5227-style, whether another host has any of addrs on
// iface: it broadcasts t.Count ARP probes for each, t.Interval apart, and
// listens until t.Wait after the last for ARP packets whose sender IP is
// one of them. It returns the claims, each address and MAC once, in
// address then MAC order; frames from iface's own MAC are not claims.
// IPv6 addresses are not probed. It blocks for t.Duration(), less if ctx
// ends (then it returns what it saw and ctx's error).
func (s *LinkSender) Probe(ctx context.Context, iface string, addrs []netip.Addr, t ProbeTiming) ([]Claim, error) {
	cl, err := s.probe(ctx, iface, addrs, t.withDefaults())
	return cl, opErr("probe", iface, netip.Prefix{}, err)
}

func (s *LinkSender) probe(ctx context.Context, iface string, addrs []netip.Addr, t ProbeTiming) ([]Claim, error) {
	link, err := s.link(iface)
	if err != nil {
		return nil, err
	}
	attrs := link.Attrs()
	want := map[netip.Addr]bool{}
	var frames [][]byte
	for _, a := range addrs {
		a = a.Unmap()
		if !a.Is4() || want[a] {
			continue
		}
		want[a] = true
		f, err := ProbeFrame(attrs.HardwareAddr, a)
		if err != nil {
			return nil, err
		}
		frames = append(frames, f)
	}
	if len(frames) == 0 {
		return nil, nil
	}
	ifi := &net.Interface{Index: attrs.Index, Name: attrs.Name, HardwareAddr: attrs.HardwareAddr, MTU: attrs.MTU}
	var c *packet.Conn
	if err := inNetNS(s.ns, func() (err error) {
		c, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		return err
	}); err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(t.Duration())); err != nil {
		return nil, err
	}
	result := make(chan []Claim, 1)
	go func() {
		var out []Claim
		buf := make([]byte, 1514)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				break // the deadline
			}
			ip, mac, ok := claimOf(buf[:n])
			if !ok || !want[ip] || bytes.Equal(mac, attrs.HardwareAddr) ||
				slices.ContainsFunc(out, func(c Claim) bool { return c.Addr == ip && bytes.Equal(c.MAC, mac) }) {
				continue
			}
			out = append(out, Claim{Iface: iface, Addr: ip, MAC: slices.Clone(mac)})
		}
		slices.SortFunc(out, func(a, b Claim) int {
			if d := a.Addr.Compare(b.Addr); d != 0 {
				return d
			}
			return bytes.Compare(a.MAC, b.MAC)
		})
		result <- out
	}()
	var werr error
	for i := 0; i < t.Count && werr == nil; i++ {
		if i > 0 {
			tm := time.NewTimer(t.Interval)
			select {
			case <-ctx.Done():
				werr = ctx.Err()
			case <-tm.C:
			}
			tm.Stop()
		}
		for _, f := range frames {
			if werr != nil {
				break
			}
			_, werr = c.WriteTo(f, &packet.Addr{HardwareAddr: ethernet.Broadcast})
		}
	}
	if werr != nil {
		_ = c.SetReadDeadline(time.Now())
		return <-result, werr
	}
	select {
	case out := <-result:
		return out, nil
	case <-ctx.Done():
		_ = c.SetReadDeadline(time.Now())
		return <-result, ctx.Err()
	}
}
