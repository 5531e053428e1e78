// Package ipvs is the IPVS datapath of vigil's load balancer, through the
// kernel's IPVS generic-netlink interface (github.com/moby/ipvs). It supports
// every IPVS scheduler and forwarding method.
//
// IPVS is one table shared with whoever else uses it (kube-proxy, a
// leftover keepalived, an admin's ipvsadm): the datapath changes only the
// services it created (remembered in memory, and optionally across restarts
// through Options.Owned) or that the desired state names.
//
// moby/ipvs reports success on a kernel without IPVS (requests go out with
// generic-netlink family 0 and the kernel acknowledges them as no-ops), so
// New first looks the IPVS family up itself and fails with lvs.ErrNoIPVS.
package ipvs

import (
	"encoding/binary"
	"log/slog"
	"net/netip"
	"time"

	"vigil/lvs"
)

// Options configure the IPVS datapath.
type Options struct {
	// NetNSPath is a network namespace to program (/run/netns/NAME); ""
	// is the calling thread's namespace.
	NetNSPath string
	// Sysctls, when true, sets what a director needs when Apply first
	// programs services: net.ipv4.vs.sloppy_tcp=1 and sloppy_sctp=1 (a new
	// holder picks up mid-flow packets of established connections),
	// net.ipv4.vs.conntrack=1, net.ipv4.vs.expire_nodest_conn=1, and
	// net.ipv4.ip_forward=1 when a NAT real server exists.
	Sysctls bool
	// Timeouts, when any is non-zero, are keepalived's lvs_timeouts
	// (ipvsadm --set tcp tcpfin udp).
	Timeouts Timeouts
	// Owned is the set of services created earlier (persist it to survive
	// restarts); nil starts empty. The datapath updates it in place.
	Owned lvs.Owned
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Timeouts are IPVS connection timeouts.
type Timeouts struct {
	TCP, TCPFin, UDP time.Duration
}

// IPVS service flags (include/uapi/linux/ip_vs.h).
const (
	svcPersistent = 0x0001
	svcHashed     = 0x0002 // set by the kernel on every service
	svcSched1     = 0x0008 // sh-fallback, mh-fallback
	svcSched2     = 0x0010 // sh-port, mh-port
	// FlagMask is what Read compares: the kernel adds bits of its own.
	FlagMask = svcPersistent | svcSched1 | svcSched2
)

// kernelFlags encodes a canonical service's flags for IPVS.
func kernelFlags(s lvs.Service) uint32 {
	var f uint32
	if s.Flags&lvs.FlagPersistent != 0 {
		f |= svcPersistent
	}
	if s.Flags&(lvs.FlagSHFallback|lvs.FlagMHFallback) != 0 {
		f |= svcSched1
	}
	if s.Flags&(lvs.FlagSHPort|lvs.FlagMHPort) != 0 {
		f |= svcSched2
	}
	return f
}

// flagsFromKernel decodes read-back flags, masked, for the scheduler.
func flagsFromKernel(f uint32, sched string) lvs.Flags {
	f &= FlagMask
	var out lvs.Flags
	if f&svcPersistent != 0 {
		out |= lvs.FlagPersistent
	}
	switch sched {
	case "sh":
		if f&svcSched1 != 0 {
			out |= lvs.FlagSHFallback
		}
		if f&svcSched2 != 0 {
			out |= lvs.FlagSHPort
		}
	case "mh":
		if f&svcSched1 != 0 {
			out |= lvs.FlagMHFallback
		}
		if f&svcSched2 != 0 {
			out |= lvs.FlagMHPort
		}
	}
	return out
}

// kernelNetmask encodes the persistence granularity as IPVS wants it: for
// IPv4 the mask in network byte order (read by the kernel as __be32 from a
// native-endian attribute), for IPv6 the prefix length.
func kernelNetmask(addr netip.Addr, bits uint8) uint32 {
	if addr.Is6() {
		return uint32(bits)
	}
	m := uint32(0)
	if bits > 0 {
		m = ^uint32(0) << (32 - uint32(bits))
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], m)
	return binary.NativeEndian.Uint32(b[:])
}

func netmaskFromKernel(addr netip.Addr, m uint32) uint8 {
	if addr.Is6() {
		return uint8(m)
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], m)
	v := binary.BigEndian.Uint32(b[:])
	n := uint8(0)
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	return n
}
