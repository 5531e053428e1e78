package vrrp

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var (
	src4 = netip.MustParseAddr("10.0.0.2")
	src6 = netip.MustParseAddr("fe80::2")
)

// goldens are adverts with their exact bytes. The checksums were computed
// independently (a Python RFC 1071 implementation) and are confirmed on the
// wire by tshark and keepalived in the namespace tests.
var goldens = []struct {
	name     string
	adv      Advert
	src, dst netip.Addr
	opts     Options
	wire     []byte
}{
	{
		name: "v2 IPv4 PASS",
		adv: Advert{Version: 2, VRID: 51, Priority: 100, AuthType: AuthPass, Interval: time.Second,
			Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't'}},
		src: src4, dst: GroupV4,
		wire: []byte{
			0x21,       // version 2, type 1 (ADVERTISEMENT)
			51,         // VRID
			100,        // priority
			1,          // count IP addrs
			1,          // auth type 1 (simple text password)
			1,          // adver int 1 s
			0x33, 0x1a, // checksum over the VRRP message only
			10, 0, 0, 100, // 10.0.0.100
			's', 'e', 'c', 'r', 'e', 't', 0, 0, // auth data "secret", zero padded
		},
	},
	{
		name: "v3 IPv4",
		adv: Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second,
			Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("10.0.0.101")}},
		src: src4, dst: GroupV4,
		wire: []byte{
			0x31,       // version 3, type 1
			51,         // VRID
			100,        // priority
			2,          // count IPv4 addrs
			0x00, 0x64, // rsvd 0, max adver int 100 cs
			0x6b, 0x08, // checksum with the pseudo-header 10.0.0.2 > 224.0.0.18, proto 112, len 16
			10, 0, 0, 100, // 10.0.0.100
			10, 0, 0, 101, // 10.0.0.101
		},
	},
	{
		name: "v3 IPv4 checksum as v2",
		adv: Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second,
			Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("10.0.0.101")}},
		src: src4, dst: GroupV4, opts: Options{ChecksumAsV2: true},
		wire: []byte{
			0x31, 51, 100, 2, // version 3 type 1, VRID 51, priority 100, 2 addrs
			0x00, 0x64, // max adver int 100 cs
			0x55, 0x9d, // checksum over the message only (v3_checksum_as_v2)
			10, 0, 0, 100, 10, 0, 0, 101,
		},
	},
	{
		name: "v3 IPv6",
		adv: Advert{Version: 3, VRID: 7, Priority: 200, Interval: time.Second,
			Addrs: []netip.Addr{netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fd00::100")}},
		src: src6, dst: GroupV6,
		wire: []byte{
			0x31,       // version 3, type 1
			7,          // VRID
			200,        // priority
			2,          // count IPv6 addrs
			0x00, 0x64, // max adver int 100 cs
			0x0b, 0xdf, // checksum with the pseudo-header fe80::2 > ff02::12, len 40, next header 112
			0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // fe80::1
			0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, // fd00::100
		},
	},
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			got, err := g.adv.AppendMarshal([]byte{0xee}, g.src, g.dst, g.opts)
			if err != nil {
				t.Fatalf("AppendMarshal: %v", err)
			}
			if got[0] != 0xee || !bytes.Equal(got[1:], g.wire) {
				t.Fatalf("AppendMarshal:\n got % x\nwant % x", got[1:], g.wire)
			}
			if n := g.adv.Len(g.src.Is6()); n != len(g.wire) {
				t.Errorf("Len = %d, want %d", n, len(g.wire))
			}
			a, err := Parse(g.wire, g.src, g.dst, ParseOptions{Options: g.opts, HopLimit: 255})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*a, g.adv) {
				t.Fatalf("Parse:\n got %+v\nwant %+v", *a, g.adv)
			}
		})
	}
}

func TestChecksumDependsOnPseudoHeader(t *testing.T) {
	g := goldens[1] // v3 IPv4
	// Unicast to a peer: the destination enters the checksum.
	peer := netip.MustParseAddr("10.0.0.3")
	if _, err := Parse(g.wire, g.src, peer, ParseOptions{HopLimit: 255}); !errors.Is(err, ErrChecksum) {
		t.Errorf("Parse with another destination: err = %v, want ErrChecksum", err)
	}
	// keepalived's v3_checksum_as_v2 packet is rejected without the option.
	if _, err := Parse(goldens[2].wire, g.src, g.dst, ParseOptions{HopLimit: 255}); !errors.Is(err, ErrChecksum) {
		t.Errorf("Parse as-v2 checksum without the option: err = %v, want ErrChecksum", err)
	}
}

