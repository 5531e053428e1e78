package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/test/netns"
	"vigil/test/topo"
)

// vigilBin is the vigil binary built once for the package by TestMain.
var vigilBin string

func TestMain(m *testing.M) { os.Exit(topo.RunWithVigil(m, &vigilBin)) }

// subnets of the e2e lab: directors 10.99.0.11-13 and 192.168.99.11-13.
var subnets = topo.Subnets{LAN: "10.99.0", HB: "192.168.99"}

const vip = "10.99.0.200"

var names3 = topo.Names

// director is one vigil agent in its own namespace, on two links.
type director struct {
	name string
	host *netns.Host
	lan  *netns.Iface // link 0, carries the VIP
	hb   *netns.Iface // link 1, heartbeat only
	dir  string
	// lanIP is its address on the LAN.
	lanIP string
}

// cluster3 is three directors on a LAN (link 0) and a heartbeat network
// (link 1), and a client on the LAN (topo.Three), running vigil agents.
type cluster3 struct {
	t         *testing.T
	lab       *netns.Lab
	th        *topo.Three
	vigil     *topo.Daemons
	conf      string
	dir       string
	notifyLog string
	d         map[string]*director
	client    *netns.Host
	lan, hb   *netns.Bridge
}

const clusterConf = `global_defs {
    router_id e2e
    vrrp_garp_master_delay 1
    vrrp_garp_master_refresh 1
}
cluster {
    name e2e
    data_dir /var/lib/vigil
    node d1 { address 10.99.0.11 192.168.99.11 }
    node d2 { address 10.99.0.12 192.168.99.12 }
    node d3 { address 10.99.0.13 192.168.99.13 }
    api_listen 127.0.0.1:7070
    api_token e2e-secret
CLUSTEREXTRA}
vrrp_script chk {
    script "CHECK"
    interval 1
    weight -10
    fall 1
    rise 1
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    node d2 { priority 99 }
    node d3 { priority 98 }
    advert_int 1
    notify NOTIFY
    track_script {
        chk
    }
    virtual_ipaddress {
        10.99.0.200/24
    }
}
`

func newCluster3(t *testing.T) *cluster3 { return newCluster3With(t, "") }

// newCluster3With appends extra to the cluster's configuration.
func newCluster3With(t *testing.T, extra string) *cluster3 { return newCluster3Opts(t, "", extra) }

// newCluster3Opts adds clusterExtra inside the cluster block and appends
// extra to the configuration.
func newCluster3Opts(t *testing.T, clusterExtra, extra string) *cluster3 {
	lab := netns.New(t)
	th := topo.New(t, lab, subnets)
	c := &cluster3{t: t, lab: lab, th: th, d: map[string]*director{}, client: th.Client, lan: th.LAN, hb: th.HB}
	dir := t.TempDir()
	c.conf = filepath.Join(dir, "vigil.conf")
	c.notifyLog = filepath.Join(dir, "notify.log")
	script := filepath.Join(dir, "notify.sh")
	// keepalived's notify: TYPE NAME STATE PRIORITY; the namespace tells
	// which director ran it.
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$(ip netns identify) $*\" >> "+c.notifyLog+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The tracked script fails on a director while DIR/fail-NAMESPACE
	// exists.
	c.dir = dir
	check := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(check, []byte("#!/bin/sh\n[ ! -e "+dir+"/fail-$(ip netns identify) ]\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("NOTIFY", script, "CHECK", check, "CLUSTEREXTRA", strings.ReplaceAll(clusterExtra, "DIR", dir)).Replace(clusterConf)
	if err := os.WriteFile(c.conf, []byte(conf+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range names3 {
		td := th.D[n]
		c.d[n] = &director{name: n, host: td.Host, lan: td.LAN, hb: td.HB, dir: filepath.Join(dir, n), lanIP: td.LANIP}
	}
	c.vigil = topo.Vigil(th, vigilBin, c.conf, dir, "info")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent logs:\n%s", c.fullLogs())
		}
	})
	return c
}

// start runs director name's agent, with extra arguments if given.
func (c *cluster3) start(name string, extra ...string) { c.vigil.Start(name, extra...) }

// ask connects to the VIP from the client and returns the name of the
// director that answered ("" if none answered).
func (c *cluster3) ask() string { return c.askAt(vip) }

// askAt is ask for another address.
func (c *cluster3) askAt(addr string) string { return c.th.AskAt(addr, 300*time.Millisecond) }

// waitAnswer polls the VIP until a director accepted by ok answers.
func (c *cluster3) waitAnswer(within time.Duration, ok func(string) bool) (string, time.Duration) {
	c.t.Helper()
	return c.waitAnswerAt(vip, within, ok)
}

// waitAnswerAt is waitAnswer for another address.
func (c *cluster3) waitAnswerAt(addr string, within time.Duration, ok func(string) bool) (string, time.Duration) {
	c.t.Helper()
	got, took, err := c.th.WaitAnswerAt(addr, within, 50*time.Millisecond, 300*time.Millisecond, ok)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, c.logs())
	}
	return got, took
}

