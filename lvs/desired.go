package lvs

import (
	"fmt"
	"net/netip"
)

// VirtualServer is the plain description of one keepalived virtual_server
// block (after config parsing): what the replicated configuration holds.
type VirtualServer struct {
	// Name identifies the virtual server in Health and QuorumStates; it is
	// usually the keepalived spelling ("10.0.0.1 80", "fwmark 5", "group web").
	Name string

	Proto  Proto
	Addr   netip.Addr
	Port   uint16
	FWMark uint32
	// Group, when non-empty, is the expanded virtual_server_group: one service
	// per address in each range (and per fwmark entry), sharing the reals,
	// health and quorum state of this virtual server.
	Group []GroupEntry

	Scheduler          string // lb_algo / lvs_sched; "" = wlc (ipvsadm's default)
	Flags              Flags
	Method             Method // lb_kind / lvs_method
	PersistenceTimeout uint32 // persistence_timeout, seconds
	PersistenceNetmask uint8  // persistence_granularity as a prefix length

	Reals []RealServer
	Sorry *RealServer // sorry_server (Inhibit = sorry_server_inhibit)

	// Quorum is the minimum total weight of live reals (keepalived default 1:
	// 0 is read as 1). Hysteresis dampens flapping: quorum is lost below
	// Quorum-Hysteresis (or at total weight 0) and regained at
	// Quorum+Hysteresis.
	Quorum     uint32
	Hysteresis uint32
	// Alpha: a real server with no verdict yet is down (keepalived's alpha
	// mode); otherwise it is up.
	Alpha bool
}

// RealServer is a real_server block.
type RealServer struct {
	Addr    netip.Addr
	Port    uint16 // 0 = the virtual server's port
	Weight  int
	Method  Method
	Inhibit bool // inhibit_on_failure: a failed server stays with weight 0
}

// GroupEntry is one line of a virtual_server_group: an address range
// First..Last (inclusive; Last invalid = First) with a port, or a fwmark.
type GroupEntry struct {
	First, Last netip.Addr
	Port        uint16 // 0 = the virtual server's port
	FWMark      uint32
}

// RealID names one real server of one virtual server, the key of health
// verdicts. A real server's port 0 is the virtual server's Port here.
type RealID struct {
	VS   string
	Real netip.AddrPort
}

// Health is the set of health verdicts (replicated transitions, folded).
type Health struct {
	Up     map[RealID]bool // missing: up, unless the virtual server is Alpha
	Weight map[RealID]int  // a checker's dynamic weight, overriding the configured one
}

// QuorumStates remembers, per virtual server Name, whether its quorum is up.
// A missing entry is "down": the first evaluation gains quorum at
// Quorum+Hysteresis, as keepalived does at startup.
type QuorumStates map[string]bool

// maxGroupRange bounds one virtual_server_group range.
const maxGroupRange = 65536

// Desired computes the desired state from the virtual servers and health
// verdicts, with keepalived's semantics (keepalived check/ipwrapper.c):
//
//   - a live real server gets its (effective) weight; a failed one is removed,
//     or kept at weight 0 with inhibit_on_failure;
//   - quorum: the sum of live weights. Quorum is lost when the sum is 0 or
//     below Quorum-Hysteresis, regained at Quorum+Hysteresis or more;
//   - when quorum is down and a sorry_server is configured, the live reals are
//     withdrawn (weight 0 if inhibit) and the sorry server added; without a
//     sorry server, losing quorum changes nothing in the tables (keepalived
//     only notifies);
//   - with sorry_server_inhibit the sorry server stays at weight 0 while
//     quorum is up;
//   - virtual_server_group entries expand to one service per address.
//
// It is pure: prev is not modified; the returned QuorumStates is the input
// to the next call. The result is canonical.
func Desired(vss []VirtualServer, h Health, prev QuorumStates) (State, QuorumStates, error) {
	next := QuorumStates{}
	var st State
	names := map[string]bool{}
	for i := range vss {
		vs := &vss[i]
		if names[vs.Name] {
			return State{}, nil, fmt.Errorf("lvs: virtual server %q defined twice", vs.Name)
		}
		names[vs.Name] = true
		reals, up := desiredReals(vs, h, prev[vs.Name])
		next[vs.Name] = up
		keys, err := expand(vs)
		if err != nil {
			return State{}, nil, err
		}
		sched := vs.Scheduler
		if sched == "" {
			sched = "wlc"
		}
		for _, k := range keys {
			st.Services = append(st.Services, Service{
				Proto: k.Proto, Addr: k.Addr, Port: k.Port, FWMark: k.FWMark,
				Scheduler: sched, Flags: vs.Flags, Method: vs.Method,
				PersistenceTimeout: vs.PersistenceTimeout, PersistenceNetmask: vs.PersistenceNetmask,
				Reals: portFill(reals, k.Port),
			})
		}
	}
	st = st.Canonical()
	if err := st.Validate(); err != nil {
		return State{}, nil, err
	}
	return st, next, nil
}

