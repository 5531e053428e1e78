package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// trackConf adds, beside VI_1 (which tracks chk only), instances that
// track the vrrp_script chk_a (weight -10; it fails on a director while
// DIR/fail-a-NAMESPACE exists), each held by d1 (priority 100) at first:
//
//	VI_A   chk_a, the script's weight: d1 90 < d2 99, it moves
//	VI_O1  chk_a weight -30: d1 70 < d2 85 (with -10 it would stay)
//	VI_O2  chk_a weight -1: d1 99 > d2 95 (with -10 it would move)
//	VI_NP  chk_a weight 0 (a fault) and nopreempt: it moves, and stays
//	VI_PD  chk_a, preempt_delay 4: it moves, and back, 4 s late
const trackConf = `
vrrp_script chk_a {
    script "DIR/check-a.sh"
    interval 1
    weight -10
    fall 1
    rise 1
}
vrrp_instance VI_A {
    interface eth0
    virtual_router_id 52
    priority 100
    node d2 { priority 99 }
    node d3 { priority 98 }
    advert_int 1
    track_script {
        chk_a
    }
    virtual_ipaddress {
        10.99.0.201/24
    }
}
vrrp_instance VI_O1 {
    interface eth0
    virtual_router_id 53
    priority 100
    node d2 { priority 85 }
    node d3 { priority 80 }
    advert_int 1
    track_script {
        chk_a weight -30
    }
    virtual_ipaddress {
        10.99.0.202/24
    }
}
vrrp_instance VI_O2 {
    interface eth0
    virtual_router_id 54
    priority 100
    node d2 { priority 95 }
    node d3 { priority 80 }
    advert_int 1
    track_script {
        chk_a weight -1
    }
    virtual_ipaddress {
        10.99.0.203/24
    }
}
vrrp_instance VI_NP {
    interface eth0
    virtual_router_id 55
    priority 100
    node d2 { priority 99 }
    node d3 { priority 98 }
    advert_int 1
    nopreempt
    track_script {
        chk_a weight 0
    }
    virtual_ipaddress {
        10.99.0.204/24
    }
}
vrrp_instance VI_PD {
    interface eth0
    virtual_router_id 56
    priority 100
    node d2 { priority 99 }
    node d3 { priority 98 }
    advert_int 1
    preempt_delay 4
    track_script {
        chk_a
    }
    virtual_ipaddress {
        10.99.0.205/24
    }
}
`

const preemptDelay = 4 * time.Second

// trackVIPs names the VIP of each instance.
var trackVIPs = map[string]string{
	"VI_1": vip, "VI_A": "10.99.0.201", "VI_O1": "10.99.0.202", "VI_O2": "10.99.0.203", "VI_NP": "10.99.0.204", "VI_PD": "10.99.0.205",
}

