package vrrp_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"vigil/vrrp"
)

// TestVMAC: keepalived's use_vmac. Our adverts sent on the macvlan leave
// with the virtual router MAC 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID)
// as Ethernet source, as tshark on the peer sees them; the macvlan is set
// up as keepalived sets it up (ARP only for its own addresses, no IPv6 on
// an IPv4 VMAC, no automatic link-local on an IPv6 one); creating is
// idempotent, conflicts are errors, deleting is idempotent and touches
// macvlans only; the parent's ARP settings are restored.
func TestVMAC(t *testing.T) {
	l := newVRRPLab(t)
	do := func(fn func() error) error { return l.vg.Do(fn) }
	v4 := vrrp.VMAC{Parent: "eth0", Name: "vrrp.51", VRID: 51}
	var ifi *net.Interface
	if err := do(func() (err error) { ifi, err = vrrp.AddVMAC(v4); return err }); err != nil {
		t.Fatal(err)
	}
	if ifi.HardwareAddr.String() != "00:00:5e:00:01:33" || ifi.Flags&net.FlagUp == 0 {
		t.Fatalf("vmac %s: MAC %s flags %v", ifi.Name, ifi.HardwareAddr, ifi.Flags)
	}
	for key, want := range map[string]string{
		"ipv4/conf/vrrp.51/arp_ignore":   "1",
		"ipv4/conf/vrrp.51/accept_local": "1",
		"ipv4/conf/vrrp.51/rp_filter":    "0",
		"ipv6/conf/vrrp.51/disable_ipv6": "1",
	} {
		if got := sysctl(t, l, key); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	if out := l.vg.MustRun("ip", "-6", "addr", "show", "dev", "vrrp.51"); strings.Contains(out, "inet6") {
		t.Errorf("IPv4 vmac has IPv6 addresses:\n%s", out)
	}
	var again *net.Interface
	if err := do(func() (err error) { again, err = vrrp.AddVMAC(v4); return err }); err != nil || again.Index != ifi.Index {
		t.Fatalf("second AddVMAC: %v, %+v", err, again)
	}
	for _, tc := range []struct {
		v    vrrp.VMAC
		want string
	}{
		{vrrp.VMAC{Parent: "eth0", Name: "vrrp.51", VRID: 52}, "00:00:5e:00:01:34"}, // another VRID's MAC
		{vrrp.VMAC{Parent: "eth0", Name: "lo", VRID: 51}, "macvlan"},                // not a macvlan
		{vrrp.VMAC{Parent: "vg-nope0", Name: "vrrp.51", VRID: 51}, "vg-nope0"},      // no parent
	} {
		err := do(func() error { _, err := vrrp.AddVMAC(tc.v); return err })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddVMAC(%+v) = %v, want an error mentioning %q", tc.v, err, tc.want)
		}
	}

	// The parent neither answers ARP for a VMAC's VIPs nor names them as
	// its own while a VMAC is on it, and gets its settings back after.
	var restore func() error
	if err := do(func() (err error) { restore, err = vrrp.PrepareVMACParent("eth0"); return err }); err != nil {
		t.Fatal(err)
	}
	if got := parentARP(t, l); got != "1 1 2" {
		t.Errorf("parent arp_ignore, arp_filter, arp_announce: %s, want 1 1 2", got)
	}

	// Adverts on the vmac, from the parent's address (keepalived does the
	// same), seen by tshark on the keepalived host.
	conn := dial(t, l.vg, vrrp.DialConfig{Interface: "vrrp.51", Src: obsIP4, NoMulticast: true})
	sendSeen(t, l, conn, obsIP4, vrrp.GroupV4, "ip proto 112", "ip.src", "00:00:5e:00:01:33\t10.0.0.9\t51\t1")

	// IPv6: the virtual MAC 00:00:5e:00:02:VRID, the parent's link-local
	// address copied as the adverts' source, nothing automatic.
	v6 := vrrp.VMAC{Parent: "eth0", Name: "vrrp6.51", VRID: 51, IPv6: true, LinkLocal: obsIP6}
	if err := do(func() error { _, err := vrrp.AddVMAC(v6); return err }); err != nil {
		t.Fatal(err)
	}
	out := l.vg.MustRun("ip", "-6", "addr", "show", "dev", "vrrp6.51")
	if n := strings.Count(out, "inet6"); n != 1 || !strings.Contains(out, obsIP6.String()+"/64") {
		t.Errorf("IPv6 vmac addresses, want only %s:\n%s", obsIP6, out)
	}
	conn6 := dial(t, l.vg, vrrp.DialConfig{Interface: "vrrp6.51", IPv6: true, Src: obsIP6, NoMulticast: true})
	sendSeen(t, l, conn6, obsIP6, vrrp.GroupV6, "ip6 proto 112", "ipv6.src", "00:00:5e:00:02:33\tfe80::9\t51\t1")

	for _, name := range []string{"vrrp.51", "vrrp6.51"} {
		if err := do(func() error { return vrrp.DelVMAC(name) }); err != nil {
			t.Fatal(err)
		}
	}
	if out := l.vg.MustRun("ip", "-o", "link"); strings.Contains(out, "vrrp") {
		t.Errorf("vmac still there:\n%s", out)
	}
	if err := do(func() error { return vrrp.DelVMAC("vrrp.51") }); err != nil {
		t.Errorf("second DelVMAC: %v", err)
	}
	if err := do(func() error { return vrrp.DelVMAC("eth0") }); err == nil || !strings.Contains(err.Error(), "not a macvlan") {
		t.Errorf("DelVMAC(eth0) = %v, want a refusal", err)
	}
	if err := do(restore); err != nil {
		t.Fatal(err)
	}
	if got := parentARP(t, l); got != "0 0 0" {
		t.Errorf("parent arp_ignore, arp_filter, arp_announce after restore: %s, want 0 0 0", got)
	}
}

