package vrrp_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/test/netns"
	"vigil/vrrp"
)

// vrrpLab is a LAN with a keepalived host ("ka", 10.0.0.2, fe80::2) and a
// vigil host ("vg", 10.0.0.9, fe80::9).
type vrrpLab struct {
	lab    *netns.Lab
	ka, vg *netns.Host
	lan    *netns.Bridge
}

func newVRRPLab(t *testing.T) *vrrpLab {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a network-namespace test")
	}
	lab := netns.New(t)
	l := &vrrpLab{lab: lab, lan: lab.Bridge("lan"), ka: lab.Host("ka"), vg: lab.Host("vg")}
	l.ka.Link(l.lan, "eth0", kaIP4.String()+"/24", "fd00::2/64")
	l.vg.Link(l.lan, "eth0", obsIP4.String()+"/24", "fd00::9/64")
	// The kernel adds the link-local addresses shortly after the links
	// come up; wait for them, then give keepalived a fixed link-local
	// source, so IPv6 captures are reproducible byte for byte (the checksum
	// covers the source).
	for _, h := range []*netns.Host{l.ka, l.vg} {
		waitLinkLocal(t, h)
	}
	for h, ll := range map[*netns.Host]netip.Addr{l.ka: kaIP6, l.vg: obsIP6} {
		h.MustRun("ip", "-6", "addr", "flush", "dev", "eth0", "scope", "link")
		h.MustRun("ip", "addr", "add", ll.String()+"/64", "dev", "eth0", "nodad")
	}
	for _, h := range []*netns.Host{l.ka, l.vg} {
		// A tentative source address makes sendmsg fail with EINVAL.
		deadline := time.Now().Add(10 * time.Second)
		for strings.Contains(h.MustRun("ip", "-6", "addr", "show", "dev", "eth0"), "tentative") {
			if time.Now().After(deadline) {
				t.Fatalf("%s: IPv6 addresses still tentative after 10s", h.Name())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return l
}

// waitLinkLocal waits until eth0 of h has its IPv6 link-local address.
func waitLinkLocal(t *testing.T, h *netns.Host) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.MustRun("ip", "-6", "addr", "show", "dev", "eth0", "scope", "link"), "fe80::") {
		if time.Now().After(deadline) {
			t.Fatalf("%s: eth0 has no IPv6 link-local address after 10s", h.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial opens a raw VRRP conn inside host h.
func dial(t *testing.T, h *netns.Host, cfg vrrp.DialConfig) *vrrp.Conn {
	t.Helper()
	var c *vrrp.Conn
	err := h.Do(func() (err error) {
		c, err = vrrp.Dial(cfg)
		return err
	})
	if err != nil {
		t.Fatalf("dial in %s: %v", h.Name(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// keepalived is one keepalived process in a host, its log scanned for
// state transitions.
type keepalived struct {
	proc *netns.Proc
	dir  string
}

// startKeepalived writes a config with the instances and runs keepalived
// (VRRP only, in the foreground, logging to the console, pid files in a
// temp dir) in host h until the lab closes.
func startKeepalived(t *testing.T, h *netns.Host, insts ...kaInstance) *keepalived {
	t.Helper()
	dir := t.TempDir()
	var conf strings.Builder
	conf.WriteString("global_defs {\n  router_id " + h.Name() + "\n  script_user root\n  enable_script_security\n}\n")
	for _, k := range insts {
		conf.WriteString(k.conf())
	}
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := h.Run("keepalived", "-t", "-f", path); err != nil {
		t.Fatalf("keepalived -t rejects the test config: %v\n%s\n%s", err, out, conf.String())
	}
	p := h.Start("keepalived", "--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"--use-file", path, "--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid"), "--checkers_pid", filepath.Join(dir, "checkers.pid"),
		"--bfd_pid", filepath.Join(dir, "bfd.pid"))
	k := &keepalived{proc: p, dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keepalived in %s logged:\n%s", h.Name(), p.Output())
		}
	})
	return k
}

// count returns how many times keepalived logged substr.
func (k *keepalived) count(substr string) int { return strings.Count(k.proc.Output(), substr) }

// sniffer collects every VRRP message a conn receives.
type sniffer struct {
	mu   sync.Mutex
	got  []capture
	cond chan struct{} // closed and replaced on every capture
	done chan struct{}
}

func sniff(t *testing.T, c *vrrp.Conn) *sniffer {
	s := &sniffer{cond: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 1500)
		for {
			n, info, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, capture{src: info.Src, dst: info.Dst, ttl: info.HopLimit, payload: append([]byte(nil), buf[:n]...)})
			close(s.cond)
			s.cond = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-s.done })
	return s
}

// wait returns the first capture (from index from on) matching f.
func (s *sniffer) wait(from int, timeout time.Duration, f func(capture) bool) (capture, int, error) {
	deadline := time.After(timeout)
	for i := from; ; {
		s.mu.Lock()
		for ; i < len(s.got); i++ {
			if f(s.got[i]) {
				c := s.got[i]
				s.mu.Unlock()
				return c, i, nil
			}
		}
		cond := s.cond
		s.mu.Unlock()
		select {
		case <-cond:
		case <-deadline:
			return capture{}, i, fmt.Errorf("no matching VRRP message within %v", timeout)
		}
	}
}

// vrid reports the VRID and priority of a capture (no validation).
func (c capture) vrid() (uint8, uint8) {
	if len(c.payload) < 3 {
		return 0, 0
	}
	return c.payload[1], c.payload[2]
}
