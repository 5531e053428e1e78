//go:build linux

package nft

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"vigil/lvs"
)

// netlinkHandle returns a netlink handle in the datapath's namespace.
func (d *tbl) netlinkHandle() (*netlink.Handle, error) {
	if d.opt.NetNS != 0 {
		return netlink.NewHandleAt(netns.NsHandle(d.opt.NetNS))
	}
	return netlink.NewHandle()
}

// prepareDR readies a DR table for plans: it looks up DRInterface and the
// MAC of every real server that gets slots. It returns the plans it can
// program; the others are reported in errs and added to keep.
func (d *tbl) prepareDR(plans []plan, keep map[lvs.ServiceKey]bool, errs *[]error) []plan {
	if len(plans) == 0 {
		return nil
	}
	if err := d.lookupInterface(); err != nil {
		*errs = append(*errs, err)
		for _, p := range plans {
			keep[p.svc.Key()] = true
		}
		return nil
	}
	var out []plan
	for _, p := range plans {
		if err := d.resolveMACs(p.svc); err != nil {
			*errs = append(*errs, err)
			keep[p.svc.Key()] = true
			continue
		}
		out = append(out, p)
	}
	return out
}

// lookupInterface finds DRInterface: its index (for dup) and MAC (the new
// source of forwarded frames, so the switch never learns a client's MAC on
// the director's port).
func (d *tbl) lookupInterface() error {
	h, err := d.netlinkHandle()
	if err != nil {
		return fmt.Errorf("nft: DR: netlink: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(d.opt.DRInterface)
	if err != nil {
		return fmt.Errorf("nft: DR interface %q: %w", d.opt.DRInterface, err)
	}
	d.ifindex = uint32(l.Attrs().Index)
	d.ownMAC = l.Attrs().HardwareAddr
	if len(d.ownMAC) != 6 {
		return fmt.Errorf("nft: DR interface %q has no Ethernet address", d.opt.DRInterface)
	}
	if d.macs == nil {
		d.macs = map[netip.Addr]net.HardwareAddr{}
	}
	return nil
}

// resolveMACs finds the MAC of every real server of s that gets slots.
func (d *tbl) resolveMACs(s lvs.Service) error {
	for _, r := range s.Reals {
		if r.Weight <= 0 {
			continue
		}
		mac, err := d.resolve(r.Addr)
		if err == nil && len(mac) != 6 {
			err = fmt.Errorf("%s is not an Ethernet address", mac)
		}
		if err != nil {
			return &lvs.ServiceError{Service: s.Key(), Reason: fmt.Sprintf("nftables DR: MAC address of real server %s: %v", r.Addr, err), Err: err}
		}
		d.macs[r.Addr] = mac
	}
	return nil
}

var errNoNeighbour = fmt.Errorf("no neighbour entry (is it on DRInterface's segment and reachable?)")

func (d *tbl) resolve(a netip.Addr) (net.HardwareAddr, error) {
	if d.opt.ResolveMAC != nil {
		return d.opt.ResolveMAC(a)
	}
	h, err := d.netlinkHandle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	fam := netlink.FAMILY_V4
	if a.Is6() {
		fam = netlink.FAMILY_V6
	}
	neighs, err := h.NeighList(int(d.ifindex), fam)
	if err != nil {
		return nil, err
	}
	for _, n := range neighs {
		if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a && len(n.HardwareAddr) == 6 &&
			n.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_PERMANENT|netlink.NUD_DELAY|netlink.NUD_PROBE) != 0 {
			return n.HardwareAddr, nil
		}
	}
	return nil, errNoNeighbour
}
