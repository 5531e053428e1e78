package arpwatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"vigil/fencing"
)

// ErrInvalid is returned for arguments a frame cannot be built from.
var ErrInvalid = errors.New("arpwatch: invalid argument")

// ErrUnsupported is returned by Open where there are no packet sockets.
var ErrUnsupported = errors.New("arpwatch: not supported on this system")

// Ethernet and ARP constants (RFC 826, RFC 894).
const (
	etherTypeARP  = 0x0806
	etherTypeIPv4 = 0x0800
	hwEthernet    = 1
	opRequest     = 1
	opReply       = 2
	ethHeader     = 14
	arpIPv4       = 28 // an ARP packet for IPv4 over Ethernet
	minFrame      = 60 // Ethernet minimum without the FCS
)

// ParseClaim decodes an Ethernet frame carrying ARP for IPv4 over
// Ethernet. It reports a claim when the packet says the sender IP is at
// the sender MAC on purpose: a reply, or a request whose sender and
// target IP are the same (a gratuitous ARP, RFC 5227 §2.3 announcement).
// An ordinary request claims nothing (the asker merely says where it is),
// nor does a probe (sender IP 0.0.0.0). At and Iface are left to the
// caller.
func ParseClaim(frame []byte) (fencing.ARPObservation, bool) {
	if len(frame) < ethHeader+arpIPv4 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeARP {
		return fencing.ARPObservation{}, false
	}
	a := frame[ethHeader:]
	if binary.BigEndian.Uint16(a[0:2]) != hwEthernet || binary.BigEndian.Uint16(a[2:4]) != etherTypeIPv4 || a[4] != 6 || a[5] != 4 {
		return fencing.ARPObservation{}, false
	}
	op := binary.BigEndian.Uint16(a[6:8])
	sip := netip.AddrFrom4([4]byte(a[14:18]))
	tip := netip.AddrFrom4([4]byte(a[24:28]))
	gratuitous := sip == tip
	if sip.IsUnspecified() || (op != opReply && !(op == opRequest && gratuitous)) {
		return fencing.ARPObservation{}, false
	}
	return fencing.ARPObservation{
		SenderIP:   sip,
		SenderMAC:  net.HardwareAddr(append([]byte(nil), a[8:14]...)),
		Gratuitous: gratuitous,
	}, true
}

// ProbeFrame returns the Ethernet frame of an ARP probe for vip from the
// interface with hardware address mac, broadcast (RFC 5227 §2.1.1):
//
//	Ethernet  dst ff:ff:ff:ff:ff:ff, src mac, type 0x0806, padded to 60 bytes
//	ARP       htype 1, ptype 0x0800, hlen 6, plen 4, op 1 (request)
//	          sender mac / 0.0.0.0, target 00:00:00:00:00:00 / vip
//
// Every host with vip configured answers it; with sender IP 0.0.0.0 no
// host learns anything from it.
func ProbeFrame(mac net.HardwareAddr, vip netip.Addr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("%w: hardware address %s is not Ethernet", ErrInvalid, mac)
	}
	vip = vip.Unmap()
	if !vip.Is4() {
		return nil, fmt.Errorf("%w: ARP probe needs an IPv4 address, got %s", ErrInvalid, vip)
	}
	f := make([]byte, minFrame)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:14], etherTypeARP)
	a := f[ethHeader:]
	binary.BigEndian.PutUint16(a[0:2], hwEthernet)
	binary.BigEndian.PutUint16(a[2:4], etherTypeIPv4)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], opRequest)
	copy(a[8:14], mac)
	// a[14:18] sender IP 0.0.0.0, a[18:24] target MAC zero
	t := vip.As4()
	copy(a[24:28], t[:])
	return f, nil
}
