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
// with the virtual router MAC 00:00:5e:00:01:VRID as Ethernet source, as
// tshark on the peer sees them; creating is idempotent, conflicts are
// errors, deleting is idempotent and touches macvlans only.
func TestVMAC(t *testing.T) {
	l := newVRRPLab(t)
	var ifi *net.Interface
	do := func(fn func() error) error { return l.vg.Do(fn) }
	if err := do(func() (err error) { ifi, err = vrrp.AddVMAC("eth0", "vrrp.51", 51, false); return err }); err != nil {
		t.Fatal(err)
	}
	if ifi.HardwareAddr.String() != "00:00:5e:00:01:33" || ifi.Flags&net.FlagUp == 0 {
		t.Fatalf("vmac %s: MAC %s flags %v", ifi.Name, ifi.HardwareAddr, ifi.Flags)
	}
	var again *net.Interface
	if err := do(func() (err error) { again, err = vrrp.AddVMAC("eth0", "vrrp.51", 51, false); return err }); err != nil || again.Index != ifi.Index {
		t.Fatalf("second AddVMAC: %v, %+v", err, again)
	}
	for _, tc := range []struct {
		parent, name string
		vrid         uint8
		want         string
	}{
		{"eth0", "vrrp.51", 52, "00:00:5e:00:01:34"}, // another VRID's MAC
		{"eth0", "lo", 51, "macvlan"},                // not a macvlan
		{"vg-nope0", "vrrp.51", 51, "vg-nope0"},      // no parent
	} {
		err := do(func() error { _, err := vrrp.AddVMAC(tc.parent, tc.name, tc.vrid, false); return err })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddVMAC(%s, %s, %d) = %v, want an error mentioning %q", tc.parent, tc.name, tc.vrid, err, tc.want)
		}
	}

	// Adverts on the vmac, from the parent's address (keepalived does the
	// same), seen by tshark on the keepalived host.
	conn := dial(t, l.vg, vrrp.DialConfig{Interface: "vrrp.51", Src: obsIP4})
	ts := l.ka.Start("tshark", "-n", "-l", "-i", "eth0", "-f", "ip proto 112", "-c", "1",
		"-T", "fields", "-e", "eth.src", "-e", "ip.src", "-e", "vrrp.virt_rtr_id", "-e", "vrrp.checksum.status")
	s, err := vrrp.NewSender(conn, vrrp.SenderConfig{Src: obsIP4, Dsts: []netip.Addr{vrrp.GroupV4}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if err := s.Hold(vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: 100 * time.Millisecond, Addrs: addrs("10.0.0.100")}); err != nil {
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
	cancel()
	<-done
	if want := "00:00:5e:00:01:33\t10.0.0.9\t51\t1"; !strings.Contains(ts.Output(), want) {
		t.Errorf("tshark saw:\n%s\nwant a line %q", ts.Output(), want)
	}

	if err := do(func() error { return vrrp.DelVMAC("vrrp.51") }); err != nil {
		t.Fatal(err)
	}
	if out := l.vg.MustRun("ip", "-o", "link"); strings.Contains(out, "vrrp.51") {
		t.Errorf("vmac still there:\n%s", out)
	}
	if err := do(func() error { return vrrp.DelVMAC("vrrp.51") }); err != nil {
		t.Errorf("second DelVMAC: %v", err)
	}
	if err := do(func() error { return vrrp.DelVMAC("eth0") }); err == nil || !strings.Contains(err.Error(), "not a macvlan") {
		t.Errorf("DelVMAC(eth0) = %v, want a refusal", err)
	}
}
