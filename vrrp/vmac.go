package vrrp

import "net"

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
