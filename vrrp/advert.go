package vrrp

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Protocol numbers, groups and limits of VRRP.
const (
	IPProto    = 112 // IP protocol number of VRRP
	HopLimit   = 255 // TTL / hop limit of every advert
	TypeAdvert = 1   // the only VRRP message type

	AuthNone   = 0 // v2 Auth Type: no authentication
	AuthPass   = 1 // v2 Auth Type: simple text password (keepalived auth_type PASS)
	AuthIPAH   = 2 // v2 Auth Type: IP Authentication Header (obsolete)
	headerLen  = 8
	authLen    = 8
	maxV3Intvl = 0x0fff // 12 bits of centiseconds
)

// Multicast groups of VRRP (RFC 3768 §5.2.2, RFC 5798 §5.1.1.2, §5.1.2.2).
var (
	GroupV4 = netip.MustParseAddr("224.0.0.18")
	GroupV6 = netip.MustParseAddr("ff02::12")
)

// Advert is one VRRP advertisement, version 2 or 3.
type Advert struct {
	Version  uint8 // 2 (RFC 3768, IPv4 only) or 3 (RFC 5798)
	VRID     uint8 // virtual router ID, 1-255
	Priority uint8 // 255: address owner, 0: the master is leaving
	// AuthType is the v2 Auth Type (AuthNone, AuthPass, AuthIPAH); v3 has
	// none and it must be 0.
	AuthType uint8
	// Interval is the advert interval: whole seconds for v2 (0-255 s),
	// centiseconds for v3 (0-40.95 s). AppendMarshal rejects any other value.
	Interval time.Duration
	// Addrs are the virtual addresses, all of the family of the IP
	// packet carrying the advert. For IPv6 the first should be link-local.
	Addrs []netip.Addr
	// AuthData is the v2 Authentication Data: for AuthPass the password,
	// zero padded. It must be zero for v3.
	AuthData [8]byte
}

// Options changes how adverts are encoded and checked, for
// interoperability.
type Options struct {
	// ChecksumAsV2 computes v3 checksums over IPv4 without the
	// pseudo-header, as RFC 9568 §5.2.8 clarifies, and as FRR ("no vrrp
	// checksum-with-ipv4-pseudoheader"), Cisco and keepalived 2.3's
	// v3_checksum_as_v2 do. Off: the RFC 5798 pseudo-header, as keepalived
	// 2.2.7 does. No effect on IPv6.
	ChecksumAsV2 bool
	// OldUnicastChecksum puts the group 224.0.0.18 instead of the unicast
	// peer in the v3 IPv4 pseudo-header, as keepalived up to 1.3.6 did and
	// its old_unicast_checksum option still does.
	OldUnicastChecksum bool
}

// PasswordAuthData returns the v2 Authentication Data for a simple text
// password, as keepalived's auth_pass does: at most 8 bytes, zero padded.
func PasswordAuthData(pass string) ([8]byte, error) {
	var d [8]byte
	if len(pass) > len(d) {
		return d, fmt.Errorf("vrrp: password %q is longer than 8 bytes", pass)
	}
	copy(d[:], pass)
	return d, nil
}

// IntervalUnits returns the interval as carried on the wire: seconds for v2,
// centiseconds for v3.
func (a *Advert) IntervalUnits() (uint16, error) {
	switch a.Version {
	case 2:
		if a.Interval < 0 || a.Interval > 255*time.Second || a.Interval%time.Second != 0 {
			return 0, fmt.Errorf("vrrp: marshal: %w: %v is not 0-255 whole seconds (v2)", ErrInterval, a.Interval)
		}
		return uint16(a.Interval / time.Second), nil
	case 3:
		cs := 10 * time.Millisecond
		if a.Interval < 0 || a.Interval > maxV3Intvl*cs || a.Interval%cs != 0 {
			return 0, fmt.Errorf("vrrp: marshal: %w: %v is not 0-40.95s in centiseconds (v3)", ErrInterval, a.Interval)
		}
		return uint16(a.Interval / cs), nil
	}
	return 0, fmt.Errorf("vrrp: marshal: %w: %d", ErrVersion, a.Version)
}

// Len returns the length of the encoded VRRP message for this advert over
// the given family (4 or 16 bytes per address).
func (a *Advert) Len(is6 bool) int {
	n := headerLen
	if is6 {
		n += 16 * len(a.Addrs)
	} else {
		n += 4 * len(a.Addrs)
	}
	if a.Version == 2 {
		n += authLen
	}
	return n
}

