package viptest

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/vrrp/vip"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestConnStates drives the fake through a table of operations and checks
// the kernel-like error and the whole rendered state after each.
func TestConnStates(t *testing.T) {
	clk := NewClock()
	c := NewConn(clk.Now, "eth0", "eth1")
	steps := []struct {
		name    string
		do      func() error
		wantErr error
		errno   syscall.Errno
		state   string
	}{
		{"add with label and lifetime", func() error {
			return c.Add(vip.Address{Iface: "eth0", Prefix: pfx("10.0.0.200/24"), Label: "eth0:vip", ValidLft: 3 * time.Second})
		}, nil, 0, "eth0 10.0.0.200/24 label eth0:vip valid 3s"},
		{"double add", func() error {
			return c.Add(vip.Address{Iface: "eth0", Prefix: pfx("10.0.0.200/24")})
		}, vip.ErrExist, syscall.EEXIST, "eth0 10.0.0.200/24 label eth0:vip valid 3s"},
		{"same IPv4 with another prefix length is another address", func() error {
			return c.Add(vip.Address{Iface: "eth0", Prefix: pfx("10.0.0.200/32")})
		}, nil, 0, "eth0 10.0.0.200/24 label eth0:vip valid 3s\neth0 10.0.0.200/32 valid forever"},
		{"delete needs the prefix length", func() error {
			return c.Delete("eth0", pfx("10.0.0.200/32"))
		}, nil, 0, "eth0 10.0.0.200/24 label eth0:vip valid 3s"},
		{"delete missing", func() error {
			return c.Delete("eth0", pfx("10.0.0.201/24"))
		}, vip.ErrNotExist, syscall.EADDRNOTAVAIL, "eth0 10.0.0.200/24 label eth0:vip valid 3s"},
		{"no such interface", func() error {
			return c.Add(vip.Address{Iface: "eth9", Prefix: pfx("10.0.0.200/24")})
		}, vip.ErrNoInterface, syscall.ENODEV, "eth0 10.0.0.200/24 label eth0:vip valid 3s"},
		{"IPv6 with scope and a non-default broadcast elsewhere", func() error {
			if err := c.Add(vip.Address{Iface: "eth1", Prefix: pfx("fd00::200/64"), ValidLft: 10 * time.Second, PreferredLft: 5 * time.Second}); err != nil {
				return err
			}
			return c.Add(vip.Address{Iface: "eth1", Prefix: pfx("192.168.1.5/24"), Scope: vip.ScopeHost, Broadcast: netip.MustParseAddr("192.168.1.0")})
		}, nil, 0, "eth0 10.0.0.200/24 label eth0:vip valid 3s\neth1 192.168.1.5/24 brd 192.168.1.0 scope host valid forever\neth1 fd00::200/64 valid 10s preferred 5s"},
		{"IPv6 identity is the IP alone", func() error {
			return c.Add(vip.Address{Iface: "eth1", Prefix: pfx("fd00::200/128")})
		}, vip.ErrExist, syscall.EEXIST, "eth0 10.0.0.200/24 label eth0:vip valid 3s\neth1 192.168.1.5/24 brd 192.168.1.0 scope host valid forever\neth1 fd00::200/64 valid 10s preferred 5s"},
		{"time passes: lifetimes count down, rounded up", func() error {
			clk.Advance(1500 * time.Millisecond)
			return nil
		}, nil, 0, "eth0 10.0.0.200/24 label eth0:vip valid 2s\neth1 192.168.1.5/24 brd 192.168.1.0 scope host valid forever\neth1 fd00::200/64 valid 9s preferred 4s"},
		{"replace refreshes the lifetime, keeps the label", func() error {
			return c.Replace(vip.Address{Iface: "eth0", Prefix: pfx("10.0.0.200/24"), Label: "other", ValidLft: 2500 * time.Millisecond})
		}, nil, 0, "eth0 10.0.0.200/24 label eth0:vip valid 3s\neth1 192.168.1.5/24 brd 192.168.1.0 scope host valid forever\neth1 fd00::200/64 valid 9s preferred 4s"},
		{"lifetime runs out: the kernel removes the address", func() error {
			clk.Advance(3 * time.Second)
			return nil
		}, nil, 0, "eth1 192.168.1.5/24 brd 192.168.1.0 scope host valid forever\neth1 fd00::200/64 valid 6s preferred 1s"},
		{"delete what expired", func() error {
			return c.Delete("eth0", pfx("10.0.0.200/24"))
		}, vip.ErrNotExist, syscall.EADDRNOTAVAIL, "eth1 192.168.1.5/24 brd 192.168.1.0 scope host valid forever\neth1 fd00::200/64 valid 6s preferred 1s"},
		{"invalid: label on IPv6", func() error {
			return c.Add(vip.Address{Iface: "eth1", Prefix: pfx("fd00::201/64"), Label: "eth1:x"})
		}, vip.ErrInvalid, 0, "eth1 192.168.1.5/24 brd 192.168.1.0 scope host valid forever\neth1 fd00::200/64 valid 6s preferred 1s"},
		{"invalid: label too long", func() error {
			return c.Add(vip.Address{Iface: "eth1", Prefix: pfx("10.1.0.1/24"), Label: "eth1:0123456789ab"})
		}, vip.ErrInvalid, 0, "eth1 192.168.1.5/24 brd 192.168.1.0 scope host valid forever\neth1 fd00::200/64 valid 6s preferred 1s"},
		{"interface removed with its addresses", func() error {
			c.RemoveInterface("eth1")
			return nil
		}, nil, 0, ""},
	}
	for _, s := range steps {
		err := s.do()
		switch {
		case s.wantErr == nil && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.wantErr != nil && !errors.Is(err, s.wantErr):
			t.Fatalf("%s: err %v, want %v", s.name, err, s.wantErr)
		case s.errno != 0 && !errors.Is(err, s.errno):
			t.Fatalf("%s: err %v, want errno %v", s.name, err, s.errno)
		}
		var oe *vip.OpError
		if err != nil && !errors.As(err, &oe) {
			t.Errorf("%s: err %v is not an *OpError", s.name, err)
		}
		if got := c.String(); got != s.state {
			t.Fatalf("%s: state\n%s\nwant\n%s", s.name, got, s.state)
		}
	}
}

