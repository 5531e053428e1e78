package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"vigil/fencing"
	"vigil/fencing/arpwatch"
)

// ErrAddressInUse wraps the refusal to take an instance one of whose VIPs
// another host has (it answered an ARP probe).
var ErrAddressInUse = errors.New("address in use by another host")

// Prober finds the other hosts that have some of addrs on a link: the
// claims (ARP replies and announcements) for them seen during one probe.
// A Director's is probeARP.
type Prober func(ctx context.Context, iface string, addrs []netip.Addr) ([]fencing.ARPObservation, error)

// The timing of probeARP. RFC 5227 asks for three probes one to two
// seconds apart before an address is first used; a VIP that moves between
// directors must be taken in milliseconds, so a probe here is four ARP
// probes 50 ms apart, listening for 200 ms in all: enough for any host on
// the segment to answer, short enough to run before a takeover.
const (
	probeEvery = 50 * time.Millisecond
	probeFor   = 200 * time.Millisecond
)

// probeARP probes addrs on iface with an arpwatch.Watcher run for probeFor
// (in the network namespace of the calling thread). It returns each claim
// once per address and MAC, in address then MAC order.
func probeARP(ctx context.Context, iface string, addrs []netip.Addr) ([]fencing.ARPObservation, error) {
	var out []fencing.ARPObservation
	w, err := arpwatch.Open(arpwatch.Config{Interface: iface, VIPs: addrs, Probe: probeEvery, OnClaim: func(o fencing.ARPObservation) {
		if !slices.ContainsFunc(out, func(x fencing.ARPObservation) bool {
			return x.SenderIP == o.SenderIP && bytes.Equal(x.SenderMAC, o.SenderMAC)
		}) {
			out = append(out, o)
		}
	}})
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, probeFor)
	defer cancel()
	if err := w.Run(pctx); ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return out, err
	}
	slices.SortFunc(out, func(a, b fencing.ARPObservation) int {
		if d := a.SenderIP.Compare(b.SenderIP); d != 0 {
			return d
		}
		return bytes.Compare(a.SenderMAC, b.SenderMAC)
	})
	return out, nil
}

// probeTarget is what of an instance is probed: its IPv4 VIPs, on the link
// they are announced on (for a VMAC, its parent: a backup must never send
// with the virtual MAC, or switches would learn it on the wrong port).
type probeTarget struct {
	Instance string
	Iface    string
	Addrs    []netip.Addr
}

func (t probeTarget) key() string { return t.Instance + " " + t.Iface }

// conflictGuard keeps a director from taking a VIP that another host has
// (RFC 5227's duplicate address detection, cut to what a failover can
// afford). Policy:
//
//  1. At startup every instance's IPv4 VIPs are probed (probeFor:
//     200 ms), one round per link, in the background: the director starts
//     at once, and only a take, which needs a lease from a cluster that
//     first has to elect a leader, waits for the round to end.
//  2. An address answered for at startup is only suspect: the answer may
//     come from another director holding it (this one restarted), whose
//     MAC this node does not know. A suspect instance is probed again when
//     this node is about to take it: the cluster grants an instance only
//     once its previous holder has released it or is fenced, so an answer
//     then comes from a host that is not one of ours. An instance nobody
//     answered for is taken at once: no probe delays a failover.
//  3. Answered again, the instance is not taken (keepalived would take it
//     regardless and fight the other host over the address): the take
//     fails with ErrAddressInUse naming the VIP and the MAC, which is
//     logged, and every claim goes to the alert monitor as an ARP
//     observation (arp_conflict). The other instances run on. The lease
//     goes on, and every renewal tries the take again, probing at most
//     once per recheck, so the instance is taken once the other host has
//     let go of the address.
//  4. A probe that fails (a socket error) lets the take go ahead: this
//     check must never be what keeps a VIP down.
//
// IPv6 VIPs are not probed. A conflictGuard is safe for concurrent use.
type conflictGuard struct {
	probe   Prober
	recheck time.Duration
	now     func() time.Time
	observe func(fencing.Event)
	log     *slog.Logger

	ready   chan struct{} // closed when the startup round is over
	mu      sync.Mutex
	suspect map[string]bool      // targets answered for at startup or at the last probe
	last    map[string]time.Time // target → time of its last take probe
	lastErr map[string]error     // target → what that probe found
}

