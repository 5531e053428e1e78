package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"vigil/config"
)

// instanceDef fingerprints what holding instance base puts on the wire
// (cluster.InstanceSpec.Def): its setup as every node sees it, leaving out
// what changes live without a new take (priority; nopreempt and
// preempt_delay are not in a setup). It is the same on every node for the
// same configuration, and adding a node without an override of the
// instance does not change it.
func instanceDef(base *config.VRRPInstance) (string, error) {
	h := sha256.New()
	add := func(node string, i *config.VRRPInstance) error {
		is, err := instanceSetup(i)
		if err != nil {
			return err
		}
		is.Advert.Priority = 0
		b, err := json.Marshal(is)
		if err != nil {
			return fmt.Errorf("agent: instance %s: definition: %w", i.Name, err)
		}
		fmt.Fprintf(h, "%s\x00%s\x00", node, b)
		return nil
	}
	if err := add("", base); err != nil {
		return "", err
	}
	for _, n := range base.OverrideNodes() {
		v, err := base.ForNode(n)
		if err != nil {
			return "", fmt.Errorf("agent: instance %s on %s: %w", base.Name, n, err)
		}
		if err := add(n, v); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// applyInstances applies a live change of the instances. Priorities,
// nopreempt and preempt_delay change in place. An instance that is new,
// or whose definition changed, is opened afresh (sockets, VMAC, adverts,
// listener; its VIPs probed before its first take); one that is gone, or
// superseded, is closed once it is released: the cluster core releases it
// at once, and grants the new definitions only once no old one can still
// be held (see package cluster, "Changing the instances"). The VIP manager
// and the fence know the old and the new addresses until then.
//
// Opening happens first: if an instance cannot be opened, everything
// opened is closed again and nothing changes.
func (d *Director) applyInstances(cur, next *Setup) error {
	defs := func(s *Setup) map[string]string {
		m := map[string]string{}
		for _, sp := range s.Agent.Instances {
			m[sp.Name] = sp.Def
		}
		return m
	}
	was, will := defs(cur), defs(next)
	old := map[string]*runInstance{}
	for _, ri := range d.insts {
		old[ri.setup.Name] = ri
	}
	var keep, opened []*runInstance
	for _, is := range next.Instances {
		if ri := old[is.Name]; ri != nil && was[is.Name] == will[is.Name] {
			ri.setup = is
			keep = append(keep, ri)
			continue
		}
		ri, err := d.openInstance(is)
		if err != nil {
			for _, o := range opened {
				d.closeInstance(o)
			}
			return err
		}
		opened = append(opened, ri)
		keep = append(keep, ri)
	}
	// Nothing below fails: the change is committed.
	for _, ri := range d.insts {
		if !slices.Contains(keep, ri) {
			d.retired[ri.wire] = ri
		}
	}
	d.insts = keep
	d.wire.SetInstances(wiresOf(keep)) // retires at once what nothing holds
	d.setOwned()
	targets := probeTargets(opened)
	d.guard.suspectAll(targets) // a new VIP may be another host's: probe before the first take
	vetTakes(d.guard, targets, opened)
	for _, ri := range opened {
		d.startInstance(ri)
	}
	if !reflect.DeepEqual(cur.Agent.Instances, next.Agent.Instances) {
		if err := d.Agent.setInstances(next.Agent.Instances); err != nil {
			return err // normalized the same way by Check: not reached
		}
	}
	d.Agent.report.setInstances(time.Now(), next.Agent.Report, next.Agent.Instances)
	for _, ri := range keep {
		if !slices.Contains(opened, ri) {
			if err := d.wire.SetPriority(ri.setup.Name, ri.setup.Advert.Priority); err != nil {
				return err
			}
		}
	}
	if len(opened) > 0 || len(d.retired) > 0 {
		d.log.Info("instances changed live", "opened", len(opened), "to_close_once_released", len(d.retired))
	}
	d.applyWatchers(next)
	return nil
}

// retire closes a definition a configuration change superseded, once
// nothing holds it (Wire calls it), and forgets its addresses.
func (d *Director) retire(w *WireInstance) {
	ri, ok := d.retired[w]
	if !ok {
		return
	}
	delete(d.retired, w)
	d.closeInstance(ri)
	d.setOwned()
}

// setOwned tells the VIP manager and the fence every address of the
// running and the retiring instances.
func (d *Director) setOwned() {
	wires := d.wire.Definitions()
	if err := d.mgr.SetOwned(Owned(wires)); err != nil {
		d.log.Warn("VIP manager pass after a change of the instances", "err", err)
	}
	if d.fence != nil {
		if err := d.fence.SetVIPs(vipsOf(wires)); err != nil {
			d.log.Error("the fence does not know the new VIPs: they are not taken until it does", "err", err)
		}
	}
}

// vipsOf is every VIP of the instances, once.
func vipsOf(wires []*WireInstance) []netip.Addr {
	var out []netip.Addr
	for _, o := range Owned(wires) {
		if !slices.Contains(out, o.Addr) { // on a VMAC and its parent
			out = append(out, o.Addr)
		}
	}
	return out
}

// applyWatchers brings what watches the instances in line with them: the
// trackers (a changed vrrp_script, track_file or track_interface, or an
// instance whose interface is missing here) and the ARP watchers with the
// MACs this node gossips.
func (d *Director) applyWatchers(next *Setup) {
	for name := range d.missing {
		if !slices.ContainsFunc(next.Instances, func(is InstanceSetup) bool { return is.Name == name }) {
			delete(d.missing, name)
		}
	}
	if t := trackMissing(next.Trackers, d.missing); !reflect.DeepEqual(t, d.trackers) {
		d.restartTrackers(t)
	}
	ifaces := arpInterfaces(next.Instances)
	if !maps.EqualFunc(ifaces, d.arpIfaces, slices.Equal) {
		d.closeARPWatchers()
		d.openARPWatchers(ifaces)
		d.startARPWatchers()
	}
	d.Agent.setMACs(slices.Concat(virtualMACs(next.Instances), localMACs(ifaces)))
}

// restartTrackers replaces the tracker loops with t's.
func (d *Director) restartTrackers(t Trackers) {
	d.trackRun.stop()
	gen := d.Agent.setTrackers(t)
	loops, err := d.trackerLoops(t, gen)
	if err != nil {
		// Check built every tracker before the change was accepted.
		d.log.Error("trackers not restarted", "err", err)
	}
	d.trackers, d.track = t, loops
	d.trackRun = d.start("tracker", loops...)
	d.log.Info("trackers changed live", "trackers", t.count())
}
