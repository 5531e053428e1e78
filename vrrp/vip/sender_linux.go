package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// SenderOptions are the LinkSender's optional settings.
type SenderOptions struct {
	// ARPReply also sends a gratuitous ARP reply after each request (some
	// old devices only learn from replies); MetalLB does, keepalived not.
	ARPReply bool
	// Router sets the Router flag in neighbour advertisements: for VIPs
	// that hosts use as their IPv6 default gateway.
	Router bool
}

// LinkSender is the Linux Sender: it writes whole Ethernet frames (GARPFrame,
// NAFrame) on an AF_PACKET socket per interface, opened in the network
// namespace of the thread that called NewLinkSender, whichever goroutine
// sends later. It is safe for concurrent use.
type LinkSender struct {
	opts SenderOptions
	ns   netns.NsHandle
	h    *netlink.Handle

	mu    sync.Mutex
	links map[string]*linkConn
}

type linkConn struct {
	index int
	conn  *packet.Conn
}

var _ Sender = (*LinkSender)(nil)

// NewLinkSender opens a LinkSender in the calling thread's network
// namespace.
func NewLinkSender(opts SenderOptions) (*LinkSender, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, opErr("open sender", "", netip.Prefix{}, err)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, opErr("open sender", "", netip.Prefix{}, err)
	}
	return &LinkSender{opts: opts, ns: ns, h: h, links: map[string]*linkConn{}}, nil
}

// Close closes every socket.
func (s *LinkSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, l := range s.links {
		l.conn.Close()
		delete(s.links, name)
	}
	s.h.Close()
	return s.ns.Close()
}

// Send writes one announcement of tg.Addr on tg.Iface: GARP request (and
// reply) for IPv4, an unsolicited NA for IPv6 from the interface's
// link-local address (or, lacking one, from the VIP itself).
func (s *LinkSender) Send(tg Target) error {
	p := netip.PrefixFrom(tg.Addr, tg.Addr.BitLen())
	if err := s.send(tg); err != nil {
		return opErr("announce", tg.Iface, p, err)
	}
	return nil
}

func (s *LinkSender) send(tg Target) error {
	link, err := s.h.LinkByName(tg.Iface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return fmt.Errorf("%w: %s", ErrNoInterface, tg.Iface)
		}
		return err
	}
	attrs := link.Attrs()
	var frames [][]byte
	if tg.Addr.Is4() {
		f, err := GARPFrame(attrs.HardwareAddr, tg.Addr, false)
		if err != nil {
			return err
		}
		frames = append(frames, f)
		if s.opts.ARPReply {
			f, _ := GARPFrame(attrs.HardwareAddr, tg.Addr, true)
			frames = append(frames, f)
		}
	} else {
		src, err := s.source(link, tg.Addr)
		if err != nil {
			return err
		}
		f, err := NAFrame(attrs.HardwareAddr, src, tg.Addr, s.opts.Router)
		if err != nil {
			return err
		}
		frames = append(frames, f)
	}
	conn, err := s.conn(attrs)
	if err != nil {
		return err
	}
	for _, f := range frames {
		dst := net.HardwareAddr(f[0:6])
		if _, err := conn.WriteTo(f, &packet.Addr{HardwareAddr: dst}); err != nil {
			s.drop(tg.Iface)
			return err
		}
	}
	return nil
}

// source picks the NA's source address: the interface's link-local
// address, as keepalived does, else the VIP (RFC 4861 §7.2.4 allows any
// address assigned to the interface).
func (s *LinkSender) source(link netlink.Link, vip netip.Addr) (netip.Addr, error) {
	addrs, err := s.h.AddrList(link, netlink.FAMILY_V6)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
			return ip, nil
		}
	}
	return vip, nil
}

// conn returns the interface's socket, opening it (in the sender's
// namespace) on first use or when the interface was re-created.
func (s *LinkSender) conn(attrs *netlink.LinkAttrs) (*packet.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.links[attrs.Name]; ok {
		if l.index == attrs.Index {
			return l.conn, nil
		}
		l.conn.Close()
		delete(s.links, attrs.Name)
	}
	ifi := &net.Interface{Index: attrs.Index, Name: attrs.Name, HardwareAddr: attrs.HardwareAddr, MTU: attrs.MTU}
	var c *packet.Conn
	err := inNetNS(s.ns, func() error {
		var err error
		// Protocol 0: the socket sends and receives nothing.
		c, err = packet.Listen(ifi, packet.Raw, 0, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.links[attrs.Name] = &linkConn{index: attrs.Index, conn: c}
	return c, nil
}

func (s *LinkSender) drop(iface string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.links[iface]; ok {
		l.conn.Close()
		delete(s.links, iface)
	}
}

// inNetNS runs fn on an OS thread switched into ns, then switches the
// thread back. If switching back fails the thread stays locked, so it dies
// with its goroutine (or, if it is the main thread, is never reused) and no
// other goroutine runs in the wrong namespace.
func inNetNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return // the thread stays locked and poisoned: it dies with us
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
