package vrrp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addrGenModeNone is IN6_ADDR_GEN_MODE_NONE: no automatic IPv6 link-local
// address (`ip link set ... addrgenmode none`).
const addrGenModeNone = 1

// AddVMAC creates (or finds) the VMAC v: a macvlan in private mode on
// v.Parent with v.Addr() as its MAC, set up as keepalived sets its
// use_vmac interfaces up, then brings it up:
//
//   - net.ipv4.conf.NAME: arp_ignore=1 (answer ARP only for the VMAC's
//     own addresses, i.e. the VIPs while holding), accept_local=1,
//     rp_filter=0 (traffic to a VIP arrives on the VMAC while the route
//     back leaves through the parent), promote_secondaries=1;
//   - IPv6: an IPv4 VMAC gets disable_ipv6=1 and an IPv6 one addrgenmode
//     none, both before it comes up, so that no director's VMAC ever
//     sends a neighbour solicitation or MLD report with the virtual MAC
//     (switches would learn it on a backup's port); an IPv6 VMAC then gets
//     v.LinkLocal, if set.
//
// The parent needs PrepareVMACParent too. AddVMAC is idempotent; an
// existing interface of that name with another parent, type or MAC is an
// error. It acts in the network namespace of the calling thread.
func AddVMAC(v VMAC) (*net.Interface, error) {
	mac := v.Addr()
	p, err := netlink.LinkByName(v.Parent)
	if err != nil {
		return nil, fmt.Errorf("vrrp: add vmac %s on %q: %w", v.Name, v.Parent, err)
	}
	l, err := netlink.LinkByName(v.Name)
	if err == nil {
		mv, ok := l.(*netlink.Macvlan)
		if !ok || mv.ParentIndex != p.Attrs().Index || !bytes.Equal(mv.HardwareAddr, mac) {
			return nil, fmt.Errorf("vrrp: add vmac %s on %s: %s exists and is a %s with MAC %s on link %d, want a macvlan with %s on %s",
				v.Name, v.Parent, v.Name, l.Type(), l.Attrs().HardwareAddr, l.Attrs().ParentIndex, mac, v.Parent)
		}
	} else {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("vrrp: add vmac %s: %w", v.Name, err)
		}
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: v.Name, ParentIndex: p.Attrs().Index, HardwareAddr: mac},
			Mode:      netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := netlink.LinkAdd(mv); err != nil {
			return nil, fmt.Errorf("vrrp: add vmac %s (%s) on %s: %w", v.Name, mac, v.Parent, err)
		}
		if l, err = netlink.LinkByName(v.Name); err != nil {
			return nil, fmt.Errorf("vrrp: add vmac %s: %w", v.Name, err)
		}
	}
	if err := setupVMAC(l, v); err != nil {
		return nil, fmt.Errorf("vrrp: add vmac %s: %w", v.Name, err)
	}
	ifi, err := net.InterfaceByName(v.Name)
	if err != nil {
		return nil, fmt.Errorf("vrrp: add vmac %s: %w", v.Name, err)
	}
	return ifi, nil
}

func setupVMAC(l netlink.Link, v VMAC) error {
	if v.IPv6 {
		if err := netlink.LinkSetIP6AddrGenMode(l, addrGenModeNone); err != nil {
			return fmt.Errorf("addrgenmode none: %w", err)
		}
	} else if _, err := setConf("ipv6", v.Name, "disable_ipv6", "1"); err != nil {
		return err
	}
	for _, kv := range [][2]string{{"arp_ignore", "1"}, {"accept_local", "1"}, {"rp_filter", "0"}, {"promote_secondaries", "1"}} {
		if _, err := setConf("ipv4", v.Name, kv[0], kv[1]); err != nil {
			return err
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	if v.IPv6 && v.LinkLocal.IsValid() {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: v.LinkLocal.WithZone("").AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}
		if err := netlink.AddrReplace(l, a); err != nil {
			return fmt.Errorf("add link-local %s: %w", v.LinkLocal, err)
		}
	}
	return nil
}

// PrepareVMACParent sets the ARP settings of the parent of VMACs so that
// it never tells anyone a VIP on a VMAC is at its own MAC:
//
//   - arp_ignore=1 and arp_filter=1, as keepalived sets them: the parent
//     does not answer ARP requests for the VIPs;
//   - arp_announce=2, which keepalived leaves alone: replies from a VIP
//     leave through the parent (its route), and with the default the
//     ARP request for the client would carry the VIP as sender address
//     and the parent's MAC, and the client would update its entry for
//     the VIP to the holder's own MAC, undoing the VMAC until the next
//     gratuitous ARP (measured in test/e2e TestVMAC). With 2 the request
//     carries the parent's own address.
//
// restore puts the previous values back (call it once the last VMAC on
// parent is gone).
func PrepareVMACParent(parent string) (restore func() error, err error) {
	var undo []func() error
	restore = func() error {
		var errs []error
		for _, u := range undo {
			errs = append(errs, u())
		}
		return errors.Join(errs...)
	}
	for _, kv := range [][2]string{{"arp_ignore", "1"}, {"arp_filter", "1"}, {"arp_announce", "2"}} {
		key, val := kv[0], kv[1]
		old, err := setConf("ipv4", parent, key, val)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("vrrp: prepare vmac parent: %w", err), restore())
		}
		if old != val {
			undo = append(undo, func() error {
				_, err := setConf("ipv4", parent, key, old)
				return err
			})
		}
	}
	return restore, nil
}

// setConf sets net.FAMILY.conf.IFACE.KEY to val in the network namespace
// of the calling thread and returns the previous value.
func setConf(family, iface, key, val string) (string, error) {
	path := "/proc/sys/net/" + family + "/conf/" + iface + "/" + key
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("sysctl net.%s.conf.%s.%s: %w", family, iface, key, err)
	}
	old := strings.TrimSpace(string(b))
	if old == val {
		return old, nil
	}
	if err := os.WriteFile(path, []byte(val), 0o644); err != nil {
		return "", fmt.Errorf("sysctl net.%s.conf.%s.%s=%s: %w", family, iface, key, val, err)
	}
	return old, nil
}

// DelVMAC removes a use_vmac interface made by AddVMAC; a missing one is
// not an error. It refuses to remove anything but a macvlan.
func DelVMAC(name string) error {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("vrrp: delete vmac %s: %w", name, err)
	}
	if _, ok := l.(*netlink.Macvlan); !ok {
		return fmt.Errorf("vrrp: delete vmac %s: it is a %s, not a macvlan", name, l.Type())
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("vrrp: delete vmac %s: %w", name, err)
	}
	return nil
}
