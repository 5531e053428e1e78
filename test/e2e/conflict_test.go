package e2e

import (
	"strings"
	"testing"
	"time"

	"vigil/test/topo"
)

// conflictConf adds to the cluster's VI_1 an instance whose VIP another
// host has (VI_2) and one whose VIP names an interface only d2 has (VI_3).
var conflictConf = instanceConf("VI_2", 52, "", "10.99.0.230/24") + instanceConf("VI_3", 53, "", "10.99.0.240/24 dev eth9")

const taken = "10.99.0.230"

// TestBadInstancesLeaveOthersRunning: issue 4's bad input. A host that is
// not a director has VI_2's VIP before the cluster starts: the director
// granted VI_2 probes it, finds the host, does not take the VIP and logs a
// clear error naming the instance and the host's MAC, which vigil status
// shows as an arp_conflict alert; the client keeps reaching that host. VI_3's VIP is on eth9, which only d2 has: d1 and d3
// log that VI_3 cannot run there and report a fault for it alone, so d2
// takes it although d1 has the higher priority. VI_1 runs on d1
// throughout. When the other host lets go of VI_2's address, d1 takes it.
func TestBadInstancesLeaveOthersRunning(t *testing.T) {
	c := newCluster3With(t, conflictConf)
	other := c.lab.Host("other")
	otherIf := other.Link(c.lan, "eth0", "10.99.0.66/24", taken+"/24")
	topo.ServeName(t, other, "other")
	otherMAC, err := otherIf.MAC()
	if err != nil {
		t.Fatal(err)
	}
	c.d["d2"].host.MustRun("ip", "link", "add", "eth9", "type", "veth", "peer", "name", "eth9p")
	c.d["d2"].host.MustRun("ip", "link", "set", "eth9p", "up")
	c.d["d2"].host.MustRun("ip", "link", "set", "eth9", "up")
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })

	refused := c.waitLog("d1", 10*time.Second, func(l string) bool {
		return strings.Contains(l, "VIP owned by another host") && strings.Contains(l, "instance=VI_2")
	})
	if !strings.Contains(refused, taken+" is at "+otherMAC) {
		t.Errorf("d1's refusal does not name %s at the other host's MAC %s:\n%s", taken, otherMAC, refused)
	}
	c.waitStatus("d1", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "arp_conflict") && strings.Contains(s, otherMAC) && strings.Contains(s, "VI_2")
	})
	for _, n := range []string{"d1", "d2", "d3"} {
		// Only the other host's address is suspect: the directors probed
		// all the VIPs at the same moment, and probes claim nothing.
		suspect := grepLines(c.vigil.Proc(n).Output(), `msg="VIP answered for at startup`)
		if len(suspect) != 1 || !strings.Contains(suspect[0], "instance=VI_2") {
			t.Errorf("%s's startup probe suspects %q, want VI_2's VIP only", n, suspect)
		}
		if out := c.d[n].host.MustRun("ip", "-o", "-4", "addr", "show"); strings.Contains(out, " "+taken+"/") {
			t.Errorf("%s has %s, which another host has:\n%s", n, taken, out)
		}
	}
	for _, n := range []string{"d1", "d3"} {
		missing := c.waitLog(n, 5*time.Second, func(l string) bool {
			return strings.Contains(l, "instance cannot run on this node") && strings.Contains(l, "instance=VI_3")
		})
		if !strings.Contains(missing, "eth9") {
			t.Errorf("%s's error for VI_3 does not name eth9:\n%s", n, missing)
		}
	}
	for deadline := time.Now().Add(15 * time.Second); !c.d["d2"].hasAddr("eth9", "10.99.0.240"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("d2 did not take VI_3 while d1 and d3 lack eth9\n%s", c.logs())
		}
	}
	for _, n := range []string{"d1", "d3"} {
		if c.d[n].hasAddr("", "10.99.0.240") {
			t.Errorf("%s has VI_3's VIP without eth9", n)
		}
	}
	if got := c.askAt(taken); got != "other" {
		t.Errorf("%s answered by %q, want still the host that has it", taken, got)
	}
	if mac := neighMAC(t, c.client, taken); mac != otherMAC {
		t.Errorf("client resolves %s to %s, want the other host's %s", taken, mac, otherMAC)
	}
	if got := c.ask(); got != "d1" {
		t.Errorf("VI_1 answered by %q, want d1: the other instances run on", got)
	}

	other.MustRun("ip", "addr", "del", taken+"/24", "dev", "eth0")
	got, took := c.waitAnswerAt(taken, 20*time.Second, func(n string) bool { return n == "d1" })
	t.Logf("%s answered on %s %v after the other host let go of it", got, taken, took.Round(time.Millisecond))
	if !strings.Contains(c.vigil.Proc("d1").Output(), "no other host has the instance's VIPs: taking it") {
		t.Errorf("d1 took VI_2 without saying the conflict is over")
	}
}

// waitLog waits until a line of director n's log satisfies ok and returns it.
func (c *cluster3) waitLog(n string, within time.Duration, ok func(string) bool) string {
	c.t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, l := range strings.Split(c.vigil.Proc(n).Output(), "\n") {
			if ok(l) {
				return l
			}
		}
	}
	c.t.Fatalf("%s logged no expected line within %v\n%s", n, within, c.logs())
	return ""
}
