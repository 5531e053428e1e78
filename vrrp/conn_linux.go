package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Conn is a raw IP socket for protocol 112 bound to one interface
// (SO_BINDTODEVICE), member of the VRRP group on it, sending with TTL/hop
// limit 255 from a fixed source address (IP_PKTINFO / IPV6_PKTINFO) and
// reporting each message's destination, TTL and interface. It implements
// PacketConn.
type Conn struct {
	ifi *net.Interface
	src netip.Addr
	v4  *ipv4.PacketConn
	v6  *ipv6.PacketConn
	pc  net.PacketConn
}

var _ PacketConn = (*Conn)(nil)

// Dial opens a raw VRRP connection as cfg says. It needs CAP_NET_RAW. The
// socket belongs to the network namespace of the calling thread.
func Dial(cfg DialConfig) (*Conn, error) {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp: dial %q: %w", cfg.Interface, err)
	}
	src := cfg.Src.Unmap()
	if !src.IsValid() {
		if src, err = interfaceSource(ifi, cfg.IPv6); err != nil {
			return nil, err
		}
	} else if src.Is6() != cfg.IPv6 {
		return nil, fmt.Errorf("vrrp: dial %s: %w: source %v", ifi.Name, ErrAddrFamily, src)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	network, laddr := "ip4:112", "0.0.0.0"
	if cfg.IPv6 {
		network, laddr = "ip6:112", "::"
	}
	pc, err := lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		return nil, fmt.Errorf("vrrp: dial %s: %w", ifi.Name, err)
	}
	c := &Conn{ifi: ifi, src: src, pc: pc}
	if err := c.setup(cfg); err != nil {
		pc.Close()
		return nil, fmt.Errorf("vrrp: dial %s: %w", ifi.Name, err)
	}
	return c, nil
}

func (c *Conn) setup(cfg DialConfig) error {
	if !cfg.IPv6 {
		p := ipv4.NewPacketConn(c.pc)
		c.v4 = p
		for _, step := range []func() error{
			func() error { return p.SetTTL(HopLimit) },
			func() error { return p.SetMulticastTTL(HopLimit) },
			func() error { return p.SetMulticastInterface(c.ifi) },
			func() error { return p.SetMulticastLoopback(cfg.Loopback) },
			func() error { return p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true) },
			func() error {
				if cfg.NoMulticast {
					return nil
				}
				return p.JoinGroup(c.ifi, &net.IPAddr{IP: GroupV4.AsSlice()})
			},
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	}
	p := ipv6.NewPacketConn(c.pc)
	c.v6 = p
	for _, step := range []func() error{
		func() error { return p.SetHopLimit(HopLimit) },
		func() error { return p.SetMulticastHopLimit(HopLimit) },
		func() error { return p.SetMulticastInterface(c.ifi) },
		func() error { return p.SetMulticastLoopback(cfg.Loopback) },
		func() error {
			return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		},
		func() error {
			if cfg.NoMulticast {
				return nil
			}
			return p.JoinGroup(c.ifi, &net.IPAddr{IP: GroupV6.AsSlice()})
		},
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// interfaceSource picks the default source: the first IPv4 address, or the
// IPv6 link-local address.
func interfaceSource(ifi *net.Interface, is6 bool) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vrrp: dial %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if !is6 && ip.Is4() || is6 && ip.Is6() && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
	}
	want := "IPv4 address"
	if is6 {
		want = "IPv6 link-local address"
	}
	return netip.Addr{}, fmt.Errorf("vrrp: dial %s: %w: interface has no %s", ifi.Name, ErrAddrFamily, want)
}

// Src returns the source address of sent adverts; the Sender needs it for
// the v3 checksum.
func (c *Conn) Src() netip.Addr { return c.src }

// Interface returns the interface the connection is bound to.
func (c *Conn) Interface() *net.Interface { return c.ifi }

// ReadFrom implements PacketConn.
func (c *Conn) ReadFrom(b []byte) (int, PacketInfo, error) {
	info := PacketInfo{HopLimit: -1}
	if c.v4 != nil {
		n, cm, src, err := c.v4.ReadFrom(b)
		if err != nil {
			return 0, info, err
		}
		if cm != nil {
			info.HopLimit, info.IfIndex = cm.TTL, cm.IfIndex
			info.Dst, _ = netip.AddrFromSlice(cm.Dst.To4())
		}
		if a, ok := src.(*net.IPAddr); ok {
			info.Src, _ = netip.AddrFromSlice(a.IP.To4())
		}
		return n, info, nil
	}
	n, cm, src, err := c.v6.ReadFrom(b)
	if err != nil {
		return 0, info, err
	}
	if cm != nil {
		info.HopLimit, info.IfIndex = cm.HopLimit, cm.IfIndex
		info.Dst, _ = netip.AddrFromSlice(cm.Dst)
	}
	if a, ok := src.(*net.IPAddr); ok {
		info.Src, _ = netip.AddrFromSlice(a.IP)
		if info.Src.IsLinkLocalUnicast() {
			// Not a.Zone: the net package names zones from the interfaces
			// of whatever namespace its thread is in.
			info.Src = info.Src.WithZone(c.ifi.Name)
		}
	}
	return n, info, nil
}

// WriteTo implements PacketConn.
func (c *Conn) WriteTo(b []byte, dst netip.Addr) error {
	to := &net.IPAddr{IP: dst.AsSlice()}
	var err error
	if c.v4 != nil {
		_, err = c.v4.WriteTo(b, &ipv4.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index}, to)
	} else {
		if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
			// By number: the net package would resolve a name among the
			// interfaces of whatever namespace the calling thread is in.
			to.Zone = strconv.Itoa(c.ifi.Index)
		}
		_, err = c.v6.WriteTo(b, &ipv6.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index, HopLimit: HopLimit}, to)
	}
	if err != nil {
		return fmt.Errorf("vrrp: send to %v on %s: %w", dst, c.ifi.Name, err)
	}
	return nil
}

// SetReadDeadline implements PacketConn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.pc.SetReadDeadline(t) }

// Close implements PacketConn.
func (c *Conn) Close() error { return c.pc.Close() }
