//go:build linux

package nft

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ForgetFlows deletes the conntrack entries of the given VIPs: flows whose
// original destination is a VIP (first seen from the client) and flows whose
// reply goes to a VIP (first seen from a real server and rewritten by the
// pickup rule). Call it on every transition to VIP holder, before adding the
// addresses: a director that takes a VIP back with stale entries resets
// every connection through it (measured: 40 of 40; ws-continuity.md).
// It returns the number of entries deleted.
func (d *Datapath) ForgetFlows(vips []netip.Addr) (uint, error) {
	h, err := d.tables[0].netlinkHandle()
	if err != nil {
		return 0, fmt.Errorf("nft: conntrack: %w", err)
	}
	defer h.Close()
	var total uint
	for _, fam := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		var filters []netlink.CustomConntrackFilter
		for _, v := range vips {
			if v.Unmap().Is4() != (fam == unix.AF_INET) {
				continue
			}
			for _, tp := range []netlink.ConntrackFilterType{netlink.ConntrackOrigDstIP, netlink.ConntrackReplyDstIP} {
				f := &netlink.ConntrackFilter{}
				if err := f.AddIP(tp, net.IP(v.Unmap().AsSlice())); err != nil {
					return total, fmt.Errorf("nft: conntrack filter %s: %w", v, err)
				}
				filters = append(filters, f)
			}
		}
		if len(filters) == 0 {
			continue
		}
		n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, fam, filters...)
		total += n
		if err != nil {
			return total, fmt.Errorf("nft: delete conntrack entries of %v: %w", vips, err)
		}
	}
	return total, nil
}
