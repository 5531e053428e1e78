package vip

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ethernet"
)

// AllNodes is ff02::1, where unsolicited neighbour advertisements go
// (RFC 4861 §7.2.6).
var AllNodes = netip.MustParseAddr("ff02::1")

// allNodesMAC is the Ethernet multicast address of ff02::1 (RFC 2464 §7).
var allNodesMAC = net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}

// NA flags (RFC 4861 §4.4).
const (
	naRouter    = 0x80
	naSolicited = 0x40
	naOverride  = 0x20
)

// NAFrame returns the Ethernet frame of an unsolicited neighbour
// advertisement (RFC 4861 §7.2.6) for target, sent from the interface with
// hardware address mac and link-local (or other assigned) address src to
// ff02::1:
//
//	Ethernet  dst 33:33:00:00:00:01, src mac, type 0x86dd
//	IPv6      hop limit 255 (§7.1.2), next header 58, src -> ff02::1
//	ICMPv6    type 136, code 0, checksum over the pseudo-header (RFC 8200 §8.1)
//	          flags: Override (so receivers replace the old MAC), Router if
//	          router is set, never Solicited
//	          target address
//	          option 2 (target link-layer address), length 1: mac
func NAFrame(mac net.HardwareAddr, src, target netip.Addr, router bool) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("%w: hardware address %s is not Ethernet", ErrInvalid, mac)
	}
	if !src.Is6() || src.Is4In6() || !target.Is6() || target.Is4In6() {
		return nil, fmt.Errorf("%w: neighbour advertisement needs IPv6 addresses, got source %s target %s", ErrInvalid, src, target)
	}
	if target.IsMulticast() {
		return nil, fmt.Errorf("%w: target %s is multicast (RFC 4861 §7.1.2)", ErrInvalid, target)
	}
	icmp := make([]byte, 32)
	icmp[0] = 136 // Neighbor Advertisement
	icmp[1] = 0   // code
	// icmp[2:4]: checksum, below
	icmp[4] = naOverride
	if router {
		icmp[4] |= naRouter
	}
	t := target.WithZone("").As16()
	copy(icmp[8:24], t[:])
	icmp[24] = 2 // option: target link-layer address
	icmp[25] = 1 // length in units of 8 bytes
	copy(icmp[26:32], mac)
	binary.BigEndian.PutUint16(icmp[2:4], icmpv6Checksum(src, AllNodes, icmp))

	ip := make([]byte, 40, 40+len(icmp))
	ip[0] = 6 << 4 // version 6, traffic class 0, flow label 0
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(icmp)))
	ip[6] = 58  // next header: ICMPv6
	ip[7] = 255 // hop limit
	s, d := src.WithZone("").As16(), AllNodes.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	ip = append(ip, icmp...)

	f := ethernet.Frame{Destination: allNodesMAC, Source: mac, EtherType: ethernet.EtherTypeIPv6, Payload: ip}
	return f.MarshalBinary()
}

// icmpv6Checksum is the Internet checksum (RFC 1071) of the IPv6
// pseudo-header (source, destination, upper-layer length, next header 58)
// and msg, whose checksum field must be zero.
func icmpv6Checksum(src, dst netip.Addr, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(b[0])<<8 | uint32(b[1])
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(msg)))
	l[7] = 58
	add(l[:])
	add(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
