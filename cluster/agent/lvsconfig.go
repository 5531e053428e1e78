package agent

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"time"

	"vigil/config"
	"vigil/lvs"
)

// VirtualServers converts the configuration's virtual_server blocks into
// the load balancer's plain description. Every director computes the same
// list from the same (replicated) file, in the file's order; lvs.Desired
// makes it canonical.
func VirtualServers(c *config.Config) ([]lvs.VirtualServer, error) {
	var out []lvs.VirtualServer
	for _, v := range c.VirtualServers {
		vs, err := virtualServer(c, v)
		if err != nil {
			return nil, err
		}
		out = append(out, vs)
	}
	return out, nil
}

func virtualServer(c *config.Config, v *config.VirtualServer) (lvs.VirtualServer, error) {
	vs := lvs.VirtualServer{
		Addr: v.Address, Port: uint16(v.Port), FWMark: v.Fwmark,
		Scheduler:          v.LVSSched,
		PersistenceTimeout: uint32(time.Duration(v.PersistenceTimeout).Seconds()),
		Quorum:             uint32(max(v.Quorum, 0)),
		Hysteresis:         uint32(max(v.Hysteresis, 0)),
		Alpha:              v.Alpha,
	}
	switch {
	case v.Group != "":
		vs.Name = "group " + v.Group
	case v.Fwmark != 0 && v.IPFamily == "inet6":
		vs.Name = fmt.Sprintf("fwmark %d inet6", v.Fwmark) // the same mark in IPv4 is another service
	case v.Fwmark != 0:
		vs.Name = fmt.Sprintf("fwmark %d", v.Fwmark)
	case v.Protocol == "" || v.Protocol == "TCP":
		vs.Name = fmt.Sprintf("%s %d", v.Address, v.Port)
	default: // the same address and port in TCP is another service
		vs.Name = fmt.Sprintf("%s %d %s", v.Address, v.Port, v.Protocol)
	}
	where := func(err error) error { return fmt.Errorf("agent: virtual_server %s: %w", vs.Name, err) }
	var err error
	if v.Fwmark != 0 {
		// A fwmark service has no protocol (the parser ignores one), and
		// its address family is ip_family's.
		vs.Addr = netip.IPv4Unspecified()
		if v.IPFamily == "inet6" {
			vs.Addr = netip.IPv6Unspecified()
		}
	} else if vs.Proto, err = lvs.ParseProto(v.Protocol); err != nil {
		return vs, where(err)
	}
	if vs.Method, err = lvs.ParseMethod(v.LVSMethod); err != nil {
		return vs, where(err)
	}
	for _, f := range []struct {
		on   bool
		flag lvs.Flags
	}{{v.SHFallback, lvs.FlagSHFallback}, {v.SHPort, lvs.FlagSHPort}, {v.MHFallback, lvs.FlagMHFallback}, {v.MHPort, lvs.FlagMHPort}} {
		if f.on {
			vs.Flags |= f.flag
		}
	}
	if g := v.PersistenceGranularity; g != "" {
		m, err := netip.ParseAddr(g)
		if err != nil {
			return vs, where(fmt.Errorf("persistence_granularity %q: %w", g, err))
		}
		ones := 0
		for _, b := range m.AsSlice() {
			for ; b&0x80 != 0; b <<= 1 {
				ones++
			}
		}
		vs.PersistenceNetmask = uint8(ones)
	}
	if v.Group != "" {
		g := c.VirtualServerGroup(v.Group)
		if g == nil {
			return vs, where(fmt.Errorf("no virtual_server_group %q", v.Group))
		}
		for _, e := range g.Entries {
			vs.Group = append(vs.Group, lvs.GroupEntry{First: e.First, Last: e.Last, Port: uint16(e.Port), FWMark: e.Fwmark})
		}
	}
	for _, r := range v.RealServers {
		m, err := lvs.ParseMethod(r.LVSMethod)
		if err != nil {
			return vs, where(err)
		}
		vs.Reals = append(vs.Reals, lvs.RealServer{Addr: r.Address, Port: uint16(r.Port), Weight: r.Weight, Method: m, Inhibit: r.InhibitOnFailure})
	}
	if s := v.SorryServer; s != nil {
		m, err := lvs.ParseMethod(s.LVSMethod)
		if err != nil {
			return vs, where(err)
		}
		vs.Sorry = &lvs.RealServer{Addr: s.Address, Port: uint16(s.Port), Weight: 1, Method: m, Inhibit: s.Inhibit}
	}
	return vs, nil
}

// ClusterSeed is the nftables jhash seed every director of the cluster
// uses: derived from the cluster's name, so it is the same everywhere
// without configuration, and never 0 (the kernel would draw a random one).
func ClusterSeed(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	if s := h.Sum32(); s != 0 {
		return s
	}
	return 1
}