// AppendMarshal appends the VRRP message (no IP header) for an advert
// carried from src to dst, and returns the extended buffer. src and dst
// select the family and enter the v3 checksum; they are the addresses of
// the IP packet, i.e. the sender's source address and the group or unicast
// peer. On error b is returned unchanged.
func (a *Advert) AppendMarshal(b []byte, src, dst netip.Addr, o Options) ([]byte, error) {
	src, dst = src.Unmap(), dst.Unmap()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return b, fmt.Errorf("vrrp: marshal: %w: source %v and destination %v", ErrAddrFamily, src, dst)
	}
	is6 := src.Is6()
	switch {
	case a.Version == 2 && is6:
		return b, fmt.Errorf("vrrp: marshal: %w: version 2 is IPv4 only (RFC 3768)", ErrVersion)
	case a.Version == 3 && (a.AuthType != 0 || a.AuthData != [8]byte{}):
		return b, fmt.Errorf("vrrp: marshal: %w: version 3 has no authentication", ErrAuth)
	}
	intvl, err := a.IntervalUnits()
	if err != nil {
		return b, err
	}
	if len(a.Addrs) == 0 || len(a.Addrs) > 255 {
		return b, fmt.Errorf("vrrp: marshal: %w: %d addresses, want 1-255", ErrAddrCount, len(a.Addrs))
	}
	for _, ip := range a.Addrs {
		if ip.Is6() && ip.Is4In6() || ip.Is6() != is6 || !ip.IsValid() {
			return b, fmt.Errorf("vrrp: marshal: %w: address %v in an IPv%d advert", ErrAddrFamily, ip, ipv(is6))
		}
	}

	start := len(b)
	b = append(b, a.Version<<4|TypeAdvert, a.VRID, a.Priority, uint8(len(a.Addrs)))
	if a.Version == 2 {
		b = append(b, a.AuthType, uint8(intvl))
	} else {
		b = binary.BigEndian.AppendUint16(b, intvl) // 4 reserved bits are zero
	}
	b = append(b, 0, 0) // checksum, filled below
	for _, ip := range a.Addrs {
		b = append(b, ip.AsSlice()...)
	}
	if a.Version == 2 {
		b = append(b, a.AuthData[:]...)
	}
	msg := b[start:]
	binary.BigEndian.PutUint16(msg[6:], checksum(a.Version, msg, src, dst, o))
	return b, nil
}

// Marshal is AppendMarshal into a new buffer.
func (a *Advert) Marshal(src, dst netip.Addr, o Options) ([]byte, error) {
	return a.AppendMarshal(make([]byte, 0, a.Len(src.Unmap().Is6())), src, dst, o)
}

// ParseOptions gives Parse what the socket layer knows about a packet.
type ParseOptions struct {
	Options
	// HopLimit is the TTL (IPv4) or hop limit (IPv6) the packet arrived
	// with; anything but 255 is ErrTTL. Negative means unknown: not checked
	// (a capture that lost it, say).
	HopLimit int
	// AnyV3Checksum accepts a v3-over-IPv4 advert whose checksum is right
	// in any of the three forms routers use (RFC 5798 pseudo-header, RFC
	// 9568 message only, keepalived's old unicast form), whatever Options
	// say, as keepalived does for its old form. For a split-brain monitor,
	// which must see a rogue router whatever its checksum convention.
	AnyV3Checksum bool
}

// Parse decodes and validates one VRRP message (no IP header) carried from
// src to dst, as far as the message alone allows: TTL, version (2 over IPv4,
// 3 over either), type, length, address count, checksum. b is not retained.
// Check the result against the receiving instance with CheckLocal.
func Parse(b []byte, src, dst netip.Addr, o ParseOptions) (*Advert, error) {
	src, dst = src.Unmap(), dst.Unmap()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return nil, fmt.Errorf("vrrp: parse: %w: source %v and destination %v", ErrAddrFamily, src, dst)
	}
	if o.HopLimit >= 0 && o.HopLimit != HopLimit {
		return nil, errorf("parse", ErrTTL, "got %d", o.HopLimit)
	}
	if len(b) < headerLen {
		return nil, fmt.Errorf("vrrp: parse: %d-byte message: %w", len(b), io.ErrUnexpectedEOF)
	}
	is6 := src.Is6()
	a := &Advert{Version: b[0] >> 4, VRID: b[1], Priority: b[2]}
	switch {
	case a.Version == 3:
	case a.Version == 2 && !is6:
	default:
		return nil, errorf("parse", ErrVersion, "version %d over IPv%d", a.Version, ipv(is6))
	}
	if t := b[0] & 0x0f; t != TypeAdvert {
		return nil, errorf("parse", ErrType, "type %d", t)
	}
	count := int(b[3])
	if count == 0 {
		return nil, errorf("parse", ErrAddrCount, "no addresses")
	}
	alen := 4
	if is6 {
		alen = 16
	}
	want := headerLen + count*alen
	if a.Version == 2 {
		want += authLen
	}
	if len(b) != want {
		return nil, errorf("parse", ErrLength, "%d bytes, want %d for %d IPv%d addresses", len(b), want, count, ipv(is6))
	}
	if got, sum := binary.BigEndian.Uint16(b[6:]), checksum(a.Version, b, src, dst, o.Options); got != sum && !o.anyChecksumMatches(got, a.Version, b, src, dst) {
		return nil, errorf("parse", ErrChecksum, "got %#04x, want %#04x", got, sum)
	}
	if a.Version == 2 {
		a.AuthType = b[4]
		a.Interval = time.Duration(b[5]) * time.Second
		copy(a.AuthData[:], b[want-authLen:])
	} else {
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&maxV3Intvl) * 10 * time.Millisecond
	}
	a.Addrs = make([]netip.Addr, count)
	for i := range a.Addrs {
		p := b[headerLen+i*alen:]
		if is6 {
			a.Addrs[i] = netip.AddrFrom16([16]byte(p[:16]))
			if a.Addrs[i].Is4In6() {
				// Marshal could not produce it, and no router has one.
				return nil, errorf("parse", ErrAddrFamily, "IPv4-mapped address %v in an IPv6 advert", a.Addrs[i])
			}
		} else {
			a.Addrs[i] = netip.AddrFrom4([4]byte(p[:4]))
		}
	}
	return a, nil
}

