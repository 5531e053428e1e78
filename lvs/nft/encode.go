package nft

import (
	"encoding/binary"
	"net/netip"

	"vigil/lvs"
)

// Element encodings. nft's integer type and jhash/numgen results are in
// host byte order (little-endian on every platform vigil targets);
// addresses and ports in network byte order; every field of a concatenation
// padded to 4 bytes.

var host = binary.LittleEndian

func u32(v uint32) []byte { b := make([]byte, 4); host.PutUint32(b, v); return b }

func ap4(ap netip.AddrPort) []byte {
	a := ap.Addr().As4()
	return []byte{a[0], a[1], a[2], a[3], byte(ap.Port() >> 8), byte(ap.Port()), 0, 0}
}

func decodeAP4(b []byte) netip.AddrPort {
	if len(b) < 6 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(b[4])<<8|uint16(b[5]))
}

// dispatchKey: proto . vip . vport (12 bytes).
func dispatchKey(k lvs.ServiceKey) []byte {
	return append([]byte{byte(k.Proto), 0, 0, 0}, ap4(netip.AddrPortFrom(k.Addr, k.Port))...)
}

func decodeDispatchKey(b []byte) (lvs.ServiceKey, bool) {
	if len(b) != 12 {
		return lvs.ServiceKey{}, false
	}
	ap := decodeAP4(b[4:])
	return lvs.ServiceKey{Proto: lvs.Proto(b[0]), Addr: ap.Addr(), Port: ap.Port()}, true
}

// weightKey: svcid . rs . port.
func weightKey(id uint32, r netip.AddrPort) []byte { return append(u32(id), ap4(r)...) }

// pickup key: proto . rs . port; value vip . vport.
func pickupKeyBytes(k pickupKey) []byte {
	return append([]byte{byte(k.Proto), 0, 0, 0}, ap4(k.Real)...)
}

func decodePickupKey(b []byte) (pickupKey, bool) {
	if len(b) != 12 {
		return pickupKey{}, false
	}
	return pickupKey{Proto: lvs.Proto(b[0]), Real: decodeAP4(b[4:])}, true
}
