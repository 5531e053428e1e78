package vip

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func TestGARPFrameGolden(t *testing.T) {
	header := concat(
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // dst broadcast
		[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, // src the interface
		[]byte{0x08, 0x06},                         // type ARP
		[]byte{0x00, 0x01},                         // hardware type Ethernet
		[]byte{0x08, 0x00},                         // protocol IPv4
		[]byte{6, 4},                               // sizes
	)
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
