package realserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
)

// Up puts each VIP on loopback (host prefix, label lo:vigil) and sets the
// ARP sysctls, in the calling thread's network namespace.
func Up(vips []netip.Addr) (Result, error) {
	var res Result
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return res, fmt.Errorf("realserver: find lo: %w", err)
	}
	for _, v := range vips {
		v = v.Unmap()
		a := &netlink.Addr{IPNet: hostNet(v)}
		if v.Is4() {
			a.Label = Label
		}
		a.Scope = int(netlink.SCOPE_HOST)
		if err := netlink.AddrAdd(lo, a); err != nil {
			if errors.Is(err, syscall.EEXIST) {
				continue
			}
			return res, fmt.Errorf("realserver: add %s to lo: %w", v, err)
		}
		res.Added = append(res.Added, v)
	}
	res.Sysctls, err = setSysctls(true)
	return res, err
}

// Down removes each VIP that vigil put on loopback, and resets the ARP
// sysctls when no vigil address is left there.
func Down(vips []netip.Addr) (Result, error) {
	var res Result
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return res, fmt.Errorf("realserver: find lo: %w", err)
	}
	have, err := ours(lo)
	if err != nil {
		return res, err
	}
	for _, v := range vips {
		v = v.Unmap()
		a, ok := have[v]
		if !ok {
			continue
		}
		if err := netlink.AddrDel(lo, a); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			return res, fmt.Errorf("realserver: remove %s from lo: %w", v, err)
		}
		delete(have, v)
		res.Removed = append(res.Removed, v)
	}
	if len(have) == 0 {
		res.Sysctls, err = setSysctls(false)
	}
	return res, err
}

// ours lists the addresses on lo that vigil manages: IPv4 by label, IPv6
// (which has no labels) by host scope and a /128 prefix other than ::1.
func ours(lo netlink.Link) (map[netip.Addr]*netlink.Addr, error) {
	addrs, err := netlink.AddrList(lo, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("realserver: list lo: %w", err)
	}
	out := map[netip.Addr]*netlink.Addr{}
	for i := range addrs {
		a := &addrs[i]
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		ones, _ := a.Mask.Size()
		switch {
		case ip.Is4() && a.Label == Label:
			out[ip] = a
		case ip.Is6() && !ip.IsLoopback() && ones == 128:
			out[ip] = a
		}
	}
	return out, nil
}

func hostNet(v netip.Addr) *net.IPNet {
	bits := 32
	if v.Is6() {
		bits = 128
	}
	return &net.IPNet{IP: v.AsSlice(), Mask: net.CIDRMask(bits, bits)}
}

func setSysctls(up bool) (map[string]string, error) {
	out := map[string]string{}
	for _, k := range Sysctls {
		v := "0"
		if up {
			v = sysctlValue(k)
		}
		path := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			return out, fmt.Errorf("realserver: sysctl %s=%s: %w", k, v, err)
		}
		out[k] = v
	}
	return out, nil
}
