package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// statusAlert is one open alert of `vigil status --json`.
type statusAlert struct {
	Kind     string
	Since    time.Time
	Evidence map[string]string
}

// alertsOf returns the open alerts director name reports.
func (c *cluster3) alertsOf(name string) []statusAlert {
	c.t.Helper()
	out, err := c.d[name].host.Run(vigilBin, "status", "--json")
	if err != nil {
		return nil // the API may be restarting; callers poll
	}
	var st struct{ Alerts []statusAlert }
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		c.t.Fatalf("status --json on %s: %v\n%s", name, err, out)
	}
	return st.Alerts
}

// waitAlert polls director name until it reports an open alert of kind
// that ok accepts, and returns it.
func (c *cluster3) waitAlert(name, kind string, within time.Duration, ok func(statusAlert) bool) statusAlert {
	c.t.Helper()
	var last []statusAlert
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		last = c.alertsOf(name)
		for _, a := range last {
			if a.Kind == kind && ok(a) {
				return a
			}
		}
	}
	c.t.Fatalf("%s reported no matching %s alert within %v; open alerts: %+v\n%s", name, kind, within, last, c.logs())
	return statusAlert{}
}

// metric returns the value of one sample line of director name's /metrics
// ("" when absent).
func (c *cluster3) metric(name, sample string) string {
	for _, l := range strings.Split(c.httpInNS(name, "127.0.0.1:7070", "/metrics"), "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			return v
		}
	}
	return ""
}

// TestARPConflict: every director watches the LAN for ARP claims on the
// VIP. A normal failover raises nothing: the new holder's gratuitous ARPs
// are its own, even when they arrive before the replicated assignment. A
// foreign host that configures the VIP and announces it raises
// arp_conflict on every director, with the rogue's MAC as evidence, in
// `vigil status --json` and /metrics; the VIP stays where the cluster put
// it; when the rogue is gone, the alert clears after the quiet time.
func TestARPConflict(t *testing.T) {
	c := newCluster3(t)
	for _, n := range names3 {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })

	// A planned failover: d1's tracked script fails, d2 takes over.
	c.failCheck("d1", true)
	c.waitAnswer(takeover, func(n string) bool { return n == "d2" })
	// Packets from directors are judged after the handover grace (3s)
	// at the next tick: wait that out, then nothing may have been raised.
	time.Sleep(5 * time.Second)
	for _, n := range names3 {
		for _, kind := range []string{"arp_conflict", "rogue_advert"} {
			if v := c.metric(n, fmt.Sprintf(`vigil_alerts_total{kind=%q}`, kind)); v != "0" {
				t.Errorf("%s raised %s %s time(s) during a normal failover; open: %+v", n, kind, v, c.alertsOf(n))
			}
		}
	}

	rogue := c.lab.Host("rogue")
	rif := rogue.Link(c.lan, "eth0", "10.99.0.66/24")
	rmac, err := rif.MAC()
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	rogue.MustRun("ip", "addr", "add", vip+"/24", "dev", "eth0")
	rogue.MustRun("arping", "-U", "-c", "1", "-I", "eth0", vip)
	for _, n := range names3 {
		a := c.waitAlert(n, "arp_conflict", 10*time.Second, func(a statusAlert) bool { return a.Evidence["mac"] == rmac })
		if a.Evidence["vip"] != vip || a.Evidence["holder"] != "d2" || a.Evidence["instance"] != "VI_1" || a.Evidence["peer"] != rmac {
			t.Errorf("%s's arp_conflict alert: %+v; want VIP %s, holder d2, peer %s", n, a.Evidence, vip, rmac)
		}
		if v := c.metric(n, `vigil_alerts_open{kind="arp_conflict"}`); v != "1" {
			t.Errorf("%s: vigil_alerts_open{kind=\"arp_conflict\"} = %q, want 1", n, v)
		}
	}
	t.Logf("arp_conflict on every director %.1fs after the rogue took the VIP", time.Since(started).Seconds())
	if hs := c.holders(); len(hs) != 1 || hs[0] != "d2" {
		t.Errorf("directors holding the VIP with a rogue around: %v, want [d2]", hs)
	}

	rogue.MustRun("ip", "addr", "del", vip+"/24", "dev", "eth0")
	gone := time.Now()
	for _, n := range names3 {
		c.waitStatus(n, 30*time.Second, func(s string) bool { return !strings.Contains(s, "arp_conflict") })
	}
	t.Logf("arp_conflict cleared %.1fs after the rogue let the VIP go", time.Since(gone).Seconds())
	if v := c.metric("d3", `vigil_alerts_open{kind="arp_conflict"}`); v != "0" {
		t.Errorf("d3: vigil_alerts_open{kind=\"arp_conflict\"} = %q after the clear, want 0", v)
	}
}
