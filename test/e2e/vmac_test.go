package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/test/netns"
)

// vmacConf adds two use_vmac instances to the cluster's VI_1: VI_2 sends
// its adverts from its VMAC, VI_3 (vmac_xmit_base) from eth0.
var vmacConf = instanceConf("VI_2", 52, "use_vmac", "10.99.0.210/24") +
	instanceConf("VI_3", 53, "use_vmac\n    vmac_xmit_base", "10.99.0.220/24")

// instanceConf is a vrrp_instance on eth0 preferring d1, then d2, then
// d3, with the lines extra and the VIPs.
func instanceConf(name string, vrid int, extra string, vips ...string) string {
	return fmt.Sprintf(`vrrp_instance %s {
    interface eth0
    virtual_router_id %d
    priority 100
    node d2 { priority 99 }
    node d3 { priority 98 }
    advert_int 1
    %s
    virtual_ipaddress {
        %s
    }
}
`, name, vrid, extra, strings.Join(vips, "\n        "))
}

const (
	vip2     = "10.99.0.210"
	vip3     = "10.99.0.220"
	vmac52   = "00:00:5e:00:01:34"
	vmac53   = "00:00:5e:00:01:35"
	vmacVIP2 = "vrrp.52"
)

// TestVMAC: keepalived's use_vmac on real agents. Every director has the
// macvlans vrrp.52 and vrrp.53 with the virtual router MACs; only the
// holder has the VIP, on its VMAC; the client resolves the VIP to the
// virtual MAC, and tshark on the client sees the adverts leave from it
// (from eth0 with vmac_xmit_base). After kill -9 of the holder the new
// holder answers on the VIP while the client's neighbour entry still
// says the same MAC: nobody had to learn anything new, which is the
// point of a VMAC. A director that stops cleanly removes its VMACs and
// gives eth0 its ARP settings back.
func TestVMAC(t *testing.T) {
	c := newCluster3With(t, vmacConf)
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	c.waitAnswerAt(vip2, 20*time.Second, func(n string) bool { return n == "d1" })
	c.waitAnswerAt(vip3, 10*time.Second, func(n string) bool { return n == "d1" })
	d1MAC, err := c.d["d1"].lan.MAC()
	if err != nil {
		t.Fatal(err)
	}

	for _, n := range []string{"d1", "d2", "d3"} {
		links := c.d[n].host.MustRun("ip", "-o", "link", "show", "type", "macvlan")
		for _, want := range []string{"vrrp.52@eth0", "link/ether " + vmac52, "vrrp.53@eth0", "link/ether " + vmac53} {
			if !strings.Contains(links, want) {
				t.Errorf("%s's macvlans lack %q:\n%s", n, want, links)
			}
		}
	}
	checkVIPOnVMAC(t, c, vip2, vmacVIP2, "d1")
	if mac := neighMAC(t, c.client, vip2); mac != vmac52 {
		t.Errorf("client resolves %s to %s, want the virtual MAC %s", vip2, mac, vmac52)
	}
	if mac := neighMAC(t, c.client, vip3); mac != vmac53 {
		t.Errorf("client resolves %s to %s, want the virtual MAC %s", vip3, mac, vmac53)
	}
	for vrid, want := range map[int]string{52: vmac52 + " 10.99.0.11", 53: d1MAC + " 10.99.0.11"} {
		if got := captureAdverts(t, c.client, vrid, 2); !allEqual(got, want) {
			t.Errorf("adverts of VRID %d seen by the client (Ethernet source, IP source): %q, want each %q", vrid, got, want)
		}
	}

	// The switch learns the virtual MACs from the holder's port only: no
	// frame leaves a backup with them (its VMACs carry no address, join
	// no group, run no IPv6, and nothing probes from them).
	sent := framesFrom(t, c, []string{vmac52, vmac53}, 3*time.Second)
	if sent["d1"] == 0 || sent["d2"] != 0 || sent["d3"] != 0 {
		t.Errorf("frames with a virtual source MAC per director's port in 3s: %v; want some from d1 only", sent)
	}

	c.kill("d1")
	got, took := c.waitAnswerAt(vip2, takeover, func(n string) bool { return n != "d1" })
	t.Logf("after kill -9 of d1, %s answered on %s in %v", got, vip2, took.Round(time.Millisecond))
	if got != "d2" {
		t.Errorf("%s took VI_2, want d2 (99 > 98)", got)
	}
	if mac := neighMAC(t, c.client, vip2); mac != vmac52 {
		t.Errorf("after the takeover the client resolves %s to %s, want still %s", vip2, mac, vmac52)
	}
	if got := captureAdverts(t, c.client, 52, 2); !allEqual(got, vmac52+" 10.99.0.12") {
		t.Errorf("adverts of VRID 52 after the takeover: %q, want each from %s with d2's address", got, vmac52)
	}
	checkVIPOnVMAC(t, c, vip2, vmacVIP2, "d2")

	d3 := c.d["d3"]
	if err := c.vigil.Signal("d3", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = c.vigil.Proc("d3").Cmd.Wait()
	if links := d3.host.MustRun("ip", "-o", "link", "show", "type", "macvlan"); strings.TrimSpace(links) != "" {
		t.Errorf("d3 stopped cleanly but kept its VMACs:\n%s", links)
	}
	for _, key := range []string{"arp_ignore", "arp_filter", "arp_announce"} {
		if v := strings.TrimSpace(d3.host.MustRun("cat", "/proc/sys/net/ipv4/conf/eth0/"+key)); v != "0" {
			t.Errorf("d3's eth0 %s = %s after a clean stop, want 0 back", key, v)
		}
	}
}

// checkVIPOnVMAC: holder has addr on its VMAC and nowhere else; the other
// running directors do not have it at all.
func checkVIPOnVMAC(t *testing.T, c *cluster3, addr, vmac, holder string) {
	t.Helper()
	for _, n := range []string{"d1", "d2", "d3"} {
		d := c.d[n]
		if !c.vigil.Running(n) {
			continue // a dead holder's address lingers, fenced
		}
		var on []string
		for _, l := range strings.Split(d.host.MustRun("ip", "-o", "-4", "addr", "show"), "\n") {
			if strings.Contains(l, " "+addr+"/") {
				on = append(on, strings.Fields(l)[1])
			}
		}
		want := []string(nil)
		if n == holder {
			want = []string{vmac}
		}
		if !slices.Equal(on, want) {
			t.Errorf("%s has %s on %v, want %v", n, addr, on, want)
		}
	}
}

// framesFrom counts, per director, the frames with one of the source MACs
// macs that its port on the LAN bridge receives from it within d (tshark
// on the bridge ports, in the switch's namespace, inbound only: a port
// also forwards what others send).
func framesFrom(t *testing.T, c *cluster3, macs []string, d time.Duration) map[string]int {
	t.Helper()
	var filter []string
	for _, m := range macs {
		filter = append(filter, "ether src "+m)
	}
	procs := map[string]*exec.Cmd{}
	outs := map[string]*strings.Builder{}
	for _, n := range []string{"d1", "d2", "d3"} {
		cmd := exec.Command("ip", "netns", "exec", c.lan.Namespace(), "tshark", "-n", "-i", c.d[n].lan.Peer,
			"-f", "inbound and ("+strings.Join(filter, " or ")+")", "-a", fmt.Sprintf("duration:%d", int(d.Seconds())), "-T", "fields", "-e", "eth.src")
		outs[n] = &strings.Builder{}
		cmd.Stdout = outs[n]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[n] = cmd
	}
	got := map[string]int{}
	for n, cmd := range procs {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("tshark on %s's port: %v", n, err)
		}
		got[n] = len(strings.Fields(outs[n].String()))
	}
	return got
}

