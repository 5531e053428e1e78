package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// Defaults of the LVS part (keepalived.conf(5)).
const (
	DefaultLVSSched           = "wlc"
	DefaultLVSMethod          = "NAT"
	DefaultPersistenceTimeout = 360 // seconds, for a bare persistence_timeout
	DefaultDelayLoop          = 60  // seconds
	DefaultConnectTimeout     = 5   // seconds
	DefaultRetry              = 1
	DefaultDelayBeforeRetry   = 1 // seconds; 3 for HTTP_GET/SSL_GET
	DefaultWeight             = 1
	DefaultQuorum             = 1
)

// Schedulers are the IPVS schedulers keepalived accepts for lvs_sched.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// Methods are the LVS forwarding methods for lvs_method.
var Methods = []string{"NAT", "DR", "TUN"}

// opt is a value that may be set at several levels (virtual server, real
// server, checker), the innermost setting winning.
type opt[T any] struct {
	v   T
	set bool
}

func (o *opt[T]) put(v T, ok bool) {
	if ok {
		o.v, o.set = v, true
	}
}

func (o opt[T]) or(def T) T {
	if o.set {
		return o.v
	}
	return def
}

// over returns inner if set, else o.
func (o opt[T]) over(inner opt[T]) opt[T] {
	if inner.set {
		return inner
	}
	return o
}

// inherited are the settings a virtual server passes to its real servers
// and a real server to its checkers.
type inherited struct {
	delayLoop, connectTimeout, delayBeforeRetry, warmup opt[Duration]
	retry                                               opt[int]
	alpha, inhibit                                      opt[bool]
}

func (p inherited) overlay(in inherited) inherited {
	return inherited{
		delayLoop:        p.delayLoop.over(in.delayLoop),
		connectTimeout:   p.connectTimeout.over(in.connectTimeout),
		delayBeforeRetry: p.delayBeforeRetry.over(in.delayBeforeRetry),
		warmup:           p.warmup.over(in.warmup),
		retry:            p.retry.over(in.retry),
		alpha:            p.alpha.over(in.alpha),
		inhibit:          p.inhibit.over(in.inhibit),
	}
}

// inheritEntries adds the keywords shared by virtual servers, real servers
// and checkers to a table; get returns the inherited settings of a T.
func inheritEntries[T any](t table[T], get func(*T) *inherited, withConnect bool) table[T] {
	t["delay_loop"] = entry[T]{fn: func(b *builder, n *Node, x *T) { get(x).delayLoop.put(b.posDur1(n, 86400*365)) }}
	t["delay_before_retry"] = entry[T]{fn: func(b *builder, n *Node, x *T) { get(x).delayBeforeRetry.put(b.dur1(n, 86400*365)) }}
	t["warmup"] = entry[T]{fn: func(b *builder, n *Node, x *T) { get(x).warmup.put(b.dur1(n, 86400*365)) }}
	t["retry"] = entry[T]{fn: func(b *builder, n *Node, x *T) { get(x).retry.put(b.int1(n, 0, 1<<20)) }}
	t["alpha"] = entry[T]{fn: func(b *builder, n *Node, x *T) { get(x).alpha.put(b.flag(n)) }}
	if withConnect {
		t["connect_timeout"] = entry[T]{fn: func(b *builder, n *Node, x *T) {
			if d, ok := b.dur1(n, 86400); ok && d == 0 {
				b.errorf(n, "must be more than 0")
			} else {
				get(x).connectTimeout.put(d, ok)
			}
		}}
	}
	return t
}

// resolve fills the generic (checker-type independent) values.
func (p inherited) resolve() (delayLoop, connectTimeout Duration, retry int, dbr, warmup Duration) {
	delayLoop = p.delayLoop.or(seconds(DefaultDelayLoop))
	return delayLoop, p.connectTimeout.or(seconds(DefaultConnectTimeout)), p.retry.or(DefaultRetry),
		p.delayBeforeRetry.or(seconds(DefaultDelayBeforeRetry)), p.warmup.or(delayLoop)
}

// vsGroup parses a virtual_server_group block.
func (b *builder) vsGroup(n *Node) *VirtualServerGroup {
	if !b.block(n) || !b.nargs(n, 1, 1) {
		return nil
	}
	g := &VirtualServerGroup{Name: n.Args[0], Entries: []VSGroupEntry{}, Node: n}
	for _, c := range n.Children {
		if c.Block {
			b.errorf(c, "does not take a block")
			continue
		}
		e := VSGroupEntry{Pos: c.Pos}
		if c.Keyword == "fwmark" {
			if !b.nargs(c, 1, 2) {
				continue
			}
			v, ok := b.intArg(c, 0, 1, 1<<32-1)
			if !ok {
				continue
			}
			e.Fwmark = uint32(v)
			if len(c.Args) == 2 {
				e.Family, _ = b.oneOf(&Node{Pos: c.Pos, Keyword: c.Keyword, Args: c.Args[1:]}, "inet", "inet6")
			}
			g.Entries = append(g.Entries, e)
			continue
		}
		first, last, ok := parseRange(c.Keyword)
		if !ok {
			b.errorf(c, "%q is not an address, range (10.0.0.1-10, A-B) or prefix", c.Keyword)
			continue
		}
		e.First, e.Last = first, last
		if !b.nargs(c, 0, 1) {
			continue
		}
		if len(c.Args) == 1 {
			e.Port, _ = b.portArg(c, 0)
		}
		g.Entries = append(g.Entries, e)
	}
	return g
}