func TestConnFailNextAndCalls(t *testing.T) {
	clk := NewClock()
	c := NewConn(clk.Now, "eth0")
	c.FailNext("replace", syscall.ENOBUFS)
	a := vip.Address{Iface: "eth0", Prefix: pfx("10.0.0.1/32"), ValidLft: time.Second}
	if err := c.Replace(a); !errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("injected failure: %v", err)
	}
	if err := c.Replace(a); err != nil {
		t.Fatalf("second replace: %v", err)
	}
	if err := c.Delete("eth0", a.Prefix); err != nil {
		t.Fatal(err)
	}
	want := "replace eth0 10.0.0.1/32 valid 1s|delete eth0 10.0.0.1/32"
	if got := strings.Join(c.Calls(), "|"); got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestClockTimers(t *testing.T) {
	clk := NewClock()
	t1 := clk.NewTimer(2 * time.Second)
	t2 := clk.NewTimer(time.Second)
	t3 := clk.NewTimer(3 * time.Second)
	if !t3.Stop() || t3.Stop() {
		t.Fatal("Stop should report true once")
	}
	clk.Advance(1500 * time.Millisecond)
	select {
	case at := <-t2.C():
		if at.Sub(Epoch) != time.Second {
			t.Errorf("t2 fired at %s", at.Sub(Epoch))
		}
	default:
		t.Fatal("t2 did not fire")
	}
	select {
	case <-t1.C():
		t.Fatal("t1 fired early")
	default:
	}
	if clk.Timers() != 1 {
		t.Errorf("pending timers %d, want 1", clk.Timers())
	}
	clk.Advance(time.Second)
	if at := <-t1.C(); at.Sub(Epoch) != 2*time.Second {
		t.Errorf("t1 fired at %s", at.Sub(Epoch))
	}
}
