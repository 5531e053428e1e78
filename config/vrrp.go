package config

import (
	"net/netip"
	"strings"
)

// script parses a vrrp_script block. Defaults (keepalived.conf(5)):
// interval 1 s, weight 0, rise 1, fall 1, timeout = interval.
func (b *builder) script(n *Node) *VRRPScript {
	if !b.block(n) || !b.nargs(n, 1, 1) {
		return nil
	}
	s := &VRRPScript{Name: n.Args[0], Interval: seconds(1), Rise: 1, Fall: 1, Node: n}
	apply(b, scriptTable, n.Children, s, "vrrp_script")
	if s.Script == "" {
		b.errorf(n, "vrrp_script %s has no script", s.Name)
	}
	if s.Timeout == 0 {
		s.Timeout = s.Interval
	}
	return s
}

var scriptTable = table[VRRPScript]{
	"script":   {fn: func(b *builder, n *Node, s *VRRPScript) { s.Script, _ = b.joined(n) }},
	"interval": {fn: func(b *builder, n *Node, s *VRRPScript) { s.Interval, _ = b.posDur1(n, 86400) }},
	"timeout":  {fn: func(b *builder, n *Node, s *VRRPScript) { s.Timeout, _ = b.dur1(n, 86400) }},
	"weight": {fn: func(b *builder, n *Node, s *VRRPScript) {
		s.Weight, s.Reverse, _ = b.weight(n, 0, 253)
	}},
	"rise": {fn: func(b *builder, n *Node, s *VRRPScript) { s.Rise, _ = b.int1(n, 1, 1<<20) }},
	"fall": {fn: func(b *builder, n *Node, s *VRRPScript) { s.Fall, _ = b.int1(n, 1, 1<<20) }},
	"user": {fn: func(b *builder, n *Node, s *VRRPScript) {
		if b.noBlock(n) && b.nargs(n, 1, 2) {
			s.User = n.Args[0]
			if len(n.Args) == 2 {
				s.Group = n.Args[1]
			}
		}
	}},
	"init_fail": {fn: func(b *builder, n *Node, s *VRRPScript) { s.InitFail = b.bare(n) }},
}

// weight parses `weight W [reverse|noreverse|no_reverse]` starting at
// argument i, W in [-lim, lim].
func (b *builder) weight(n *Node, i, lim int) (w int, reverse, ok bool) {
	if !b.noBlock(n) || !b.nargs(n, i+1, i+2) {
		return 0, false, false
	}
	w, ok = b.intArg(n, i, -lim, lim)
	if len(n.Args) == i+2 {
		switch n.Args[i+1] {
		case "reverse":
			reverse = true
		case "noreverse", "no_reverse":
		default:
			b.errorf(n, "%q: expected reverse or noreverse", n.Args[i+1])
			ok = false
		}
	}
	return w, reverse, ok
}

// trackFile parses a track_file block. Defaults: weight 1.
func (b *builder) trackFile(n *Node) *TrackFile {
	if !b.block(n) || !b.nargs(n, 1, 1) {
		return nil
	}
	t := &TrackFile{Name: n.Args[0], Weight: 1, Node: n}
	apply(b, trackFileTable, n.Children, t, "track_file")
	if t.File == "" {
		b.errorf(n, "track_file %s has no file", t.Name)
	}
	return t
}

var trackFileTable = table[TrackFile]{
	"file": {fn: func(b *builder, n *Node, t *TrackFile) { t.File, _ = b.str(n) }},
	"weight": {fn: func(b *builder, n *Node, t *TrackFile) {
		t.Weight, t.Reverse, _ = b.weight(n, 0, 2147483647)
	}},
	"init_file": {fn: func(b *builder, n *Node, t *TrackFile) {
		if !b.noBlock(n) || !b.nargs(n, 0, 2) {
			return
		}
		t.InitFile = true
		for i, a := range n.Args {
			if a == "overwrite" {
				t.Overwrite = true
			} else if i == 0 {
				t.InitValue, _ = b.intArg(n, 0, -2147483647, 2147483647)
			} else {
				b.errorf(n, "%q: expected overwrite", a)
			}
		}
	}},
}