// sendSeen sends adverts of VRID 51 on conn until tshark on the keepalived
// host has seen one, and checks its Ethernet source, IP source, VRID and
// checksum status against want.
func sendSeen(t *testing.T, l *vrrpLab, conn *vrrp.Conn, src, dst netip.Addr, filter, ipField, want string) {
	t.Helper()
	ts := l.ka.Start("tshark", "-n", "-l", "-i", "eth0", "-f", filter, "-c", "1",
		"-T", "fields", "-e", "eth.src", "-e", ipField, "-e", "vrrp.virt_rtr_id", "-e", "vrrp.checksum.status")
	s, err := vrrp.NewSender(conn, vrrp.SenderConfig{Src: src, Dsts: []netip.Addr{dst}})
	if err != nil {
		t.Fatal(err)
	}
	vip := "10.0.0.100"
	if src.Is6() {
		vip = "fd00::100"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := s.Hold(vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: 100 * time.Millisecond, Addrs: addrs(vip)}); err != nil {
		t.Fatal(err)
	}
	werr := make(chan error, 1)
	go func() { werr <- ts.Cmd.Wait() }()
	select {
	case err := <-werr:
		if err != nil {
			t.Fatalf("tshark: %v\n%s", err, ts.Output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("tshark saw no advert:\n%s", ts.Output())
	}
	if !strings.Contains(ts.Output(), want) {
		t.Errorf("tshark saw:\n%s\nwant a line %q", ts.Output(), want)
	}
}

// parentARP is eth0's arp_ignore, arp_filter and arp_announce.
func parentARP(t *testing.T, l *vrrpLab) string {
	t.Helper()
	var v []string
	for _, k := range []string{"arp_ignore", "arp_filter", "arp_announce"} {
		v = append(v, sysctl(t, l, "ipv4/conf/eth0/"+k))
	}
	return strings.Join(v, " ")
}

// sysctl reads /proc/sys/net/KEY in the vigil host.
func sysctl(t *testing.T, l *vrrpLab, key string) string {
	t.Helper()
	return strings.TrimSpace(l.vg.MustRun("cat", "/proc/sys/net/"+key))
}
