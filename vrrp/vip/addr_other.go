//go:build !linux

package vip

import "net/netip"

// NetlinkConn is the Linux AddrConn; on this platform every method fails
// with ErrUnimplemented.
type NetlinkConn struct{}

var _ AddrConn = (*NetlinkConn)(nil)

// NewNetlinkConn fails with ErrUnimplemented off Linux.
func NewNetlinkConn() (*NetlinkConn, error) {
	return nil, opErr("open netlink", "", netip.Prefix{}, ErrUnimplemented)
}

// Close does nothing.
func (c *NetlinkConn) Close() error { return nil }

// Add fails with ErrUnimplemented.
func (c *NetlinkConn) Add(a Address) error { return opErr("add", a.Iface, a.Prefix, ErrUnimplemented) }

// Replace fails with ErrUnimplemented.
func (c *NetlinkConn) Replace(a Address) error {
	return opErr("replace", a.Iface, a.Prefix, ErrUnimplemented)
}

// Delete fails with ErrUnimplemented.
func (c *NetlinkConn) Delete(iface string, p netip.Prefix) error {
	return opErr("delete", iface, p, ErrUnimplemented)
}

// List fails with ErrUnimplemented.
func (c *NetlinkConn) List(iface string) ([]Address, error) {
	return nil, opErr("list", iface, netip.Prefix{}, ErrUnimplemented)
}