// TestTrackersPerInstance proves on real hosts that a vrrp_script changes
// the priority of the instances that track it, each by its reference's
// weight, and nothing else: failing on d1, which holds every instance, it
// moves VI_A, VI_O1 (its override makes the difference), VI_NP (weight 0:
// a fault) and, preempt_delay later, VI_PD; VI_1 and VI_O2 stay on d1. And
// that the VIPs come back only as nopreempt and preempt_delay say: VI_A
// and VI_O1 at once, VI_PD preempt_delay late, VI_NP never.
func TestTrackersPerInstance(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\n[ ! -e " + dir + "/fail-a-$(ip netns identify) ]\n"
	if err := os.WriteFile(filepath.Join(dir, "check-a.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := newCluster3With(t, strings.ReplaceAll(trackConf, "DIR", dir))
	failA := func(n string, fail bool) {
		p := filepath.Join(dir, "fail-a-"+c.d[n].host.Namespace())
		if fail {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		os.Remove(p)
	}
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	all := slices.Sorted(maps.Keys(trackVIPs))
	// Wait until d1 holds every instance. VI_NP stays wherever it was
	// first assigned (nopreempt): if d1 came up late, a fault on its
	// holder moves it to d1, the best.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		h := c.vipHolders()
		if np := h[trackVIPs["VI_NP"]]; len(np) == 1 && np[0] != "d1" {
			failA(np[0], true)
			c.waitHolders(takeover, map[string]string{"VI_NP": "d1"})
			failA(np[0], false)
			continue
		}
		if c.heldBy(h, "d1", all...) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("d1 does not hold every instance: %v\n%s", h, c.logs())
		}
	}

	failA("d1", true)
	failed := time.Now()
	c.waitHolders(takeover, map[string]string{"VI_A": "d2", "VI_O1": "d2", "VI_NP": "d2", "VI_1": "d1", "VI_O2": "d1"})
	t.Logf("chk_a failed on d1: VI_A, VI_O1 and VI_NP moved to d2 after %v; VI_1 and VI_O2 stayed", time.Since(failed).Round(time.Millisecond))
	movedPD := c.waitHolders(takeover+preemptDelay, map[string]string{"VI_PD": "d2"})
	if took := movedPD.Sub(failed); took < preemptDelay {
		t.Errorf("VI_PD moved %v after its holder's priority dropped, before preempt_delay %v", took, preemptDelay)
	}
	if h := c.vipHolders(); !c.heldBy(h, "d1", "VI_1", "VI_O2") {
		t.Errorf("an instance that does not track chk_a (or whose weight keeps d1 best) moved: %v", h)
	}

	failA("d1", false)
	passed := time.Now()
	c.waitHolders(takeover, map[string]string{"VI_A": "d1", "VI_O1": "d1"})
	t.Logf("chk_a passes on d1 again: VI_A and VI_O1 back after %v", time.Since(passed).Round(time.Millisecond))
	backPD := c.waitHolders(takeover+preemptDelay, map[string]string{"VI_PD": "d1"})
	if took := backPD.Sub(passed); took < preemptDelay {
		t.Errorf("VI_PD came back %v after d1 recovered, before preempt_delay %v", took, preemptDelay)
	}
	t.Logf("VI_PD moved %v after the failure and back %v after the recovery (preempt_delay %v)",
		movedPD.Sub(failed).Round(time.Millisecond), backPD.Sub(passed).Round(time.Millisecond), preemptDelay)
	// VI_NP stays on d2 (nopreempt) although d1 is better again: it would
	// have moved back with VI_A, preempt_delay ago; watch it a while more.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if h := c.vipHolders(); !c.heldBy(h, "d2", "VI_NP") || !c.heldBy(h, "d1", "VI_1", "VI_A", "VI_O1", "VI_O2", "VI_PD") {
			t.Fatalf("after the recovery: %v; want VI_NP on d2 (nopreempt), the rest on d1", h)
		}
	}
}

// vipHolders maps every address of trackVIPs to the directors that have it.
func (c *cluster3) vipHolders() map[string][]string {
	return c.addrHolders(slices.Collect(maps.Values(trackVIPs))...)
}

// addrHolders maps each of addrs to the directors that have it.
func (c *cluster3) addrHolders(want ...string) map[string][]string {
	out := map[string][]string{}
	for _, n := range []string{"d1", "d2", "d3"} {
		addrs, err := c.d[n].host.Run("ip", "-o", "-4", "addr", "show")
		if err != nil {
			c.t.Fatal(err)
		}
		for _, a := range want {
			if strings.Contains(addrs, " "+a+"/") {
				out[a] = append(out[a], n)
			}
		}
	}
	return out
}

// heldBy reports whether director n, and only n, holds each instance.
func (c *cluster3) heldBy(h map[string][]string, n string, instances ...string) bool {
	for _, i := range instances {
		if hs := h[trackVIPs[i]]; len(hs) != 1 || hs[0] != n {
			return false
		}
	}
	return true
}

// waitHolders polls until every instance of want is held by its director
// only, and returns when; no address is ever on two directors meanwhile.
func (c *cluster3) waitHolders(within time.Duration, want map[string]string) time.Time {
	c.t.Helper()
	var h map[string][]string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		h = c.vipHolders()
		ok := true
		for a, hs := range h {
			if len(hs) > 1 {
				c.t.Fatalf("%s on %v at once", a, hs)
			}
		}
		for i, n := range want {
			ok = ok && c.heldBy(h, n, i)
		}
		if ok {
			return time.Now()
		}
	}
	c.t.Fatalf("within %v: holders %v, want %v\n%s", within, h, want, c.logs())
	return time.Time{}
}
