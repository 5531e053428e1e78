package arpwatch

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"vigil/fencing"
	"vigil/test/netns"
)

// TestWatcherOnTheWire: on a real LAN of namespaces, a Watcher reports
// nothing its own host sends, the reply of a host that has the VIP
// configured (its probes make it answer), and a stranger's gratuitous
// ARP; Run returns at once when its context ends (the Watcher runs no
// goroutine of its own).
func TestWatcherOnTheWire(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	w := lab.Host("w")
	w.Link(lan, "eth0", "10.0.0.11/24")
	r := lab.Host("rogue")
	rif := r.Link(lan, "eth0", "10.0.0.99/24")
	rmac, err := rif.MAC()
	if err != nil {
		t.Fatal(err)
	}

	claims := make(chan fencing.ARPObservation, 64)
	var wt *Watcher
	if err := w.Do(func() (err error) {
		wt, err = Open(Config{Interface: "eth0", VIPs: []netip.Addr{vip}, Probe: 200 * time.Millisecond,
			OnClaim: func(o fencing.ARPObservation) { claims <- o }})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wt.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v, want context.Canceled", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Run did not stop within 2s of its context ending")
		}
	}()

	// The watching host holds the VIP and announces it: its own frames
	// are not claims to judge here.
	w.MustRun("ip", "addr", "add", "10.0.0.100/24", "dev", "eth0")
	w.MustRun("arping", "-U", "-c", "1", "-I", "eth0", "10.0.0.100")
	select {
	case o := <-claims:
		t.Fatalf("claim from the watching host itself: %+v", o)
	case <-time.After(time.Second):
	}

	// A rogue configures the VIP: it answers the probes.
	r.MustRun("ip", "addr", "add", "10.0.0.100/24", "dev", "eth0")
	o := next(t, claims)
	if o.SenderIP != vip || o.SenderMAC.String() != rmac || o.Gratuitous || o.Iface != "eth0" || time.Since(o.At) > 5*time.Second {
		t.Fatalf("claim %+v, want a reply for %s from %s on eth0", o, vip, rmac)
	}

	// And announces it (among its replies to the probes).
	r.MustRun("arping", "-U", "-c", "1", "-I", "eth0", "10.0.0.100")
	for o = next(t, claims); !o.Gratuitous; {
		o = next(t, claims)
	}
	if o.SenderMAC.String() != rmac {
		t.Fatalf("claim %+v, want a gratuitous ARP from %s", o, rmac)
	}
}

func next(t *testing.T, c chan fencing.ARPObservation) fencing.ARPObservation {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("no claim within 5s")
	}
	return fencing.ARPObservation{}
}
