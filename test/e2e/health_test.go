package e2e

import (
	"fmt"
	"net"
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
