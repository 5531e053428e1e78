package config

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// validate runs the checks that need the whole model. Every error names
// the file, line, column and keyword of the statement at fault.
func validate(b *builder, c *Config) {
	names := map[string]Pos{}
	unique := func(kind, name string, n *Node) {
		k := kind + "\x00" + name
		if prev, ok := names[k]; ok {
			b.errorf(n, "%s %s defined twice (first at %s)", kind, name, prev)
			return
		}
		names[k] = n.Pos
	}
	for _, s := range c.Scripts {
		unique("vrrp_script", s.Name, s.Node)
	}
	for _, t := range c.TrackFiles {
		unique("track_file", t.Name, t.Node)
	}
	for _, i := range c.Instances {
		unique("vrrp_instance", i.Name, i.Node)
	}
	for _, g := range c.SyncGroups {
		unique("vrrp_sync_group", g.Name, g.Node)
	}
	for _, g := range c.VirtualServerGroups {
		unique("virtual_server_group", g.Name, g.Node)
	}
	if c.Cluster != nil {
		validateCluster(b, c.Cluster)
	}
	validateInstances(b, c, c.Instances)
	validateSyncGroups(b, c)
	validateOverrides(b, c)
	validateVirtualServers(b, c)
}

// validateInstances checks instances alone and against each other.
func validateInstances(b *builder, c *Config, insts []*VRRPInstance) {
	type vridKey struct {
		ifname string
		v6     bool
		vrid   int
	}
	vrids := map[vridKey]*VRRPInstance{}
	type vipAt struct {
		inst string
		pos  Pos
	}
	vips := map[netip.Addr]vipAt{}
	syncOf := map[string]*SyncGroup{}
	for _, g := range c.SyncGroups {
		for _, m := range g.Group {
			syncOf[m] = g
		}
	}
	for _, i := range insts {
		n := i.Node
		if i.Interface == "" && len(i.UnicastPeers) == 0 {
			b.errorf(n, "instance %s: missing interface (only unicast instances may omit it)", i.Name)
		}
		if i.VirtualRouterID == 0 {
			b.errorf(n, "instance %s: missing virtual_router_id (1-255)", i.Name)
		}
		if len(i.VirtualIPAddresses) == 0 && !i.NoVirtualIPAddress {
			b.errorf(n, "instance %s has no virtual_ipaddress (keepalived: at least one is sensible)", i.Name)
		}
		for _, v := range slices.Concat(i.VirtualIPAddresses, i.VirtualIPExcluded) {
			a := v.Prefix.Addr()
			if prev, ok := vips[a]; ok && prev.inst != i.Name {
				b.errorAt(v.Pos, v.Prefix.String(), "%s is also a VIP of instance %s (%s): two instances with one address could be held by two directors at once", a, prev.inst, prev.pos)
			} else if !ok {
				vips[a] = vipAt{i.Name, v.Pos}
			}
		}
		v6 := false
		for k, v := range i.VirtualIPAddresses {
			if k == 0 {
				v6 = v.Prefix.Addr().Is6()
				continue
			}
			if v.Prefix.Addr().Is6() != v6 {
				b.errorAt(v.Pos, v.Prefix.String(), "virtual_ipaddress mixes IPv4 and IPv6 (first address %s); put the other family in virtual_ipaddress_excluded",
					i.VirtualIPAddresses[0].Prefix)
			}
		}
		if i.VirtualRouterID != 0 {
			k := vridKey{i.Interface, v6, i.VirtualRouterID}
			if prev := vrids[k]; prev != nil && i.Interface != "" {
				b.errorAt(keywordPos(n, "virtual_router_id"), "virtual_router_id",
					"VRID %d is already used on interface %s by instance %s (%s)", i.VirtualRouterID, i.Interface, prev.Name, prev.Node.Pos)
			} else {
				vrids[k] = i
			}
		}
		ai := i.AdvertInt.Seconds()
		if i.Version == 2 && ai != math.Trunc(ai) {
			b.errorAt(keywordPos(n, "advert_int"), "advert_int", "VRRPv2 advertises whole seconds; %s is not (use version 3 for centiseconds)", i.AdvertInt)
		}
		if i.Version == 3 {
			if cs := ai * 100; math.Abs(cs-math.Round(cs)) > 1e-6 || ai > 40.95 {
				b.errorAt(keywordPos(n, "advert_int"), "advert_int", "VRRPv3 advertises centiseconds up to 40.95; %s is not", i.AdvertInt)
			}
		}
		keepalivedInstanceChecks(b, i, v6)
		trackWeightChecks(b, c, i, syncOf[i.Name])
		for _, t := range i.TrackScripts {
			if c.Script(t.Name) == nil {
				b.errorAt(t.Pos, t.Name, "track_script of instance %s: no vrrp_script %s is defined%s", i.Name, t.Name, didYouMean(t.Name, scriptNames(c)))
			}
		}
		for _, t := range i.TrackFiles {
			if c.TrackFile(t.Name) == nil {
				b.errorAt(t.Pos, t.Name, "track_file of instance %s: no track_file %s is defined", i.Name, t.Name)
			}
		}
		for _, p := range i.UnicastPeers {
			if len(i.VirtualIPAddresses) > 0 && p.Addr.Unmap().Is6() != v6 {
				b.errorAt(keywordPos(n, "unicast_peer"), "unicast_peer", "peer %s is not of the family of the VIPs", p.Addr)
			}
		}
	}
}

