package vrrp_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"vigil/vrrp"
)

func TestDialErrors(t *testing.T) {
	if _, err := vrrp.Dial(vrrp.DialConfig{Interface: "vg-no-such-if0"}); err == nil || !strings.Contains(err.Error(), "vg-no-such-if0") {
		t.Errorf("Dial on a missing interface: %v, want an error naming it", err)
	}
	if _, err := vrrp.Dial(vrrp.DialConfig{Interface: "lo", Src: netip.MustParseAddr("::1")}); !errors.Is(err, vrrp.ErrAddrFamily) {
		t.Errorf("Dial IPv4 with an IPv6 source: %v, want ErrAddrFamily", err)
	}
	l := newVRRPLab(t)
	h := l.lab.Host("v6only")
	h.Link(l.lan, "eth0", "fd00::5/64")
	err := h.Do(func() error { _, err := vrrp.Dial(vrrp.DialConfig{Interface: "eth0"}); return err })
	if !errors.Is(err, vrrp.ErrAddrFamily) || !strings.Contains(err.Error(), "no IPv4 address") {
		t.Errorf("Dial IPv4 on an interface without IPv4: %v", err)
	}
}

// TestConnOnTheWire: a Conn sends from the configured source (keepalived's
// mcast_src_ip) with TTL 255 and reports source, destination, TTL and
// interface of what it receives; a real Listener drops an advert that
// arrives with another TTL (RFC 5798 §7.1: it may come from off-link).
func TestConnOnTheWire(t *testing.T) {
	l := newVRRPLab(t)
	src := netip.MustParseAddr("10.0.0.19")
	l.vg.MustRun("ip", "addr", "add", src.String()+"/24", "dev", "eth0")
	tx := dial(t, l.vg, vrrp.DialConfig{Interface: "eth0", Src: src})
	if tx.Src() != src {
		t.Fatalf("Src = %v, want %v", tx.Src(), src)
	}
	rx := dial(t, l.ka, vrrp.DialConfig{Interface: "eth0"})
	kaIndex := rx.Interface().Index

	reports := make(chan vrrp.Foreign, 10)
	lis, err := vrrp.NewListener(rx, vrrp.ListenerConfig{
		Lookup:    func(vrid uint8) (vrrp.Watch, bool) { return vrrp.Watch{Local: vrrp.Local{Version: 3}}, vrid == 7 },
		OnForeign: func(f vrrp.Foreign) { reports <- f },
		Logger:    testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lis.Run(ctx) }()

	a := vrrp.Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: addrs("10.0.0.100")}
	b, err := a.Marshal(src, vrrp.GroupV4, vrrp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.WriteTo(b, vrrp.GroupV4); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-reports:
		if f.Info.Src != src || f.Info.Dst != vrrp.GroupV4 || f.Info.HopLimit != 255 || f.Info.IfIndex != kaIndex {
			t.Errorf("received with %+v, want src %v, dst %v, TTL 255, ifindex %d", f.Info, src, vrrp.GroupV4, kaIndex)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("advert not received")
	}

	// The same advert with TTL 1, from a socket that is not ours.
	err = l.vg.Do(func() error {
		c, err := net.ListenPacket("ip4:112", "0.0.0.0")
		if err != nil {
			return err
		}
		defer c.Close()
		p := ipv4.NewPacketConn(c)
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
		if err := p.SetMulticastTTL(1); err != nil {
			return err
		}
		_, err = p.WriteTo(b, &ipv4.ControlMessage{Src: src.AsSlice()}, &net.IPAddr{IP: vrrp.GroupV4.AsSlice()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for lis.Stats().Drops["ttl"] == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := lis.Stats(); st.Received != 2 || st.Drops["ttl"] != 1 || st.Foreign != 1 {
		t.Errorf("listener stats %+v, want 2 received, 1 foreign, 1 ttl drop", st)
	}
	if len(reports) != 0 {
		t.Errorf("the TTL-1 advert was reported: %+v", <-reports)
	}
}