// hasVIP reports whether d has the VIP on any interface.
func (d *director) hasVIP() bool { return d.hasAddr("", vip) }

// hasAddr reports whether d has addr on iface ("": on any interface).
func (d *director) hasAddr(iface, addr string) bool {
	args := []string{"ip", "-o", "-4", "addr", "show"}
	if iface != "" {
		args = append(args, "dev", iface)
	}
	out, err := d.host.Run(args...)
	return err == nil && strings.Contains(out, " "+addr+"/")
}

func (c *cluster3) holders() []string {
	var hs []string
	for _, n := range []string{"d1", "d2", "d3"} {
		if c.d[n].hasVIP() {
			hs = append(hs, n)
		}
	}
	return hs
}

// logs is the tail of every running agent's output.
func (c *cluster3) logs() string { return c.vigil.Dump(3000) }

func (c *cluster3) kill(name string) {
	if err := c.vigil.Kill(name); err != nil {
		c.t.Fatal(err)
	}
}

// notified returns the notify lines of director name, as
// "INSTANCE VI_1 MASTER 100".
func (c *cluster3) notified(name string) []string {
	b, _ := os.ReadFile(c.notifyLog)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		ns, rest, ok := strings.Cut(l, " ")
		if ok && strings.HasSuffix(ns, "-"+name) {
			out = append(out, rest)
		}
	}
	return out
}

// httpInNS GETs path from addr inside director name's namespace.
func (c *cluster3) httpInNS(name, addr, path string) string {
	body, err := c.d[name].host.Get(addr, path, 3*time.Second)
	if err != nil {
		c.t.Fatalf("GET %s%s in %s: %v", addr, path, name, err)
	}
	return body
}

// waitStatus polls `vigil status` on director name until ok accepts it.
func (c *cluster3) waitStatus(name string, within time.Duration, ok func(string) bool) string {
	c.t.Helper()
	var out string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, _ = c.d[name].host.Run(vigilBin, "status")
		if ok(out) {
			return out
		}
	}
	c.t.Fatalf("vigil status on %s did not become as expected within %v:\n%s", name, within, out)
	return out
}

func (c *cluster3) fullLogs() string { return c.vigil.Dump(0) }

func (c *cluster3) notifiedHas(name, line string) bool {
	for _, l := range c.notified(name) {
		if l == line {
			return true
		}
	}
	return false
}

// failCheck makes the tracked vrrp_script fail (or pass again) on name.
func (c *cluster3) failCheck(name string, fail bool) {
	path := filepath.Join(c.dir, "fail-"+c.d[name].host.Namespace())
	if fail {
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	os.Remove(path)
}

// epochOf is the epoch of instance in vigil status --json on director n.
func (c *cluster3) epochOf(n, instance string) string {
	out := c.d[n].host.MustRun(vigilBin, "status", "--json")
	var st struct {
		Instances []struct {
			Name  string
			Epoch uint64
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		c.t.Fatalf("status --json: %v", err)
	}
	for _, i := range st.Instances {
		if i.Name == instance {
			return fmt.Sprint(i.Epoch)
		}
	}
	c.t.Fatalf("no instance %s in the status", instance)
	return ""
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// confText is the text of the cluster's configuration file.
func (c *cluster3) confText() string {
	b, err := os.ReadFile(c.conf)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(b)
}

// writeConf writes a configuration file named name in the test's
// directory and returns its path.
func (c *cluster3) writeConf(name, text string) string {
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return p
}
