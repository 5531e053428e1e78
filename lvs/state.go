package lvs

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Proto is the transport protocol of a service.
type Proto uint8

// Protocols. Values are the IP protocol numbers.
const (
	TCP  Proto = 6
	UDP  Proto = 17
	SCTP Proto = 132
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	case 0:
		return "any"
	}
	return fmt.Sprintf("proto%d", uint8(p))
}

// ParseProto parses "tcp", "udp" or "sctp" (any case).
func ParseProto(s string) (Proto, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	case "sctp":
		return SCTP, nil
	}
	return 0, fmt.Errorf("lvs: unknown protocol %q (want tcp, udp or sctp)", s)
}

// Method is the forwarding method of a real server (IPVS: per destination).
type Method uint8

// Forwarding methods. The zero value means "inherit from the service".
const (
	MethodDefault Method = iota
	NAT                  // masquerading (keepalived lb_kind NAT)
	DR                   // direct routing (lb_kind DR)
	TUN                  // IP-in-IP tunnelling (lb_kind TUN)
)

func (m Method) String() string {
	switch m {
	case NAT:
		return "nat"
	case DR:
		return "dr"
	case TUN:
		return "tun"
	case MethodDefault:
		return "default"
	}
	return fmt.Sprintf("method%d", uint8(m))
}

// ParseMethod parses keepalived's lb_kind values: NAT, DR, TUN (any case).
func ParseMethod(s string) (Method, error) {
	switch strings.ToUpper(s) {
	case "NAT", "MASQ":
		return NAT, nil
	case "DR", "ROUTE":
		return DR, nil
	case "TUN", "TUNNEL":
		return TUN, nil
	}
	return 0, fmt.Errorf("lvs: unknown forwarding method %q (want NAT, DR or TUN)", s)
}

// Flags are scheduler and persistence flags of a service.
type Flags uint8

// Service flags. SH* flags are only valid with the sh scheduler, MH* with mh.
const (
	FlagSHFallback Flags = 1 << iota // IPVS sh-fallback (IP_VS_SVC_F_SCHED1)
	FlagSHPort                       // IPVS sh-port (IP_VS_SVC_F_SCHED2)
	FlagMHFallback                   // IPVS mh-fallback (IP_VS_SVC_F_SCHED1)
	FlagMHPort                       // IPVS mh-port (IP_VS_SVC_F_SCHED2)
	FlagPersistent                   // IP_VS_SVC_F_PERSISTENT; Canonical sets it iff PersistenceTimeout > 0
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagSHFallback, "sh-fallback"},
	{FlagSHPort, "sh-port"},
	{FlagMHFallback, "mh-fallback"},
	{FlagMHPort, "mh-port"},
	{FlagPersistent, "persistent"},
}

func (f Flags) String() string {
	var parts []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// ParseFlag parses one keepalived/ipvsadm flag name ("sh-port", ...).
func ParseFlag(s string) (Flags, error) {
	for _, n := range flagNames {
		if n.name == strings.ToLower(s) {
			return n.f, nil
		}
	}
	return 0, fmt.Errorf("lvs: unknown service flag %q", s)
}

// Schedulers lists the IPVS scheduler names this package accepts.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// ServiceKey identifies a service: protocol + address + port, or a firewall
// mark (with Addr the unspecified address of its family, 0.0.0.0 or ::).
type ServiceKey struct {
	FWMark uint32
	Proto  Proto
	Addr   netip.Addr
	Port   uint16
}

func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		if k.Addr.Is6() {
			return fmt.Sprintf("fwm %d v6", k.FWMark)
		}
		return fmt.Sprintf("fwm %d", k.FWMark)
	}
	return fmt.Sprintf("%s %s", k.Proto, netip.AddrPortFrom(k.Addr, k.Port))
}

// Compare orders keys: address services before fwmark ones, then by address,
// port, protocol.
func (k ServiceKey) Compare(o ServiceKey) int {
	if c := cmp.Compare(k.FWMark, o.FWMark); c != 0 {
		return c
	}
	if c := k.Addr.Compare(o.Addr); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Port, o.Port); c != 0 {
		return c
	}
	return cmp.Compare(k.Proto, o.Proto)
}

