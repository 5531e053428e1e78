package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"

	"vigil/health"
	"vigil/vrrp"
)

// ErrNoInterface wraps the refusal to take an instance an interface of
// which does not exist on this node.
var ErrNoInterface = errors.New("interface does not exist on this node")

// runInstance is one instance as it runs on this node: its setup, what
// holding it puts on the wire, and the sockets, VMAC and goroutines that
// serve it. A live configuration change opens a new one for an instance
// whose definition changed, and closes the old one once it is released.
type runInstance struct {
	setup InstanceSetup
	wire  *WireInstance
	conns []*vrrp.Conn // closed with it
	lsn   *vrrp.Conn   // the listener's socket (one of conns); nil: no listener
	vmac  string       // the use_vmac interface it uses, made or shared ("" for none)
	run   *group       // its adverts and listener goroutines
}

// openInstance prepares what instance is needs on this node, in order:
//
//  1. its interfaces are checked: the instance's and every VIP's (dev);
//  2. its VMAC (use_vmac) is made, and its parent's ARP settings set;
//  3. its VRRP sockets are opened: one on the instance's interface, in
//     the VRRP group, for the listener (and for the adverts with
//     vmac_xmit_base or without a VMAC), and for the adverts of a VMAC a
//     send-only one on it, which joins no group (an IGMP or MLD report
//     from a backup's VMAC would teach switches the virtual MAC on the
//     wrong port) and sends from the instance's interface's address.
//
// An instance that cannot run here (an interface missing, a VMAC that
// cannot be made) is logged now and gets a Vet that refuses every take
// with the reason; for a missing interface the node also reports a fault
// for the instance (trackMissing). The other instances are not affected.
// Its goroutines start with startInstance.
func (d *Director) openInstance(is InstanceSetup) (*runInstance, error) {
	ri := &runInstance{setup: is, wire: &WireInstance{Name: is.Name, Addrs: is.Addrs, Advert: is.Advert}}
	w := ri.wire
	refuse := func(err error) (*runInstance, error) {
		d.log.Error("instance cannot run on this node: it will not take its VIPs; the other instances run on", "instance", is.Name, "err", err)
		w.Vet = func() error { return err }
		return ri, nil
	}
	delete(d.missing, is.Name)
	if n := missingInterface(is); n != "" {
		d.missing[is.Name] = n
		return refuse(fmt.Errorf("instance %s: %s: %w (this node reports a fault for the instance, so that a director that has it takes it)", is.Name, n, ErrNoInterface))
	}
	if is.VMAC != nil {
		w.Base = is.Interface
		if err := d.addVMAC(is); err != nil {
			return refuse(fmt.Errorf("instance %s: use_vmac: %w", is.Name, err))
		}
		ri.vmac = is.VMAC.Name
	}
	noGroup := is.Dsts[0] != vrrp.GroupV4 && is.Dsts[0] != vrrp.GroupV6
	c, err := vrrp.Dial(vrrp.DialConfig{Interface: is.Interface, IPv6: is.IPv6, Src: is.Src, NoMulticast: noGroup})
	if err != nil {
		d.log.Error("instance runs without VRRP adverts", "instance", is.Name, "interface", is.Interface, "err", err)
		return ri, nil
	}
	ri.conns, ri.lsn = append(ri.conns, c), c
	send := c
	if is.VMAC != nil && !is.VMAC.XmitBase {
		if send, err = vrrp.Dial(vrrp.DialConfig{Interface: is.VMAC.Name, IPv6: is.IPv6, Src: c.Src(), NoMulticast: true}); err != nil {
			d.log.Error("instance runs without VRRP adverts", "instance", is.Name, "interface", is.VMAC.Name, "err", err)
			return ri, nil
		}
		ri.conns = append(ri.conns, send)
	}
	w.Sender, err = vrrp.NewSender(send, vrrp.SenderConfig{Src: send.Src(), Dsts: is.Dsts, Options: is.Options, Logger: d.log.With("instance", is.Name)})
	if err != nil {
		d.closeInstance(ri)
		return nil, fmt.Errorf("agent: instance %s: advert sender: %w", is.Name, err)
	}
	return ri, nil
}

// startInstance runs the instance's advert sender and its listener (which
// reports foreign adverts of its VRID) until closeInstance. Call it from
// Run, or from the loop once Run has started.
func (d *Director) startInstance(ri *runInstance) {
	var fns []func(context.Context) error
	if ri.wire.Sender != nil {
		fns = append(fns, ri.wire.Sender.Run)
	}
	if ri.lsn != nil {
		if l, err := d.listener(ri.setup, ri.lsn); err != nil {
			d.log.Error("instance runs without watching for foreign adverts", "instance", ri.setup.Name, "err", err)
		} else {
			fns = append(fns, l.Run)
		}
	}
	ri.run = d.start("instance "+ri.setup.Name, fns...)
}