// parseRange parses ADDR, ADDR-LASTOCTET (IPv4) or ADDR-LASTGROUP (IPv6),
// ADDR-ADDR, or ADDR/LEN.
func parseRange(s string) (first, last netip.Addr, ok bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		p = p.Masked()
		first = p.Addr()
		last = first
		bits := first.BitLen() - p.Bits()
		b := last.AsSlice()
		for i := len(b) - 1; bits > 0; i-- {
			n := min(bits, 8)
			b[i] |= byte(1<<n - 1)
			bits -= n
		}
		last, _ = netip.AddrFromSlice(b)
		return first, last, true
	}
	lo, hi, dash := strings.Cut(s, "-")
	first, err := netip.ParseAddr(lo)
	if err != nil {
		return first, last, false
	}
	if !dash {
		return first, first, true
	}
	if a, err := netip.ParseAddr(hi); err == nil {
		return first, a, a.Is4() == first.Is4() && !a.Less(first)
	}
	b := first.AsSlice()
	if first.Is4() {
		v, err := strconv.Atoi(hi)
		if err != nil || v < int(b[3]) || v > 255 {
			return first, last, false
		}
		b[3] = byte(v)
	} else {
		v, err := strconv.ParseUint(hi, 16, 16)
		cur := uint64(b[14])<<8 | uint64(b[15])
		if err != nil || v < cur {
			return first, last, false
		}
		b[14], b[15] = byte(v>>8), byte(v)
	}
	last, _ = netip.AddrFromSlice(b)
	return first, last, true
}

// virtualServer parses a virtual_server block: its own keywords first
// (wherever they stand), then its real servers, which inherit from it.
func (b *builder) virtualServer(n *Node, g *GlobalDefs) *VirtualServer {
	if !b.block(n) || !b.nargs(n, 1, 2) {
		return nil
	}
	vs := &VirtualServer{
		LVSSched:    DefaultLVSSched,
		LVSMethod:   DefaultLVSMethod,
		Quorum:      DefaultQuorum,
		Weight:      DefaultWeight,
		SMTPAlert:   g.SMTPAlertChecker,
		RealServers: []*RealServer{},
		Node:        n,
	}
	switch n.Args[0] {
	case "fwmark":
		if b.nargs(n, 2, 2) {
			if v, ok := b.intArg(n, 1, 1, 1<<32-1); ok {
				vs.Fwmark = uint32(v)
			}
		}
	case "group":
		if b.nargs(n, 2, 2) {
			vs.Group = n.Args[1]
		}
	default:
		vs.Address, _ = b.addrArg(n, 0)
		if len(n.Args) == 2 {
			vs.Port, _ = b.portArg(n, 1)
		}
	}
	applyExcept(b, vsTable, n.Children, vs, "virtual_server", isRealServer)
	vs.DelayLoop, vs.ConnectTimeout, vs.Retry, vs.DelayBeforeRetry, vs.Warmup = vs.inh.resolve()
	vs.Alpha = vs.inh.alpha.or(false)
	vs.InhibitOnFailure = vs.inh.inhibit.or(false)
	for _, c := range n.Children {
		if !isRealServer(c) {
			continue
		}
		if r := b.realServer(c, vs, g); r != nil {
			vs.RealServers = append(vs.RealServers, r)
		}
	}
	return vs
}

// method parses `lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
func (b *builder) method(n *Node) (method, tunnel string, ok bool) {
	if !b.noBlock(n) || !b.nargs(n, 1, -1) {
		return "", "", false
	}
	m := strings.ToUpper(n.Args[0])
	switch m {
	case "NAT", "DR":
		if len(n.Args) > 1 {
			b.errorf(n, "%s takes no options", m)
			return "", "", false
		}
		return m, "", true
	case "TUN":
		if len(n.Args) > 1 {
			if n.Args[1] != "type" || len(n.Args) < 3 {
				b.errorf(n, "expected TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]")
				return "", "", false
			}
			return m, strings.Join(n.Args[2:], " "), true
		}
		return m, "", true
	}
	msg := "%q is not a forwarding method (NAT, DR or TUN)"
	b.errorf(n, msg, n.Args[0])
	return "", "", false
}

