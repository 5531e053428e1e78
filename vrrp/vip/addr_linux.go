package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetlinkConn is the Linux AddrConn: rtnetlink through a netlink.Handle
// bound to the network namespace of the thread that called
// NewNetlinkConn (tests create it inside netns.Host.Do). It is safe for
// concurrent use.
type NetlinkConn struct {
	h *netlink.Handle
}

var _ AddrConn = (*NetlinkConn)(nil)

// NewNetlinkConn opens an rtnetlink socket in the calling thread's network
// namespace.
func NewNetlinkConn() (*NetlinkConn, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, opErr("open netlink", "", netip.Prefix{}, err)
	}
	return &NetlinkConn{h: h}, nil
}

// Close closes the netlink socket.
func (c *NetlinkConn) Close() error {
	c.h.Close()
	return nil
}

// Add is `ip addr add` (NLM_F_EXCL): ErrExist when the address is there.
func (c *NetlinkConn) Add(a Address) error { return c.set("add", a) }

// Replace is `ip addr replace`: adds, or refreshes the lifetimes.
func (c *NetlinkConn) Replace(a Address) error { return c.set("replace", a) }

func (c *NetlinkConn) set(op string, a Address) error {
	if err := a.Validate(); err != nil {
		return opErr(op, a.Iface, a.Prefix, err)
	}
	link, err := c.link(a.Iface)
	if err != nil {
		return opErr(op, a.Iface, a.Prefix, err)
	}
	na := toNetlink(a.Normalized())
	if op == "add" {
		err = c.h.AddrAdd(link, na)
	} else {
		err = c.h.AddrReplace(link, na)
	}
	return opErr(op, a.Iface, a.Prefix, kernelErr(err))
}

// Delete is `ip addr del`: ErrNotExist when the address is not there.
func (c *NetlinkConn) Delete(iface string, p netip.Prefix) error {
	if !p.IsValid() {
		return opErr("delete", iface, p, fmt.Errorf("%w: address %q is not a valid prefix", ErrInvalid, p))
	}
	link, err := c.link(iface)
	if err != nil {
		return opErr("delete", iface, p, err)
	}
	return opErr("delete", iface, p, kernelErr(c.h.AddrDel(link, &netlink.Addr{IPNet: ipNet(p)})))
}

// List is `ip addr show dev IFACE`, IPv4 then IPv6.
func (c *NetlinkConn) List(iface string) ([]Address, error) {
	link, err := c.link(iface)
	if err != nil {
		return nil, opErr("list", iface, netip.Prefix{}, err)
	}
	var out []Address
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		as, err := c.h.AddrList(link, fam)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, opErr("list", iface, netip.Prefix{}, kernelErr(err))
		}
		for _, na := range as {
			if a, ok := fromNetlink(iface, na); ok {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

func (c *NetlinkConn) link(name string) (netlink.Link, error) {
	l, err := c.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, ErrNoInterface
		}
		return nil, err
	}
	return l, nil
}

// kernelErr maps an errno to the package's sentinels, keeping the errno.
func kernelErr(err error) error {
	var en syscall.Errno
	if err == nil || !errors.As(err, &en) {
		return err
	}
	switch en {
	case unix.EEXIST:
		return fmt.Errorf("%w (%w)", ErrExist, en)
	case unix.EADDRNOTAVAIL, unix.ENOENT, unix.ESRCH:
		return fmt.Errorf("%w (%w)", ErrNotExist, en)
	case unix.ENODEV:
		return fmt.Errorf("%w (%w)", ErrNoInterface, en)
	case unix.EINVAL, unix.ERANGE:
		return fmt.Errorf("%w (%w)", ErrInvalid, en)
	}
	return err
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func toNetlink(a Address) *netlink.Addr {
	na := &netlink.Addr{
		IPNet: ipNet(a.Prefix),
		Label: a.Label,
		Scope: int(a.Scope),
	}
	if a.Prefix.Addr().Is4() {
		if a.Broadcast.IsValid() {
			na.Broadcast = a.Broadcast.AsSlice()
		} else {
			na.Broadcast = net.IPv4zero // no broadcast: stop netlink computing one
		}
	} else {
		// A VIP moves between hosts: duplicate address detection would
		// hold it tentative (unusable, no NA may be sent for it) and mark
		// it dadfailed while the old holder still answers. keepalived adds
		// its IPv6 VIPs with NODAD too.
		na.Flags = unix.IFA_F_NODAD
	}
	if a.ValidLft != 0 {
		na.ValidLft = int(KernelSeconds(a.ValidLft))
		na.PreferedLft = int(KernelSeconds(a.PreferredLft))
	}
	return na
}

const forever = 0xFFFFFFFF

func fromNetlink(iface string, na netlink.Addr) (Address, bool) {
	if na.IPNet == nil {
		return Address{}, false
	}
	ip, ok := netip.AddrFromSlice(na.IP)
	if !ok {
		return Address{}, false
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	ones, _ := na.Mask.Size()
	a := Address{
		Iface:  iface,
		Prefix: netip.PrefixFrom(ip, ones),
		Scope:  Scope(na.Scope),
	}
	if ip.Is4() {
		if na.Label != iface {
			a.Label = na.Label // the kernel reports the interface name when unlabelled
		}
		if b, ok := netip.AddrFromSlice(na.Broadcast); ok {
			a.Broadcast = b.Unmap()
		}
	}
	if na.ValidLft != forever {
		a.ValidLft = time.Duration(na.ValidLft) * time.Second
	}
	if na.PreferedLft != forever {
		a.PreferredLft = time.Duration(na.PreferedLft) * time.Second
	}
	return a, true
}