// closeInstance stops the instance's goroutines, closes its sockets and
// removes its VMAC unless another instance uses it. Its VIPs must be
// released first.
func (d *Director) closeInstance(ri *runInstance) {
	ri.run.stop()
	for _, c := range ri.conns {
		c.Close()
	}
	ri.conns, ri.lsn = nil, nil
	if ri.vmac == "" {
		return
	}
	if d.vmacUse[ri.vmac]--; d.vmacUse[ri.vmac] > 0 {
		return
	}
	delete(d.vmacUse, ri.vmac)
	if err := vrrp.DelVMAC(ri.vmac); err != nil {
		d.log.Warn("use_vmac interface not removed", "vmac", ri.vmac, "err", err)
	}
	ri.vmac = ""
}

// missingInterface is the first of the instance's interface and the
// interfaces its VIPs name (a VMAC is made later, on the instance's
// interface) that does not exist here, or "".
func missingInterface(is InstanceSetup) string {
	names := []string{is.Interface}
	for _, h := range is.Addrs {
		if is.VMAC == nil || h.Iface != is.VMAC.Name {
			names = append(names, h.Iface)
		}
	}
	for _, n := range names {
		if _, err := net.InterfaceByName(n); err != nil {
			return n
		}
	}
	return ""
}

// trackMissing returns t with every instance that cannot run here for
// want of an interface tracking that interface with weight 0: keepalived's
// FAULT for an instance whose interface is gone. The link tracker reports
// a missing interface as down, so this node reports a fault for the
// instance alone and the cluster gives it to a director that has the
// interface. t itself is not changed (the setup's trackers are what a
// configuration apply compares with).
func trackMissing(t Trackers, missing map[string]string) Trackers {
	if len(missing) == 0 {
		return t
	}
	refs := make(map[string][]TrackRef, len(t.Refs)+len(missing))
	for inst, r := range t.Refs {
		refs[inst] = r
	}
	links := slices.Clone(t.Links)
	for _, inst := range slices.Sorted(maps.Keys(missing)) {
		iface := missing[inst]
		refs[inst] = append(slices.Clone(refs[inst]), TrackRef{Kind: TrackLink, Name: iface})
		if !slices.ContainsFunc(links, func(l health.LinkTrack) bool { return l.Name == iface }) {
			links = append(links, health.LinkTrack{Name: iface})
		}
	}
	t.Refs, t.Links = refs, links
	return t
}

// addVMAC makes the instance's VMAC and, once per parent, sets the
// parent's ARP settings; Close undoes both. An IPv6 VMAC that sends the
// adverts gets the parent's link-local address (or the configured
// source), as keepalived's does.
func (d *Director) addVMAC(is InstanceSetup) error {
	v := is.VMAC.VMAC
	if v.IPv6 && !is.VMAC.XmitBase {
		src := is.Src
		if !src.IsValid() {
			var err error
			if src, err = linkLocal(is.Interface); err != nil {
				return err
			}
		}
		v.LinkLocal = src
	}
	if _, ok := d.parents[v.Parent]; !ok {
		restore, err := vrrp.PrepareVMACParent(v.Parent)
		if err != nil {
			return err
		}
		d.parents[v.Parent] = restore
	}
	if _, err := vrrp.AddVMAC(v); err != nil {
		return err
	}
	d.vmacUse[v.Name]++
	d.log.Info("use_vmac interface up", "instance", is.Name, "vmac", v.Name, "mac", v.Addr().String(), "parent", v.Parent, "adverts_from", map[bool]string{true: v.Parent, false: v.Name}[is.VMAC.XmitBase])
	return nil
}

// linkLocal is the IPv6 link-local address of iface.
func linkLocal(iface string) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return netip.Addr{}, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Is6() && ip.IsLinkLocalUnicast() {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no IPv6 link-local address to send the adverts from", iface)
}

// probeTargets is what the conflict guard probes of each instance that can
// run here: its IPv4 VIPs, on the interface they are announced on (the
// VMAC's parent for a VMAC).
func probeTargets(insts []*runInstance) []probeTarget {
	var out []probeTarget
	for _, ri := range insts {
		is := ri.setup
		if ri.wire.Vet != nil {
			continue // cannot run here at all
		}
		byIface := map[string]int{}
		for _, h := range is.Addrs {
			a := h.Addr.Addr().Unmap()
			if !a.Is4() {
				continue
			}
			iface := h.Iface
			if is.VMAC != nil && iface == is.VMAC.Name {
				iface = is.Interface
			}
			k, ok := byIface[iface]
			if !ok {
				k = len(out)
				byIface[iface] = k
				out = append(out, probeTarget{Instance: is.Name, Iface: iface})
			}
			out[k].Addrs = append(out[k].Addrs, a)
		}
	}
	return out
}

// vetTakes gives every instance that can run here its conflict check.
func vetTakes(g *conflictGuard, targets []probeTarget, insts []*runInstance) {
	for _, ri := range insts {
		w := ri.wire
		if w.Vet != nil {
			continue
		}
		var mine []probeTarget
		for _, t := range targets {
			if t.Instance == w.Name {
				mine = append(mine, t)
			}
		}
		if len(mine) == 0 {
			continue
		}
		w.Vet = func() error {
			var errs []error
			for _, t := range mine {
				errs = append(errs, g.vet(t))
			}
			return errors.Join(errs...)
		}
	}
}

// wiresOf are the instances' wire definitions.
func wiresOf(insts []*runInstance) []*WireInstance {
	out := make([]*WireInstance, len(insts))
	for i, ri := range insts {
		out[i] = ri.wire
	}
	return out
}