var lladdr = regexp.MustCompile(`lladdr (\S+)`)

// neighMAC is the MAC in h's neighbour table for addr on eth0.
func neighMAC(t *testing.T, h *netns.Host, addr string) string {
	t.Helper()
	m := lladdr.FindStringSubmatch(h.MustRun("ip", "neigh", "show", addr, "dev", "eth0"))
	if m == nil {
		return ""
	}
	return m[1]
}

// captureAdverts has tshark in h capture n VRRP adverts of vrid on eth0
// and returns each as "ETHERNET-SOURCE IP-SOURCE".
func captureAdverts(t *testing.T, h *netns.Host, vrid, n int) []string {
	t.Helper()
	// The VRID is the second byte of the VRRP header, after a 20-byte IP
	// header (adverts carry no IP options).
	p := h.Start("tshark", "-n", "-l", "-i", "eth0", "-f", fmt.Sprintf("ip proto 112 and ip[21] == %d", vrid),
		"-c", fmt.Sprint(n), "-T", "fields", "-e", "eth.src", "-e", "ip.src")
	done := make(chan error, 1)
	go func() { done <- p.Cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tshark: %v\n%s", err, p.Output())
		}
	case <-time.After(20 * time.Second):
		_ = p.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("tshark saw fewer than %d adverts of VRID %d in 20s:\n%s", n, vrid, p.Output())
	}
	var out []string
	for _, l := range strings.Split(p.Output(), "\n") {
		if f := strings.Split(l, "\t"); len(f) == 2 {
			out = append(out, f[0]+" "+f[1])
		}
	}
	return out
}

func allEqual(got []string, want string) bool {
	return len(got) > 0 && !slices.ContainsFunc(got, func(s string) bool { return s != want })
}
