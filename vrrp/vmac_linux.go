package vrrp

import (
	"bytes"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// AddVMAC creates (or finds) keepalived's use_vmac interface: a macvlan
// named name (keepalived's default is "vrrp.VRID") on parent, in private
// mode, with the virtual router MAC of the VRID (RFC 5798 §7.3), and brings
// it up. Adverts and VIPs then go on it, so that the VIP's MAC does not
// change when the holder does. It is idempotent; an existing interface of
// that name with another parent, type or MAC is an error. It acts in the
// network namespace of the calling thread.
func AddVMAC(parent, name string, vrid uint8, ipv6 bool) (*net.Interface, error) {
	mac := VirtualMAC(vrid, ipv6)
	p, err := netlink.LinkByName(parent)
	if err != nil {
		return nil, fmt.Errorf("vrrp: add vmac %s on %q: %w", name, parent, err)
	}
	if l, err := netlink.LinkByName(name); err == nil {
		mv, ok := l.(*netlink.Macvlan)
		if !ok || mv.ParentIndex != p.Attrs().Index || !bytes.Equal(mv.HardwareAddr, mac) {
			return nil, fmt.Errorf("vrrp: add vmac %s on %s: %s exists and is a %s with MAC %s on link %d, want a macvlan with %s on %s",
				name, parent, name, l.Type(), l.Attrs().HardwareAddr, l.Attrs().ParentIndex, mac, parent)
		}
	} else {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("vrrp: add vmac %s: %w", name, err)
		}
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: p.Attrs().Index, HardwareAddr: mac},
			Mode:      netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := netlink.LinkAdd(mv); err != nil {
			return nil, fmt.Errorf("vrrp: add vmac %s (%s) on %s: %w", name, mac, parent, err)
		}
	}
	l, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		return nil, fmt.Errorf("vrrp: add vmac %s: set up: %w", name, err)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("vrrp: add vmac %s: %w", name, err)
	}
	return ifi, nil
}

// DelVMAC removes a use_vmac interface made by AddVMAC; a missing one is
// not an error. It refuses to remove anything but a macvlan.
func DelVMAC(name string) error {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("vrrp: delete vmac %s: %w", name, err)
	}
	if _, ok := l.(*netlink.Macvlan); !ok {
		return fmt.Errorf("vrrp: delete vmac %s: it is a %s, not a macvlan", name, l.Type())
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("vrrp: delete vmac %s: %w", name, err)
	}
	return nil
}
