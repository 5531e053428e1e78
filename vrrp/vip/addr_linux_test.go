package vip_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"vigil/test/netns"
	"vigil/vrrp/vip"
)

// netlinkIn opens a NetlinkConn inside h's namespace.
func netlinkIn(t *testing.T, h *netns.Host) *vip.NetlinkConn {
	t.Helper()
	var c *vip.NetlinkConn
	if err := h.Do(func() (err error) { c, err = vip.NewNetlinkConn(); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformanceKernel(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	d1 := lab.Host("d1")
	d1.Link(lan, "eth0", "10.0.0.11/24")
	conformance(t, netlinkIn(t, d1), "eth0")
}

// ipAddr is one entry of `ip -j addr show`.
type ipAddr struct {
	Family    string `json:"family"`
	Local     string `json:"local"`
	PrefixLen int    `json:"prefixlen"`
	Broadcast string `json:"broadcast"`
	Scope     string `json:"scope"`
	Label     string `json:"label"`
	Dynamic   bool   `json:"dynamic"`
	NoDAD     bool   `json:"nodad"`
	Valid     uint64 `json:"valid_life_time"`
	Preferred uint64 `json:"preferred_life_time"`
}

// ipAddrs runs `ip -j addr show dev iface` in h, keyed by address.
func ipAddrs(t *testing.T, h *netns.Host, iface string) map[string]ipAddr {
	t.Helper()
	out := h.MustRun("ip", "-j", "addr", "show", "dev", iface)
	var links []struct {
		AddrInfo []ipAddr `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("ip -j addr: %v\n%s", err, out)
	}
	m := map[string]ipAddr{}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			m[a.Local] = a
		}
	}
	return m
}

func TestManagerKernel(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	d1 := lab.Host("d1")
	d1.Link(lan, "eth0", "10.0.0.11/24", "fd00::11/64")
	d1.Link(lan, "eth1", "192.168.7.11/24")
	conn := netlinkIn(t, d1)
	vA, vB, v6 := netip.MustParsePrefix("10.0.0.200/24"), netip.MustParsePrefix("10.0.0.201/24"), netip.MustParsePrefix("fd00::200/64")
	ours := []vip.Owned{{"eth0", vA.Addr()}, {"eth0", vB.Addr()}, {"eth0", v6.Addr()}, {"eth1", netip.MustParseAddr("192.168.7.200")}}
	m := vip.NewManager(conn, ours, vip.ManagerOptions{Slack: time.Second, Logger: testLogger(t)})

	// Leftovers of a crashed run (ours) and a foreign address.
	d1.MustRun("ip", "addr", "add", "10.0.0.201/24", "dev", "eth0", "label", "eth0:old")
	d1.MustRun("ip", "addr", "add", "192.168.7.200/24", "dev", "eth1")
	d1.MustRun("ip", "addr", "add", "10.0.0.99/24", "dev", "eth0")

	lease := 20 * time.Second
	err := m.Set([]vip.Hold{
		{Addr: vA, Iface: "eth0", Label: "eth0:vip", Until: time.Now().Add(lease)},
		{Addr: v6, Iface: "eth0", Until: time.Now().Add(lease)},
		{Addr: netip.MustParsePrefix("10.0.0.210/24"), Iface: "vgmissing0", Until: time.Now().Add(lease)},
	})
	if !errors.Is(err, vip.ErrNoInterface) {
		t.Fatalf("Set: %v, want the missing interface's error", err)
	}
	t.Logf("Set: %v", err)
	as := ipAddrs(t, d1, "eth0")
	a, ok := as["10.0.0.200"]
	switch {
	case !ok:
		t.Fatalf("VIP not on eth0: %+v", as)
	case a.Label != "eth0:vip" || a.Scope != "global" || a.PrefixLen != 24 || a.Broadcast != "10.0.0.255":
		t.Errorf("VIP %+v: want label eth0:vip, scope global, /24, brd 10.0.0.255", a)
	case !a.Dynamic || a.Valid < 19 || a.Valid > 21 || a.Preferred != a.Valid:
		t.Errorf("VIP lifetime valid %d preferred %d (dynamic %v), want about lease+slack = 21 s", a.Valid, a.Preferred, a.Dynamic)
	}
	if a6, ok := as["fd00::200"]; !ok || !a6.NoDAD || a6.Valid < 19 || a6.Valid > 21 {
		t.Errorf("IPv6 VIP %+v: want nodad, valid about 21 s", a6)
	}
	if _, ok := as["10.0.0.201"]; ok {
		t.Error("leftover 10.0.0.201 on eth0 was not swept")
	}
	if _, ok := ipAddrs(t, d1, "eth1")["192.168.7.200"]; ok {
		t.Error("leftover 192.168.7.200 on eth1 was not swept")
	}
	for _, keep := range []string{"10.0.0.11", "10.0.0.99", "fd00::11"} {
		if _, ok := as[keep]; !ok {
			t.Errorf("foreign address %s was touched", keep)
		}
	}

	// Renewal refreshes the lifetime.
	time.Sleep(1100 * time.Millisecond)
	if err := m.Set([]vip.Hold{{Addr: vA, Iface: "eth0", Label: "eth0:vip", Until: time.Now().Add(40 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	as = ipAddrs(t, d1, "eth0")
	if a := as["10.0.0.200"]; a.Valid < 39 || a.Valid > 41 {
		t.Errorf("after renewal valid %d, want about 41", a.Valid)
	}
	if _, ok := as["fd00::200"]; ok {
		t.Error("fd00::200 still there after it was dropped from the holds")
	}

	// Release.
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	as = ipAddrs(t, d1, "eth0")
	if _, ok := as["10.0.0.200"]; ok {
		t.Error("VIP still there after Set(nil)")
	}
	if _, ok := as["10.0.0.99"]; !ok {
		t.Error("foreign address removed by release")
	}
}

// TestKernelExpiresFrozenHolder: the hold is set once and never refreshed,
// as by a process frozen right after; the kernel removes the address by
// itself shortly after the lease.
func TestKernelExpiresFrozenHolder(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	d1 := lab.Host("d1")
	d1.Link(lan, "eth0", "10.0.0.11/24", "fd00::11/64")
	conn := netlinkIn(t, d1)
	slack := 500 * time.Millisecond
	m := vip.NewManager(conn, nil, vip.ManagerOptions{Slack: slack, Logger: testLogger(t)})
	start := time.Now()
	until := start.Add(2 * time.Second)
	if err := m.Set([]vip.Hold{
		{Addr: netip.MustParsePrefix("10.0.0.200/24"), Iface: "eth0", Until: until},
		{Addr: netip.MustParsePrefix("fd00::200/64"), Iface: "eth0", Until: until},
	}); err != nil {
		t.Fatal(err)
	}
	// The Manager is now "frozen": no Run, no further Set.
	as := ipAddrs(t, d1, "eth0")
	if as["10.0.0.200"].Valid != 3 || as["fd00::200"].Valid != 3 {
		t.Fatalf("lifetimes %d and %d, want 3 (2 s lease + 0.5 s slack, rounded up)", as["10.0.0.200"].Valid, as["fd00::200"].Valid)
	}
	gone := map[string]time.Duration{}
	deadline := until.Add(slack + vip.KernelExpiryJitter + 5*time.Second) // generous: polling, not timing
	for len(gone) < 2 && time.Now().Before(deadline) {
		as := ipAddrs(t, d1, "eth0")
		for _, ip := range []string{"10.0.0.200", "fd00::200"} {
			if _, ok := as[ip]; !ok && gone[ip] == 0 {
				gone[ip] = time.Since(start)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, ip := range []string{"10.0.0.200", "fd00::200"} {
		if gone[ip] == 0 {
			t.Errorf("the kernel did not remove %s", ip)
			continue
		}
		t.Logf("%s removed by the kernel %s after the hold (lease 2 s, lifetime 3 s)", ip, gone[ip].Round(10*time.Millisecond))
		if gone[ip] < 2*time.Second {
			t.Errorf("%s removed before the lease ended", ip)
		}
	}
	if _, ok := ipAddrs(t, d1, "eth0")["10.0.0.11"]; !ok {
		t.Error("the node's own address went too")
	}
}
