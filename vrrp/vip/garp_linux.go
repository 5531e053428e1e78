package vip

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// GARPFrame returns the Ethernet frame of a gratuitous ARP for vip from
// the interface with hardware address mac, broadcast:
//
//	Ethernet  dst ff:ff:ff:ff:ff:ff, src mac, type 0x0806, padded to 60 bytes
//	ARP       request (RFC 5227 §2.3 "ARP Announcement"): sender mac/vip,
//	          target 00:00:00:00:00:00/vip
//	          reply (when reply is set; some old devices only learn from
//	          replies): sender mac/vip, target ff:ff:ff:ff:ff:ff/vip
//
// Either way sender and target IP are the VIP, which is what makes it
// gratuitous: every host that has vip in its cache updates it to mac.
func GARPFrame(mac net.HardwareAddr, vip netip.Addr, reply bool) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("%w: hardware address %s is not Ethernet", ErrInvalid, mac)
	}
	vip = vip.Unmap()
	if !vip.Is4() {
		return nil, fmt.Errorf("%w: gratuitous ARP needs an IPv4 address, got %s", ErrInvalid, vip)
	}
	op, tha := arp.OperationRequest, net.HardwareAddr{0, 0, 0, 0, 0, 0}
	if reply {
		op, tha = arp.OperationReply, ethernet.Broadcast
	}
	p, err := arp.NewPacket(op, mac, vip, tha, vip)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := ethernet.Frame{Destination: ethernet.Broadcast, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}
