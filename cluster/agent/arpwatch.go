package agent

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"

	"vigil/fencing"
	"vigil/fencing/arpwatch"
)

// The ARP split-brain detector, wired: every director watches each
// instance interface for ARP claims on the VIPs (fencing/arpwatch) and
// feeds them to its alert monitor, which judges them against the holder's
// MACs. A director's MACs reach the others in its gossip metadata
// (nodemeta.go); its advert source addresses come from the configuration.

// identities returns, per node, the advert source addresses of all its
// instances (the rogue-advert detector's view of who is a director),
// ordered by node.
func identities(src map[string]map[string]netip.Addr) []fencing.NodeIdentity {
	addrs := map[string][]netip.Addr{}
	for _, inst := range slices.Sorted(maps.Keys(src)) {
		for node, a := range src[inst] {
			if _, ok := addrs[node]; !ok {
				addrs[node] = nil
			}
			if a.IsValid() && !slices.Contains(addrs[node], a) {
				addrs[node] = append(addrs[node], a)
			}
		}
	}
	var out []fencing.NodeIdentity
	for _, n := range slices.Sorted(maps.Keys(addrs)) {
		out = append(out, fencing.NodeIdentity{Node: n, Addrs: addrs[n]})
	}
	return out
}

// identify tells the monitor what identifies a director on the wire.
func (r *reporter) identify(id fencing.NodeIdentity) {
	r.ids[id.Node] = id
	r.step(id)
}

// virtualMACs returns the MACs of node's use_vmac interfaces (use_vmac's
// MAC when set, else 00:00:5e:00:01:VRID, or :02: for IPv6): the MACs its
// VIPs answer ARP with.
func virtualMACs(instances []InstanceSetup) []net.HardwareAddr {
	var out []net.HardwareAddr
	for _, is := range instances {
		if is.VMAC != nil {
			out = append(out, is.VMAC.Addr())
		}
	}
	return out
}

// arpInterfaces returns the interfaces to watch, each with its VIPs: the
// one each VIP lives on (a `dev` of its own, or the instance's) and the
// instance's interface too, which sees the LAN's broadcasts even when the
// VIP lives on a macvlan (use_vmac) on top of it. A VMAC itself is never
// watched: a watcher probes, and a probe from a backup's VMAC would carry
// the virtual MAC and teach the switches the wrong port for it.
func arpInterfaces(instances []InstanceSetup) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, is := range instances {
		for _, h := range is.Addrs {
			ifaces := []string{h.Iface, is.Interface}
			if is.VMAC != nil && h.Iface == is.VMAC.Name {
				ifaces = ifaces[1:]
			}
			for _, iface := range ifaces {
				if !slices.Contains(out[iface], h.Addr.Addr()) {
					out[iface] = append(out[iface], h.Addr.Addr())
				}
			}
		}
	}
	return out
}

// localMACs returns the MACs of the interfaces the VIPs live on, in the
// network namespace of the calling thread; interfaces missing now are
// skipped (their instances run without addresses anyway).
func localMACs(ifaces map[string][]netip.Addr) []net.HardwareAddr {
	var out []net.HardwareAddr
	for _, name := range slices.Sorted(maps.Keys(ifaces)) {
		if ifi, err := net.InterfaceByName(name); err == nil && len(ifi.HardwareAddr) == 6 {
			out = append(out, ifi.HardwareAddr)
		}
	}
	return out
}

// openARPWatchers opens one watcher per interface the VIPs live on; each
// claim goes to the agent's monitor. An interface that cannot be watched
// is logged and left: the other detectors still run.
func (d *Director) openARPWatchers(ifaces map[string][]netip.Addr) {
	d.arpIfaces = ifaces
	for _, name := range slices.Sorted(maps.Keys(ifaces)) {
		w, err := arpwatch.Open(arpwatch.Config{
			Interface: name, VIPs: ifaces[name],
			OnClaim: func(o fencing.ARPObservation) { d.Agent.Observe(o) },
			Logger:  d.log.With("component", "arpwatch", "interface", name),
		})
		if err != nil {
			d.log.Warn("no ARP split-brain detection on this interface", "interface", name, "err", err)
			continue
		}
		d.arp = append(d.arp, w)
	}
}

// startARPWatchers runs the watchers (from Run, or from the loop once Run
// has started).
func (d *Director) startARPWatchers() {
	var fns []func(context.Context) error
	for _, w := range d.arp {
		fns = append(fns, w.Run)
	}
	d.arpRun = d.start("arpwatch", fns...)
}

// closeARPWatchers stops and closes the watchers.
func (d *Director) closeARPWatchers() {
	d.arpRun.stop()
	d.arpRun = nil
	for _, w := range d.arp {
		w.Close()
	}
	d.arp = nil
}

// setSources replaces the advert source table (a live configuration
// change that added or removed a node), keeping the MACs gossip taught.
func (r *reporter) setSources(src map[string]map[string]netip.Addr) {
	r.src = src
	for _, id := range identities(src) {
		if old, ok := r.ids[id.Node]; ok {
			id.MACs = old.MACs
		}
		if fmt.Sprint(r.ids[id.Node]) != fmt.Sprint(id) {
			r.identify(id)
		}
	}
}

// setMACs changes the MACs this node answers ARP with for the VIPs (a
// live configuration change added an interface or a VMAC) and gossips
// them, so the other directors' ARP detectors know them.
func (a *Agent) setMACs(macs []net.HardwareAddr) {
	meta, err := encodeMeta(macs)
	if err != nil {
		a.log.Warn("this node's MACs not gossiped", "err", err)
		return
	}
	a.gossip.setLocalMeta(meta)
	if id := a.report.ids[a.cfg.Node]; fmt.Sprint(id.MACs) != fmt.Sprint(macs) {
		id.Node, id.MACs = a.cfg.Node, macs
		a.report.identify(id)
	}
}
