// Package vrrp speaks VRRP on the wire for vigil: a codec for VRRPv2
// (RFC 3768) and VRRPv3 (RFC 5798) adverts as pure functions, an advert
// Sender and a Listener built on a small PacketConn interface, and a Linux
// raw-socket implementation of that interface.
//
// AddVMAC, PrepareVMACParent and DelVMAC manage keepalived's use_vmac
// interfaces (see VMAC): a macvlan per instance with the virtual router
// MAC, on which the holder's adverts and VIPs go.
//
// The package never decides who holds a virtual router: the cluster does.
// The Sender only announces what it is told to hold, and the Listener only
// reports adverts it did not expect (the split-brain monitor).
//
// # Wire format
//
// VRRPv2 (RFC 3768 §5.1), IPv4 only, IP protocol 112, TTL 255, sent to
// 224.0.0.18 or a unicast peer:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Auth Type   |   Adver Int   |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         IP Address (1)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                            .....                              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         IP Address (n)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Authentication Data (1)                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Authentication Data (2)                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Version is 2 and Type is 1 (ADVERTISEMENT). Adver Int is in seconds.
// Auth Type is 0 (none), 1 (simple text password: the 8 bytes of
// Authentication Data, zero padded) or 2 (IP AH, obsolete). The 8 bytes of
// Authentication Data are always present, whatever the Auth Type. The
// checksum is the Internet checksum (RFC 1071) of the VRRP message alone.
//
// VRRPv3 (RFC 5798 §5.1), IPv4 (224.0.0.18) or IPv6 (ff02::12, source the
// link-local address of the interface), IP protocol 112, TTL/hop limit 255:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|(rsvd) |     Max Adver Int     |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                                                               +
//	|                       IPvX Address(es)                        |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Version is 3, Max Adver Int is 12 bits of centiseconds, the 4 reserved
// bits are sent as zero and ignored on receipt, and there is no
// authentication. The checksum covers a pseudo-header and the VRRP message:
//
//	IPv4 (RFC 768 style)             IPv6 (RFC 8200 §8.1)
//	source address        4 bytes    source address          16 bytes
//	destination address   4 bytes    destination address     16 bytes
//	zero                  1 byte     upper-layer length       4 bytes
//	protocol (112)        1 byte     zero                     3 bytes
//	VRRP length           2 bytes    next header (112)        1 byte
//
// keepalived 2.2.7 computes the VRRPv3-over-IPv4 checksum with the
// pseudo-header, the unicast peer as its destination. RFC 9568 (which
// obsoletes RFC 5798) computes it over the VRRP message alone, as v2 does;
// so do FRR, Cisco and keepalived 2.3 with v3_checksum_as_v2:
// Options.ChecksumAsV2 selects that. Options.OldUnicastChecksum puts the
// group address in the pseudo-header of unicast adverts, as keepalived's
// old_unicast_checksum does. Neither affects IPv6.
//
// # Validation
//
// Parse checks everything RFC 3768 §7.1 and RFC 5798 §7.1 ask of a receiver
// that can be checked from the packet, its addresses and its TTL, and
// CheckLocal checks it against the receiving instance. Every rejection wraps
// one of the sentinel errors (ErrTTL, ErrVersion, ...); Reason maps an error
// to a short label for metrics.
//
// Two things real routers do are allowed where a split-brain monitor needs
// it: the Listener checks the TTL/hop limit of multicast adverts only (as
// keepalived does; keepalived 2.2.7 sends IPv6 unicast adverts with hop
// limit 64), and ParseOptions.AnyV3Checksum accepts any of the three v3
// IPv4 checksum conventions.
//
// The captured adverts of keepalived 2.2.7 in testdata/keepalived/ decode
// with every field as configured and re-encode to the same bytes; tshark
// dissects our adverts without an expert info; keepalived as BACKUP stays
// BACKUP beside our Sender, without a complaint in its log.
//
// # Drivers
//
// The Sender and the Listener are thin loops around a PacketConn. Their
// ordering contract:
//
//  1. Sender.Hold sends one advert at once, then one every advert interval
//     until Release or the end of Run.
//  2. Sender.Release stops the periodic adverts and sends exactly one
//     priority-0 advert, after any advert already being sent: no advert with
//     a non-zero priority follows it. The caller removes the VIPs (and LVS
//     services) before calling Release.
//  3. The Listener decodes every packet, counts each drop by reason, and
//     calls OnForeign for every valid advert for one of its VRIDs that does
//     not come from the expected holder, in arrival order, from its Run
//     goroutine.
package vrrp