// defaultRecheck is how often a refused instance is probed again.
const defaultRecheck = 5 * time.Second

func newConflictGuard(p Prober, observe func(fencing.Event), log *slog.Logger) *conflictGuard {
	return &conflictGuard{
		probe: p, recheck: defaultRecheck, ready: make(chan struct{}), now: time.Now, observe: observe, log: log,
		suspect: map[string]bool{}, last: map[string]time.Time{}, lastErr: map[string]error{},
	}
}

// start runs startup in the background until it is over or ctx ends;
// vet waits for it, and so should whoever cancels ctx (<-g.ready). The
// probes run in the network namespace of the process: a director's whole
// process runs in its own.
func (g *conflictGuard) start(ctx context.Context, targets []probeTarget) {
	go func() {
		defer close(g.ready)
		g.startup(ctx, targets)
	}()
}

// startup probes every target, one round per link, and marks the
// instances whose VIPs something answered for as suspect (step 1).
func (g *conflictGuard) startup(ctx context.Context, targets []probeTarget) {
	var links []string
	byLink := map[string][]netip.Addr{}
	for _, t := range targets {
		if _, ok := byLink[t.Iface]; !ok {
			links = append(links, t.Iface)
		}
		byLink[t.Iface] = append(byLink[t.Iface], t.Addrs...)
	}
	for _, link := range links {
		claims, err := g.probe(ctx, link, byLink[link])
		if err != nil {
			g.log.Warn("could not probe the VIPs for other hosts having them", "iface", link, "err", err)
		}
		for _, t := range targets {
			if t.Iface != link {
				continue
			}
			for _, c := range claimsFor(claims, t.Addrs) {
				g.log.Warn("VIP answered for at startup: by another director holding it, or by another host; it is probed again before this node takes it",
					"instance", t.Instance, "vip", c.SenderIP, "mac", c.SenderMAC.String(), "iface", c.Iface)
				g.mu.Lock()
				g.suspect[t.key()] = true
				g.mu.Unlock()
			}
		}
	}
}

// suspectAll marks targets suspect: each is probed before its first take
// (an instance a configuration change added or redefined was not probed
// at startup).
func (g *conflictGuard) suspectAll(targets []probeTarget) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range targets {
		g.suspect[t.key()] = true
		delete(g.last, t.key())
		delete(g.lastErr, t.key())
	}
}

// vet is Wire's Vet for t: nil lets the take go ahead (steps 2-4).
func (g *conflictGuard) vet(t probeTarget) error {
	<-g.ready
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.suspect[t.key()] {
		return nil
	}
	now := g.now()
	if last, ok := g.last[t.key()]; ok && now.Sub(last) < g.recheck {
		return g.lastErr[t.key()]
	}
	g.last[t.key()] = now
	claims, err := g.probe(context.Background(), t.Iface, t.Addrs)
	if err != nil {
		g.log.Warn("could not probe the VIPs before taking the instance; taking it", "instance", t.Instance, "err", err)
		g.lastErr[t.key()] = nil
		return nil
	}
	claims = claimsFor(claims, t.Addrs)
	if len(claims) == 0 {
		g.log.Info("no other host has the instance's VIPs: taking it", "instance", t.Instance)
		delete(g.suspect, t.key())
		delete(g.last, t.key())
		delete(g.lastErr, t.key())
		return nil
	}
	var who []string
	for _, c := range claims {
		who = append(who, fmt.Sprintf("%s is at %s on %s", c.SenderIP, c.SenderMAC, c.Iface))
		c.At = now
		g.observe(c)
	}
	err = fmt.Errorf("instance %s: %w: %s (not one of our directors: the cluster granted this node the instance, so its previous holder let go); not taking it while that host answers",
		t.Instance, ErrAddressInUse, strings.Join(who, ", "))
	g.log.Error("VIP owned by another host", "instance", t.Instance, "err", err)
	g.lastErr[t.key()] = err
	return err
}

// claimsFor keeps the claims of addrs.
func claimsFor(claims []fencing.ARPObservation, addrs []netip.Addr) []fencing.ARPObservation {
	var out []fencing.ARPObservation
	for _, c := range claims {
		for _, a := range addrs {
			if c.SenderIP.Unmap() == a.Unmap() {
				out = append(out, c)
				break
			}
		}
	}
	return out
}
