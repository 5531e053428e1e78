package vip_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"vigil/test/netns"
	"vigil/vrrp/vip"
)

// TestProbe: the duplicate-address probe on a real LAN. A host that has
// the address answers and is named by its MAC; a free address, the
// prober's own address, and another prober probing the same address at
// the same time (every director probes at startup) are no claims. A
// missing interface and a cancelled probe are errors.
func TestProbe(t *testing.T) {
	checkGoroutines(t)
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	d1, d2, owner := lab.Host("d1"), lab.Host("d2"), lab.Host("owner")
	d1.Link(lan, "eth0", "10.0.0.1/24")
	d2.Link(lan, "eth0", "10.0.0.2/24")
	ownerIf := owner.Link(lan, "eth0", "10.0.0.66/24", "10.0.0.200/24")
	ownerMAC, err := ownerIf.MAC()
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := openSender(t, d1), openSender(t, d2)
	taken, free, own := netip.MustParseAddr("10.0.0.200"), netip.MustParseAddr("10.0.0.201"), netip.MustParseAddr("10.0.0.1")

	var wg sync.WaitGroup
	var c1, c2 []vip.Claim
	var e1, e2 error
	wg.Add(2)
	go func() {
		defer wg.Done()
		c1, e1 = s1.Probe(context.Background(), "eth0", []netip.Addr{free, taken, own, netip.MustParseAddr("fd00::1")}, vip.ProbeTiming{})
	}()
	go func() {
		defer wg.Done()
		c2, e2 = s2.Probe(context.Background(), "eth0", []netip.Addr{free}, vip.ProbeTiming{})
	}()
	wg.Wait()
	if e1 != nil || e2 != nil {
		t.Fatal(e1, e2)
	}
	if len(c1) != 1 || c1[0].Addr != taken || c1[0].MAC.String() != ownerMAC || c1[0].Iface != "eth0" {
		t.Errorf("d1's probe found %v, want only %s at %s", c1, taken, ownerMAC)
	}
	if len(c2) != 0 {
		t.Errorf("d2's probe of a free address found %v: another prober's probes are no claims", c2)
	}

	if _, err := s1.Probe(context.Background(), "eth9", []netip.Addr{free}, vip.ProbeTiming{}); !errors.Is(err, vip.ErrNoInterface) {
		t.Errorf("probe on a missing interface: %v, want ErrNoInterface", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := s1.Probe(ctx, "eth0", []netip.Addr{free}, vip.ProbeTiming{Count: 3, Interval: time.Second}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled probe: %v, want the context's error", err)
	}
}

// openSender opens a LinkSender inside h, closed with the test.
func openSender(t *testing.T, h *netns.Host) *vip.LinkSender {
	t.Helper()
	var s *vip.LinkSender
	if err := h.Do(func() (err error) { s, err = vip.NewLinkSender(vip.SenderOptions{}); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
