package netns_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"vigil/test/netns"
)

// TestTwoHostsOnABridge proves the harness builds a working L2 segment:
// two hosts ping each other, Go code in one host's namespace talks TCP to a
// server in the other, and a link taken down at the switch stops traffic.
func TestTwoHostsOnABridge(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	a, b := lab.Host("a"), lab.Host("b")
	a.Link(lan, "eth0", "10.77.0.1/24", "fd00:77::1/64")
	ib := b.Link(lan, "eth0", "10.77.0.2/24", "fd00:77::2/64")

	a.MustRun("ping", "-c1", "-W2", "10.77.0.2")
	a.MustRun("ping", "-c1", "-W2", "fd00:77::2")

	var ln net.Listener
	if err := b.Do(func() (err error) {
		ln, err = net.Listen("tcp", "10.77.0.2:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = c.Write([]byte("hello"))
			c.Close()
		}
	}()
	var got string
	if err := a.Do(func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 16)
		n, _ := c.Read(buf)
		got = string(buf[:n])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got != "hello" {
		t.Fatalf("read %q over TCP between namespaces, want hello", got)
	}

	if err := ib.Down(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run("ping", "-c1", "-W1", "10.77.0.2"); err == nil {
		t.Fatal("ping succeeded with b's link down at the switch")
	}
	if err := ib.Up(); err != nil {
		t.Fatal(err)
	}
	a.MustRun("ping", "-c1", "-W2", "10.77.0.2")
	mac, err := ib.MAC()
	if err != nil || !strings.Contains(mac, ":") {
		t.Fatalf("MAC() = %q, %v", mac, err)
	}
}

// TestCleanup proves Close removes every namespace and kills processes.
func TestCleanup(t *testing.T) {
	var prefix string
	t.Run("lab", func(t *testing.T) {
		lab := netns.New(t)
		prefix = lab.Prefix()
		h := lab.Host("x")
		lab.Bridge("lan")
		h.Start("sleep", "600")
	})
	out, err := runIP("netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, prefix) {
		t.Fatalf("namespaces of %s left behind:\n%s", prefix, out)
	}
	if ps, _ := runCmd("pgrep", "-f", "sleep 600"); strings.TrimSpace(ps) != "" {
		t.Fatalf("sleep 600 still running: %s", ps)
	}
}

// TestTap: a host tapped into a bridge sees, once each, the unicast frames
// two other hosts exchange (one linked before the tap, one after), and
// what it sends on the tap reaches nobody.
func TestTap(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	a, b, m := lab.Host("a"), lab.Host("b"), lab.Host("m")
	a.Link(lan, "eth0", "10.77.0.1/24")
	m.Tap(lan, "tap0")
	b.Link(lan, "eth0", "10.77.0.2/24")
	dump := m.Start("tcpdump", "-n", "-l", "-i", "tap0", "icmp")
	// tcpdump is capturing once it says so.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(dump.Output(), "listening on"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start:\n%s", dump.Output())
		}
	}
	a.MustRun("ping", "-c3", "-i0.2", "-W2", "10.77.0.2")
	time.Sleep(300 * time.Millisecond)
	out := dump.Output()
	if req, rep := strings.Count(out, "ICMP echo request"), strings.Count(out, "ICMP echo reply"); req != 3 || rep != 3 {
		t.Errorf("the tap saw %d echo requests and %d replies, want 3 each:\n%s", req, rep, out)
	}
	// The tap is no port of the bridge: m cannot reach a.
	m.MustRun("ip", "addr", "add", "10.77.0.9/24", "dev", "tap0")
	m.MustRun("ip", "link", "set", "tap0", "arp", "on")
	if _, err := m.Run("ping", "-c1", "-W1", "10.77.0.1"); err == nil {
		t.Error("a host on a tap reached the bridge")
	}
}
