//go:build !linux

package vip

import "net/netip"

// SenderOptions are the LinkSender's optional settings (unused off Linux).
type SenderOptions struct {
	ARPReply bool
	Router   bool
}

// LinkSender is the Linux Sender; on this platform it cannot be opened.
type LinkSender struct{}

var _ Sender = (*LinkSender)(nil)

// NewLinkSender fails with ErrUnimplemented off Linux.
func NewLinkSender(opts SenderOptions) (*LinkSender, error) {
	return nil, opErr("open sender", "", netip.Prefix{}, ErrUnimplemented)
}

// Send fails with ErrUnimplemented.
func (s *LinkSender) Send(tg Target) error {
	return opErr("announce", tg.Iface, netip.PrefixFrom(tg.Addr, tg.Addr.BitLen()), ErrUnimplemented)
}

// Close does nothing.
func (s *LinkSender) Close() error { return nil }