func (b *builder) sched(n *Node) (string, bool) { return b.oneOf(n, Schedulers...) }

func vsFlag(set func(vs *VirtualServer)) entry[VirtualServer] {
	return entry[VirtualServer]{fn: func(b *builder, n *Node, vs *VirtualServer) {
		if b.bare(n) {
			set(vs)
		}
	}}
}

var vsTable = inheritEntries(table[VirtualServer]{
	"lvs_sched": {fn: func(b *builder, n *Node, vs *VirtualServer) {
		if s, ok := b.sched(n); ok {
			vs.LVSSched = s
		}
	}},
	"lb_algo": {alias: "lvs_sched", fn: func(b *builder, n *Node, vs *VirtualServer) {
		if s, ok := b.sched(n); ok {
			vs.LVSSched = s
		}
	}},
	"lvs_method": {fn: func(b *builder, n *Node, vs *VirtualServer) {
		if m, t, ok := b.method(n); ok {
			vs.LVSMethod, vs.TunnelType = m, t
		}
	}},
	"lb_kind": {alias: "lvs_method", fn: func(b *builder, n *Node, vs *VirtualServer) {
		if m, t, ok := b.method(n); ok {
			vs.LVSMethod, vs.TunnelType = m, t
		}
	}},
	"persistence_timeout": {fn: func(b *builder, n *Node, vs *VirtualServer) {
		if len(n.Args) == 0 && b.noBlock(n) {
			vs.PersistenceTimeout = seconds(DefaultPersistenceTimeout)
			return
		}
		if v, ok := b.int1(n, 1, 1<<31-1); ok {
			vs.PersistenceTimeout = seconds(float64(v))
		}
	}},
	"persistence_granularity": {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.PersistenceGranularity, _ = b.str(n) }},
	"persistence_engine":      {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.PersistenceEngine, _ = b.str(n) }},
	"protocol": {fn: func(b *builder, n *Node, vs *VirtualServer) {
		if s, ok := b.str(n); ok {
			u := strings.ToUpper(s)
			if u != "TCP" && u != "UDP" && u != "SCTP" {
				b.errorf(n, "%q is not TCP, UDP or SCTP", s)
				return
			}
			vs.Protocol, vs.protocolSet = u, true
		}
	}},
	"ip_family":   {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.IPFamily, _ = b.oneOf(n, "inet", "inet6") }},
	"ha_suspend":  vsFlag(func(vs *VirtualServer) { vs.HASuspend = true }),
	"smtp_alert":  {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.SMTPAlert, _ = b.flag(n) }},
	"virtualhost": {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.Virtualhost, _ = b.str(n) }},
	"snmp_name":   {fn: func(b *builder, n *Node, vs *VirtualServer) { other(&vs.Other, n) }},
	"omega":       {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.Omega, _ = b.flag(n) }},
	"quorum":      {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.Quorum, _ = b.int1(n, 1, 1<<31-1) }},
	"hysteresis":  {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.Hysteresis, _ = b.int1(n, 0, 1<<31-1) }},
	"quorum_up":   {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.QuorumUp = b.notify(n) }},
	"quorum_down": {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.QuorumDown = b.notify(n) }},
	"sorry_server": {fn: func(b *builder, n *Node, vs *VirtualServer) {
		if !b.noBlock(n) || !b.nargs(n, 1, 2) {
			return
		}
		a, ok := b.addrArg(n, 0)
		if !ok {
			return
		}
		if vs.SorryServer == nil {
			vs.SorryServer = &SorryServer{}
		}
		vs.SorryServer.Address = a
		if len(n.Args) == 2 {
			vs.SorryServer.Port, _ = b.portArg(n, 1)
		}
	}},
	"sorry_server_inhibit": {fn: func(b *builder, n *Node, vs *VirtualServer) {
		if v, ok := b.flag(n); ok {
			if vs.SorryServer == nil {
				vs.SorryServer = &SorryServer{}
			}
			vs.SorryServer.Inhibit = v
		}
	}},
	"sorry_server_lvs_method": {fn: func(b *builder, n *Node, vs *VirtualServer) {
		if m, _, ok := b.method(n); ok {
			if vs.SorryServer == nil {
				vs.SorryServer = &SorryServer{}
			}
			vs.SorryServer.LVSMethod = m
		}
	}},
	"inhibit_on_failure": {fn: func(b *builder, n *Node, vs *VirtualServer) { vs.inh.inhibit.put(b.flag(n)) }},
	"flag-1":             vsFlag(func(vs *VirtualServer) { vs.Flag1 = true }),
	"flag-2":             vsFlag(func(vs *VirtualServer) { vs.Flag2 = true }),
	"flag-3":             vsFlag(func(vs *VirtualServer) { vs.Flag3 = true }),
	"sh-port":            vsFlag(func(vs *VirtualServer) { vs.SHPort = true }),
	"sh-fallback":        vsFlag(func(vs *VirtualServer) { vs.SHFallback = true }),
	"mh-port":            vsFlag(func(vs *VirtualServer) { vs.MHPort = true }),
	"mh-fallback":        vsFlag(func(vs *VirtualServer) { vs.MHFallback = true }),
	"ops":                vsFlag(func(vs *VirtualServer) { vs.OnePacketScheduling = true }),
	"hashed":             vsFlag(func(vs *VirtualServer) { vs.Hashed = true }),
	"node": {fn: func(b *builder, n *Node, vs *VirtualServer) {
		b.errorf(n, "virtual servers take no node overrides: every director programs the same datapath, which keeps connections on their real server across a failover")
	}},
	"weight": {fn: func(b *builder, n *Node, vs *VirtualServer) {
		if w, ok := b.int1(n, 1, 65535); ok {
			vs.Weight = w
		}
	}},
}, func(vs *VirtualServer) *inherited { return &vs.inh }, true)

