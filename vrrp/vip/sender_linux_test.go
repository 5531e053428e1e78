package vip_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/packet"

	"vigil/test/netns"
	"vigil/vrrp/vip"
)

// listenIn opens an AF_PACKET socket for ethertype on iface inside h.
func listenIn(t *testing.T, h *netns.Host, iface string, ethertype int) (*packet.Conn, net.HardwareAddr) {
	t.Helper()
	var c *packet.Conn
	var mac net.HardwareAddr
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		c, err = packet.Listen(ifi, packet.Raw, ethertype, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, mac
}

// readFrame returns the next frame on c, or fails after a few seconds.
func readFrame(t *testing.T, c *packet.Conn) []byte {
	t.Helper()
	buf := make([]byte, 1500)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no frame: %v", err)
	}
	return buf[:n]
}

// TestLinkSenderOnTheWire: what LinkSender puts on the wire is byte for
// byte what GARPFrame and NAFrame encode; it follows an interface that is
// deleted and created again, and names a missing one.
func TestLinkSenderOnTheWire(t *testing.T) {
	checkGoroutines(t)
	lab := netns.New(t)
	h := lab.Host("d1")
	h.MustRun("ip", "link", "add", "vgx", "type", "veth", "peer", "name", "vgy")
	h.MustRun("ip", "link", "set", "vgx", "up")
	h.MustRun("ip", "link", "set", "vgy", "up")
	h.MustRun("ip", "addr", "add", "fe80::1/64", "dev", "vgx", "nodad")

	var s *vip.LinkSender
	if err := h.Do(func() (err error) { s, err = vip.NewLinkSender(vip.SenderOptions{ARPReply: true}); return err }); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v4, v6 := netip.MustParseAddr("10.0.0.200"), netip.MustParseAddr("fd00::200")

	arpIn, _ := listenIn(t, h, "vgy", 0x0806)
	ip6In, _ := listenIn(t, h, "vgy", 0x86dd)
	_, mac := listenIn(t, h, "vgx", 0x0806) // just for vgx's MAC

	check := func(round int) {
		if err := s.Send(vip.Target{Iface: "vgx", Addr: v4}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, reply := range []bool{false, true} {
			want, _ := vip.GARPFrame(mac, v4, reply)
			if got := readFrame(t, arpIn); !bytes.Equal(got, want) {
				t.Errorf("round %d: GARP on the wire\n% x\nwant\n% x", round, got, want)
			}
		}
		if err := s.Send(vip.Target{Iface: "vgx", Addr: v6}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		want, _ := vip.NAFrame(mac, netip.MustParseAddr("fe80::1"), v6, false)
		for {
			got := readFrame(t, ip6In)
			if len(got) > 54 && got[20] == 58 && got[54] == 136 { // skip MLD and the like
				if !bytes.Equal(got, want) {
					t.Errorf("round %d: NA on the wire\n% x\nwant\n% x", round, got, want)
				}
				break
			}
		}
	}
	check(1)

	h.MustRun("ip", "link", "del", "vgx")
	if err := s.Send(vip.Target{Iface: "vgx", Addr: v4}); !errors.Is(err, vip.ErrNoInterface) {
		t.Fatalf("send on a deleted interface: %v, want ErrNoInterface", err)
	}
	h.MustRun("ip", "link", "add", "vgx", "type", "veth", "peer", "name", "vgy")
	h.MustRun("ip", "link", "set", "vgx", "up")
	h.MustRun("ip", "link", "set", "vgy", "up")
	h.MustRun("ip", "addr", "add", "fe80::1/64", "dev", "vgx", "nodad")
	arpIn, _ = listenIn(t, h, "vgy", 0x0806)
	ip6In, _ = listenIn(t, h, "vgy", 0x86dd)
	_, mac = listenIn(t, h, "vgx", 0x0806)
	check(2)
}
