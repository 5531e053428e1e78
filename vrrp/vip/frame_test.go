package vip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
)

var testMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}

// concat joins the field-commented pieces of a golden frame.
func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestNAFrameGolden(t *testing.T) {
	got, err := NAFrame(testMAC, netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fd00::200"), false)
	if err != nil {
		t.Fatal(err)
	}
	want := concat(
		// Ethernet
		[]byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, // dst: ff02::1's multicast MAC
		[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, // src: the interface
		[]byte{0x86, 0xdd},                         // type IPv6
		// IPv6
		[]byte{0x60, 0x00, 0x00, 0x00}, // version 6, traffic class 0, flow 0
		[]byte{0x00, 0x20},             // payload length 32
		[]byte{58},                     // next header ICMPv6
		[]byte{255},                    // hop limit 255 (RFC 4861 §7.1.2)
		[]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, // src fe80::1
		[]byte{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, // dst ff02::1
		// ICMPv6 neighbour advertisement
		[]byte{136, 0},                 // type 136, code 0
		[]byte{0x57, 0x1c},             // checksum (computed independently in Python)
		[]byte{0x20, 0x00, 0x00, 0x00}, // flags: Override; not Router, not Solicited
		[]byte{0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00}, // target fd00::200
		[]byte{2, 1}, // option: target link-layer address, 8 bytes
		[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
	)
	if !bytes.Equal(got, want) {
		t.Errorf("NA frame\n got % x\nwant % x", got, want)
	}
	// The checksum verifies: the sum over pseudo-header and message is 0.
	if c := icmpv6Checksum(netip.MustParseAddr("fe80::1"), AllNodes, got[54:]); c != 0 {
		t.Errorf("checksum does not verify: residue %#04x", c)
	}

	r, err := NAFrame(testMAC, netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fd00::200"), true)
	if err != nil {
		t.Fatal(err)
	}
	if r[54+4] != 0xa0 {
		t.Errorf("router flags %#02x, want 0xa0 (Router|Override)", r[58])
	}
	if c := icmpv6Checksum(netip.MustParseAddr("fe80::1"), AllNodes, r[54:]); c != 0 {
		t.Errorf("router NA checksum does not verify")
	}
	if binary.BigEndian.Uint16(r[56:58]) == binary.BigEndian.Uint16(got[56:58]) {
		t.Error("checksum did not change with the flags")
	}
}

func TestNAFrameRejects(t *testing.T) {
	ll, v6 := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fd00::1")
	for name, tc := range map[string]struct {
		mac         net.HardwareAddr
		src, target netip.Addr
	}{
		"short mac":        {testMAC[:4], ll, v6},
		"ipv4 target":      {testMAC, ll, netip.MustParseAddr("10.0.0.1")},
		"mapped target":    {testMAC, ll, netip.MustParseAddr("::ffff:10.0.0.1")},
		"no source":        {testMAC, netip.Addr{}, v6},
		"multicast target": {testMAC, ll, netip.MustParseAddr("ff02::1")},
	} {
		if _, err := NAFrame(tc.mac, tc.src, tc.target, false); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func FuzzNAFrame(f *testing.F) {
	f.Add([]byte{0xfe, 0x80, 15: 1}, []byte{0xfd, 15: 1}, false)
	f.Fuzz(func(t *testing.T, src, target []byte, router bool) {
		s, ok1 := netip.AddrFromSlice(src)
		d, ok2 := netip.AddrFromSlice(target)
		if !ok1 || !ok2 {
			return
		}
		b, err := NAFrame(testMAC, s, d, router)
		if err != nil {
			return
		}
		if len(b) != 86 || icmpv6Checksum(s, AllNodes, b[54:]) != 0 {
			t.Fatalf("bad frame for %s -> %s: % x", s, d, b)
		}
	})
}
