package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fence hook logs its arguments and environment, and fails while
// DIR/fence-fail exists.
const fenceCluster = `    fence_peer {
        script DIR/fence.sh
        timeout 5
        required
    }
`

// TestFencePeer: the holder is cut off on both links. The leader runs the
// fence_peer hook exactly once, with the node, instance and epoch, before
// the takeover. With a failing required hook there is no takeover (and
// the alert says why) until the hook succeeds.
func TestFencePeer(t *testing.T) {
	c := newCluster3Opts(t, fenceCluster, "")
	log := filepath.Join(c.dir, "fence.log")
	script := "#!/bin/sh\necho \"$* env=$VIGIL_NODE/$VIGIL_INSTANCE/$VIGIL_EPOCH\" >> " + log + "\n[ ! -e " + c.dir + "/fence-fail ]\n"
	if err := os.WriteFile(filepath.Join(c.dir, "fence.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names3 {
		c.start(n)
	}
	c.watchARP() // fails the test on any ARP request two directors answer
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })
	epoch := c.epochOf("d2", "VI_1")

	lines := func() []string {
		b, _ := os.ReadFile(log)
		return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", " | "))
	}
	isolate := func(on bool) {
		for _, i := range []func() error{c.d["d1"].lan.Down, c.d["d1"].hb.Down} {
			if on {
				_ = i()
			}
		}
		if !on {
			_ = c.d["d1"].lan.Up()
			_ = c.d["d1"].hb.Up()
		}
	}

	isolate(true)
	got, took := c.waitAnswer(takeover, func(n string) bool { return n != "d1" })
	t.Logf("isolated d1: %s took the VIP after %v; fence log %q", got, took.Round(time.Millisecond), lines())
	b, _ := os.ReadFile(log)
	runs := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := "d1 VI_1 " + epoch + " "
	if len(runs) != 1 || !strings.HasPrefix(runs[0], want) || !strings.HasSuffix(runs[0], "env=d1/VI_1/"+epoch) {
		t.Errorf("fence hook runs: %q; want exactly one starting %q with the same in its environment", runs, want)
	}
	isolate(false)
	c.waitAnswer(takeover, func(n string) bool { return n == "d1" })
	// Let the cluster settle (every link back, no alert) before the next
	// isolation.
	c.waitStatus("d2", 20*time.Second, func(s string) bool { return strings.Contains(s, "no open alerts") })

	// A failing required hook: no takeover, and an alert that says why.
	if err := os.WriteFile(filepath.Join(c.dir, "fence-fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	isolate(true)
	// The leader runs the hook and raises the alert: d2 or d3.
	var out string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !strings.Contains(out, "fence_failed"); time.Sleep(200 * time.Millisecond) {
		a, _ := c.d["d2"].host.Run(vigilBin, "status")
		b, _ := c.d["d3"].host.Run(vigilBin, "status")
		out = a + b
	}
	if !strings.Contains(out, "fence_failed") {
		t.Fatalf("no fence_failed alert on d2 or d3 while the hook fails:\n%s", out)
	}
	if got := c.ask(); got != "" {
		t.Errorf("with the fence hook failing, %s answered for the VIP", got)
	}
	t.Logf("status while the hook fails:\n%s", out)
	os.Remove(filepath.Join(c.dir, "fence-fail"))
	got, _ = c.waitAnswer(60*time.Second, func(n string) bool { return n != "d1" })
	t.Logf("hook succeeds again: %s took the VIP", got)
	isolate(false)
}
