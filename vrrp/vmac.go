package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// VirtualMAC returns the virtual router MAC address of a VRID (RFC 5798
// §7.3): 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
// keepalived's use_vmac gives its macvlan interface this address.
func VirtualMAC(vrid uint8, ipv6 bool) net.HardwareAddr {
	fam := byte(1)
	if ipv6 {
		fam = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, fam, vrid}
}

// VMAC is keepalived's use_vmac interface of one instance: a macvlan on
// the instance's interface carrying the virtual router MAC, on which the
// holder puts the VIPs and from which it sends its adverts and gratuitous
// ARPs, so that the VIP's MAC does not change when the holder does.
//
// Every director has it, holding or not: it exists from startup to
// shutdown. A backup's VMAC sends nothing (no addresses, IPv6 off or
// without automatic link-local address, no multicast group joined), so
// switches learn the virtual MAC from the holder only.
type VMAC struct {
	// Parent is the instance's interface.
	Parent string
	// Name is the macvlan's name; keepalived's default is DefaultVMACName.
	Name string
	// MAC is the macvlan's address; zero: VirtualMAC(VRID, IPv6).
	MAC  net.HardwareAddr
	VRID uint8
	IPv6 bool
	// LinkLocal, when valid (IPv6 only), is added to the VMAC (without
	// duplicate address detection) as the source of adverts sent from it:
	// keepalived copies the parent's link-local address. Leave it zero
	// with vmac_xmit_base, where adverts go from the parent.
	LinkLocal netip.Addr
}

// Addr returns the MAC the VMAC has: MAC, or the virtual router MAC.
func (v VMAC) Addr() net.HardwareAddr {
	if len(v.MAC) != 0 {
		return v.MAC
	}
	return VirtualMAC(v.VRID, v.IPv6)
}

// DefaultVMACName is keepalived's name for the VMAC of a VRID: "vrrp.51".
func DefaultVMACName(vrid uint8) string { return fmt.Sprintf("vrrp.%d", vrid) }

// ParseVMACAddr parses use_vmac's MAC_ADDRESS argument: six octets, or
// five to which the VRID is appended (keepalived's rule).
func ParseVMACAddr(s string, vrid uint8) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil {
		if mac, err = net.ParseMAC(fmt.Sprintf("%s:%02x", s, vrid)); err != nil {
			return nil, fmt.Errorf("vrrp: use_vmac address %q: want six octets (or five, the VRID completing them)", s)
		}
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("vrrp: use_vmac address %q: not an Ethernet address", s)
	}
	if mac[0]&1 != 0 {
		return nil, errors.New("vrrp: use_vmac address " + s + ": a multicast MAC cannot be an interface's address")
	}
	return mac, nil
}