// tracks parses a track_interface / track_script / track_file block:
// one `NAME [weight W [reverse]]` per line.
func (b *builder) tracks(n *Node, lim int) []Track {
	if !b.block(n) || !b.nargs(n, 0, 0) {
		return nil
	}
	out := make([]Track, 0, len(n.Children))
	for _, c := range n.Children {
		t := Track{Name: c.Keyword, Pos: c.Pos}
		switch {
		case c.Block:
			b.errorf(c, "does not take a block")
			continue
		case len(c.Args) == 0:
		case c.Args[0] == "weight":
			t.Weight, t.Reverse, _ = b.weight(c, 1, lim)
			t.WeightSet = true
		case len(c.Args) == 1 && (c.Args[0] == "reverse" || c.Args[0] == "noreverse" || c.Args[0] == "no_reverse"):
			t.Reverse = c.Args[0] == "reverse"
		default:
			b.errorf(c, "expected NAME [weight W [reverse]], got %q", c.String())
			continue
		}
		out = append(out, t)
	}
	return out
}

// notify parses `KEYWORD SCRIPT [USER [GROUP]]`.
func (b *builder) notify(n *Node) *Script {
	if !b.noBlock(n) || !b.nargs(n, 1, 3) {
		if len(n.Args) > 3 {
			b.errorf(n, "quote a command line with arguments: %s \"%s\"", n.Keyword, strings.Join(n.Args, " "))
		}
		return nil
	}
	s := &Script{Command: n.Args[0]}
	if len(n.Args) > 1 {
		s.User = n.Args[1]
	}
	if len(n.Args) > 2 {
		s.Group = n.Args[2]
	}
	return s
}

// syncGroup parses a vrrp_sync_group block.
func (b *builder) syncGroup(n *Node) *SyncGroup {
	if !b.block(n) || !b.nargs(n, 1, 1) {
		return nil
	}
	g := &SyncGroup{Name: n.Args[0], Group: []string{}, TrackInterfaces: []Track{}, TrackScripts: []Track{}, TrackFiles: []Track{}, Node: n}
	apply(b, syncGroupTable, n.Children, g, "vrrp_sync_group")
	return g
}

var syncGroupTable = table[SyncGroup]{
	"group": {fn: func(b *builder, n *Node, g *SyncGroup) {
		if !b.block(n) {
			return
		}
		for _, c := range n.Children {
			g.Group = append(g.Group, c.Words()...)
		}
	}},
	"notify_master":   {fn: func(b *builder, n *Node, g *SyncGroup) { g.Master = b.notify(n) }},
	"notify_backup":   {fn: func(b *builder, n *Node, g *SyncGroup) { g.Backup = b.notify(n) }},
	"notify_fault":    {fn: func(b *builder, n *Node, g *SyncGroup) { g.Fault = b.notify(n) }},
	"notify_stop":     {fn: func(b *builder, n *Node, g *SyncGroup) { g.Stop = b.notify(n) }},
	"notify_deleted":  {fn: func(b *builder, n *Node, g *SyncGroup) { g.Deleted = b.notify(n) }},
	"notify":          {fn: func(b *builder, n *Node, g *SyncGroup) { g.Any = b.notify(n) }},
	"smtp_alert":      {fn: func(b *builder, n *Node, g *SyncGroup) { g.SMTPAlert, _ = b.flag(n) }},
	"track_interface": {fn: func(b *builder, n *Node, g *SyncGroup) { g.TrackInterfaces = b.tracks(n, 253) }},
	"track_script":    {fn: func(b *builder, n *Node, g *SyncGroup) { g.TrackScripts = b.tracks(n, 253) }},
	"track_file":      {fn: func(b *builder, n *Node, g *SyncGroup) { g.TrackFiles = b.tracks(n, 254) }},
	"global_tracking": {alias: "track_interface, track_script and track_file on the sync group", fn: func(b *builder, n *Node, g *SyncGroup) {
		g.GlobalTracking = b.bare(n)
	}},
	"sync_group_tracking_weight": {fn: func(b *builder, n *Node, g *SyncGroup) { g.SyncGroupTrackingWeight = b.bare(n) }},
	"track_process":              {fn: func(b *builder, n *Node, g *SyncGroup) { b.block(n) }},
	"track_bfd":                  {fn: func(b *builder, n *Node, g *SyncGroup) { b.block(n) }},
	"notify_priority_changes":    {fn: func(b *builder, n *Node, g *SyncGroup) { b.flag(n) }},
}

