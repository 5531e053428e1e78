package vip_test

import (
	"errors"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"vigil/vrrp/vip"
	"vigil/vrrp/vip/viptest"
)

// conformance runs one table of operations against an AddrConn whose
// interface iface holds no address of 10.0.0.200-203 or fd00::200-201:
// the fake and the kernel must give the same errors and the same listing.
// Lifetimes are compared after rounding down to 10 s so that the kernel's
// clock may move during the test.
func conformance(t *testing.T, c vip.AddrConn, iface string) {
	t.Helper()
	p := netip.MustParsePrefix
	mine := func() string {
		as, err := c.List(iface)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		var lines []string
		for _, a := range as {
			if !strings.HasPrefix(a.Prefix.String(), "10.0.0.20") && !strings.HasPrefix(a.Prefix.String(), "fd00::20") {
				continue
			}
			a.ValidLft = a.ValidLft.Truncate(10 * time.Second)
			a.PreferredLft = a.PreferredLft.Truncate(10 * time.Second)
			a.Iface = "IF"
			lines = append(lines, a.String())
		}
		sort.Strings(lines) // the kernel orders primaries before secondaries
		return strings.Join(lines, "\n")
	}
	steps := []struct {
		name  string
		do    func() error
		err   error
		state string
	}{
		{"add labelled with lifetime", func() error {
			return c.Add(vip.Address{Iface: iface, Prefix: p("10.0.0.200/24"), Label: iface + ":vip", ValidLft: 55 * time.Second})
		}, nil, "IF 10.0.0.200/24 label " + iface + ":vip valid 50s"},
		{"add twice", func() error {
			return c.Add(vip.Address{Iface: iface, Prefix: p("10.0.0.200/24")})
		}, vip.ErrExist, "IF 10.0.0.200/24 label " + iface + ":vip valid 50s"},
		{"replace refreshes", func() error {
			return c.Replace(vip.Address{Iface: iface, Prefix: p("10.0.0.200/24"), Label: iface + ":vip", ValidLft: 95 * time.Second})
		}, nil, "IF 10.0.0.200/24 label " + iface + ":vip valid 1m30s"},
		{"replace to forever", func() error {
			return c.Replace(vip.Address{Iface: iface, Prefix: p("10.0.0.200/24"), Label: iface + ":vip"})
		}, nil, "IF 10.0.0.200/24 label " + iface + ":vip valid forever"},
		{"host scope, /32, no broadcast", func() error {
			return c.Add(vip.Address{Iface: iface, Prefix: p("10.0.0.201/32"), Scope: vip.ScopeHost})
		}, nil, "IF 10.0.0.200/24 label " + iface + ":vip valid forever\nIF 10.0.0.201/32 scope host valid forever"},
		{"explicit broadcast", func() error {
			return c.Add(vip.Address{Iface: iface, Prefix: p("10.0.0.202/24"), Broadcast: netip.MustParseAddr("10.0.0.0"), ValidLft: 45 * time.Second, PreferredLft: 25 * time.Second})
		}, nil, "IF 10.0.0.200/24 label " + iface + ":vip valid forever\nIF 10.0.0.201/32 scope host valid forever\nIF 10.0.0.202/24 brd 10.0.0.0 valid 40s preferred 20s"},
		{"IPv6", func() error {
			return c.Add(vip.Address{Iface: iface, Prefix: p("fd00::200/64"), ValidLft: 35 * time.Second})
		}, nil, "IF 10.0.0.200/24 label " + iface + ":vip valid forever\nIF 10.0.0.201/32 scope host valid forever\nIF 10.0.0.202/24 brd 10.0.0.0 valid 40s preferred 20s\nIF fd00::200/64 valid 30s"},
		{"IPv6 again with another prefix length", func() error {
			return c.Add(vip.Address{Iface: iface, Prefix: p("fd00::200/128")})
		}, vip.ErrExist, "IF 10.0.0.200/24 label " + iface + ":vip valid forever\nIF 10.0.0.201/32 scope host valid forever\nIF 10.0.0.202/24 brd 10.0.0.0 valid 40s preferred 20s\nIF fd00::200/64 valid 30s"},
		{"delete with the wrong prefix length", func() error {
			return c.Delete(iface, p("10.0.0.201/24"))
		}, vip.ErrNotExist, "IF 10.0.0.200/24 label " + iface + ":vip valid forever\nIF 10.0.0.201/32 scope host valid forever\nIF 10.0.0.202/24 brd 10.0.0.0 valid 40s preferred 20s\nIF fd00::200/64 valid 30s"},
		{"delete", func() error {
			for _, x := range []string{"10.0.0.201/32", "10.0.0.202/24", "fd00::200/64"} {
				if err := c.Delete(iface, p(x)); err != nil {
					return err
				}
			}
			return nil
		}, nil, "IF 10.0.0.200/24 label " + iface + ":vip valid forever"},
		{"delete missing", func() error {
			return c.Delete(iface, p("fd00::201/64"))
		}, vip.ErrNotExist, "IF 10.0.0.200/24 label " + iface + ":vip valid forever"},
		{"missing interface", func() error {
			return c.Add(vip.Address{Iface: "vgnope0", Prefix: p("10.0.0.203/24")})
		}, vip.ErrNoInterface, "IF 10.0.0.200/24 label " + iface + ":vip valid forever"},
		{"invalid label", func() error {
			return c.Add(vip.Address{Iface: iface, Prefix: p("10.0.0.203/24"), Label: "0123456789abcdef"})
		}, vip.ErrInvalid, "IF 10.0.0.200/24 label " + iface + ":vip valid forever"},
		{"clean up", func() error { return c.Delete(iface, p("10.0.0.200/24")) }, nil, ""},
	}
	for _, s := range steps {
		err := s.do()
		if (s.err == nil) != (err == nil) || (s.err != nil && !errors.Is(err, s.err)) {
			t.Fatalf("%s: err %v, want %v", s.name, err, s.err)
		}
		var oe *vip.OpError
		if err != nil && !errors.As(err, &oe) {
			t.Errorf("%s: %v is not an *OpError", s.name, err)
		}
		if err != nil {
			t.Logf("%s: %v", s.name, err)
		}
		if got := mine(); got != s.state {
			t.Fatalf("%s: state\n%s\nwant\n%s", s.name, got, s.state)
		}
	}
	if _, err := c.List("vgnope0"); !errors.Is(err, vip.ErrNoInterface) {
		t.Errorf("list of a missing interface: %v", err)
	}
}

func TestConformanceFake(t *testing.T) {
	clk := viptest.NewClock()
	conformance(t, viptest.NewConn(clk.Now, "eth0"), "eth0")
}
