package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const rogueConf = `global_defs {
    router_id rogue
    script_user root
}
vrrp_instance ROGUE {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 254
    advert_int 1
    virtual_ipaddress {
        10.99.0.201/24
    }
}
`

// TestRogueKeepalived: a leftover keepalived with priority 254 and our
// VRID appears on the LAN. vigil's holder keeps the VIP (adverts are not
// the authority) and every director raises rogue_advert within two advert
// intervals; when the rogue goes away the alert clears.
func TestRogueKeepalived(t *testing.T) {
	c := newCluster3(t)
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })

	rogue := c.lab.Host("rogue")
	rogue.Link(c.lan, "eth0", "10.99.0.66/24")
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(rogueConf), 0o600); err != nil {
		t.Fatal(err)
	}
	ka := rogue.Start("keepalived", "--dont-fork", "--log-console", "--no-syslog", "--vrrp",
		"--use-file", conf, "--pid", filepath.Join(dir, "k.pid"), "--vrrp_pid", filepath.Join(dir, "v.pid"),
		"--checkers_pid", filepath.Join(dir, "c.pid"), "--bfd_pid", filepath.Join(dir, "b.pid"))
	started := time.Now()

	for _, n := range []string{"d1", "d2"} {
		out := c.waitStatus(n, 5*time.Second, func(s string) bool { return strings.Contains(s, "rogue_advert") })
		if !strings.Contains(out, "10.99.0.66") {
			t.Errorf("%s's rogue_advert alert does not name the rogue's address:\n%s", n, out)
		}
	}
	t.Logf("rogue_advert raised %.1fs after keepalived started", time.Since(started).Seconds())
	if got := c.ask(); got != "d1" {
		t.Errorf("VIP answered from %q with a rogue around; want d1 (the rogue's adverts move nothing)", got)
	}
	if hs := c.holders(); len(hs) != 1 || hs[0] != "d1" {
		t.Errorf("directors holding the VIP: %v, want [d1]", hs)
	}

	if err := ka.Signal(9); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("d1", 20*time.Second, func(s string) bool { return !strings.Contains(s, "rogue_advert") })
}
