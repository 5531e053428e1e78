package config

import (
	"fmt"
	"sort"
	"strings"
)

// instance builds a vrrp_instance. override, when not nil, is a node
// block whose statements replace the instance's statements of the same
// keyword (the instance as that node sees it).
func (b *builder) instance(n *Node, g *GlobalDefs, override *Node) *VRRPInstance {
	i := &VRRPInstance{
		Name:                    n.Args[0],
		State:                   "BACKUP",
		Priority:                100,
		AdvertInt:               seconds(1),
		Version:                 g.VRRPVersion,
		VirtualIPAddresses:      []VIP{},
		VirtualIPExcluded:       []VIP{},
		VirtualRoutes:           []Route{},
		TrackInterfaces:         []Track{},
		TrackScripts:            []Track{},
		TrackFiles:              []Track{},
		UnicastPeers:            []UnicastPeer{},
		GarpMasterDelay:         g.VRRPGarpMasterDelay,
		GarpMasterRepeat:        g.VRRPGarpMasterRepeat,
		GarpLowerPrioDelay:      g.VRRPGarpLowerPrioDelay,
		GarpLowerPrioRepeat:     g.VRRPGarpLowerPrioRepeat,
		GarpMasterRefresh:       g.VRRPGarpMasterRefresh,
		GarpMasterRefreshRepeat: g.VRRPGarpMasterRefreshRepeat,
		DownTimerAdverts:        g.VRRPDownTimerAdverts,
		LowerPrioNoAdvert:       g.VRRPLowerPrioNoAdvert,
		HigherPrioSendAdvert:    g.VRRPHigherPrioSendAdvert,
		SkipCheckAdvAddr:        g.VRRPSkipCheckAdvAddr,
		StrictMode:              g.VRRPStrict,
		CheckUnicastSrc:         g.VRRPCheckUnicastSrc,
		SMTPAlert:               g.SMTPAlertVRRP,
		Node:                    n,
		global:                  g,
	}
	children := make([]*Node, 0, len(n.Children))
	for _, c := range n.Children {
		if c.Keyword != "node" {
			children = append(children, c)
			continue
		}
		if override != nil {
			continue
		}
		if !b.block(c) || !b.nargs(c, 1, 1) {
			continue
		}
		name := c.Args[0]
		if i.overrides == nil {
			i.overrides = map[string]*Node{}
			i.NodeOverrides = map[string][]string{}
		}
		if prev := i.overrides[name]; prev != nil {
			b.errorf(c, "second override block for node %s (first at %s)", name, prev.Pos)
			continue
		}
		i.overrides[name] = c
		lines := make([]string, 0, len(c.Children))
		for _, o := range c.Children {
			if o.Keyword == "node" {
				b.errorf(o, "node blocks do not nest")
				continue
			}
			lines = append(lines, renderNode(o))
		}
		i.NodeOverrides[name] = lines
		b.checkOverride(n, g, c)
	}
	if override != nil {
		replaced := map[string]bool{}
		for _, o := range override.Children {
			replaced[canonical(instanceTable, o.Keyword)] = true
		}
		kept := children[:0:0]
		for _, c := range children {
			if !replaced[canonical(instanceTable, c.Keyword)] {
				kept = append(kept, c)
			}
		}
		children = append(kept, override.Children...)
	}
	apply(b, instanceTable, children, i, "vrrp_instance")
	// keepalived (vrrp_complete_instance): an unset priority follows the
	// state (MASTER: 255, the address owner), an unset state the priority.
	switch {
	case !i.set.priority && i.State == "MASTER":
		i.Priority = 255
	case !i.set.state && i.Priority == 255:
		i.State = "MASTER"
	}
	if !i.acceptSet {
		i.Accept = !i.StrictMode
	}
	if i.StrictMode {
		// Strict mode (RFC conformance) defaults.
		if !i.lowerPrioSet {
			i.LowerPrioNoAdvert = true
		}
		if !i.set.higherPrio {
			i.HigherPrioSendAdvert = false
		}
		if !i.set.garpLowerRep {
			i.GarpLowerPrioRepeat = 0
		}
		if !i.set.garpLowerDelay {
			i.GarpLowerPrioDelay = 0
		}
	}
	// keepalived runs IPv6 instances as VRRPv3 whatever the version says.
	if len(i.VirtualIPAddresses) > 0 && i.VirtualIPAddresses[0].Prefix.Addr().Is6() {
		i.Version = 3
	}
	return i
}

