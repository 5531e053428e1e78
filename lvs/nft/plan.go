// Package nft is the nftables datapath of vigil's load balancer: for kernels
// without IPVS, or users who prefer nftables. It programs tables of its own
// (default name "vigil"), so it never touches anything else: NAT services in
// family ip (IPv4) and ip6 (IPv6), DR services in family netdev (vigil_dr,
// vigil_dr6). Services are addressed (proto, VIP, port) or fwmark ones;
// schedulers rr/wrr (numgen) and sh/mh (a Maglev table computed in Go,
// indexed by the kernel's jhash with a seed pinned cluster-wide); rr/wrr
// with persistence_timeout hash the client address like sh. Validate
// rejects the rest, naming the service, so `vigil config check` can refuse
// it up front.
//
// A table, the same on every director given the same State and Seed (`nft
// list table ip vigil` shows it). A service is nothing but map elements; the
// rules are a bounded number whatever the number of services, one per class
// (the services with the same selector, table size M and persistence mask)
// and shard (one of 64, by a hash of the service: the kernel reads a map
// back in time quadratic in its size, so no map grows huge):
//
//	map services  proto . vip . vport -> goto c_<class>_s<shard>   (comment: the attributes)
//	map marks     mark -> goto c_<class>_s<shard>                    fwmark services
//	map slots_<class>_s<shard>  proto . vip . vport . slot -> rs . port   M slots per service
//	              (mark . slot for fwmark classes; -> rs alone keeps the
//	              port; -> MAC in DR)
//	map reals_s<shard>   proto . vip . vport . rs . port -> weight   what Read reports
//	map mreals_s<shard>  mark . rs . port -> weight
//	map pickup    proto . rs . port -> vip . vport           (NAT)
//	chain prerouting (nat, dstnat):
//	    meta mark vmap @marks                     (first, as IPVS looks fwmark services up first)
//	    meta l4proto . ip daddr . th dport vmap @services
//	chain c_<class>_s<shard>: one rule, for example
//	    dnat ip to meta l4proto . ip daddr . th dport . jhash ip saddr mod 61 seed 0x5eed map @slots_src_61_32_s7
//	    (numgen inc mod M for rr/wrr: one counter per class, so two rr
//	    services of a class share it and each alternates only on average)
//	chain postrouting (nat, srcnat): the reply-side pickup rule
//	    [oifname X] snat ip to meta l4proto . ip saddr . th sport map @pickup
//
// DR (netdev ingress on DRInterface) rewrites the MACs instead of NATing:
// "meta pkttype host meta protocol ip" guards the dispatch, and a class
// rule sets ether saddr to the director's MAC, ether daddr to the slot's
// MAC, and forwards the frame out of the same interface. A fwmark DR
// service sees only marks set before priority filter at ingress (a netdev
// ingress chain of lower priority): marks set in prerouting come too late.
//
// Each map is created with a capacity (nft's "size"): the kernel then sizes
// its hash once instead of growing it while a batch adds hundreds of
// thousands of elements; a map that outgrows its capacity (or shrinks to an
// eighth of it) is recreated, with all its elements, in the same batch.
//
// The pickup rule: a flow whose first packet on this director comes from a
// real server (after a failover, when the server speaks first) gets the VIP
// as source, so the client's packets match its reply direction and reach the
// same real server (measured: without it every such connection dies;
// ws-continuity.md). A nat chain sees only the first packet of a flow, so it
// touches nothing else. Fwmark services have no VIP to rewrite to: their
// server-first flows are not picked up.
//
// Changing one real's weight rewrites only the slots that move plus its
// reals element: four netlink messages, whatever the table size.
package nft

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"vigil/lvs"
)

