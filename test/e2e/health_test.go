package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const healthConf = `
virtual_server 10.99.0.200 9000 {
    lvs_sched mh
    lvs_method NAT
    protocol TCP
    real_server 192.168.99.21 9000 {
        TCP_CHECK {
            connect_timeout 1
            delay_loop 1
            retry 0
        }
    }
    real_server 192.168.99.22 9000 {
        TCP_CHECK {
            connect_timeout 1
            delay_loop 1
            retry 0
        }
    }
}
`

// TestHealthVerdictsAgreed: real servers in namespaces, checked by every
// director over the heartbeat network. One director losing its path to a
// real server changes nothing (the majority still sees it up, and every
// director keeps it in its load balancer); two of three losing it takes
// it out everywhere, the third director included; restoring the paths
// brings it back.
func TestHealthVerdictsAgreed(t *testing.T) {
	c := newCluster3With(t, healthConf)
	c.startRealServers()
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })

	const rs1 = "192.168.99.21"
	inTables := func(n string) bool {
		out, err := c.d[n].host.Run("nft", "list", "table", "ip", "vigil")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(out, rs1)
	}
	waitAll := func(what string, want bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if inTables("d1") == want && inTables("d2") == want && inTables("d3") == want {
				return
			}
		}
		t.Fatalf("%s: rs1 in the tables of d1 %t, d2 %t, d3 %t; want all %t\n%s", what, inTables("d1"), inTables("d2"), inTables("d3"), want, c.fullLogs())
	}
	cut := func(n string) {
		c.d[n].host.MustRun("nft", "add table inet cut; add chain inet cut out { type filter hook output priority 0; } ; add rule inet cut out ip daddr "+rs1+" drop")
	}
	heal := func(n string) { c.d[n].host.MustRun("nft", "delete", "table", "inet", "cut") }

	waitAll("all paths up", true)

	cut("d1")
	// d1's own report goes down and is committed; the agreed verdict stays.
	out := c.waitStatus("d3", 10*time.Second, func(s string) bool {
		// SERVICE (2 words)  REAL SERVER  VERDICT  REPORTS...
		for _, line := range strings.Split(s, "\n") {
			if f := strings.Fields(line); len(f) == 7 && f[2] == rs1+":9000" {
				return f[3] == "up" && strings.Join(f[4:], " ") == "d1=down d2=up d3=up"
			}
		}
		return false
	})
	t.Logf("one path cut:\n%s", out)
	for _, n := range []string{"d1", "d2", "d3"} {
		if !inTables(n) {
			t.Errorf("one director's path cut: %s took rs1 out of its tables", n)
		}
	}

	cut("d2")
	waitAll("two of three paths cut", false)

	heal("d1")
	heal("d2")
	waitAll("paths restored", true)

	t.Run("config apply", func(t *testing.T) {
		d1 := c.d["d1"].host
		if out, err := d1.Run(vigilBin, "config", "diff", c.conf); err != nil {
			t.Fatalf("config diff of the running file: %v\n%s", err, out)
		}
		orig := c.confText()
		write := c.writeConf
		refused := func(path, want string) {
			t.Helper()
			out, err := d1.Run(vigilBin, "config", "apply", path)
			if err == nil || !strings.Contains(out, want) {
				t.Errorf("apply of %s: %v, want a refusal saying %q:\n%s", filepath.Base(path), err, want, out)
			}
			if out, err := d1.Run(vigilBin, "config", "diff", c.conf); err != nil {
				t.Errorf("a refused apply changed the cluster's configuration:\n%s", out)
			}
		}
		// Bad input changes nothing and names file, line and keyword.
		refused(write("typo.conf", strings.Replace(orig, "lvs_sched mh", "lvs_shed mh", 1)), "typo.conf:")
		refused(write("rename.conf", strings.Replace(orig, "name e2e", "name other", 1)), "cluster: ")

		// A priority change applies live: d3 at 150 preempts d1 and
		// advertises 150; back at 98, d1 (100) preempts it again.
		d1.MustRun(vigilBin, "config", "apply", write("prio.conf", strings.Replace(orig, "node d3 { priority 98 }", "node d3 { priority 150 }", 1)))
		if got, _ := c.waitAnswer(takeover, func(n string) bool { return n == "d3" }); got != "d3" {
			t.Fatalf("after raising d3's priority the VIP answers from %q", got)
		}
		if prio := advertPriority(t, c, c.d["d3"].lanIP); prio != "150" {
			t.Errorf("d3 advertises priority %q after the live change, want 150", prio)
		}
		d1.MustRun(vigilBin, "config", "apply", c.conf)
		c.waitAnswer(takeover, func(n string) bool { return n == "d1" })

		// Removing a real server applies live on every director.
		i := strings.Index(orig, "    real_server 192.168.99.22 9000 {")
		j := strings.Index(orig[i:], "\n    }\n") + i + len("\n    }\n")
		smaller := write("smaller.conf", orig[:i]+orig[j:])
		out := d1.MustRun(vigilBin, "config", "apply", smaller)
		t.Logf("%s", out)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if !inTablesAddr(c, "d1", "192.168.99.22") && !inTablesAddr(c, "d2", "192.168.99.22") && !inTablesAddr(c, "d3", "192.168.99.22") {
				break
			}
		}
		for _, n := range []string{"d1", "d2", "d3"} {
			if inTablesAddr(c, n, "192.168.99.22") || !inTablesAddr(c, n, rs1) {
				t.Errorf("after the apply %s's load balancer: rs2 present %t, rs1 present %t; want false, true", n, inTablesAddr(c, n, "192.168.99.22"), inTablesAddr(c, n, rs1))
			}
		}
		if out, err := c.d["d3"].host.Run(vigilBin, "config", "diff", smaller); err != nil {
			t.Errorf("d3 does not run the applied configuration:\n%s", out)
		}
	})
}

// advertPriority captures one VRRP advert from src on the client's side of
// the LAN and returns the priority tshark decodes in it.
func advertPriority(t *testing.T, c *cluster3, src string) string {
	t.Helper()
	out, err := c.client.Run("timeout", "10", "tshark", "-i", "any", "-c", "1", "-f", "ip proto 112 and src host "+src,
		"-T", "fields", "-e", "vrrp.prio")
	if err != nil {
		t.Fatalf("capture an advert from %s: %v\n%s", src, err, out)
	}
	f := strings.Fields(out)
	if len(f) == 0 {
		t.Fatalf("no advert from %s decoded:\n%s", src, out)
	}
	return f[len(f)-1]
}

func inTablesAddr(c *cluster3, n, addr string) bool {
	out, err := c.d[n].host.Run("nft", "list", "table", "ip", "vigil")
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.Contains(out, addr)
}

// startRealServers puts rs1 and rs2 on the heartbeat network with a TCP
// service on :9000 that accepts and closes.
func (c *cluster3) startRealServers() {
	for i, n := range []string{"rs1", "rs2"} {
		h := c.lab.Host(n)
		h.Link(c.hb, "eth0", fmt.Sprintf("192.168.99.%d/24", 21+i))
		var ln net.Listener
		if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", ":9000"); return err }); err != nil {
			c.t.Fatal(err)
		}
		c.t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		}()
	}
}
