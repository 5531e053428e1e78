package vip

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// arpHeader is the start of every ARP frame from testMAC, broadcast.
var arpHeader = concat(
	[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // dst broadcast
	[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, // src the interface
	[]byte{0x08, 0x06},                         // type ARP
	[]byte{0x00, 0x01},                         // hardware type Ethernet
	[]byte{0x08, 0x00},                         // protocol IPv4
	[]byte{6, 4},                               // sizes
)

func TestGARPFrameGolden(t *testing.T) {
	header := arpHeader
	padding := make([]byte, 18) // to the 60-byte Ethernet minimum
	for _, tc := range []struct {
		reply bool
		want  []byte
	}{
		{false, concat(header,
			[]byte{0x00, 0x01},                         // request (RFC 5227 ARP Announcement)
			[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, // sender MAC
			[]byte{10, 0, 0, 200},                      // sender IP: the VIP
			[]byte{0, 0, 0, 0, 0, 0},                   // target MAC: zero
			[]byte{10, 0, 0, 200},                      // target IP: the VIP
			padding)},
		{true, concat(header,
			[]byte{0x00, 0x02},                         // reply
			[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, // sender MAC
			[]byte{10, 0, 0, 200},                      // sender IP: the VIP
			[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // target MAC: broadcast
			[]byte{10, 0, 0, 200},                      // target IP: the VIP
			padding)},
	} {
		got, err := GARPFrame(testMAC, netip.MustParseAddr("10.0.0.200"), tc.reply)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("reply=%v\n got % x\nwant % x", tc.reply, got, tc.want)
		}
	}
	if _, err := GARPFrame(testMAC, netip.MustParseAddr("fd00::1"), false); !errors.Is(err, ErrInvalid) {
		t.Errorf("IPv6: %v, want ErrInvalid", err)
	}
	if _, err := GARPFrame(testMAC[:3], netip.MustParseAddr("10.0.0.1"), false); !errors.Is(err, ErrInvalid) {
		t.Errorf("short MAC: %v, want ErrInvalid", err)
	}
}

func TestProbeFrameGolden(t *testing.T) {
	want := concat(arpHeader,
		[]byte{0x00, 0x01},                         // request (RFC 5227 §2.1.1 ARP Probe)
		[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, // sender MAC
		[]byte{0, 0, 0, 0},                         // sender IP: 0.0.0.0, nobody learns from it
		[]byte{0, 0, 0, 0, 0, 0},                   // target MAC: zero
		[]byte{10, 0, 0, 200},                      // target IP: the address probed
		make([]byte, 18),                           // to the 60-byte Ethernet minimum
	)
	got, err := ProbeFrame(testMAC, netip.MustParseAddr("10.0.0.200"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("\n got % x\nwant % x", got, want)
	}
	if _, err := ProbeFrame(testMAC, netip.MustParseAddr("fd00::1")); !errors.Is(err, ErrInvalid) {
		t.Errorf("IPv6: %v, want ErrInvalid", err)
	}
}

// TestClaimOf: a reply, a request and an announcement carrying the
// address as sender IP claim it; a probe (sender 0.0.0.0) and a non-ARP
// frame do not.
func TestClaimOf(t *testing.T) {
	vip := netip.MustParseAddr("10.0.0.200")
	probe, _ := ProbeFrame(testMAC, vip)
	garp, _ := GARPFrame(testMAC, vip, false)
	reply, _ := GARPFrame(testMAC, vip, true)
	na, _ := NAFrame(testMAC, netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fd00::1"), false)
	for _, tc := range []struct {
		name  string
		frame []byte
		claim bool
	}{
		{"probe", probe, false},
		{"announcement", garp, true},
		{"reply", reply, true},
		{"neighbour advertisement", na, false},
		{"truncated", garp[:20], false},
	} {
		ip, mac, ok := claimOf(tc.frame)
		if ok != tc.claim || ok && (ip != vip || mac.String() != testMAC.String()) {
			t.Errorf("%s: claimOf = %v %v %v, want claim %v", tc.name, ip, mac, ok, tc.claim)
		}
	}
}
