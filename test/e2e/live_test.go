package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/test/netns"
)

// The addresses the live instance changes move around.
const (
	vipB = "10.99.0.201"
	vipC = "10.99.0.202"
	vipD = "10.99.0.203"
)

// vi2 is a second instance, which d2 prefers.
const vi2 = `vrrp_instance VI_2 {
    interface eth0
    virtual_router_id VRID
    priority 100
    node d2 { priority 150 }
    advert_int 1
    virtual_ipaddress {
ADDRS    }
}
`

// TestInstancesLive: vigil config apply changes the vrrp_instances of a
// running cluster, with real agents: a VIP added to the held instance
// answers from its holder; a new instance is taken by the director it
// prefers, which advertises its VRID; a VIP moved from one instance to the
// other answers from the other's holder; a changed VRID is advertised
// instead of the old one; a tracker added to an instance moves it, and
// removed moves it back; an instance with use_vmac added makes its VMAC on
// every director and is reached through the virtual MAC, and removed takes
// it away; a removed instance's VIPs leave every director and its adverts
// stop. Throughout, no address is ever on two directors (polled
// every 50 ms), and a file with one VIP in two instances is refused with
// file, line and keyword and changes nothing.
func TestInstancesLive(t *testing.T) {
	c := newCluster3(t)
	for _, n := range names3 {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })
	stop := c.neverTwice(vip, vipB, vipC, vipD)
	defer stop()

	d1 := c.d["d1"].host
	orig := c.confText()
	withVI1 := func(addrs ...string) string {
		return strings.Replace(orig, "        10.99.0.200/24\n", lines(addrs), 1)
	}
	withVI2 := func(base string, vrid int, addrs ...string) string {
		return base + strings.NewReplacer("VRID", fmt.Sprint(vrid), "ADDRS", lines(addrs)).Replace(vi2)
	}
	apply := func(name, text string) {
		t.Helper()
		start := time.Now()
		out, err := d1.Run(vigilBin, "config", "apply", c.writeConf(name, text))
		if err != nil {
			t.Fatalf("config apply %s: %v\n%s\n%s", name, err, out, c.logs())
		}
		t.Logf("%s: applied in %v", name, time.Since(start).Round(time.Millisecond))
	}
	d2mac, err := c.d["d2"].lan.MAC()
	if err != nil {
		t.Fatal(err)
	}
	fromD2 := d2mac + " " + c.d["d2"].lanIP
	answers := func(addr, want string) {
		t.Helper()
		if got, took := c.waitAnswerAt(addr, 20*time.Second, func(n string) bool { return n == want }); got == want {
			t.Logf("%s answers from %s after %v", addr, got, took.Round(time.Millisecond))
		}
	}

	{
		t.Log("== a VIP added to the held instance")
		apply("add-vip.conf", withVI1(vip, vipB))
		answers(vipB, "d1")
		answers(vip, "d1")
	}
	{
		t.Log("== a new instance")
		apply("add-instance.conf", withVI2(withVI1(vip, vipB), 52, vipC))
		answers(vipC, "d2")
		if got := captureAdverts(t, c.client, 52, 2); !allEqual(got, fromD2) {
			t.Errorf("adverts of VRID 52 %v, want all from d2 (%s)", got, fromD2)
		}
		answers(vip, "d1")
	}
	{
		t.Log("== a VIP moved to the other instance")
		apply("move-vip.conf", withVI2(withVI1(vip), 52, vipC, vipB))
		answers(vipB, "d2")
		answers(vipC, "d2")
		answers(vip, "d1")
		if h := c.addrHolders(vipB); len(h[vipB]) != 1 || h[vipB][0] != "d2" {
			t.Errorf("%s on %v, want d2 only", vipB, h[vipB])
		}
	}
	{
		t.Log("== a VRID changed")
		apply("vrid.conf", withVI2(withVI1(vip), 53, vipC, vipB))
		if got := captureAdverts(t, c.client, 53, 2); !allEqual(got, fromD2) {
			t.Errorf("adverts of VRID 53 %v, want all from d2", got)
		}
		answers(vipC, "d2")
		if n := countAdverts(t, c.client, 52, 3*time.Second); n != 0 {
			t.Errorf("%d adverts of the old VRID 52 after the change", n)
		}
	}
	{
		t.Log("== a tracker added and removed")
		gate := filepath.Join(c.dir, "gate.sh")
		if err := os.WriteFile(gate, []byte("#!/bin/sh\n[ ! -e "+c.dir+"/gate-$(ip netns identify) ]\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.dir, "gate-"+c.d["d1"].host.Namespace()), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		base := withVI2(withVI1(vip), 53, vipC, vipB)
		gated := strings.Replace(base, "    track_script {\n        chk\n    }\n", "    track_script {\n        chk\n        gate\n    }\n", 1)
		gated = "vrrp_script gate {\n    script \"" + gate + "\"\n    interval 1\n    weight -50\n}\n" + gated
		apply("tracker.conf", gated)
		answers(vip, "d2") // d1 at 100-50 is below d2's 99
		if out := d1.MustRun(vigilBin, "status"); !strings.Contains(out, "d1=50(100-50)") {
			t.Errorf("vigil status does not show d1's priority for VI_1 as 50 (100, gate -50):\n%s", out)
		}
		apply("untracked.conf", base)
		answers(vip, "d1")
	}
	{
		t.Log("== an instance with use_vmac added, then removed")
		base := withVI2(withVI1(vip), 53, vipC, vipB)
		vmac := strings.NewReplacer("VI_2", "VI_3", "VRID", "54", "d2 {", "d3 {", "advert_int 1", "advert_int 1\n    use_vmac",
			"ADDRS", lines([]string{vipD})).Replace(vi2)
		apply("vmac.conf", base+vmac)
		answers(vipD, "d3")
		for _, n := range names3 {
			if _, err := c.d[n].host.Run("ip", "link", "show", "vrrp.54"); err != nil {
				t.Errorf("%s has no use_vmac interface vrrp.54 after the apply", n)
			}
		}
		if out := c.client.MustRun("ip", "neigh", "show", vipD); !strings.Contains(out, "00:00:5e:00:01:36") {
			t.Errorf("the client's neighbour entry for %s: %q, want the virtual MAC 00:00:5e:00:01:36", vipD, out)
		}
		apply("no-vmac.conf", base)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			left := []string{}
			for _, n := range names3 {
				if _, err := c.d[n].host.Run("ip", "link", "show", "vrrp.54"); err == nil {
					left = append(left, n)
				}
			}
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("vrrp.54 still on %v after its instance was removed\n%s", left, c.logs())
			}
		}
	}
	{
		t.Log("== an instance removed")
		apply("remove-instance.conf", withVI1(vip))
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			h := c.addrHolders(vipB, vipC)
			if len(h) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the removed instance's VIPs are still on %v\n%s", h, c.logs())
			}
		}
		if n := countAdverts(t, c.client, 53, 3*time.Second); n != 0 {
			t.Errorf("%d adverts of the removed instance's VRID 53", n)
		}
		answers(vip, "d1")
	}
	{
		t.Log("== one VIP in two instances is refused")
		bad := c.writeConf("dup.conf", withVI2(withVI1(vip), 52, vip))
		out, err := d1.Run(vigilBin, "config", "apply", bad)
		if err == nil || !strings.Contains(out, "dup.conf:") || !strings.Contains(out, "also a VIP of instance VI_1") {
			t.Errorf("apply of one VIP in two instances: %v, want a refusal naming dup.conf and VI_1:\n%s", err, out)
		}
		if out, err := d1.Run(vigilBin, "config", "diff", c.writeConf("current.conf", withVI1(vip))); err != nil {
			t.Errorf("the refused apply changed the cluster's configuration:\n%s", out)
		}
	}
}

