// Package e2e runs vigil agents as real processes in network namespaces:
// three directors on two links (a LAN carrying the VIP and a heartbeat
// network) and a client, and checks on the wire what the cluster does
// under kills, link cuts, isolation and freezes.
package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The bound on a takeover with the default timing (lease 2 s): the
// leader waits the lease plus the kernel's address lifetime slack out,
// with margin for the election and the client's polling.
const takeover = 15 * time.Second

// TestClusterOnTwoLinks exercises issue 3's real-host proofs in one lab,
// with an ARP observer on the client failing the test on any round where
// two directors answer for the VIP.
func TestClusterOnTwoLinks(t *testing.T) {
	c := newCluster3(t)
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	arpw := c.watchARP()

	got, _ := c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })
	t.Logf("VIP answered from %s (priority 100)", got)

	t.Run("notify scripts in transition order", func(t *testing.T) {
		// keepalived's notify: BACKUP at start, then MASTER on d1.
		want := []string{"INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100"}
		var got []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if got = c.notified("d1"); len(got) >= 2 {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("d1 ran notify with %q, want %q", got, want)
		}
		if n := c.notified("d2"); !slices.Equal(n, []string{"INSTANCE VI_1 BACKUP 99"}) {
			t.Errorf("d2 ran notify with %q, want only BACKUP 99", n)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		body := c.httpInNS("d1", "127.0.0.1:7070", "/metrics")
		for _, want := range []string{"# HELP vigil_", `vigil_instance_epoch{instance="VI_1"}`} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics on d1 lacks %q:\n%.2000s", want, body)
			}
		}
	})

	t.Run("status", func(t *testing.T) {
		out, err := c.d["d2"].host.Run(vigilBin, "status", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Nodes []struct {
				Name      string
				RaftState string `json:"raft_state"`
				Links     []struct{ Name, State string }
			}
			Instances []struct {
				Name, Holder string
				Epoch        uint64
			}
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		if len(st.Nodes) != 3 || len(st.Instances) != 1 || st.Instances[0].Holder != "d1" || st.Instances[0].Epoch == 0 {
			t.Fatalf("status from d2 = %+v; want 3 nodes and VI_1 held by d1 with an epoch", st)
		}
	})

	t.Run("members", func(t *testing.T) {
		out := c.d["d3"].host.MustRun(vigilBin, "members", "list")
		for _, n := range []string{"d1", "d2", "d3"} {
			if !strings.Contains(out, n+"  ") || !strings.Contains(out, "voter") {
				t.Errorf("members list lacks %s as a voter:\n%s", n, out)
			}
		}
		if strings.Contains(out, "false  false") {
			t.Errorf("a member is unreachable:\n%s", out)
		}
	})

	t.Run("one link cut moves nothing", func(t *testing.T) {
		if err := c.d["d2"].hb.Down(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(8 * time.Second)
		var out string
		for time.Now().Before(deadline) {
			out, _ = c.d["d1"].host.Run(vigilBin, "status")
			if strings.Contains(out, "link_degraded") {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !strings.Contains(out, "link_degraded") {
			t.Errorf("no link_degraded alert on d1 with d2's heartbeat link cut:\n%s", out)
		}
		if got := c.ask(); got != "d1" {
			t.Errorf("VIP answered from %q with one link cut; want d1 (nothing moves)", got)
		}
		if err := c.d["d2"].hb.Up(); err != nil {
			t.Fatal(err)
		}
		// Restored: the alert clears.
		deadline = time.Now().Add(8 * time.Second)
		for time.Now().Before(deadline) {
			out, _ = c.d["d1"].host.Run(vigilBin, "status")
			if !strings.Contains(out, "link_degraded") {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if strings.Contains(out, "link_degraded") {
			t.Errorf("link_degraded still open on d1 after the link came back:\n%s", out)
		}
	})

	t.Run("a failing vrrp_script moves the VIP", func(t *testing.T) {
		// weight -10: d1 drops to 90 below d2's 99, and the VIP moves; when
		// the script passes again d1 is back at 100 and preempts.
		c.failCheck("d1", true)
		got, took := c.waitAnswer(takeover, func(n string) bool { return n != "d1" })
		t.Logf("vrrp_script failed on d1: %s took the VIP after %v", got, took.Round(time.Millisecond))
		if got != "d2" {
			t.Errorf("%s took the VIP, want d2 (99 > 98)", got)
		}
		c.failCheck("d1", false)
		c.waitAnswer(takeover, func(n string) bool { return n == "d1" })
	})

	t.Run("drain hands over in a planned move", func(t *testing.T) {
		d1 := c.d["d1"].host
		if out, err := d1.Run(vigilBin, "drain", "d9", "-f", c.conf); err == nil || !strings.Contains(out, "node") || !strings.Contains(out, "not a cluster member") {
			t.Errorf("drain of an unknown node: %v\n%s", err, out)
		}
		if out, err := d1.Run(vigilBin, "drain", "d1", "--token", "wrong"); err == nil || !strings.Contains(out, "401") {
			t.Errorf("drain with a wrong token: %v\n%s", err, out)
		}
		if got := c.ask(); got != "d1" {
			t.Fatalf("refused drains moved the VIP to %q", got)
		}
		arpw.ResetGap()
		d1.MustRun(vigilBin, "drain", "d1", "-f", c.conf)
		got, _ := c.waitAnswer(takeover, func(n string) bool { return n != "d1" })
		time.Sleep(300 * time.Millisecond)
		t.Logf("drained d1: %s took the VIP; longest time nobody answered ARP: %v", got, arpw.Gap())
		if !c.notifiedHas("d1", "INSTANCE VI_1 BACKUP 100") {
			t.Errorf("drained d1 did not run notify BACKUP: %q", c.notified("d1"))
		}
		d1.MustRun(vigilBin, "undrain", "d1", "-f", c.conf)
		c.waitAnswer(takeover, func(n string) bool { return n == "d1" })
	})

	t.Run("transfer hands over and pins", func(t *testing.T) {
		d2 := c.d["d2"].host
		for _, bad := range []struct{ args, want string }{
			{"VI_9 --to d3", "instance: no instance \"VI_9\""},
			{"VI_1 --to d9", "to: node \"d9\" is not a candidate"},
		} {
			args := append([]string{vigilBin, "transfer"}, strings.Fields(bad.args)...)
			if out, err := d2.Run(append(args, "-f", c.conf)...); err == nil || !strings.Contains(out, bad.want) {
				t.Errorf("vigil transfer %s: %v\n%s\nwant an error with %q", bad.args, err, out, bad.want)
			}
		}
		arpw.ResetGap()
		out := d2.MustRun(vigilBin, "transfer", "VI_1", "--to", "d3", "-f", c.conf)
		if !strings.Contains(out, "held by d3") {
			t.Fatalf("transfer to d3 printed %q", out)
		}
		if got, _ := c.waitAnswer(takeover, func(n string) bool { return n == "d3" }); got != "d3" {
			t.Fatalf("after transfer to d3 the VIP answers from %q", got)
		}
		time.Sleep(300 * time.Millisecond)
		t.Logf("transfer d1 → d3: longest time nobody answered ARP: %v", arpw.Gap())
		// d1 (priority 100) would preempt d3 (98); the pin keeps it on d3.
		time.Sleep(2 * time.Second)
		if got := c.ask(); got != "d3" {
			t.Errorf("pinned VIP moved back to %q", got)
		}
		if st := c.d["d1"].host.MustRun(vigilBin, "status", "--json"); !strings.Contains(st, `"pinned": "d3"`) {
			t.Errorf("status on d1 does not show the pin to d3:\n%s", st)
		}
		// Without --to: the best other eligible node (d1, 100).
		out = d2.MustRun(vigilBin, "transfer", "VI_1", "-f", c.conf)
		if !strings.Contains(out, "held by d1") {
			t.Errorf("transfer without --to from d3 printed %q, want d1 (highest priority)", out)
		}
		d2.MustRun(vigilBin, "transfer", "VI_1", "--clear", "-f", c.conf)
		c.waitAnswer(takeover, func(n string) bool { return n == "d1" })
	})

	t.Run("kill -9 of the holder", func(t *testing.T) {
		c.kill("d1")
		got, took := c.waitAnswer(takeover, func(n string) bool { return n != "d1" })
		t.Logf("after kill -9 of d1, %s answered in %v", got, took.Round(time.Millisecond))
		// The dead d1's address may linger until its kernel lifetime
		// ends, but its fence keeps it silent: only got answers ARP.
		time.Sleep(200 * time.Millisecond)
		if who := arpw.Answering(); !slices.Equal(who, []string{got}) {
			t.Errorf("after the takeover %v answer ARP for the VIP, want only %s", who, got)
		}
		c.start("d1") // rejoins from its data directory and takes the VIP back
		c.waitAnswer(takeover, func(n string) bool { return n == "d1" })
	})

	t.Run("isolated holder never serves", func(t *testing.T) {
		d1 := c.d["d1"]
		_ = d1.lan.Down()
		_ = d1.hb.Down()
		// The majority side takes over; the minority drops the VIP within
		// its lease (the ARP observer checks they never both answer).
		var other string
		deadline := time.Now().Add(takeover)
		for time.Now().Before(deadline) {
			if hs := c.holders(); len(hs) == 1 && hs[0] != "d1" {
				other = hs[0]
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if other == "" {
			t.Fatalf("no majority director took the VIP from the isolated d1 (holders %v)\n%s", c.holders(), c.logs())
		}
		// Self-fencing: the isolated holder ran notify_fault (its lease ran
		// out), and measured how long after the lease end it was done.
		if n := c.notified("d1"); !slices.Contains(n, "INSTANCE VI_1 FAULT 100") {
			t.Errorf("isolated d1 did not run notify FAULT; its notify lines: %q", n)
		}
		m := c.httpInNS("d1", "127.0.0.1:7070", "/metrics")
		if !strings.Contains(m, `vigil_self_fence_seconds_count{step="notify_fault"} 1`) || !strings.Contains(m, `vigil_self_fence_seconds_count{step="vip_released"} 1`) {
			t.Errorf("d1's metrics lack the self-fence measurement:\n%s", grepLines(m, "self_fence"))
		} else {
			t.Logf("d1 self-fenced: %s", strings.Join(grepLines(m, "self_fence_seconds_sum"), "; "))
		}
		if d1.hasVIP() {
			t.Errorf("isolated d1 still has the VIP")
		}
		_ = d1.lan.Up()
		_ = d1.hb.Up()
		c.waitAnswer(takeover, func(n string) bool { return n == "d1" })
	})

	t.Run("frozen holder loses the address", func(t *testing.T) {
		d1 := c.d["d1"]
		if err := c.vigil.Signal("d1", syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		// Frozen, d1 cannot remove the VIP: the kernel lifetime must.
		deadline := time.Now().Add(takeover)
		for d1.hasVIP() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if d1.hasVIP() {
			t.Fatalf("frozen d1 still has the VIP after %v: the kernel lifetime did not expire it", takeover)
		}
		got, _ := c.waitAnswer(takeover, func(n string) bool { return n != "d1" })
		if err := c.vigil.Signal("d1", syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		// Thawed, d1 must not put the VIP back on its stale lease; it may
		// take it back only through a new grant, after got released it.
		time.Sleep(500 * time.Millisecond)
		t.Logf("after the freeze %s took over; holders now %v", got, c.holders())
	})
}