// Options configure the nftables datapath.
type Options struct {
	// Table is the name of vigil's own nftables tables: families ip and
	// ip6 for NAT, and Table+"_dr" and Table+"_dr6" in family netdev for
	// DR. Default "vigil".
	Table string
	// Seed is the jhash seed, the same on every director (a cluster-wide
	// config value). It must not be 0: the kernel draws a random seed per
	// rule for 0, and directors would then disagree on placement.
	Seed uint32
	// MinTableSize raises the per-service table size (see TableSizes).
	MinTableSize uint32
	// ClientInterface, when set, limits the reply-side pickup rule to
	// packets leaving through this interface (the client side).
	ClientInterface string
	// DRInterface is the interface that receives the VIPs' traffic and
	// forwards it to DR real servers (same L2 segment). DR services need it.
	DRInterface string
	// ResolveMAC returns a DR real server's MAC address; nil reads the
	// neighbour (ARP) table of DRInterface's namespace.
	ResolveMAC func(netip.Addr) (net.HardwareAddr, error)
	// Sysctls, when true, makes Apply set what NAT forwarding needs once it
	// has NAT services: net.ipv4.ip_forward=1 (IPv6 services:
	// net.ipv6.conf.all.forwarding=1) and
	// net.netfilter.nf_conntrack_tcp_loose=1 (mid-flow pickup after a
	// failover); with BeLiberal also nf_conntrack_tcp_be_liberal=1 (the
	// alternative to ForgetFlows against stale entries on failback).
	Sysctls   bool
	BeLiberal bool
	// NetNS is a network namespace file descriptor to program (0 = the
	// calling thread's namespace). Linux only.
	NetNS int
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

func (o Options) table() string {
	if o.Table == "" {
		return "vigil"
	}
	return o.Table
}

// ErrSeed is returned when Options.Seed is 0.
var ErrSeed = errors.New("nft: Options.Seed must be a non-zero cluster-wide value (0 makes the kernel pick a random seed per director)")

// hash kinds of a class.
const (
	kindSrc     = "src"     // jhash ip saddr
	kindSrcPort = "srcport" // jhash ip saddr . th sport
	kindNumgen  = "numgen"  // numgen inc
)

// class is what one class chain serves: all services (of one table) with
// the same selector kind, table size, persistence mask and key, and of the
// same shard, share one rule and one slots map, so the kernel holds a
// bounded number of rules however many services there are, and a service
// is nothing but map elements.
type class struct {
	Kind     string
	M        uint32
	Mask     uint8 // source prefix length hashed (32 or 128 = whole address)
	Mark     bool  // fwmark services: the slots are keyed by meta mark
	KeepPort bool  // NAT to the address only, keeping the packet's port (fwmark reals without a port)
	Shard    uint8 // shardOf the services
}

func (c class) name() string {
	n := fmt.Sprintf("%s_%d_%d", c.Kind, c.M, c.Mask)
	if c.Mark {
		n += "_fwm"
	}
	if c.KeepPort {
		n += "_keepport"
	}
	return n + fmt.Sprintf("_s%d", c.Shard)
}

// plan is one service rendered for the kernel.
type plan struct {
	svc   lvs.Service // canonical
	class class
	idx   []int            // len class.M: index into svc.Reals per slot; -1 = empty
	slots []netip.AddrPort // the same as addresses; invalid = empty slot
}

// Validate reports the first service this datapath cannot express, as a
// *lvs.ServiceError wrapping lvs.ErrUnsupported, or a generic validation
// error. It needs no kernel: `vigil config check` calls it.
func (o Options) Validate(st lvs.State) error {
	if o.Seed == 0 {
		return ErrSeed
	}
	if err := st.Validate(); err != nil {
		return err
	}
	for _, s := range st.Canonical().Services {
		if err := o.check(s); err != nil {
			return err
		}
	}
	return nil
}

func unsupported(s lvs.Service, format string, args ...any) error {
	return &lvs.ServiceError{Service: s.Key(), Reason: "nftables datapath: " + fmt.Sprintf(format, args...), Err: lvs.ErrUnsupported}
}

func (o Options) check(s lvs.Service) error {
	switch s.Scheduler {
	case "rr", "wrr", "sh", "mh":
	default:
		return unsupported(s, "scheduler %s has no nftables equivalent (use rr, wrr, sh or mh, or datapath ipvs)", s.Scheduler)
	}
	dr := isDR(s)
	for _, r := range s.Reals {
		if (r.Method == lvs.DR) != dr && (r.Method == lvs.NAT || r.Method == lvs.DR) {
			return unsupported(s, "real server %s: NAT and DR mixed in one service", r.AddrPort())
		}
	}
	if dr {
		if o.DRInterface == "" {
			return unsupported(s, "DR needs the nftables option DRInterface (the interface facing clients and real servers)")
		}
		if (s.Scheduler == "rr" || s.Scheduler == "wrr") && s.PersistenceTimeout == 0 {
			return unsupported(s, "scheduler %s in DR mode would split a TCP handshake across real servers (DR is stateless here); use sh or mh, or add persistence_timeout", s.Scheduler)
		}
	}
	ports := 0
	for _, r := range s.Reals {
		switch r.Method {
		case lvs.NAT:
		case lvs.DR:
			if s.FWMark == 0 && r.Port != s.Port {
				return unsupported(s, "real server %s: DR cannot change the port (%d)", r.AddrPort(), s.Port)
			}
		default:
			return unsupported(s, "real server %s: forwarding method %s cannot be expressed in nftables", r.AddrPort(), r.Method)
		}
		if r.Addr.Is6() != s.Addr.Is6() {
			return unsupported(s, "real server %s: not the service's address family (nftables cannot forward between IPv4 and IPv6)", r.AddrPort())
		}
		if r.Port != 0 {
			ports++
		} else if s.FWMark == 0 {
			return unsupported(s, "real server %s: port 0", r.AddrPort())
		}
	}
	if s.FWMark != 0 && !dr && ports != 0 && ports != len(s.Reals) {
		return unsupported(s, "fwmark service mixes real servers with a port and without one (port 0 keeps the packet's port); give all of them a port or none")
	}
	if TableSize(len(s.Reals), o.MinTableSize) == 0 {
		return unsupported(s, "%d real servers is more than the largest table (%d slots) can balance", len(s.Reals), TableSizes[len(TableSizes)-1])
	}
	return nil
}

func isDR(s lvs.Service) bool { return len(s.Reals) > 0 && s.Reals[0].Method == lvs.DR }

// planFor renders a canonical service that passed check.
func (o Options) planFor(s lvs.Service) plan {
	c := class{M: TableSize(len(s.Reals), o.MinTableSize), Mask: uint8(s.Addr.BitLen()), Mark: s.FWMark != 0, Shard: shardOf(s.Key())}
	if c.Mark && !isDR(s) && len(s.Reals) > 0 && s.Reals[0].Port == 0 {
		c.KeepPort = true
	}
	switch {
	case (s.Scheduler == "rr" || s.Scheduler == "wrr") && s.PersistenceTimeout == 0:
		c.Kind = kindNumgen
	default:
		// sh, mh, and rr/wrr with persistence: a weighted Maglev table
		// indexed by the client's (masked) address. For rr/wrr +
		// persistence_timeout this is deterministic where IPVS keeps a
		// per-director template: every director sends a returning client
		// to the same real server, also after a failover, and the weights
		// still split the clients. (The stickiness does not expire.)
		c.Kind = kindSrc
		if s.PersistenceTimeout > 0 {
			// IPVS persistence: the same client (network) always lands on
			// the same real server, whatever its source port.
			c.Mask = s.PersistenceNetmask
		} else if s.Flags&(lvs.FlagSHPort|lvs.FlagMHPort) != 0 {
			c.Kind = kindSrcPort
		}
	}
	return plan{svc: s, class: c}
}

// fillSlots computes the plan's table: Maglev for sh/mh, smooth weighted
// round robin for rr/wrr. It is the expensive part of a plan, done only
// for services that changed.
func (p *plan) fillSlots() {
	if p.slots != nil {
		return
	}
	if p.class.Kind == kindNumgen {
		p.idx = RoundRobin(p.svc.Reals, p.class.M)
	} else {
		p.idx = Maglev(p.svc.Reals, p.class.M)
	}
	p.slots = make([]netip.AddrPort, p.class.M)
	for i, j := range p.idx {
		if j >= 0 {
			p.slots[i] = p.svc.Reals[j].AddrPort()
		}
	}
}

// hashKey returns the bytes the kernel's jhash reads for a client, as the
// rule loads them into registers: the source address (masked to the
// persistence granularity), then for sh-port/mh-port the source port padded
// to 4 bytes.
func hashKey(c class, client netip.AddrPort) []byte {
	a := client.Addr().Unmap()
	if int(c.Mask) < a.BitLen() {
		a = netip.PrefixFrom(a, int(c.Mask)).Masked().Addr()
	}
	k := a.AsSlice()
	if c.Kind == kindSrcPort {
		k = appendPort(k, client.Port())
	}
	return k
}

// Place predicts the real server the kernel picks for a new connection from
// client to service s (sh or mh), given the cluster's seed: the same jhash,
// reciprocal scaling and Maglev table the datapath loads. ok is false for
// numgen schedulers (rr/wrr: no placement by client) or an empty table.
func (o Options) Place(s lvs.Service, client netip.AddrPort) (netip.AddrPort, bool) {
	cs := lvs.State{Services: []lvs.Service{s}}.Canonical().Services[0]
	if o.check(cs) != nil {
		return netip.AddrPort{}, false
	}
	p := o.planFor(cs)
	if p.class.Kind == kindNumgen || client.Addr().Unmap().Is6() != cs.Addr.Is6() {
		return netip.AddrPort{}, false
	}
	p.fillSlots()
	slot := Scale(JHash(hashKey(p.class, client), o.Seed), p.class.M)
	ap := p.slots[slot]
	return ap, ap.IsValid()
}

// pickupKey is the key of the pickup map: a real server's protocol, address
// and port.
type pickupKey struct {
	Proto lvs.Proto
	Real  netip.AddrPort
}

// pickups maps every real server of the NAT services svcs (in canonical
// order) to the VIP and port its flows are rewritten to. A real server
// behind two services with the same protocol maps to the first (the other
// service's server-first flows cannot be told apart). Fwmark services have
// no VIP to rewrite to: their server-first flows are not picked up.
func pickups(svcs []lvs.Service) map[pickupKey]netip.AddrPort {
	m := map[pickupKey]netip.AddrPort{}
	for _, s := range svcs {
		if s.FWMark != 0 {
			continue
		}
		for _, r := range s.Reals {
			k := pickupKey{s.Proto, r.AddrPort()}
			if _, ok := m[k]; !ok {
				m[k] = netip.AddrPortFrom(s.Addr, s.Port)
			}
		}
	}
	return m
}

// Slots returns the table the datapath loads for service s (sh/mh: the
// Maglev table; rr/wrr: the round-robin table), slot by slot; an empty slot
// is the zero AddrPort. minTableSize is Options.MinTableSize.
func Slots(s lvs.Service, minTableSize uint32) []netip.AddrPort {
	cs := lvs.State{Services: []lvs.Service{s}}.Canonical().Services[0]
	p := Options{MinTableSize: minTableSize}.planFor(cs)
	if p.class.M == 0 {
		return nil
	}
	p.fillSlots()
	return p.slots
}