// mutate returns a copy of b with f applied.
func mutate(b []byte, f func(b []byte) []byte) []byte {
	return f(append([]byte(nil), b...))
}

func TestParseErrors(t *testing.T) {
	v2, v3, v6 := goldens[0].wire, goldens[1].wire, goldens[3].wire
	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		ttl      int
		want     error
		reason   string
	}{
		{"ttl 64", v2, src4, GroupV4, 64, ErrTTL, "ttl"},
		{"hop limit 1", v6, src6, GroupV6, 1, ErrTTL, "ttl"},
		{"empty", nil, src4, GroupV4, 255, io.ErrUnexpectedEOF, "short"},
		{"7 bytes", v3[:7], src4, GroupV4, 255, io.ErrUnexpectedEOF, "short"},
		{"version 1", mutate(v2, func(b []byte) []byte { b[0] = 0x11; return b }), src4, GroupV4, 255, ErrVersion, "version"},
		{"version 2 over IPv6", mutate(v6, func(b []byte) []byte { b[0] = 0x21; return b }), src6, GroupV6, 255, ErrVersion, "version"},
		{"type 2", mutate(v3, func(b []byte) []byte { b[0] = 0x32; return b }), src4, GroupV4, 255, ErrType, "type"},
		{"count 0", mutate(v3, func(b []byte) []byte { b[3] = 0; return b }), src4, GroupV4, 255, ErrAddrCount, "addr_count"},
		{"count 3 for 2 addrs", mutate(v3, func(b []byte) []byte { b[3] = 3; return b }), src4, GroupV4, 255, ErrLength, "length"},
		{"trailing byte", mutate(v3, func(b []byte) []byte { return append(b, 0) }), src4, GroupV4, 255, ErrLength, "length"},
		{"v2 without auth data", v2[:12], src4, GroupV4, 255, ErrLength, "length"},
		{"IPv4 message from IPv6", v3, src6, GroupV6, 255, ErrLength, "length"},
		{"bad checksum", mutate(v3, func(b []byte) []byte { b[7] ^= 1; return b }), src4, GroupV4, 255, ErrChecksum, "checksum"},
		{"corrupt address", mutate(v6, func(b []byte) []byte { b[20] ^= 0x80; return b }), src6, GroupV6, 255, ErrChecksum, "checksum"},
		{"mixed families", v3, src4, GroupV6, 255, ErrAddrFamily, "addr_family"},
		{"no source", v3, netip.Addr{}, GroupV4, 255, ErrAddrFamily, "addr_family"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.b, tt.src, tt.dst, ParseOptions{HopLimit: tt.ttl})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %+v, %v; want %v", a, err, tt.want)
			}
			if a != nil {
				t.Errorf("Parse returned an advert with an error: %+v", a)
			}
			if r := Reason(err); r != tt.reason {
				t.Errorf("Reason(%v) = %q, want %q", err, r, tt.reason)
			}
		})
	}
}

func TestParseUnknownTTL(t *testing.T) {
	if _, err := Parse(goldens[0].wire, src4, GroupV4, ParseOptions{HopLimit: -1}); err != nil {
		t.Fatalf("Parse with HopLimit -1: %v", err)
	}
}

func TestV3ReservedBitsIgnored(t *testing.T) {
	// RFC 5798 §5.2.4: the reserved bits MUST be ignored on receipt.
	b := mutate(goldens[1].wire, func(b []byte) []byte {
		b[4] |= 0xf0
		b[6] -= 0xf0 // keep the ones' complement sum: 0x6b08 - 0xf000 (mod 0xffff)
		b[7]--
		return b
	})
	a, err := Parse(b, src4, GroupV4, ParseOptions{HopLimit: 255})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if a.Interval != time.Second {
		t.Errorf("Interval = %v, want 1s", a.Interval)
	}
}