// lines formats addresses as virtual_ipaddress lines.
func lines(addrs []string) string {
	var b strings.Builder
	for _, a := range addrs {
		b.WriteString("        " + a + "/24\n")
	}
	return b.String()
}

// neverTwice polls the directors' addresses every 50 ms until stopped and
// fails the test if one of addrs is ever on two at once.
func (c *cluster3) neverTwice(addrs ...string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			on := map[string][]string{}
			for _, n := range names3 {
				out, err := c.d[n].host.Run("ip", "-o", "-4", "addr", "show")
				if err != nil {
					continue // the namespace is going away
				}
				for _, a := range addrs {
					if strings.Contains(out, " "+a+"/") {
						on[a] = append(on[a], n)
					}
				}
			}
			for a, ns := range on {
				if len(ns) > 1 {
					c.t.Errorf("%s on %v at once (%s)", a, ns, time.Now().Format("15:04:05.000"))
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// countAdverts counts the VRRP adverts of vrid h sees on eth0 within d.
func countAdverts(t *testing.T, h *netns.Host, vrid int, d time.Duration) int {
	t.Helper()
	out, err := h.Run("tshark", "-n", "-i", "eth0", "-a", fmt.Sprintf("duration:%d", int(d.Seconds())),
		"-f", fmt.Sprintf("ip proto 112 and ip[21] == %d", vrid), "-T", "fields", "-e", "vrrp.virt_rtr_id")
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == fmt.Sprint(vrid) {
			n++
		}
	}
	return n
}
