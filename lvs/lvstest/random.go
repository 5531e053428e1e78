package lvstest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"

	"vigil/lvs"
)

// Caps describes what a datapath can express, so that the conformance suite
// and random generators only produce states it supports.
type Caps struct {
	Schedulers  []string     // schedulers it accepts
	Methods     []lvs.Method // forwarding methods it accepts
	IPv6        bool
	FWMark      bool
	Persistence bool // persistence_timeout on schedulers other than sh/mh
	MaxWeight   int  // largest weight used (0 = 5)
	// Filter, when set, rejects services the datapath cannot express for
	// reasons the fields above do not capture (e.g. rr with DR).
	Filter func(lvs.Service) bool
}

// IPVSCaps is everything IPVS supports.
var IPVSCaps = Caps{
	Schedulers: lvs.Schedulers, Methods: []lvs.Method{lvs.NAT, lvs.DR, lvs.TUN},
	IPv6: true, FWMark: true, Persistence: true,
}

// Allows reports whether every service of st is within the caps.
func (c Caps) Allows(st lvs.State) bool {
	for _, s := range st.Services {
		if !slices.Contains(c.Schedulers, s.Scheduler) {
			return false
		}
		if c.Filter != nil && !c.Filter(s) {
			return false
		}
		if (s.Addr.Is6() || s.FWMark != 0 && s.Addr.Is6()) && !c.IPv6 {
			return false
		}
		if s.FWMark != 0 && !c.FWMark {
			return false
		}
		if s.PersistenceTimeout > 0 && !c.Persistence && s.Scheduler != "sh" && s.Scheduler != "mh" {
			return false
		}
		for _, r := range s.Reals {
			m := r.Method
			if m == lvs.MethodDefault {
				m = s.Method
			}
			if m == lvs.MethodDefault {
				m = lvs.NAT
			}
			if !slices.Contains(c.Methods, m) || r.Addr.Is6() != s.Addr.Is6() && s.FWMark == 0 {
				return false
			}
		}
	}
	return true
}

// RandomState returns a random valid canonical state within caps, drawn from
// small address pools so that two random states overlap a lot (the
// interesting case for Diff).
func RandomState(r *rand.Rand, c Caps) lvs.State {
	maxW := c.MaxWeight
	if maxW == 0 {
		maxW = 5
	}
	var st lvs.State
	seen := map[lvs.ServiceKey]bool{}
	n := r.IntN(6)
	for range n {
		var s lvs.Service
		v6 := c.IPv6 && r.IntN(4) == 0
		if c.FWMark && r.IntN(6) == 0 {
			s.FWMark = uint32(1 + r.IntN(3))
			s.Addr = netip.IPv4Unspecified()
			if v6 {
				s.Addr = netip.IPv6Unspecified()
			}
		} else {
			s.Proto = []lvs.Proto{lvs.TCP, lvs.UDP}[r.IntN(2)]
			s.Addr = poolAddr(v6, 0, 1+r.IntN(3))
			s.Port = []uint16{80, 443}[r.IntN(2)]
		}
		if seen[s.Key()] {
			continue
		}
		seen[s.Key()] = true
		s.Scheduler = c.Schedulers[r.IntN(len(c.Schedulers))]
		switch s.Scheduler {
		case "sh":
			s.Flags |= []lvs.Flags{0, lvs.FlagSHPort, lvs.FlagSHFallback, lvs.FlagSHPort | lvs.FlagSHFallback}[r.IntN(4)]
		case "mh":
			s.Flags |= []lvs.Flags{0, lvs.FlagMHPort, lvs.FlagMHFallback}[r.IntN(3)]
		}
		if (c.Persistence || s.Scheduler == "sh" || s.Scheduler == "mh") && r.IntN(3) == 0 {
			s.PersistenceTimeout = uint32(60 * (1 + r.IntN(5)))
			if r.IntN(2) == 0 {
				s.PersistenceNetmask = uint8(s.Addr.BitLen() - 8)
			}
		}
		m := c.Methods[r.IntN(len(c.Methods))]
		nr := r.IntN(5)
		used := map[netip.AddrPort]bool{}
		for range nr {
			rl := lvs.Real{
				Addr:   poolAddr(v6, 1, 1+r.IntN(6)),
				Port:   []uint16{80, 8080}[r.IntN(2)],
				Weight: r.IntN(maxW + 1),
				Method: m,
			}
			if m != lvs.NAT && s.FWMark == 0 {
				rl.Port = s.Port // DR and TUN cannot change the port
			}
			if s.FWMark != 0 && m != lvs.NAT {
				rl.Port = 0
			}
			if used[rl.AddrPort()] {
				continue
			}
			used[rl.AddrPort()] = true
			s.Reals = append(s.Reals, rl)
		}
		if c.Filter != nil && !c.Filter(lvs.State{Services: []lvs.Service{s}}.Canonical().Services[0]) {
			continue
		}
		st.Services = append(st.Services, s)
	}
	st = st.Canonical()
	if err := st.Validate(); err != nil {
		panic(fmt.Sprintf("lvstest: RandomState made an invalid state: %v\n%s", err, st))
	}
	return st
}

func poolAddr(v6 bool, net, host int) netip.Addr {
	if v6 {
		return netip.MustParseAddr(fmt.Sprintf("fd00:%d::%d", net, host))
	}
	return netip.AddrFrom4([4]byte{10, 0, byte(net), byte(host)})
}

// Many returns n services (10.100.x.y:80, mh) with reals real servers
// each (10.200.x.y:8000+j, NAT, weight 1): the large state of the
// benchmarks.
func Many(n, reals int) lvs.State {
	var st lvs.State
	for i := range n {
		s := lvs.Service{Proto: lvs.TCP, Addr: netip.AddrFrom4([4]byte{10, 100, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "mh"}
		for j := range reals {
			s.Reals = append(s.Reals, lvs.Real{Addr: netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)}),
				Port: uint16(8000 + j), Weight: 1, Method: lvs.NAT})
		}
		st.Services = append(st.Services, s)
	}
	return st
}