// Real is one real server (IPVS destination) of a service.
type Real struct {
	Addr   netip.Addr
	Port   uint16
	Weight int    // 0 = quiesced (inhibit_on_failure): kept, but gets no new connections
	Method Method // forwarding method; MethodDefault inherits the service's
}

// AddrPort returns the real server's address and port, its key in a service.
func (r Real) AddrPort() netip.AddrPort { return netip.AddrPortFrom(r.Addr, r.Port) }

// Service is one virtual service with its real servers.
type Service struct {
	Proto  Proto
	Addr   netip.Addr
	Port   uint16
	FWMark uint32 // non-zero: a fwmark service; Addr is then 0.0.0.0 or ::, Port 0, Proto any

	Scheduler          string
	Flags              Flags
	Method             Method // default for reals with MethodDefault; Canonical moves it to the reals
	PersistenceTimeout uint32 // seconds; 0 = not persistent
	PersistenceNetmask uint8  // prefix length of persistence granularity (32/128 when persistent and unset)

	Reals []Real
}

// Key returns the service's identity.
func (s Service) Key() ServiceKey {
	if s.FWMark != 0 {
		return ServiceKey{FWMark: s.FWMark, Addr: s.Addr}
	}
	return ServiceKey{Proto: s.Proto, Addr: s.Addr, Port: s.Port}
}

// State is the complete desired (or observed) load-balancer state.
type State struct {
	Services []Service
}

// Clone returns a deep copy.
func (st State) Clone() State {
	out := State{Services: make([]Service, len(st.Services))}
	for i, s := range st.Services {
		s.Reals = slices.Clone(s.Reals)
		out.Services[i] = s
	}
	return out
}

// Canonical returns a deep copy in canonical form: services sorted by key,
// reals by address and port, defaults filled in (fwmark services' address
// family, persistence flag and netmask, forwarding methods pushed down to the
// reals). Two directors given equal inputs produce byte-equal canonical states,
// and Canonical is idempotent.
func (st State) Canonical() State {
	out := st.Clone()
	for i := range out.Services {
		s := &out.Services[i]
		if s.FWMark != 0 {
			if !s.Addr.IsValid() || !s.Addr.Is6() {
				s.Addr = netip.IPv4Unspecified()
			} else {
				s.Addr = netip.IPv6Unspecified()
			}
			s.Port, s.Proto = 0, 0
		}
		s.Addr = s.Addr.Unmap()
		if s.PersistenceTimeout > 0 {
			s.Flags |= FlagPersistent
			if s.PersistenceNetmask == 0 {
				s.PersistenceNetmask = uint8(s.Addr.BitLen())
			}
		} else {
			s.Flags &^= FlagPersistent
			s.PersistenceNetmask = 0
		}
		def := s.Method
		if def == MethodDefault {
			def = NAT
		}
		for j := range s.Reals {
			r := &s.Reals[j]
			r.Addr = r.Addr.Unmap()
			if r.Method == MethodDefault {
				r.Method = def
			}
			if r.Port == 0 && s.FWMark == 0 {
				r.Port = s.Port
			}
		}
		s.Method = MethodDefault
		slices.SortFunc(s.Reals, func(a, b Real) int { return a.AddrPort().Compare(b.AddrPort()) })
	}
	slices.SortFunc(out.Services, func(a, b Service) int { return a.Key().Compare(b.Key()) })
	return out
}

