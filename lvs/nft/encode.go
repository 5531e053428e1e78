package nft

import (
	"encoding/binary"
	"net/netip"

	"vigil/lvs"
)

// Element encodings. nft's integer and mark types, jhash/numgen results and
// meta mark are in host byte order (little-endian on every platform vigil
// targets); addresses and ports in network byte order; every field of a
// concatenation padded to 4 bytes. An address is 4 bytes in the ip and
// IPv4 netdev tables, 16 in the ip6 and IPv6 netdev tables.

var host = binary.LittleEndian

// weightBytes encodes a weight, the value of the reals maps. No rule reads
// it; big-endian makes `nft list` show it as it is (nft takes a map's data
// as big-endian).
func weightBytes(w int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(w)) }

func decodeWeight(b []byte) (int, bool) {
	if len(b) != 4 {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(b)), true
}

func appendU32(b []byte, v uint32) []byte { return host.AppendUint32(b, v) }

func appendPort(b []byte, p uint16) []byte { return append(b, byte(p>>8), byte(p), 0, 0) }

// appendAddr appends the address's bytes (4 or 16).
func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		a4 := a.As4()
		return append(b, a4[:]...)
	}
	a16 := a.As16()
	return append(b, a16[:]...)
}

// appendAP appends addr . port: the value of a NAT slot and of a pickup
// element.
func appendAP(b []byte, ap netip.AddrPort) []byte {
	return appendPort(appendAddr(b, ap.Addr()), ap.Port())
}

func decodeAddr(b []byte) (netip.Addr, bool) {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b)), true
	case 16:
		return netip.AddrFrom16([16]byte(b)), true
	}
	return netip.Addr{}, false
}

// decodeAP decodes addr . port of alen-byte addresses.
func decodeAP(b []byte, alen int) (netip.AddrPort, bool) {
	if len(b) != alen+4 {
		return netip.AddrPort{}, false
	}
	a, ok := decodeAddr(b[:alen])
	return netip.AddrPortFrom(a, uint16(b[alen])<<8|uint16(b[alen+1])), ok
}

// appendSvcKey appends a service's key in the dispatch maps: meta mark for
// a fwmark service (map marks), proto . vip . vport otherwise (map
// services).
func appendSvcKey(b []byte, k lvs.ServiceKey) []byte {
	if k.FWMark != 0 {
		return appendU32(b, k.FWMark)
	}
	b = append(b, byte(k.Proto), 0, 0, 0)
	return appendPort(appendAddr(b, k.Addr), k.Port)
}

// decodeSvcKey decodes a key written by appendSvcKey in a table whose
// addresses are alen bytes long.
func decodeSvcKey(b []byte, alen int) (lvs.ServiceKey, bool) {
	switch len(b) {
	case 4:
		k := lvs.ServiceKey{FWMark: host.Uint32(b), Addr: netip.IPv4Unspecified()}
		if alen == 16 {
			k.Addr = netip.IPv6Unspecified()
		}
		return k, k.FWMark != 0
	case alen + 8:
		a, ok := decodeAddr(b[4 : 4+alen])
		return lvs.ServiceKey{Proto: lvs.Proto(b[0]), Addr: a, Port: uint16(b[4+alen])<<8 | uint16(b[5+alen])}, ok && b[0] != 0
	}
	return lvs.ServiceKey{}, false
}

// A slot key is the service key . slot number (the key of the slots maps).
func appendSlotKey(b []byte, k lvs.ServiceKey, slot uint32) []byte {
	return appendU32(appendSvcKey(b, k), slot)
}

func decodeSlotKey(b []byte, alen int) (lvs.ServiceKey, uint32, bool) {
	if len(b) < 8 {
		return lvs.ServiceKey{}, 0, false
	}
	n := len(b) - 4
	k, ok := decodeSvcKey(b[:n], alen)
	return k, host.Uint32(b[n:]), ok
}

// A real key is the service key . rs . port (the key of the reals and
// mreals maps, whose value is the weight).
func appendRealKey(b []byte, k lvs.ServiceKey, r netip.AddrPort) []byte {
	return appendAP(appendSvcKey(b, k), r)
}

func decodeRealKey(b []byte, alen int) (lvs.ServiceKey, netip.AddrPort, bool) {
	n := len(b) - alen - 4
	if n < 4 {
		return lvs.ServiceKey{}, netip.AddrPort{}, false
	}
	k, ok := decodeSvcKey(b[:n], alen)
	ap, ok2 := decodeAP(b[n:], alen)
	return k, ap, ok && ok2
}

// The pickup map: proto . rs . port -> vip . vport.
func appendPickupKey(b []byte, k pickupKey) []byte {
	return appendAP(append(b, byte(k.Proto), 0, 0, 0), k.Real)
}

func decodePickupKey(b []byte, alen int) (pickupKey, bool) {
	if len(b) != alen+8 {
		return pickupKey{}, false
	}
	ap, ok := decodeAP(b[4:], alen)
	return pickupKey{Proto: lvs.Proto(b[0]), Real: ap}, ok
}
