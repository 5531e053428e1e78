package nftfence_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"vigil/fencing/nftfence"
	"vigil/test/netns"
)

// TestFenceOnARealKernel: a director with the VIPs on its interface answers
// for them (ARP, ICMP, IPv6) only while the fence holds them; when the
// element's timeout passes, or Set leaves a VIP out, the same host stops
// answering at once although the address is still configured.
func TestFenceOnARealKernel(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	d, client := lab.Host("d"), lab.Host("client")
	d.Link(lan, "eth0", "10.77.0.11/24", "10.77.0.200/24", "fd00:77::11/64", "fd00:77::200/64")
	client.Link(lan, "eth0", "10.77.0.100/24", "fd00:77::100/64")
	v4, v6 := netip.MustParseAddr("10.77.0.200"), netip.MustParseAddr("fd00:77::200")

	var f *nftfence.Fence
	if err := d.Do(func() (err error) {
		f, err = nftfence.New([]netip.Addr{v4, v6})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	answers := func() (arp, ping4, ping6 bool) {
		client.Run("ip", "neigh", "flush", "all")
		_, err := client.Run("arping", "-c1", "-w1", "-I", "eth0", v4.String())
		arp = err == nil
		_, err = client.Run("ping", "-c1", "-W1", v4.String())
		ping4 = err == nil
		_, err = client.Run("ping", "-6", "-c1", "-W1", v6.String())
		ping6 = err == nil
		return
	}
	check := func(when string, want bool) {
		t.Helper()
		arp, p4, p6 := answers()
		if arp != want || p4 != want || p6 != want {
			t.Errorf("%s: ARP %t, ping %t, ping6 %t; want all %t", when, arp, p4, p6, want)
		}
	}

	check("fence installed, nothing held", false)

	lease := 3 * time.Second
	until := time.Now().Add(lease)
	if err := f.Set(time.Now(), []nftfence.Held{{Addr: v4, Until: until}, {Addr: v6, Until: until}}); err != nil {
		t.Fatal(err)
	}
	check("held", true)
	out := d.MustRun("nft", "list", "set", "ip", nftfence.Table, "held")
	if !strings.Contains(out, "10.77.0.200") || !strings.Contains(out, "expires") {
		t.Errorf("held set in the kernel:\n%s", out)
	}

	time.Sleep(time.Until(until) + nftfence.KernelSlack)
	check("after the lease end, without any call", false)
	if out := d.MustRun("ip", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "10.77.0.200") {
		t.Fatalf("the address itself should still be configured:\n%s", out)
	}

	if err := f.Set(time.Now(), []nftfence.Held{{Addr: v4, Until: time.Now().Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if arp, p4, p6 := answers(); !arp || !p4 || p6 {
		t.Errorf("v4 held, v6 not: ARP %t, ping %t, ping6 %t; want true, true, false", arp, p4, p6)
	}
	if err := f.Set(time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	check("released", false)

	err := f.Set(time.Now(), []nftfence.Held{{Addr: netip.MustParseAddr("10.77.0.99"), Until: time.Now().Add(time.Minute)}})
	if !errors.Is(err, nftfence.ErrNotOwned) {
		t.Errorf("Set of a foreign address: %v, want ErrNotOwned", err)
	}

	// A live configuration change: 10.77.0.201 becomes a VIP (fenced at
	// once, answered for once held), fd00:77::200 stops being one (no
	// longer fenced).
	v4b := netip.MustParseAddr("10.77.0.201")
	d.MustRun("ip", "addr", "add", "10.77.0.201/24", "dev", "eth0")
	if err := f.SetVIPs([]netip.Addr{v4, v4b}); err != nil {
		t.Fatal(err)
	}
	pings := func() (a, b, c bool) {
		_, err := client.Run("ping", "-c1", "-W1", v4.String())
		a = err == nil
		_, err = client.Run("ping", "-c1", "-W1", v4b.String())
		b = err == nil
		_, err = client.Run("ping", "-6", "-c1", "-W1", v6.String())
		return a, b, err == nil
	}
	if a, b, c := pings(); a || b || !c {
		t.Errorf("after SetVIPs, nothing held: ping %s %t, %s %t, %s %t; want false, false, true", v4, a, v4b, b, v6, c)
	}
	if err := f.Set(time.Now(), []nftfence.Held{{Addr: v4b, Until: time.Now().Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if a, b, _ := pings(); a || !b {
		t.Errorf("new VIP held: ping %s %t, %s %t; want false, true", v4, a, v4b, b)
	}
	if err := f.Set(time.Now(), []nftfence.Held{{Addr: v6, Until: time.Now().Add(time.Minute)}}); !errors.Is(err, nftfence.ErrNotOwned) {
		t.Errorf("Set of a VIP SetVIPs dropped: %v, want ErrNotOwned", err)
	}
	if err := f.Set(time.Now(), nil); err != nil {
		t.Fatal(err)
	}

	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if out := d.MustRun("nft", "list", "tables"); strings.Contains(out, nftfence.Table) {
		t.Errorf("tables left after Close:\n%s", out)
	}
	check("fence removed", true)
}