// anyChecksumMatches reports whether AnyV3Checksum accepts got.
func (o ParseOptions) anyChecksumMatches(got uint16, version uint8, b []byte, src, dst netip.Addr) bool {
	if !o.AnyV3Checksum || version != 3 || src.Is6() {
		return false
	}
	for _, alt := range []Options{{}, {ChecksumAsV2: true}, {OldUnicastChecksum: true}} {
		if checksum(version, b, src, dst, alt) == got {
			return true
		}
	}
	return false
}

// Local describes the receiving virtual router, for CheckLocal.
type Local struct {
	Version  uint8
	AuthType uint8   // v2
	AuthData [8]byte // v2, compared when AuthType is AuthPass
	// Interval is the local advert interval. v2 drops adverts with another
	// interval (RFC 3768 §7.1); v3 backups adopt the master's (RFC 5798
	// §6.4.2), so it is not compared.
	Interval time.Duration
	// Addrs, when not nil, must equal the advert's address set (RFC 3768
	// §7.1 "MAY verify"; keepalived drops on mismatch).
	Addrs []netip.Addr
}

// CheckLocal checks a parsed advert against the receiving virtual router:
// version, v2 authentication and interval, and the address list.
func CheckLocal(a *Advert, l *Local) error {
	if a.Version != l.Version {
		return errorf("check", ErrVersion, "got %d, configured %d", a.Version, l.Version)
	}
	if a.Version == 2 {
		if a.AuthType != l.AuthType {
			return errorf("check", ErrAuth, "auth type %d, configured %d", a.AuthType, l.AuthType)
		}
		if l.AuthType == AuthPass && a.AuthData != l.AuthData {
			return errorf("check", ErrAuth, "wrong password")
		}
		if a.Interval != l.Interval {
			return errorf("check", ErrIntervalMismatch, "got %v, configured %v", a.Interval, l.Interval)
		}
	}
	if l.Addrs != nil && !sameAddrSet(a.Addrs, l.Addrs) {
		return errorf("check", ErrAddrList, "got %v, configured %v", a.Addrs, l.Addrs)
	}
	return nil
}

func sameAddrSet(x, y []netip.Addr) bool {
	if len(x) != len(y) {
		return false
	}
	seen := make(map[netip.Addr]int, len(x))
	for _, a := range x {
		seen[a.WithZone("")]++
	}
	for _, a := range y {
		seen[a.WithZone("")]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// checksum computes the VRRP checksum of msg with its checksum field taken
// as zero.
func checksum(version uint8, msg []byte, src, dst netip.Addr, o Options) uint16 {
	var sum uint32
	if version == 3 && (src.Is6() || !o.ChecksumAsV2) {
		if o.OldUnicastChecksum && dst.Is4() {
			dst = GroupV4
		}
		sum = sumBytes(sum, src.AsSlice())
		sum = sumBytes(sum, dst.AsSlice())
		if src.Is6() {
			sum += uint32(len(msg)>>16) + uint32(len(msg)&0xffff) + IPProto
		} else {
			sum += IPProto + uint32(len(msg))
		}
	}
	sum = sumBytes(sum, msg[:6])
	sum = sumBytes(sum, msg[8:])
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// sumBytes adds b to a ones' complement sum as big-endian 16-bit words, the
// last odd byte padded with zero.
func sumBytes(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return sum
}

func ipv(is6 bool) int {
	if is6 {
		return 6
	}
	return 4
}
