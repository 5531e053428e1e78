package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/fencing"
	"vigil/fencing/notify"
	"vigil/test/netns"
	"vigil/test/topo"
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
// the authority), every director raises rogue_advert at the first rogue
// advert it sees, and the alert reaches all three sinks of every
// director: the e-mail (an SMTP server in the test), the webhook (an HTTP
// server in the test) and the notify_fifo line. When the rogue goes away
// the alert clears.
func TestRogueKeepalived(t *testing.T) {
	s := newSinks(t)
	c := newCluster3Opts(t, s.clusterConf(2*time.Second, 3), s.globalDefs())
	s.attach(c, true)
	for _, n := range names3 {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })
	epoch := c.epochOf("d1", "VI_1")

	ka := startKeepalived(t, c, rogueConf)
	started := time.Now()
	for _, n := range names3 {
		out := c.waitStatus(n, 5*time.Second, func(s string) bool { return strings.Contains(s, "rogue_advert") })
		if !strings.Contains(out, "10.99.0.66") {
			t.Errorf("%s's rogue_advert alert does not name the rogue's address:\n%s", n, out)
		}
	}
	t.Logf("rogue_advert raised on every director %.1fs after keepalived started", time.Since(started).Seconds())
	if got := c.ask(); got != "d1" {
		t.Errorf("VIP answered from %q with a rogue around; want d1 (the rogue's adverts move nothing)", got)
	}
	if hs := c.holders(); len(hs) != 1 || hs[0] != "d1" {
		t.Errorf("directors holding the VIP: %v, want [d1]", hs)
	}

	// Every director's webhook POST: the alert as raised by the first
	// rogue advert it saw.
	for _, n := range names3 {
		p := s.waitHook(t, c.d[n].lanIP, 10*time.Second, func(p notify.Payload) bool {
			return p.Alert != nil && p.Alert.Kind == fencing.KindRogueAdvert && !p.Alert.Resolved
		})
		a := p.Alert
		if p.Type != "alert" || p.RouterID != "e2e" || a.Instance != "VI_1" || a.Peer != "10.99.0.66" || a.Count != 1 || !a.Since.Equal(a.Last) ||
			a.Evidence["priority"] != "254" || a.Evidence["vrid"] != "51" || a.Evidence["holder"] != "d1" || fmt.Sprint(a.Epoch) != epoch {
			t.Errorf("%s's webhook payload %+v alert %+v; want router e2e, VI_1, peer 10.99.0.66, raised by the first advert (count 1), priority 254, VRID 51, holder d1, epoch %s",
				n, p, a, epoch)
		}
		t.Logf("%s: rogue_advert raised %.1fs after keepalived started", n, a.Since.Sub(started).Seconds())
	}
	// Every director's e-mail.
	subject := "Subject: [e2e] Split-brain alert rogue_advert instance=VI_1 peer=10.99.0.66 - RAISED\r\n"
	for _, n := range names3 {
		m := s.waitMail(t, c.d[n].lanIP, subject)
		if m.Helo != "localhost" || m.From != "<vigil@e2e.example>" || strings.Join(m.Rcpt, ",") != "<ops@example.com>" ||
			!strings.Contains(m.Data, "priority: 254\r\n") || !strings.Contains(m.Data, "epoch: "+epoch+"\r\n") {
			t.Errorf("%s's e-mail: %+v", n, m)
		}
	}
	// Every director's FIFO line.
	raised := `ALERT rogue_advert RAISED "instance=VI_1 peer=10.99.0.66" ` + epoch
	s.waitFIFO(t, raised, 3)

	if err := ka.Signal(9); err != nil {
		t.Fatal(err)
	}
	for _, n := range names3 {
		c.waitStatus(n, 20*time.Second, func(s string) bool { return !strings.Contains(s, "rogue_advert") })
	}
	s.waitFIFO(t, strings.Replace(raised, "RAISED", "CLEARED", 1), 3)
}

// startKeepalived runs a keepalived with conf on a rogue host of the LAN
// (10.99.0.66).
func startKeepalived(t *testing.T, c *cluster3, conf string) *netns.Proc {
	rogue := c.lab.Host("rogue")
	rogue.Link(c.lan, "eth0", "10.99.0.66/24")
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return rogue.Start(topo.KeepalivedArgv(path, filepath.Join(dir, "rogue"))...)
}
