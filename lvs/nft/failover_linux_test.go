//go:build linux

package nft_test

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"vigil/lvs"
	"vigil/lvs/nft"
	"vigil/test/netns"
)

// TestFailoverNAT is the datapath's half of the claim, measured in
// ws-continuity.md: two directors programmed identically (same State, same
// seed) carry established connections across a failover to the same real
// servers, even when the real server speaks first, and back again to a
// director that had stale conntrack entries once ForgetFlows cleared them.
// (The VIP moves by hand here; cluster and vrrp move it in the agent.)
func TestFailoverNAT(t *testing.T) {
	lab := netns.New(t)
	cl, rsn := lab.Bridge("cl"), lab.Bridge("rs")
	c := lab.Host("c")
	c.Link(cl, "eth0", "10.91.0.100/24")
	var reals []lvs.Real
	backends := map[string]*backend{}
	for i, name := range []string{"rs1", "rs2"} {
		h := lab.Host(name)
		a := fmt.Sprintf("10.92.0.%d", 21+i)
		h.Link(rsn, "eth0", a+"/24")
		h.MustRun("ip", "route", "add", "default", "via", "10.92.0.254")
		backends[name] = startBackend(t, h, a+":8080", name)
		reals = append(reals, lvs.Real{Addr: netip.MustParseAddr(a), Port: 8080, Weight: 1, Method: lvs.NAT})
	}
	st := lvs.State{Services: []lvs.Service{{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 8080, Scheduler: "mh",
		Flags: lvs.FlagMHPort, Reals: reals}}}
	type director struct {
		h          *netns.Host
		eth0, eth1 *netns.Iface
		dp         *nft.Datapath
	}
	var ds []*director
	for i, name := range []string{"d1", "d2"} {
		h := lab.Host(name)
		d := &director{h: h,
			eth0: h.Link(cl, "eth0", fmt.Sprintf("10.91.0.%d/24", 11+i)),
			eth1: h.Link(rsn, "eth1", fmt.Sprintf("10.92.0.%d/24", 11+i))}
		d.dp = openDP(t, h, nft.Options{Table: "vigil", Seed: testSeed, ClientInterface: "eth0", Sysctls: true})
		if err := d.dp.Apply(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	take := func(d *director) {
		d.h.MustRun("ip", "addr", "add", vip+"/24", "dev", "eth0")
		d.h.MustRun("ip", "addr", "add", "10.92.0.254/24", "dev", "eth1")
		d.h.MustRun("arping", "-q", "-U", "-c", "1", "-I", "eth0", vip)
		d.h.MustRun("arping", "-q", "-U", "-c", "1", "-I", "eth1", "10.92.0.254")
	}
	release := func(d *director) {
		d.h.MustRun("ip", "addr", "del", vip+"/24", "dev", "eth0")
		d.h.MustRun("ip", "addr", "del", "10.92.0.254/24", "dev", "eth1")
	}
	take(ds[0])

	type flow struct {
		conn net.Conn
		r    *bufio.Reader
		name string
	}
	var flows []flow
	for i := range 6 {
		var conn net.Conn
		if err := c.Do(func() (err error) {
			d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.91.0.100"), Port: 44000 + 2*i}}
			conn, err = d.Dial("tcp", vip+":8080")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		r := bufio.NewReader(conn)
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		name, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, flow{conn, r, strings.TrimSpace(name)})
	}
	// check makes the real servers speak first (a push), then the client.
	check := func(phase string) {
		t.Helper()
		for _, b := range backends {
			b.push("push " + phase)
		}
		for i, f := range flows {
			f.conn.SetDeadline(time.Now().Add(5 * time.Second))
			if line, err := f.r.ReadString('\n'); err != nil || line != "push "+phase+"\n" {
				t.Fatalf("%s: flow %d (%s): server-first push: %q, %v", phase, i, f.name, line, err)
			}
			fmt.Fprintf(f.conn, "%s\n", phase)
			if line, err := f.r.ReadString('\n'); err != nil || line != f.name+" "+phase+"\n" {
				t.Fatalf("%s: flow %d: want an echo from %s, got %q, %v", phase, i, f.name, line, err)
			}
		}
	}
	check("before")
	// d1 dies (links cut at the switch, as a frozen box) and d2 takes over
	// with no conntrack state for these flows.
	ds[0].eth0.Down()
	ds[0].eth1.Down()
	take(ds[1])
	check("after-failover")
	// Failback: d1 returns (without its VIPs, as an agent restarts) but with
	// its stale conntrack entries; it forgets them, then takes the VIPs back
	// (planned move: d2 releases first).
	release(ds[0])
	ds[0].eth0.Up()
	ds[0].eth1.Up()
	if _, err := ds[0].dp.ForgetFlows([]netip.Addr{netip.MustParseAddr(vip)}); err != nil {
		t.Fatal(err)
	}
	release(ds[1])
	take(ds[0])
	check("after-failback")
}

// TestFailoverDR: the same in DR mode (netdev, stateless): the new holder
// needs no state at all, so connections survive whoever speaks first.
func TestFailoverDR(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	c := lab.Host("c")
	c.Link(lan, "eth0", "10.91.0.100/24")
	var reals []lvs.Real
	backends := map[string]*backend{}
	for i, name := range []string{"rs1", "rs2"} {
		h := lab.Host(name)
		a := fmt.Sprintf("10.91.0.%d", 21+i)
		h.Link(lan, "eth0", a+"/24")
		h.MustRun("ip", "addr", "add", vip+"/32", "dev", "lo")
		for _, k := range []string{"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.eth0.arp_ignore=1",
			"net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.eth0.arp_announce=2"} {
			h.MustRun("sysctl", "-qw", k)
		}
		backends[name] = startBackend(t, h, ":8080", name)
		reals = append(reals, lvs.Real{Addr: netip.MustParseAddr(a), Port: 8080, Weight: 1, Method: lvs.DR})
	}
	st := lvs.State{Services: []lvs.Service{{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 8080, Scheduler: "mh",
		Flags: lvs.FlagMHPort, Reals: reals}}}
	var hosts []*netns.Host
	var links []*netns.Iface
	for i, name := range []string{"d1", "d2"} {
		h := lab.Host(name)
		links = append(links, h.Link(lan, "eth0", fmt.Sprintf("10.91.0.%d/24", 11+i)))
		for _, r := range reals {
			h.MustRun("ping", "-c1", "-W2", r.Addr.String())
		}
		dp := openDP(t, h, nft.Options{Table: "vigil", Seed: testSeed, DRInterface: "eth0"})
		if err := dp.Apply(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
	}
	take := func(h *netns.Host) {
		h.MustRun("ip", "addr", "add", vip+"/24", "dev", "eth0")
		h.MustRun("arping", "-q", "-U", "-c", "1", "-I", "eth0", vip)
	}
	take(hosts[0])
	type flow struct {
		conn net.Conn
		r    *bufio.Reader
		name string
	}
	var flows []flow
	for i := range 6 {
		var conn net.Conn
		if err := c.Do(func() (err error) {
			d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.91.0.100"), Port: 46000 + 2*i}}
			conn, err = d.Dial("tcp", vip+":8080")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		r := bufio.NewReader(conn)
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		name, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, flow{conn, r, strings.TrimSpace(name)})
	}
	check := func(phase string, serverFirst bool) {
		t.Helper()
		if serverFirst {
			for _, b := range backends {
				b.push("push " + phase)
			}
		}
		for i, f := range flows {
			f.conn.SetDeadline(time.Now().Add(5 * time.Second))
			if serverFirst {
				if line, err := f.r.ReadString('\n'); err != nil || line != "push "+phase+"\n" {
					t.Fatalf("%s: flow %d: push: %q, %v", phase, i, line, err)
				}
			}
			fmt.Fprintf(f.conn, "%s\n", phase)
			if line, err := f.r.ReadString('\n'); err != nil || line != f.name+" "+phase+"\n" {
				t.Fatalf("%s: flow %d: want an echo from %s, got %q, %v", phase, i, f.name, line, err)
			}
		}
	}
	check("before", false)
	links[0].Down() // d1 dies
	take(hosts[1])
	check("after-failover", false)
	check("after-failover-push", true)
}
