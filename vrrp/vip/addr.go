package vip

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Scope is an address scope (rtnetlink's RT_SCOPE_*): what `ip addr add
// ... scope S` sets. The zero value is global, the default for a VIP.
type Scope uint8

// The address scopes, as numbered by the kernel.
const (
	ScopeGlobal Scope = 0
	ScopeSite   Scope = 200
	ScopeLink   Scope = 253
	ScopeHost   Scope = 254
)

func (s Scope) String() string {
	switch s {
	case ScopeGlobal:
		return "global"
	case ScopeSite:
		return "site"
	case ScopeLink:
		return "link"
	case ScopeHost:
		return "host"
	}
	return fmt.Sprintf("%d", uint8(s))
}

// MaxLabelLen is the longest address label the kernel keeps (IFNAMSIZ-1).
const MaxLabelLen = 15

// MaxLifetime is the longest finite lifetime the kernel accepts (0xFFFFFFFE
// seconds; 0xFFFFFFFF means forever).
const MaxLifetime = time.Duration(0xFFFFFFFE) * time.Second

// Address is one address on one interface, as AddrConn adds and lists it.
type Address struct {
	Iface  string       // interface name, e.g. "eth0"
	Prefix netip.Prefix // address and prefix length, e.g. 10.0.0.200/24
	Label  string       // IPv4 only: the `ip addr ... label` (eth0:vip); "" for none
	Scope  Scope        // ScopeGlobal unless set
	// Broadcast is the IPv4 broadcast address. The zero value means the
	// default: the prefix's last address when the prefix is shorter than
	// /31, none otherwise (what `ip addr add ... brd +` does).
	Broadcast netip.Addr
	// ValidLft and PreferredLft are the address lifetimes. On add they are
	// rounded up to whole seconds, which is the kernel's resolution; when
	// listed they are what remains. Zero means forever (no lifetime).
	// PreferredLft zero with ValidLft set means "same as ValidLft".
	ValidLft     time.Duration
	PreferredLft time.Duration
}

// AddrConn is the kernel seam of the VIP manager: the addresses of the
// interfaces of one network namespace.
//
// Contract:
//   - Every method either does what it says or returns an *OpError wrapping
//     ErrExist, ErrNotExist, ErrNoInterface, ErrInvalid or ErrUnimplemented
//     (possibly joined with the kernel's errno).
//   - Calls are synchronous and safe for concurrent use; a call returns once
//     the kernel has acknowledged it.
//   - Add is not idempotent (ErrExist when the address is there), Replace is.
//     An address is identified by interface and IP address; the prefix
//     length is part of what Add and Replace set, not of the identity.
type AddrConn interface {
	// Add adds a. It fails with ErrExist when the IP is already on the
	// interface.
	Add(a Address) error
	// Replace adds a or, when the IP address is already on the interface,
	// refreshes its lifetimes (`ip addr replace`).
	Replace(a Address) error
	// Delete removes the address p from iface; ErrNotExist if absent.
	Delete(iface string, p netip.Prefix) error
	// List returns the addresses of iface with their labels and remaining
	// lifetimes, IPv4 then IPv6, each in the kernel's order.
	List(iface string) ([]Address, error)
}

// String renders a in the canonical one-line form used by fakes and logs:
//
//	eth0 10.0.0.200/24 label eth0:vip valid 3s
//
// Broadcast is shown only when it is not the default, scope only when not
// global, preferred only when it differs from valid.
func (a Address) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", a.Iface, a.Prefix)
	if a.Broadcast.IsValid() && a.Broadcast != DefaultBroadcast(a.Prefix) {
		fmt.Fprintf(&b, " brd %s", a.Broadcast)
	}
	if a.Scope != ScopeGlobal {
		fmt.Fprintf(&b, " scope %s", a.Scope)
	}
	if a.Label != "" {
		fmt.Fprintf(&b, " label %s", a.Label)
	}
	b.WriteString(" valid ")
	b.WriteString(lftString(a.ValidLft))
	if a.PreferredLft != 0 && a.PreferredLft != a.ValidLft {
		b.WriteString(" preferred ")
		b.WriteString(lftString(a.PreferredLft))
	}
	return b.String()
}