// vips parses the lines of a virtual_ipaddress-like block.
func (b *builder) vips(n *Node) []VIP {
	out := make([]VIP, 0, len(n.Children))
	for _, c := range n.Children {
		if c.Block {
			b.errorf(c, "does not take a block")
			continue
		}
		if v, ok := b.vip(c); ok {
			out = append(out, v)
		}
	}
	return out
}

// vip parses `ADDR[/LEN] [brd X] [dev X] [scope X] [label X] [peer X]
// [use_vmac] [no_track] [other flags...]`.
func (b *builder) vip(c *Node) (VIP, bool) {
	v := VIP{Pos: c.Pos}
	p, err := netip.ParsePrefix(c.Keyword)
	if err != nil {
		a, err2 := netip.ParseAddr(c.Keyword)
		if err2 != nil {
			b.errorf(c, "%q is not an IP address or ADDR/LEN", c.Keyword)
			return v, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	v.Prefix = p
	args := c.Args
	for i := 0; i < len(args); i++ {
		val := func() (string, bool) {
			if i+1 >= len(args) {
				b.errorf(c, "%s needs a value", args[i])
				return "", false
			}
			i++
			return args[i], true
		}
		switch args[i] {
		case "brd", "broadcast":
			v.Brd, _ = val()
		case "dev":
			v.Dev, _ = val()
		case "scope":
			if s, ok := val(); ok {
				switch s {
				case "site", "link", "host", "nowhere", "global":
					v.Scope = s
				default:
					b.errorf(c, "scope %q: expected site, link, host, nowhere or global", s)
				}
			}
		case "label":
			v.Label, _ = val()
		case "peer":
			v.Peer, _ = val()
		case "use_vmac":
			v.UseVMAC = true
		case "no_track":
			v.NoTrack = true
		case "home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin":
			v.Options = append(v.Options, args[i])
		case "preferred_lft", "track_group":
			kw := args[i]
			if s, ok := val(); ok {
				v.Options = append(v.Options, kw, s)
			}
		default:
			b.errorf(c, "unknown address option %q (brd, dev, scope, label, peer, use_vmac, no_track, home, -nodad, mngtmpaddr, noprefixroute, autojoin, preferred_lft)", args[i])
		}
	}
	return v, true
}

// routes parses the lines of a virtual_routes / static_routes / rules block.
func (b *builder) routes(n *Node) []Route {
	out := make([]Route, 0, len(n.Children))
	for _, c := range n.Children {
		if c.Block {
			b.errorf(c, "does not take a block")
			continue
		}
		r := Route{Words: c.Words(), Pos: c.Pos}
		for i := 0; i < len(r.Words); i++ {
			w := r.Words[i]
			switch w {
			case "src", "from", "via", "gw", "or", "dev", "table", "metric", "scope", "proto", "protocol", "realms", "mtu", "advmss":
				i++
				continue
			case "to":
				if i+1 < len(r.Words) {
					r.To = r.Words[i+1]
				}
				i++
				continue
			}
			if r.To == "" {
				if _, err := netip.ParsePrefix(w); err == nil {
					r.To = w
				} else if _, err := netip.ParseAddr(w); err == nil {
					r.To = w
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// unicastPeers parses `ADDR [min_ttl N] [max_ttl N]` lines.
func (b *builder) unicastPeers(n *Node) []UnicastPeer {
	out := make([]UnicastPeer, 0, len(n.Children))
	for _, c := range n.Children {
		a, err := netip.ParseAddr(c.Keyword)
		if err != nil || c.Block {
			b.errorf(c, "%q is not an IP address", c.Keyword)
			continue
		}
		p := UnicastPeer{Addr: a}
		if len(c.Args)%2 != 0 {
			b.errorf(c, "expected ADDR [min_ttl N] [max_ttl N]")
			continue
		}
		for i := 0; i < len(c.Args); i += 2 {
			switch c.Args[i] {
			case "min_ttl":
				p.MinTTL, _ = b.intArg(c, i+1, 0, 255)
			case "max_ttl":
				p.MaxTTL, _ = b.intArg(c, i+1, 0, 255)
			default:
				b.errorf(c, "%q: expected min_ttl or max_ttl", c.Args[i])
			}
		}
		out = append(out, p)
	}
	return out
}
