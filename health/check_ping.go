package health

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/netip"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

type pingChecker struct {
	addr netip.Addr
	bind netip.Addr
}

// listenICMP opens an unprivileged ICMP "ping" socket when
// net.ipv4.ping_group_range allows it, else a raw ICMP socket (root or
// CAP_NET_RAW). It reports whether the socket is raw: a raw socket sees
// every ICMP message of the host, so replies must be matched by ID.
func listenICMP(a, bind netip.Addr) (*icmp.PacketConn, bool, error) {
	laddr := "0.0.0.0"
	dgram, raw := "udp4", "ip4:icmp"
	if a.Is6() {
		laddr, dgram, raw = "::", "udp6", "ip6:ipv6-icmp"
	}
	if bind.IsValid() {
		laddr = bind.String()
	}
	if c, err := icmp.ListenPacket(dgram, laddr); err == nil {
		return c, false, nil
	}
	c, err := icmp.ListenPacket(raw, laddr)
	return c, true, err
}

// Check sends one ICMP echo request and waits for the matching reply until
// the probe's deadline: PING_CHECK.
func (c *pingChecker) Check(ctx context.Context) Result {
	conn, raw, err := listenICMP(c.addr, c.bind)
	if err != nil {
		return down("open ICMP socket: %v", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(deadlinePast) })
	defer stop()

	var rb [4]byte
	_, _ = rand.Read(rb[:])
	id, seq := int(binary.BigEndian.Uint16(rb[:2])), int(binary.BigEndian.Uint16(rb[2:]))
	var typ, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if c.addr.Is6() {
		typ, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("vigil-ping-check")}}
	wire, err := msg.Marshal(nil) // the kernel computes the ICMPv6 checksum
	if err != nil {
		return down("marshal echo: %v", err)
	}
	var dst net.Addr = &net.UDPAddr{IP: c.addr.AsSlice()}
	if raw {
		dst = &net.IPAddr{IP: c.addr.AsSlice()}
	}
	if _, err := conn.WriteTo(wire, dst); err != nil {
		return ioErr(ctx, "send echo to "+c.addr.String(), err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return ioErr(ctx, "echo reply from "+c.addr.String(), err)
		}
		if fa, ok := netipOf(from); !ok || fa != c.addr {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != replyType {
			continue
		}
		e, ok := m.Body.(*icmp.Echo)
		// A ping socket rewrites the ID to its port: match only the sequence.
		if !ok || e.Seq != seq || (raw && e.ID != id) {
			continue
		}
		if raw {
			return up("echo reply (raw socket)")
		}
		return up("echo reply (ping socket)")
	}
}

func netipOf(a net.Addr) (netip.Addr, bool) {
	var ip net.IP
	switch v := a.(type) {
	case *net.UDPAddr:
		ip = v.IP
	case *net.IPAddr:
		ip = v.IP
	default:
		return netip.Addr{}, false
	}
	na, ok := netip.AddrFromSlice(ip)
	return na.Unmap(), ok
}