func lftString(d time.Duration) string {
	if d == 0 {
		return "forever"
	}
	return d.String()
}

// DefaultBroadcast is the broadcast address the kernel is given for p when
// none is set: the last address of an IPv4 prefix shorter than /31, and no
// address (the zero value) otherwise.
func DefaultBroadcast(p netip.Prefix) netip.Addr {
	if !p.Addr().Is4() || p.Bits() >= 31 || p.Bits() < 0 {
		return netip.Addr{}
	}
	a := p.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= ^uint32(0) >> p.Bits()
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Validate checks a for what the kernel would refuse or silently mangle,
// and says which field is wrong.
func (a Address) Validate() error {
	switch {
	case a.Iface == "":
		return fmt.Errorf("%w: no interface", ErrInvalid)
	case !a.Prefix.IsValid():
		return fmt.Errorf("%w: address %q is not a valid prefix", ErrInvalid, a.Prefix)
	case a.Prefix.Addr().Is4In6():
		return fmt.Errorf("%w: address %s is IPv4-mapped; give it as IPv4", ErrInvalid, a.Prefix)
	case a.Label != "" && !a.Prefix.Addr().Is4():
		return fmt.Errorf("%w: label %q on IPv6 address %s: labels are IPv4 only", ErrInvalid, a.Label, a.Prefix)
	case len(a.Label) > MaxLabelLen:
		return fmt.Errorf("%w: label %q is longer than %d bytes", ErrInvalid, a.Label, MaxLabelLen)
	case a.Broadcast.IsValid() && (!a.Prefix.Addr().Is4() || !a.Broadcast.Is4()):
		return fmt.Errorf("%w: broadcast %s on %s: broadcast is IPv4 only", ErrInvalid, a.Broadcast, a.Prefix)
	case a.ValidLft < 0 || a.ValidLft > MaxLifetime:
		return fmt.Errorf("%w: valid lifetime %s out of range (0 for forever, up to %s)", ErrInvalid, a.ValidLft, MaxLifetime)
	case a.PreferredLft < 0 || a.PreferredLft > MaxLifetime:
		return fmt.Errorf("%w: preferred lifetime %s out of range", ErrInvalid, a.PreferredLft)
	case a.ValidLft != 0 && a.PreferredLft > a.ValidLft:
		return fmt.Errorf("%w: preferred lifetime %s exceeds valid lifetime %s", ErrInvalid, a.PreferredLft, a.ValidLft)
	case a.ValidLft == 0 && a.PreferredLft != 0:
		return fmt.Errorf("%w: preferred lifetime %s without a valid lifetime", ErrInvalid, a.PreferredLft)
	}
	return nil
}

// KernelSeconds rounds a lifetime up to the whole seconds the kernel keeps
// (0 stays 0: forever).
func KernelSeconds(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	s := (d + time.Second - 1) / time.Second
	if s > 0xFFFFFFFE {
		s = 0xFFFFFFFE
	}
	return uint32(s)
}

// Normalized returns a with the defaults the kernel applies: lifetimes in
// whole seconds, preferred equal to valid when unset, the default
// broadcast made explicit. Fakes use it to model the kernel.
func (a Address) Normalized() Address {
	a.ValidLft = time.Duration(KernelSeconds(a.ValidLft)) * time.Second
	a.PreferredLft = time.Duration(KernelSeconds(a.PreferredLft)) * time.Second
	if a.ValidLft != 0 && a.PreferredLft == 0 {
		a.PreferredLft = a.ValidLft
	}
	if !a.Broadcast.IsValid() {
		a.Broadcast = DefaultBroadcast(a.Prefix)
	}
	return a
}