func isRealServer(n *Node) bool { return n.Keyword == "real_server" }

func isChecker(n *Node) bool {
	_, ok := checkerTables[n.Keyword]
	return ok
}

// realServer parses a real_server block of vs.
func (b *builder) realServer(n *Node, vs *VirtualServer, g *GlobalDefs) *RealServer {
	if !b.block(n) || !b.nargs(n, 1, 2) {
		return nil
	}
	r := &RealServer{Port: vs.Port, Weight: vs.Weight, LVSMethod: vs.LVSMethod, Virtualhost: vs.Virtualhost,
		SMTPAlert: g.realServerSMTPAlert(), Checkers: []*Checker{}, Node: n}
	var ok bool
	if r.Address, ok = b.addrArg(n, 0); !ok {
		return nil
	}
	if len(n.Args) == 2 {
		r.Port, _ = b.intArg(n, 1, 0, 65535) // 0: the virtual server's port (fwmark services)
	}
	applyExcept(b, rsTable, n.Children, r, "real_server", isChecker)
	r.inh = vs.inh.overlay(r.inh)
	r.DelayLoop, r.ConnectTimeout, r.Retry, r.DelayBeforeRetry, r.Warmup = r.inh.resolve()
	r.Alpha = r.inh.alpha.or(false)
	r.InhibitOnFailure = r.inh.inhibit.or(false)
	for _, c := range n.Children {
		if !isChecker(c) {
			continue
		}
		if ck := b.checker(c, r); ck != nil {
			r.Checkers = append(r.Checkers, ck)
		}
	}
	return r
}

var rsTable = inheritEntries(table[RealServer]{
	"weight": {fn: func(b *builder, n *Node, r *RealServer) { r.Weight, _ = b.int1(n, 0, 65535) }},
	"lvs_method": {fn: func(b *builder, n *Node, r *RealServer) {
		if m, _, ok := b.method(n); ok {
			r.LVSMethod = m
		}
	}},
	"notify_up":          {fn: func(b *builder, n *Node, r *RealServer) { r.NotifyUp = b.notify(n) }},
	"notify_down":        {fn: func(b *builder, n *Node, r *RealServer) { r.NotifyDown = b.notify(n) }},
	"uthreshold":         {fn: func(b *builder, n *Node, r *RealServer) { r.UThreshold, _ = b.int1(n, 0, 1<<31-1) }},
	"lthreshold":         {fn: func(b *builder, n *Node, r *RealServer) { r.LThreshold, _ = b.int1(n, 0, 1<<31-1) }},
	"smtp_alert":         {fn: func(b *builder, n *Node, r *RealServer) { r.SMTPAlert, _ = b.flag(n) }},
	"virtualhost":        {fn: func(b *builder, n *Node, r *RealServer) { r.Virtualhost, _ = b.str(n) }},
	"snmp_name":          {fn: func(b *builder, n *Node, r *RealServer) { other(&r.Other, n) }},
	"inhibit_on_failure": {fn: func(b *builder, n *Node, r *RealServer) { r.inh.inhibit.put(b.flag(n)) }},
}, func(r *RealServer) *inherited { return &r.inh }, true)

// String names the virtual server as keepalived and ipvsadm do:
// "TCP 10.0.0.1:80", "fwmark 5" or "group web".
func (vs *VirtualServer) String() string {
	switch {
	case vs.Fwmark != 0:
		return "fwmark " + strconv.FormatUint(uint64(vs.Fwmark), 10)
	case vs.Group != "":
		return "group " + vs.Group
	}
	return vs.Protocol + " " + netip.AddrPortFrom(vs.Address, uint16(vs.Port)).String()
}

// AddrPort returns the real server's address and port.
func (r *RealServer) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(r.Address, uint16(r.Port))
}
