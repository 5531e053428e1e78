//go:build linux

package ipvs_test

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vigil/lvs"
	"vigil/lvs/ipvs"
)

// handleAt returns a netlink handle inside the namespace at path.
func handleAt(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// plug connects the namespace at path to bridge br (in sw) as eth0 with the
// given addresses.
func plug(t *testing.T, sw *netlink.Handle, br netlink.Link, name, path string, cidrs ...string) {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "p-" + name}, PeerName: "t-" + name}
	if err := sw.LinkAdd(veth); err != nil {
		t.Fatalf("veth for %s: %v", name, err)
	}
	peer, err := sw.LinkByName("t-" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.LinkSetNsFd(peer, int(ns)); err != nil {
		t.Fatal(err)
	}
	port, _ := sw.LinkByName("p-" + name)
	if err := sw.LinkSetMaster(port, br); err != nil {
		t.Fatal(err)
	}
	if err := sw.LinkSetUp(port); err != nil {
		t.Fatal(err)
	}
	h := handleAt(t, path)
	l, err := h.LinkByName("t-" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetName(l, "eth0"); err != nil {
		t.Fatal(err)
	}
	for _, c := range cidrs {
		a, err := netlink.ParseAddr(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.AddrAdd(l, a); err != nil {
			t.Fatalf("%s: addr %s: %v", name, c, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}

// TestTrafficDR: IPVS direct routing for real. Client, director and two
// real servers on one bridge; the real servers hold the VIP on lo with
// arp_ignore/arp_announce, and answer the client directly.
func TestTrafficDR(t *testing.T) {
	needIPVS(t)
	sw, cl, lb := newNetNS(t), newNetNS(t), newNetNS(t)
	hsw := handleAt(t, sw)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := hsw.LinkAdd(br); err != nil {
		t.Fatalf("bridge: %v", err)
	}
	if err := hsw.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	const vip = "10.7.0.200"
	plug(t, hsw, br, "cl", cl, "10.7.0.100/24")
	plug(t, hsw, br, "lb", lb, "10.7.0.1/24", vip+"/24")
	var reals []lvs.Real
	names := map[string]bool{}
	for i := range 2 {
		var wg sync.WaitGroup // per server: each cleanup waits for its own
		path := newNetNS(t)
		a := fmt.Sprintf("10.7.0.%d", 2+i)
		plug(t, hsw, br, fmt.Sprintf("rs%d", i), path, a+"/24")
		h := handleAt(t, path)
		lo, _ := h.LinkByName("lo")
		va, _ := netlink.ParseAddr(vip + "/32")
		if err := h.AddrAdd(lo, va); err != nil {
			t.Fatal(err)
		}
		if err := inNS(path, func() error {
			for _, k := range []string{"conf/all/arp_ignore", "conf/eth0/arp_ignore"} {
				if err := os.WriteFile("/proc/sys/net/ipv4/"+k, []byte("1"), 0o644); err != nil {
					return err
				}
			}
			for _, k := range []string{"conf/all/arp_announce", "conf/eth0/arp_announce"} {
				if err := os.WriteFile("/proc/sys/net/ipv4/"+k, []byte("2"), 0o644); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var ln net.Listener
		if err := inNS(path, func() (err error) { ln, err = net.Listen("tcp", ":80"); return err }); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("rs%d", i)
		names[name] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s\n", name)
				c.Close()
			}
		}()
		t.Cleanup(func() { ln.Close(); wg.Wait() })
		reals = append(reals, lvs.Real{Addr: netip.MustParseAddr(a), Port: 80, Weight: 1, Method: lvs.DR})
	}
	dp, err := ipvs.New(ipvs.Options{NetNSPath: lb, Sysctls: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })
	svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 80, Scheduler: "mh", Flags: lvs.FlagMHPort, Reals: reals}
	if err := dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i := range 16 {
		var line string
		err := inNS(cl, func() error {
			d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{Port: 45000 + 2*i}}
			c, err := d.Dial("tcp", vip+":80")
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			line, err = bufio.NewReader(c).ReadString('\n')
			return err
		})
		if err != nil {
			t.Fatalf("connection %d through the DR VIP: %v", i, err)
		}
		got[strings.TrimSpace(line)]++
	}
	t.Logf("DR mh-port over 16 connections: %v", got)
	if len(got) != 2 || !names["rs0"] {
		t.Errorf("want both real servers answering directly, got %v", got)
	}
}