func scriptNames(c *Config) []string {
	out := make([]string, len(c.Scripts))
	for k, s := range c.Scripts {
		out[k] = s.Name
	}
	return out
}

func didYouMean(word string, cands []string) string {
	if s := suggest(word, cands); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

// keywordPos returns the position of the last child of n with keyword kw,
// or n's own position.
func keywordPos(n *Node, kw string) Pos {
	if n == nil {
		return Pos{}
	}
	if c := n.Find(kw); c != nil {
		return c.Pos
	}
	return n.Pos
}

func validateSyncGroups(b *builder, c *Config) {
	member := map[string]string{}
	for _, g := range c.SyncGroups {
		gn := g.Node.Find("group")
		if gn == nil || len(g.Group) == 0 {
			b.errorf(g.Node, "vrrp_sync_group %s has no group { ... } of instances", g.Name)
			continue
		}
		if len(g.Group) == 1 {
			b.warnf(gn, "sync group %s has only one instance; a sync group moves several instances together", g.Name)
		}
		for _, line := range gn.Children {
			for _, m := range line.Words() {
				if c.Instance(m) == nil {
					b.errorAt(line.Pos, m, "vrrp_sync_group %s: no vrrp_instance %s is defined", g.Name, m)
				}
				if prev, ok := member[m]; ok {
					b.errorAt(line.Pos, m, "instance %s is in sync groups %s and %s", m, prev, g.Name)
				}
				member[m] = g.Name
			}
		}
		for _, t := range g.TrackScripts {
			if c.Script(t.Name) == nil {
				b.errorAt(t.Pos, t.Name, "track_script of sync group %s: no vrrp_script %s is defined", g.Name, t.Name)
			}
		}
	}
}

// validateOverrides checks node overrides: the nodes exist, and each
// node's view of the configuration is valid. Errors found in a node's view
// are reported once, with the node named.
func validateOverrides(b *builder, c *Config) {
	any := false
	for _, i := range c.Instances {
		for _, name := range i.OverrideNodes() {
			any = true
			o := i.overrides[name]
			if c.Cluster != nil && c.Cluster.NodeByName(name) == nil {
				var names []string
				for _, cn := range c.Cluster.Nodes {
					names = append(names, cn.Name)
				}
				b.errorf(o, "no node %s in the cluster block (nodes: %s)%s", name, strings.Join(names, ", "), didYouMean(name, names))
			}
		}
	}
	if any && c.Cluster == nil {
		for _, i := range c.Instances {
			for _, name := range i.OverrideNodes() {
				b.errorf(i.overrides[name], "node override without a cluster block defining node %s", name)
			}
		}
		return
	}
	if !any || c.Cluster == nil {
		return
	}
	seen := map[string]bool{}
	for _, e := range b.errs {
		seen[e.Error()] = true
	}
	for _, cn := range c.Cluster.Nodes {
		nb := &builder{}
		view := make([]*VRRPInstance, len(c.Instances))
		for k, i := range c.Instances {
			view[k] = i
			if o := i.overrides[cn.Name]; o != nil {
				view[k] = nb.instance(i.Node, i.global, o)
			}
		}
		validateInstances(nb, c, view)
		for _, e := range nb.errs {
			if seen[e.Error()] {
				continue
			}
			seen[e.Error()] = true
			e.Msg = "on node " + cn.Name + ": " + e.Msg
			b.errs = append(b.errs, e)
		}
	}
}

func vsName(vs *VirtualServer) string {
	switch {
	case vs.Fwmark != 0:
		return fmt.Sprintf("fwmark %d", vs.Fwmark)
	case vs.Group != "":
		return "group " + vs.Group
	}
	return netip.AddrPortFrom(vs.Address, uint16(vs.Port)).String()
}

func validateVirtualServers(b *builder, c *Config) {
	type vsKey struct {
		addr   netip.Addr
		port   int
		fwmark uint32
		group  string
		proto  string
		family string // a fwmark's: the same mark in IPv4 and IPv6 are two services
	}
	seen := make(map[vsKey]*VirtualServer, len(c.VirtualServers))
	for _, vs := range c.VirtualServers {
		n := vs.Node
		k := vsKey{addr: vs.Address, port: vs.Port, fwmark: vs.Fwmark, group: vs.Group, proto: vs.Protocol}
		if vs.Fwmark != 0 || vs.Group != "" {
			k.proto = ""
		}
		if vs.Fwmark != 0 && vs.IPFamily == "inet6" {
			k.family = "inet6"
		}
		if prev := seen[k]; prev != nil {
			b.errorf(n, "virtual server %s %s defined twice (first at %s)", vsName(vs), vs.Protocol, prev.Node.Pos)
		} else {
			seen[k] = vs
		}
		if vs.Group != "" && c.VirtualServerGroup(vs.Group) == nil {
			b.errorf(n, "no virtual_server_group %s is defined", vs.Group)
		}
		if vs.Address.IsValid() && vs.Port == 0 && vs.PersistenceTimeout == 0 {
			b.errorf(n, "virtual server %s: the port may be omitted only for a persistent service (persistence_timeout)", vs.Address)
		}
		if g := vs.PersistenceGranularity; g != "" {
			if !validGranularity(g, vs) {
				b.errorAt(keywordPos(n, "persistence_granularity"), "persistence_granularity",
					"%q is not a netmask (e.g. 255.255.255.0 for IPv4, a prefix length 1-128 for IPv6)", g)
			}
		}
		for _, f := range []struct {
			on    bool
			kw    string
			sched string
		}{{vs.SHPort, "sh-port", "sh"}, {vs.SHFallback, "sh-fallback", "sh"}, {vs.MHPort, "mh-port", "mh"}, {vs.MHFallback, "mh-fallback", "mh"}} {
			if f.on && vs.LVSSched != f.sched {
				b.warns = append(b.warns, Warning{Pos: keywordPos(n, f.kw), Keyword: f.kw, Msg: fmt.Sprintf("has effect only with lvs_sched %s (this is %s)", f.sched, vs.LVSSched)})
			}
		}
		byAddr := vs.Address.IsValid()
		var grp *VirtualServerGroup
		if vs.Group != "" {
			grp = c.VirtualServerGroup(vs.Group)
		}
		hasFwmark := vs.Fwmark != 0
		if grp != nil {
			for _, e := range grp.Entries {
				if e.Fwmark != 0 {
					hasFwmark = true
				} else {
					byAddr = true
					if e.Port == 0 && vs.PersistenceTimeout == 0 {
						b.errorAt(e.Pos, e.First.String(), "virtual_server_group %s: an entry without a port needs a persistent service (persistence_timeout on virtual server %s)", grp.Name, vsName(vs))
					}
				}
			}
		}
		if byAddr && !vs.protocolSet {
			b.errorf(n, "virtual server %s has no protocol; keepalived then uses UDP (the kernel's default): write protocol TCP (or UDP, SCTP)", vsName(vs))
		}
		if !byAddr && vs.protocolSet {
			b.warns = append(b.warns, Warning{Pos: keywordPos(n, "protocol"), Keyword: "protocol", Msg: "ignored for an fwmark service"})
			vs.Protocol = ""
		}
		if vs.OnePacketScheduling && byAddr && vs.Protocol != "UDP" {
			b.errorAt(keywordPos(n, "ops"), "ops", "one-packet scheduling needs protocol UDP")
		}
		if vs.HASuspend && hasFwmark {
			b.errorAt(keywordPos(n, "ha_suspend"), "ha_suspend", "cannot be used with fwmark services")
		}
		if len(vs.RealServers) == 0 {
			b.errorf(n, "virtual server %s has no real_server (keepalived ignores it)", vsName(vs))
		}
		weights := 0
		for _, r := range vs.RealServers {
			weights += r.Weight
		}
		if len(vs.RealServers) > 0 && vs.Quorum > weights {
			b.errorAt(keywordPos(n, "quorum"), "quorum", "quorum %d exceeds the total weight %d of the real servers: the service could never come up", vs.Quorum, weights)
		}
		if vs.Hysteresis >= vs.Quorum {
			b.errorAt(keywordPos(n, "hysteresis"), "hysteresis", "hysteresis %d must be less than quorum %d", vs.Hysteresis, vs.Quorum)
		}
		if vs.SorryServer != nil && vs.SorryServer.LVSMethod == "" {
			vs.SorryServer.LVSMethod = vs.LVSMethod
		}
		rsSeen := make(map[netip.AddrPort]*RealServer, len(vs.RealServers))
		for _, r := range vs.RealServers {
			ap := netip.AddrPortFrom(r.Address, uint16(r.Port))
			if prev := rsSeen[ap]; prev != nil {
				b.errorf(r.Node, "real server %s defined twice in virtual server %s (first at %s)", ap, vsName(vs), prev.Node.Pos)
			}
			rsSeen[ap] = r
			if vs.Address.IsValid() && r.LVSMethod != "TUN" && r.Address.Is4() != vs.Address.Is4() {
				b.errorf(r.Node, "real server %s is not of the address family of virtual server %s (only TUN may mix)", r.Address, vs.Address)
			}
			if r.LVSMethod != "NAT" && vs.Port != 0 && r.Port != vs.Port {
				b.errorf(r.Node, "real server %s: %s forwarding cannot map port %d to %d (only NAT can)", ap, r.LVSMethod, vs.Port, r.Port)
			}
			if r.LVSMethod != "NAT" && vs.Fwmark != 0 && r.Port != 0 {
				b.warns = append(b.warns, Warning{Pos: r.Node.Pos, Keyword: "real_server", Msg: fmt.Sprintf("port %d is ignored for an fwmark service with %s forwarding", r.Port, r.LVSMethod)})
			}
			for _, ck := range r.Checkers {
				if ck.File != nil && ck.File.TrackFile != "" && c.TrackFile(ck.File.TrackFile) == nil {
					b.errorAt(keywordPos(ck.Node, "track_file"), "track_file", "no track_file %s is defined", ck.File.TrackFile)
				}
			}
		}
	}
}

// validGranularity reports whether g is a netmask: a contiguous dotted
// IPv4 mask, or a prefix length (1-32 for IPv4, 1-128 for IPv6 services).
func validGranularity(g string, vs *VirtualServer) bool {
	v6 := vs.Address.Is6() || vs.IPFamily == "inet6"
	if l, err := strconv.Atoi(g); err == nil {
		if v6 {
			return l >= 1 && l <= 128
		}
		return l >= 1 && l <= 32
	}
	a, err := netip.ParseAddr(g)
	if err != nil || !a.Is4() || v6 {
		return false
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return m != 0 && m|(m-1) == math.MaxUint32 || m == math.MaxUint32
}