func portFill(reals []Real, port uint16) []Real {
	out := make([]Real, len(reals))
	for i, r := range reals {
		if r.Port == 0 {
			r.Port = port
		}
		out[i] = r
	}
	return out
}

func desiredReals(vs *VirtualServer, h Health, wasUp bool) ([]Real, bool) {
	alive := make([]bool, len(vs.Reals))
	weight := make([]int, len(vs.Reals))
	sum := 0
	for i, r := range vs.Reals {
		port := r.Port
		if port == 0 {
			port = vs.Port
		}
		id := RealID{VS: vs.Name, Real: netip.AddrPortFrom(r.Addr, port)}
		up, ok := h.Up[id]
		if !ok {
			up = !vs.Alpha
		}
		w := r.Weight
		if dw, ok := h.Weight[id]; ok {
			w = dw
		}
		alive[i], weight[i] = up, w
		if up {
			sum += w
		}
	}
	q := int(vs.Quorum)
	if q == 0 {
		q = 1
	}
	hy := int(vs.Hysteresis)
	up := wasUp
	switch {
	case !wasUp && sum >= q+hy:
		up = true
	case wasUp && (sum == 0 || sum < q-hy):
		up = false
	}
	withdraw := !up && vs.Sorry != nil
	var out []Real
	for i, r := range vs.Reals {
		switch {
		case alive[i] && !withdraw:
			out = append(out, Real{Addr: r.Addr, Port: r.Port, Weight: weight[i], Method: r.Method})
		case r.Inhibit:
			out = append(out, Real{Addr: r.Addr, Port: r.Port, Weight: 0, Method: r.Method})
		}
	}
	if s := vs.Sorry; s != nil {
		w := s.Weight
		if w == 0 {
			w = 1
		}
		sr := Real{Addr: s.Addr, Port: s.Port, Weight: w, Method: s.Method}
		if !withdraw {
			sr.Weight = 0
		}
		if withdraw || s.Inhibit {
			// The sorry server replaces a real at the same address and port.
			kept := out[:0]
			for _, r := range out {
				if r.Addr != sr.Addr || r.Port != sr.Port {
					kept = append(kept, r)
				}
			}
			out = append(kept, sr)
		}
	}
	return out, up
}

func expand(vs *VirtualServer) ([]ServiceKey, error) {
	if len(vs.Group) == 0 {
		if vs.FWMark != 0 {
			return []ServiceKey{{FWMark: vs.FWMark, Addr: vs.Addr}}, nil
		}
		if !vs.Addr.IsValid() {
			return nil, fmt.Errorf("lvs: virtual server %q: no address, fwmark or group", vs.Name)
		}
		return []ServiceKey{{Proto: vs.Proto, Addr: vs.Addr, Port: vs.Port}}, nil
	}
	var keys []ServiceKey
	for _, g := range vs.Group {
		if g.FWMark != 0 {
			keys = append(keys, ServiceKey{FWMark: g.FWMark, Addr: g.First})
			continue
		}
		port := g.Port
		if port == 0 {
			port = vs.Port
		}
		first, last := g.First, g.Last
		if !first.IsValid() {
			return nil, fmt.Errorf("lvs: virtual server %q: group entry without address or fwmark", vs.Name)
		}
		if !last.IsValid() {
			last = first
		}
		if first.Is4() != last.Is4() || last.Less(first) {
			return nil, fmt.Errorf("lvs: virtual server %q: bad group range %s-%s", vs.Name, first, last)
		}
		n := 0
		for a := first; ; a = a.Next() {
			if n++; n > maxGroupRange {
				return nil, fmt.Errorf("lvs: virtual server %q: group range %s-%s has more than %d addresses", vs.Name, first, last, maxGroupRange)
			}
			keys = append(keys, ServiceKey{Proto: vs.Proto, Addr: a, Port: port})
			if a == last {
				break
			}
		}
	}
	return keys, nil
}
