package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vigil/test/topo"
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
	voters := voterNames

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

// voterNames are the voters in the output of vigil members.
func voterNames(out string) []string {
	var vs []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == "voter" {
			vs = append(vs, f[0])
		}
	}
	return vs
}

// TestMembersNewNode grows the cluster by a director it never had: the
// cluster block gains d4 through vigil config apply (every director learns
// its addresses live), d4 starts with --join, vigil members add d4 makes it
// a voter, and it can take the VIP. A cluster block that drops a voter is
// refused.
func TestMembersNewNode(t *testing.T) {
	c := newCluster3(t)
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })
	d2 := c.d["d2"].host
	orig := c.confText()
	write := c.writeConf

	// Dropping d3 from the cluster block while it is a voter is refused.
	drop := strings.Replace(orig, "    node d3 { address 10.99.0.13 192.168.99.13 }\n", "", 1)
	drop = write("drop.conf", strings.Replace(drop, "    node d3 { priority 98 }\n", "", 1))
	if out, err := d2.Run(vigilBin, "config", "apply", drop); err == nil || !strings.Contains(out, "node d3 is missing from the cluster block but is a Raft voter") {
		t.Errorf("config apply without d3: %v\n%s", err, out)
	}

	grown := strings.Replace(orig, "    node d3 { address 10.99.0.13 192.168.99.13 }\n",
		"    node d3 { address 10.99.0.13 192.168.99.13 }\n    node d4 { address 10.99.0.14 192.168.99.14 }\n", 1)
	grown = strings.Replace(grown, "    node d3 { priority 98 }\n", "    node d3 { priority 98 }\n    node d4 { priority 97 }\n", 1)
	// The agents' file itself grows (d4 starts from it).
	write(filepath.Base(c.conf), grown)
	d2.MustRun(vigilBin, "config", "apply", c.conf)

	h := c.lab.Host("d4")
	d4 := &director{name: "d4", host: h, dir: filepath.Join(c.dir, "d4"), lanIP: "10.99.0.14"}
	d4.lan = h.Link(c.lan, "eth0", "10.99.0.14/24")
	d4.hb = h.Link(c.hb, "eth1", "192.168.99.14/24")
	c.d["d4"] = d4
	c.th.D["d4"] = &topo.Director{Name: "d4", Host: h, LAN: d4.lan, HB: d4.hb, LANIP: "10.99.0.14", HBIP: "192.168.99.14"}
	c.start("d4", "--join")
	out := d2.MustRun(vigilBin, "members", "add", "d4", "-f", c.conf)
	voters := voterNames(out)
	if strings.Join(voters, " ") != "d1 d2 d3 d4" {
		t.Fatalf("after adding d4 the voters are %v:\n%s", voters, out)
	}
	// d4 has received the log (it sees the holder) before it is asked.
	c.waitStatus("d4", 10*time.Second, func(s string) bool { return strings.Contains(s, "VI_1") && strings.Contains(s, "d1") })
	if out := h.MustRun(vigilBin, "transfer", "VI_1", "--to", "d4", "-f", c.conf); !strings.Contains(out, "held by d4") {
		t.Fatalf("transfer to the new d4 printed %q", out)
	}
	for deadline := time.Now().Add(5 * time.Second); !d4.hasVIP(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("d4 holds VI_1 but has no VIP address\n%s", c.vigil.Proc("d4").Output())
		}
	}
	if hs := c.holders(); len(hs) != 0 {
		t.Errorf("with d4 holding the VIP, %v have it too", hs)
	}
	// d4's own adverts are not a rogue's: every director knows its source.
	time.Sleep(2 * time.Second)
	if st := c.d["d1"].host.MustRun(vigilBin, "status", "--json"); strings.Contains(st, "rogue_advert") {
		t.Errorf("d4's adverts raised rogue_advert on d1:\n%s", st)
	}
}
