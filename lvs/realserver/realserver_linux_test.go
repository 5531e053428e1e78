package realserver_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"vigil/lvs/realserver"
	"vigil/test/netns"
)

// TestUpDownOnARealHost: a real-server namespace and a client on one LAN.
// Without the ARP sysctls a VIP on loopback is answered on the wire (the
// control); after Up it is on loopback and the host stays silent; Down
// undoes both; both directions are idempotent.
func TestUpDownOnARealHost(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	rs, client := lab.Host("rs"), lab.Host("client")
	rs.Link(lan, "eth0", "10.66.0.21/24")
	client.Link(lan, "eth0", "10.66.0.100/24")
	v4, v6 := netip.MustParseAddr("10.66.0.200"), netip.MustParseAddr("fd00:66::200")
	answersARP := func() bool {
		client.Run("ip", "neigh", "flush", "all")
		_, err := client.Run("arping", "-c1", "-w1", "-I", "eth0", v4.String())
		return err == nil
	}

	// Control: the kernel's defaults answer ARP for an address on lo.
	rs.MustRun("ip", "addr", "add", "10.66.0.200/32", "dev", "lo")
	if !answersARP() {
		t.Fatal("control: a VIP on lo with default sysctls should be answered on the wire")
	}
	rs.MustRun("ip", "addr", "del", "10.66.0.200/32", "dev", "lo")

	do := func(f func([]netip.Addr) (realserver.Result, error)) realserver.Result {
		t.Helper()
		var res realserver.Result
		if err := rs.Do(func() (err error) { res, err = f([]netip.Addr{v4, v6}); return err }); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := do(realserver.Up)
	if !slices.Equal(res.Added, []netip.Addr{v4, v6}) {
		t.Errorf("Up added %v", res.Added)
	}
	out := rs.MustRun("ip", "-o", "addr", "show", "dev", "lo")
	if !strings.Contains(out, "10.66.0.200/32") || !strings.Contains(out, realserver.Label) || !strings.Contains(out, "fd00:66::200/128") {
		t.Errorf("lo after Up:\n%s", out)
	}
	for _, k := range realserver.Sysctls {
		got := strings.TrimSpace(rs.MustRun("sysctl", "-n", k))
		want := "1"
		if strings.HasSuffix(k, "announce") {
			want = "2"
		}
		if got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if answersARP() {
		t.Error("after Up the real server still answers ARP for the VIP")
	}
	if again := do(realserver.Up); len(again.Added) != 0 {
		t.Errorf("second Up added %v, want nothing", again.Added)
	}

	res = do(realserver.Down)
	if !slices.Equal(res.Removed, []netip.Addr{v4, v6}) {
		t.Errorf("Down removed %v", res.Removed)
	}
	if out := rs.MustRun("ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(out, "10.66.0.200") || strings.Contains(out, "fd00:66::200") {
		t.Errorf("lo after Down:\n%s", out)
	}
	if got := strings.TrimSpace(rs.MustRun("sysctl", "-n", "net.ipv4.conf.all.arp_ignore")); got != "0" {
		t.Errorf("arp_ignore after Down = %s, want 0", got)
	}
	if again := do(realserver.Down); len(again.Removed) != 0 {
		t.Errorf("second Down removed %v, want nothing", again.Removed)
	}
}