// Validate checks a state for errors that no datapath can accept: duplicate
// services or reals, unknown schedulers, flags for another scheduler, invalid
// addresses, negative weights. Errors name the service.
func (st State) Validate() error {
	seen := map[ServiceKey]bool{}
	for i := range st.Services {
		s := &st.Services[i]
		k := s.Key()
		if s.FWMark == 0 {
			if !s.Addr.IsValid() {
				return fmt.Errorf("lvs: service #%d: no address and no fwmark", i)
			}
			switch s.Proto {
			case TCP, UDP, SCTP:
			default:
				return fmt.Errorf("lvs: service %s: protocol %d is not tcp, udp or sctp", k, s.Proto)
			}
		}
		if seen[k] {
			return fmt.Errorf("lvs: service %s defined twice", k)
		}
		seen[k] = true
		if !slices.Contains(Schedulers, s.Scheduler) {
			return fmt.Errorf("lvs: service %s: unknown scheduler %q (want one of %s)", k, s.Scheduler, strings.Join(Schedulers, ", "))
		}
		if s.Flags&(FlagSHPort|FlagSHFallback) != 0 && s.Scheduler != "sh" {
			return fmt.Errorf("lvs: service %s: flags %s need scheduler sh, not %s", k, s.Flags&(FlagSHPort|FlagSHFallback), s.Scheduler)
		}
		if s.Flags&(FlagMHPort|FlagMHFallback) != 0 && s.Scheduler != "mh" {
			return fmt.Errorf("lvs: service %s: flags %s need scheduler mh, not %s", k, s.Flags&(FlagMHPort|FlagMHFallback), s.Scheduler)
		}
		if s.Flags&FlagPersistent != 0 && s.PersistenceTimeout == 0 {
			return fmt.Errorf("lvs: service %s: persistent without persistence_timeout", k)
		}
		if s.PersistenceNetmask > uint8(s.Addr.BitLen()) {
			return fmt.Errorf("lvs: service %s: persistence netmask /%d longer than the address", k, s.PersistenceNetmask)
		}
		rs := map[netip.AddrPort]bool{}
		for _, r := range s.Reals {
			if !r.Addr.IsValid() {
				return fmt.Errorf("lvs: service %s: real server without address", k)
			}
			if r.Weight < 0 || r.Weight > 65535 {
				return fmt.Errorf("lvs: service %s: real server %s: weight %d out of range 0..65535", k, r.AddrPort(), r.Weight)
			}
			if r.Method > TUN {
				return fmt.Errorf("lvs: service %s: real server %s: unknown method %d", k, r.AddrPort(), r.Method)
			}
			if (r.Method == DR || r.Method == TUN) && s.FWMark == 0 && r.Port != 0 && r.Port != s.Port {
				// IPVS keeps the service's port for DR and TUN; a different
				// one would read back differently forever.
				return fmt.Errorf("lvs: service %s: real server %s: %s cannot change the port (use %d)", k, r.AddrPort(), r.Method, s.Port)
			}
			if rs[r.AddrPort()] {
				return fmt.Errorf("lvs: service %s: real server %s listed twice", k, r.AddrPort())
			}
			rs[r.AddrPort()] = true
		}
	}
	return nil
}

// Equal reports whether two states are equal once both are canonical.
func (st State) Equal(o State) bool { return st.Canonical().String() == o.Canonical().String() }

// Lookup returns the service with key k, or nil.
func (st State) Lookup(k ServiceKey) *Service {
	for i := range st.Services {
		if st.Services[i].Key() == k {
			return &st.Services[i]
		}
	}
	return nil
}

// String renders the state one line per service and real server, in the
// order given (call Canonical first for the canonical rendering):
//
//	ipvs svc tcp 10.0.0.1:80 wrr persistent=300/32 flags=persistent
//	ipvs dst tcp 10.0.0.1:80 -> 10.0.1.1:8080 nat w=1
func (st State) String() string {
	var b strings.Builder
	for i := range st.Services {
		s := &st.Services[i]
		b.WriteString("ipvs svc ")
		b.WriteString(s.header())
		b.WriteByte('\n')
		for _, r := range s.Reals {
			fmt.Fprintf(&b, "ipvs dst %s -> %s %s w=%d\n", s.Key(), r.AddrPort(), r.Method, r.Weight)
		}
	}
	return b.String()
}

func (s Service) header() string {
	h := s.Key().String() + " " + s.Scheduler
	if s.PersistenceTimeout > 0 {
		h += fmt.Sprintf(" persistent=%d/%d", s.PersistenceTimeout, s.PersistenceNetmask)
	}
	if s.Flags != 0 {
		h += " flags=" + s.Flags.String()
	}
	if s.Method != MethodDefault {
		h += " method=" + s.Method.String()
	}
	return h
}

func (s Service) String() string { return s.header() }
