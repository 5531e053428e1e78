package vrrptest

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"vigil/vrrp"
)

var (
	a4 = netip.MustParseAddr("10.0.0.1")
	b4 = netip.MustParseAddr("10.0.0.2")
	c4 = netip.MustParseAddr("10.0.0.3")
	a6 = netip.MustParseAddr("fe80::1")
)

// read returns the next message on p, or fails after a second.
func read(t *testing.T, p *Port) (string, vrrp.PacketInfo) {
	t.Helper()
	p.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 100)
	n, info, err := p.ReadFrom(buf)
	if err != nil {
		t.Fatalf("ReadFrom on %v: %v", p.Addr(), err)
	}
	return string(buf[:n]), info
}

// empty checks that nothing is queued on p.
func empty(t *testing.T, p *Port) {
	t.Helper()
	p.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, info, err := p.ReadFrom(make([]byte, 100)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("port %v received %d bytes %+v, err %v; want nothing", p.Addr(), n, info, err)
	}
}

func TestLANDelivery(t *testing.T) {
	lan := NewLAN()
	pa, pb, pc, p6 := lan.Port(a4), lan.Port(b4), lan.Port(c4), lan.Port(a6)
	if got, want := lan.String(), "port 1 10.0.0.1 queued=0\nport 2 10.0.0.2 queued=0\nport 3 10.0.0.3 queued=0\nport 4 fe80::1 queued=0\n"; got != want {
		t.Fatalf("String:\n%s\nwant\n%s", got, want)
	}

	// Multicast reaches every other port of the family, not the sender.
	pa.WriteTo([]byte("m1"), vrrp.GroupV4)
	for _, p := range []*Port{pb, pc} {
		if s, info := read(t, p); s != "m1" || info.Src != a4 || info.Dst != vrrp.GroupV4 || info.HopLimit != 255 {
			t.Errorf("port %v got %q %+v", p.Addr(), s, info)
		}
	}
	empty(t, pa)
	empty(t, p6)

	// Unicast reaches only its destination, with the sender's hop limit.
	pa.SetHopLimit(64)
	pa.WriteTo([]byte("u1"), c4)
	if s, info := read(t, pc); s != "u1" || info.Dst != c4 || info.HopLimit != 64 || info.IfIndex != 3 {
		t.Errorf("unicast got %q %+v", s, info)
	}
	empty(t, pb)

	// Faults: drop to b, duplicate to c.
	lan.SetFault(func(d Delivery) Fate {
		if d.To == b4 {
			return Fate{Drop: true}
		}
		return Fate{Copies: 1}
	})
	pa.WriteTo([]byte("f"), vrrp.GroupV4)
	empty(t, pb)
	for range 2 {
		if s, _ := read(t, pc); s != "f" {
			t.Errorf("duplicate got %q", s)
		}
	}
	empty(t, pc)

	// Delay: nothing at once, then the message.
	lan.SetFault(func(d Delivery) Fate { return Fate{Delay: 50 * time.Millisecond} })
	pa.WriteTo([]byte("late"), b4)
	empty(t, pb)
	if s, _ := read(t, pb); s != "late" {
		t.Errorf("delayed got %q", s)
	}

	// Close: pending reads end, the port leaves the LAN, writes fail.
	done := make(chan error)
	pb.SetReadDeadline(time.Time{})
	go func() { _, _, err := pb.ReadFrom(make([]byte, 10)); done <- err }()
	pb.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrom after Close = %v, want net.ErrClosed", err)
	}
	if err := pb.WriteTo([]byte("x"), c4); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo after Close = %v", err)
	}
	if err := pb.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if got, want := lan.String(), "port 1 10.0.0.1 queued=0\nport 3 10.0.0.3 queued=0\nport 4 fe80::1 queued=0\n"; got != want {
		t.Errorf("String after Close:\n%s", got)
	}
}

func TestPortDeadlineInterruptsRead(t *testing.T) {
	p := NewLAN().Port(a4)
	done := make(chan error)
	go func() { _, _, err := p.ReadFrom(make([]byte, 10)); done <- err }()
	time.Sleep(10 * time.Millisecond)
	p.SetReadDeadline(time.Unix(1, 0))
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom = %v, want deadline exceeded", err)
	}
}