// checkOverride builds the instance as the override's node sees it and
// keeps the errors and warnings that arise inside the override block, so
// that a typo in an override is reported with the rest of the file.
func (b *builder) checkOverride(n *Node, g *GlobalDefs, o *Node) {
	inside := map[Pos]bool{}
	var mark func([]*Node)
	mark = func(ns []*Node) {
		for _, c := range ns {
			inside[c.Pos] = true
			mark(c.Children)
		}
	}
	mark(o.Children)
	nb := &builder{}
	nb.instance(n, g, o)
	for _, e := range nb.errs {
		if inside[e.Pos] {
			b.errs = append(b.errs, e)
		}
	}
	for _, w := range nb.warns {
		if inside[w.Pos] {
			b.warns = append(b.warns, w)
		}
	}
}

// renderNode renders a statement and its block on one line.
func renderNode(n *Node) string {
	s := n.String()
	if !n.Block {
		return s
	}
	parts := make([]string, 0, len(n.Children))
	for _, c := range n.Children {
		parts = append(parts, renderNode(c))
	}
	if len(parts) == 0 {
		return s + " { }"
	}
	return s + " { " + strings.Join(parts, "; ") + " }"
}

// ForNode returns the instance as node sees it: the statements of its
// `node NAME { ... }` block replace the instance's statements of the same
// keyword. The view is final: it has no NodeOverrides of its own. It
// shares unchanged slices with i (treat both as read-only). It does not
// check that node exists; Config.ForNode does.
func (i *VRRPInstance) ForNode(node string) (*VRRPInstance, error) {
	o := i.overrides[node]
	if o == nil {
		v := *i
		v.NodeOverrides, v.overrides = nil, nil
		return &v, nil
	}
	b := &builder{}
	v := b.instance(i.Node, i.global, o)
	v.NodeOverrides = nil
	if len(b.errs) > 0 {
		return nil, b.errs
	}
	return v, nil
}