func TestMarshalErrors(t *testing.T) {
	ok4 := []netip.Addr{netip.MustParseAddr("10.0.0.100")}
	ok6 := []netip.Addr{netip.MustParseAddr("fe80::1")}
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	}
	tests := []struct {
		name     string
		a        Advert
		src, dst netip.Addr
		want     error
	}{
		{"version 4", Advert{Version: 4, Interval: time.Second, Addrs: ok4}, src4, GroupV4, ErrVersion},
		{"v2 over IPv6", Advert{Version: 2, Interval: time.Second, Addrs: ok6}, src6, GroupV6, ErrVersion},
		{"v2 sub-second", Advert{Version: 2, Interval: 1500 * time.Millisecond, Addrs: ok4}, src4, GroupV4, ErrInterval},
		{"v2 256s", Advert{Version: 2, Interval: 256 * time.Second, Addrs: ok4}, src4, GroupV4, ErrInterval},
		{"v3 5ms", Advert{Version: 3, Interval: 5 * time.Millisecond, Addrs: ok4}, src4, GroupV4, ErrInterval},
		{"v3 41s", Advert{Version: 3, Interval: 41 * time.Second, Addrs: ok4}, src4, GroupV4, ErrInterval},
		{"v3 negative", Advert{Version: 3, Interval: -time.Second, Addrs: ok4}, src4, GroupV4, ErrInterval},
		{"v3 auth", Advert{Version: 3, AuthType: AuthPass, Interval: time.Second, Addrs: ok4}, src4, GroupV4, ErrAuth},
		{"no addrs", Advert{Version: 3, Interval: time.Second}, src4, GroupV4, ErrAddrCount},
		{"256 addrs", Advert{Version: 3, Interval: time.Second, Addrs: many}, src4, GroupV4, ErrAddrCount},
		{"IPv6 addr in IPv4 advert", Advert{Version: 3, Interval: time.Second, Addrs: ok6}, src4, GroupV4, ErrAddrFamily},
		{"IPv4 addr in IPv6 advert", Advert{Version: 3, Interval: time.Second, Addrs: ok4}, src6, GroupV6, ErrAddrFamily},
		{"mapped addr", Advert{Version: 3, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.1")}}, src6, GroupV6, ErrAddrFamily},
		{"invalid addr", Advert{Version: 3, Interval: time.Second, Addrs: []netip.Addr{{}}}, src4, GroupV4, ErrAddrFamily},
		{"mixed src/dst", Advert{Version: 3, Interval: time.Second, Addrs: ok4}, src4, GroupV6, ErrAddrFamily},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.a.AppendMarshal([]byte{1, 2}, tt.src, tt.dst, Options{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("AppendMarshal err = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(b, []byte{1, 2}) {
				t.Errorf("AppendMarshal changed the buffer on error: % x", b)
			}
		})
	}
}

func TestCheckLocal(t *testing.T) {
	pass, err := PasswordAuthData("secret")
	if err != nil {
		t.Fatal(err)
	}
	v2 := goldens[0].adv
	local2 := Local{Version: 2, AuthType: AuthPass, AuthData: pass, Interval: time.Second, Addrs: v2.Addrs}
	v3 := goldens[1].adv
	local3 := Local{Version: 3, Interval: 3 * time.Second, Addrs: v3.Addrs} // v3 adopts the master's interval
	tests := []struct {
		name  string
		a     Advert
		local Local
		want  error
	}{
		{"v2 ok", v2, local2, nil},
		{"v3 ok, other interval", v3, local3, nil},
		{"v3 ok, addresses not checked", v3, Local{Version: 3}, nil},
		{"v3 addresses reordered", v3, Local{Version: 3, Addrs: []netip.Addr{v3.Addrs[1], v3.Addrs[0]}}, nil},
		{"version", v3, Local{Version: 2}, ErrVersion},
		{"v2 wrong password", v2, Local{Version: 2, AuthType: AuthPass, Interval: time.Second}, ErrAuth},
		{"v2 auth type", v2, Local{Version: 2, AuthType: AuthNone, Interval: time.Second}, ErrAuth},
		{"v2 interval", v2, Local{Version: 2, AuthType: AuthPass, AuthData: pass, Interval: 2 * time.Second}, ErrIntervalMismatch},
		{"v3 address missing", v3, Local{Version: 3, Addrs: v3.Addrs[:1]}, ErrAddrList},
		{"v3 other address", v3, Local{Version: 3, Addrs: []netip.Addr{v3.Addrs[0], netip.MustParseAddr("10.9.9.9")}}, ErrAddrList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckLocal(&tt.a, &tt.local); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CheckLocal = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPasswordAuthData(t *testing.T) {
	if _, err := PasswordAuthData("123456789"); err == nil {
		t.Error("PasswordAuthData accepted 9 bytes")
	}
	d, err := PasswordAuthData("12345678")
	if err != nil || d != [8]byte{'1', '2', '3', '4', '5', '6', '7', '8'} {
		t.Errorf("PasswordAuthData = %q, %v", d, err)
	}
}

func TestReason(t *testing.T) {
	if r := Reason(nil); r != "" {
		t.Errorf("Reason(nil) = %q", r)
	}
	if r := Reason(errors.New("x")); r != ReasonOther {
		t.Errorf("Reason(other) = %q", r)
	}
	seen := map[string]bool{}
	for _, r := range Reasons() {
		if seen[r] {
			t.Errorf("Reasons lists %q twice", r)
		}
		seen[r] = true
	}
	for _, e := range []error{ErrTTL, ErrVersion, ErrType, ErrChecksum, ErrLength, ErrAddrCount,
		ErrAddrFamily, ErrAddrList, ErrAuth, ErrIntervalMismatch, ErrInterval, ErrVRID, io.ErrUnexpectedEOF} {
		if !seen[Reason(e)] {
			t.Errorf("Reasons lacks %q (%v)", Reason(e), e)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	g := goldens[1]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(g.wire, g.src, g.dst, ParseOptions{HopLimit: 255}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMarshal(b *testing.B) {
	g := goldens[1]
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.adv.AppendMarshal(buf[:0], g.src, g.dst, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOldUnicastChecksum(t *testing.T) {
	// keepalived's old_unicast_checksum: a unicast v3 advert checksummed as
	// if sent to the group.
	g := goldens[1]
	peer := netip.MustParseAddr("10.0.0.3")
	b, err := g.adv.Marshal(g.src, peer, Options{OldUnicastChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, g.wire) {
		t.Fatalf("old unicast checksum:\n got % x\nwant % x", b, g.wire)
	}
	if _, err := Parse(b, g.src, peer, ParseOptions{HopLimit: 255, Options: Options{OldUnicastChecksum: true}}); err != nil {
		t.Fatal(err)
	}
}

func TestVirtualMAC(t *testing.T) {
	for _, tt := range []struct {
		vrid uint8
		ipv6 bool
		want string
	}{
		{1, false, "00:00:5e:00:01:01"},
		{51, false, "00:00:5e:00:01:33"},
		{255, true, "00:00:5e:00:02:ff"},
	} {
		if got := VirtualMAC(tt.vrid, tt.ipv6).String(); got != tt.want {
			t.Errorf("VirtualMAC(%d, %v) = %s, want %s", tt.vrid, tt.ipv6, got, tt.want)
		}
	}
}

func TestAnyV3Checksum(t *testing.T) {
	g := goldens[1] // v3 IPv4 to the group
	peer := netip.MustParseAddr("10.0.0.3")
	anyCk := ParseOptions{HopLimit: 255, AnyV3Checksum: true}
	for _, tt := range []struct {
		name string
		dst  netip.Addr
		o    Options
	}{
		{"RFC 5798 pseudo-header", g.dst, Options{}},
		{"RFC 9568 message only", g.dst, Options{ChecksumAsV2: true}},
		{"unicast, pseudo-header", peer, Options{}},
		{"unicast, RFC 9568", peer, Options{ChecksumAsV2: true}},
		{"unicast, keepalived old form", peer, Options{OldUnicastChecksum: true}},
	} {
		b, err := g.adv.Marshal(g.src, tt.dst, tt.o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b, g.src, tt.dst, anyCk); err != nil {
			t.Errorf("%s: Parse with AnyV3Checksum: %v", tt.name, err)
		}
		b[7] ^= 0x10
		if _, err := Parse(b, g.src, tt.dst, anyCk); !errors.Is(err, ErrChecksum) {
			t.Errorf("%s: corrupt checksum accepted: %v", tt.name, err)
		}
	}
	// v2 has one form only.
	v2 := goldens[0]
	b := mutate(v2.wire, func(b []byte) []byte { b[7]++; return b })
	if _, err := Parse(b, v2.src, v2.dst, anyCk); !errors.Is(err, ErrChecksum) {
		t.Errorf("v2 with a wrong checksum accepted: %v", err)
	}
}
