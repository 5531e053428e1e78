package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestMembersRemoveAdd takes a director out of the Raft configuration
// (it must be drained first) and brings it back rebuilt: an empty data
// directory, started with --join, added with vigil members add, and then
// able to hold the VIP.
func TestMembersRemoveAdd(t *testing.T) {
	c := newCluster3(t)
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })
	d2 := c.d["d2"].host
	voters := func(out string) []string {
		var vs []string
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[1] == "voter" {
				vs = append(vs, f[0])
			}
		}
		return vs
	}

	for _, bad := range []struct{ args, want string }{
		{"remove d3", "node: node d3 is not drained: run vigil drain d3 first"},
		{"add d9", "node: node \"d9\" is not in the cluster block"},
		{"rename d3", "use 'list', 'add NODE' or 'remove NODE'"},
	} {
		args := append([]string{vigilBin, "members"}, strings.Fields(bad.args)...)
		if out, err := d2.Run(append(args, "-f", c.conf)...); err == nil || !strings.Contains(out, bad.want) {
			t.Errorf("vigil members %s: %v\n%s\nwant an error with %q", bad.args, err, out, bad.want)
		}
	}

	d2.MustRun(vigilBin, "drain", "d3", "-f", c.conf)
	out := d2.MustRun(vigilBin, "members", "remove", "d3", "-f", c.conf)
	if got := voters(out); strings.Join(got, " ") != "d1 d2" {
		t.Fatalf("after removing d3 the voters are %v:\n%s", got, out)
	}
	// d3 is gone for good: its machine is rebuilt with an empty disk.
	c.kill("d3")
	if err := os.RemoveAll(c.d["d3"].dir); err != nil {
		t.Fatal(err)
	}
	if got := c.ask(); got != "d1" {
		t.Errorf("with d3 removed and stopped the VIP answers from %q, want d1", got)
	}

	c.start("d3", "--join")
	out = d2.MustRun(vigilBin, "members", "add", "d3", "-f", c.conf)
	if got := voters(out); strings.Join(got, " ") != "d1 d2 d3" {
		t.Fatalf("after adding d3 the voters are %v:\n%s", got, out)
	}
	// The rebuilt d3 received the log: it knows it is drained, and once
	// undrained it can take the VIP.
	d3 := c.d["d3"].host
	c.waitStatus("d3", 10*time.Second, func(s string) bool { return strings.Contains(s, "VI_1") && strings.Contains(s, "d1") })
	d3.MustRun(vigilBin, "undrain", "d3", "-f", c.conf)
	if out := d3.MustRun(vigilBin, "transfer", "VI_1", "--to", "d3", "-f", c.conf); !strings.Contains(out, "held by d3") {
		t.Fatalf("transfer to the re-added d3 printed %q", out)
	}
	c.waitAnswer(takeover, func(n string) bool { return n == "d3" })
}