// OverrideNodes returns the names of the nodes with an override block,
// sorted.
func (i *VRRPInstance) OverrideNodes() []string {
	names := make([]string, 0, len(i.overrides))
	for n := range i.overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ForNode returns the configuration as node sees it: every instance with
// its node overrides applied. The cluster block must define node.
func (c *Config) ForNode(node string) (*Config, error) {
	if c.Cluster == nil {
		return nil, fmt.Errorf("config: for node %s: %w", node, ErrNoCluster)
	}
	if c.Cluster.NodeByName(node) == nil {
		names := make([]string, 0, len(c.Cluster.Nodes))
		for _, n := range c.Cluster.Nodes {
			names = append(names, n.Name)
		}
		return nil, fmt.Errorf("config: for node %s: %w (cluster nodes: %s)", node, ErrUnknownNode, strings.Join(names, ", "))
	}
	out := *c
	out.Instances = make([]*VRRPInstance, len(c.Instances))
	for k, i := range c.Instances {
		v, err := i.ForNode(node)
		if err != nil {
			return nil, fmt.Errorf("config: for node %s: instance %s: %w", node, i.Name, err)
		}
		out.Instances[k] = v
	}
	return &out, nil
}

// Instance returns the vrrp_instance called name, or nil.
func (c *Config) Instance(name string) *VRRPInstance {
	for _, i := range c.Instances {
		if i.Name == name {
			return i
		}
	}
	return nil
}

// Script returns the vrrp_script called name, or nil.
func (c *Config) Script(name string) *VRRPScript {
	for _, s := range c.Scripts {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// TrackFile returns the track_file called name, or nil.
func (c *Config) TrackFile(name string) *TrackFile {
	for _, t := range c.TrackFiles {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// VirtualServerGroup returns the virtual_server_group called name, or nil.
func (c *Config) VirtualServerGroup(name string) *VirtualServerGroup {
	for _, g := range c.VirtualServerGroups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

type itab = table[VRRPInstance]

func notifyEntry(set func(i *VRRPInstance, s *Script)) entry[VRRPInstance] {
	return entry[VRRPInstance]{fn: func(b *builder, n *Node, i *VRRPInstance) { set(i, b.notify(n)) }}
}

func otherEntry() entry[VRRPInstance] {
	return entry[VRRPInstance]{fn: func(b *builder, n *Node, i *VRRPInstance) { other(&i.Other, n) }}
}

var instanceTable = itab{
	"state": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if s, ok := b.oneOf(n, "MASTER", "BACKUP"); ok {
			i.State, i.set.state = s, true
		}
	}},
	"interface":         {fn: func(b *builder, n *Node, i *VRRPInstance) { i.Interface, _ = b.str(n) }},
	"virtual_router_id": {fn: func(b *builder, n *Node, i *VRRPInstance) { i.VirtualRouterID, _ = b.int1(n, 1, 255) }},
	"priority":          {fn: func(b *builder, n *Node, i *VRRPInstance) { i.Priority, i.set.priority = b.int1(n, 1, 255) }},
	"advert_int": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if d, ok := b.dur1(n, 255); ok {
			if d < seconds(0.01) {
				b.errorf(n, "must be at least 0.01 seconds")
				return
			}
			i.AdvertInt = d
		}
	}},
	"version": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		i.Version, _ = b.int1(n, 2, 3)
		i.set.version2 = i.Version == 2
	}},
	"nopreempt":     {fn: func(b *builder, n *Node, i *VRRPInstance) { i.Nopreempt = b.bare(n) }},
	"preempt":       {fn: func(b *builder, n *Node, i *VRRPInstance) { i.Nopreempt = !b.bare(n) }},
	"preempt_delay": {fn: func(b *builder, n *Node, i *VRRPInstance) { i.PreemptDelay, _ = b.dur1(n, 1000) }},
	"accept": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if b.bare(n) {
			i.Accept, i.acceptSet = true, true
		}
	}},
	"no_accept": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if b.bare(n) {
			i.Accept, i.acceptSet = false, true
		}
	}},
	"authentication": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if !b.block(n) || !b.nargs(n, 0, 0) {
			return
		}
		a := &Auth{}
		apply(b, authTable, n.Children, a, "authentication")
		if a.Type == "" {
			b.errorf(n, "missing auth_type (PASS or AH)")
		}
		if a.Type == "PASS" && a.Pass == "" {
			b.errorf(n, "auth_type PASS needs an auth_pass")
		}
		i.Authentication = a
	}},
	"virtual_ipaddress": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if b.block(n) && b.nargs(n, 0, 0) {
			i.VirtualIPAddresses = append(i.VirtualIPAddresses, b.vips(n)...)
		}
	}},
	"virtual_ipaddress_excluded": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if b.block(n) && b.nargs(n, 0, 0) {
			i.VirtualIPExcluded = append(i.VirtualIPExcluded, b.vips(n)...)
		}
	}},
	"virtual_routes": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if b.block(n) && b.nargs(n, 0, 0) {
			i.VirtualRoutes = append(i.VirtualRoutes, b.routes(n)...)
		}
	}},
	"virtual_rules": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if b.block(n) && b.nargs(n, 0, 0) {
			i.VirtualRules = append(i.VirtualRules, b.routes(n)...)
		}
	}},
	"track_interface": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		i.TrackInterfaces = append(i.TrackInterfaces, b.tracks(n, 253)...)
	}},
	"track_script": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		i.TrackScripts = append(i.TrackScripts, b.tracks(n, 253)...)
	}},
	"track_file":         {fn: func(b *builder, n *Node, i *VRRPInstance) { i.TrackFiles = append(i.TrackFiles, b.tracks(n, 254)...) }},
	"dont_track_primary": {fn: func(b *builder, n *Node, i *VRRPInstance) { i.DontTrackPrimary = b.bare(n) }},
	"unicast_src_ip":     {fn: func(b *builder, n *Node, i *VRRPInstance) { i.UnicastSrcIP, _ = b.addr1(n) }},
	"unicast_peer": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if b.block(n) && b.nargs(n, 0, 0) {
			i.UnicastPeers = append(i.UnicastPeers, b.unicastPeers(n)...)
		}
	}},
	"unicast_ttl":           {fn: func(b *builder, n *Node, i *VRRPInstance) { i.UnicastTTL, _ = b.int1(n, 0, 255) }},
	"unicast_fault_no_peer": {fn: func(b *builder, n *Node, i *VRRPInstance) { i.UnicastFaultNoPeer = b.bare(n) }},
	"check_unicast_src":     {fn: func(b *builder, n *Node, i *VRRPInstance) { i.CheckUnicastSrc = b.bare(n) }},
	"mcast_src_ip":          {fn: func(b *builder, n *Node, i *VRRPInstance) { i.McastSrcIP, _ = b.addr1(n) }},
	"mcast_dst_ip": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if a, ok := b.addr1(n); ok {
			if !a.IsMulticast() {
				b.errorf(n, "%s is not a multicast address", a)
				return
			}
			i.McastDstIP = a
		}
	}},
	"use_vmac": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		if !b.noBlock(n) || !b.nargs(n, 0, 2) {
			return
		}
		i.UseVMAC = true
		for _, a := range n.Args {
			if strings.Count(a, ":") >= 4 {
				i.VMACAddr = a
			} else {
				i.VMACName = a
			}
		}
	}},
	"vmac_xmit_base":     {fn: func(b *builder, n *Node, i *VRRPInstance) { i.VMACXmitBase = b.bare(n) }},
	"native_ipv6":        {alias: "an IPv6 virtual_ipaddress (the family follows the addresses)", fn: func(b *builder, n *Node, i *VRRPInstance) { i.NativeIPv6 = b.bare(n) }},
	"garp_master_delay":  {fn: func(b *builder, n *Node, i *VRRPInstance) { i.GarpMasterDelay, _ = b.dur1(n, 86400) }},
	"garp_master_repeat": {fn: func(b *builder, n *Node, i *VRRPInstance) { i.GarpMasterRepeat, _ = b.int1(n, 0, 10000) }},
	"garp_lower_prio_delay": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		i.GarpLowerPrioDelay, i.set.garpLowerDelay = b.dur1(n, 86400)
	}},
	"garp_lower_prio_repeat": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		i.GarpLowerPrioRepeat, i.set.garpLowerRep = b.int1(n, 0, 10000)
	}},
	"garp_master_refresh":        {fn: func(b *builder, n *Node, i *VRRPInstance) { i.GarpMasterRefresh, _ = b.dur1(n, 86400) }},
	"garp_master_refresh_repeat": {fn: func(b *builder, n *Node, i *VRRPInstance) { i.GarpMasterRefreshRepeat, _ = b.int1(n, 0, 10000) }},
	"down_timer_adverts":         {fn: func(b *builder, n *Node, i *VRRPInstance) { i.DownTimerAdverts, _ = b.int1(n, 1, 100) }},
	"lower_prio_no_advert": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		i.LowerPrioNoAdvert, i.lowerPrioSet = b.flag(n)
	}},
	"higher_prio_send_advert":    {fn: func(b *builder, n *Node, i *VRRPInstance) { i.HigherPrioSendAdvert, i.set.higherPrio = b.flag(n) }},
	"skip_check_adv_addr":        {fn: func(b *builder, n *Node, i *VRRPInstance) { i.SkipCheckAdvAddr, _ = b.flag(n) }},
	"strict_mode":                {fn: func(b *builder, n *Node, i *VRRPInstance) { i.StrictMode, _ = b.flag(n) }},
	"notify_master":              notifyEntry(func(i *VRRPInstance, s *Script) { i.Master = s }),
	"notify_backup":              notifyEntry(func(i *VRRPInstance, s *Script) { i.Backup = s }),
	"notify_fault":               notifyEntry(func(i *VRRPInstance, s *Script) { i.Fault = s }),
	"notify_stop":                notifyEntry(func(i *VRRPInstance, s *Script) { i.Stop = s }),
	"notify_deleted":             notifyEntry(func(i *VRRPInstance, s *Script) { i.Deleted = s }),
	"notify":                     notifyEntry(func(i *VRRPInstance, s *Script) { i.Any = s }),
	"notify_master_rx_lower_pri": notifyEntry(func(i *VRRPInstance, s *Script) { i.MasterRxLowerPri = s }),
	"notify_priority_changes":    {fn: func(b *builder, n *Node, i *VRRPInstance) { i.NotifyPriorityChanges, _ = b.flag(n) }},
	"smtp_alert":                 {fn: func(b *builder, n *Node, i *VRRPInstance) { i.SMTPAlert, _ = b.flag(n) }},
	"promote_secondaries":        {fn: func(b *builder, n *Node, i *VRRPInstance) { i.PromoteSecondaries = b.bare(n) }},
	"lvs_sync_daemon_interface": {alias: "lvs_sync_daemon in global_defs", fn: func(b *builder, n *Node, i *VRRPInstance) {
		i.LVSSyncDaemonInterface, _ = b.str(n)
	}},
	"debug":                {fn: func(b *builder, n *Node, i *VRRPInstance) { i.Debug, _ = b.int1(n, 0, 4) }},
	"use_vmac_addr":        otherEntry(),
	"use_ipvlan":           otherEntry(),
	"vrf":                  otherEntry(),
	"track_src_ip":         otherEntry(),
	"old_unicast_checksum": otherEntry(),
	"garp_extra_if":        otherEntry(),
	"vmac_garp_intvl":      {alias: "garp_extra_if", fn: func(b *builder, n *Node, i *VRRPInstance) { other(&i.Other, n) }},
	"v3_checksum_as_v2":    otherEntry(),
	"timer_expired_backup": otherEntry(),
	"no_virtual_ipaddress": {fn: func(b *builder, n *Node, i *VRRPInstance) {
		i.NoVirtualIPAddress = b.bare(n)
	}},
	"kernel_rx_buf_size":   otherEntry(),
	"linkbeat_use_polling": otherEntry(),
	"track_process":        {fn: func(b *builder, n *Node, i *VRRPInstance) { b.block(n) }},
	"track_bfd":            {fn: func(b *builder, n *Node, i *VRRPInstance) { b.block(n) }},
	// node NAME { ... } is handled by instance before the table runs.
	"node": {fn: func(b *builder, n *Node, i *VRRPInstance) {}},
}

var authTable = table[Auth]{
	"auth_type": {fn: func(b *builder, n *Node, a *Auth) { a.Type, _ = b.oneOf(n, "PASS", "AH") }},
	"auth_pass": {fn: func(b *builder, n *Node, a *Auth) {
		if s, ok := b.str(n); ok {
			if len(s) > 8 {
				// keepalived truncates with a config error (-t fails).
				b.errorf(n, "%d characters; VRRPv2 carries at most 8 (keepalived would truncate it to %q)", len(s), s[:8])
				return
			}
			a.Pass = s
		}
	}},
}
