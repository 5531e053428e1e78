package vip

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Hold is one address this node holds under a lease: the VIP, where it
// lives, and Until, the end of the lease on the Manager's clock. The
// address is added with a kernel lifetime just over Until-now, so that the
// kernel removes it even if this process never runs again.
type Hold struct {
	Addr  netip.Prefix // the VIP with its prefix length: 10.0.0.200/24, fd00::200/64
	Iface string       // interface to put it on
	Label string       // IPv4 label (eth0:vip), "" for none
	// Scope and Broadcast are keepalived's `scope` and `brd`; the zero
	// values are global scope and the default broadcast.
	Scope     Scope
	Broadcast netip.Addr
	Until     time.Time // lease end; a Hold whose Until has passed is not held
}

// Owned names an address that belongs to vigil: a VIP of the configuration
// on its interface. The Manager removes an owned address it does not hold
// and never touches one that is not owned. Ownership is by interface and
// IP; the prefix length does not matter.
type Owned struct {
	Iface string
	Addr  netip.Addr
}

// OpKind is what an Op does to the kernel.
type OpKind int

// The operations Plan emits.
const (
	OpDelete  OpKind = iota // remove an address we do not hold
	OpAdd                   // add an address we hold
	OpRefresh               // replace an address we hold: refresh its lifetime
)

func (k OpKind) String() string {
	return [...]string{"delete", "add", "refresh"}[k]
}

// Op is one change Plan wants made.
type Op struct {
	Kind OpKind
	Addr Address
}

func (o Op) String() string {
	if o.Kind == OpDelete {
		return "delete " + o.Addr.Iface + " " + o.Addr.Prefix.String()
	}
	return o.Kind.String() + " " + o.Addr.String()
}

// HeldAddress is the Address a Hold puts in the kernel at now: its valid
// and preferred lifetimes are the rest of the lease plus slack.
func HeldAddress(h Hold, now time.Time, slack time.Duration) Address {
	lft := h.Until.Sub(now) + slack
	return Address{
		Iface:        h.Iface,
		Prefix:       h.Addr,
		Label:        h.Label,
		Scope:        h.Scope,
		Broadcast:    h.Broadcast,
		ValidLft:     lft,
		PreferredLft: lft,
	}
}

// Plan is the Manager's pure diff for one interface: given the addresses
// the kernel has on it (have), the live holds on it (held, each with Until
// after now), and which addresses are ours, it returns the operations that
// make the interface hold exactly the held addresses among ours, deletes
// first. An address held with other attributes (prefix length, label,
// scope, broadcast) than it has is deleted and added again; one held as is
// is refreshed. Addresses that are not ours are never in the result.
func Plan(now time.Time, slack time.Duration, have []Address, held []Hold, ours func(Owned) bool) []Op {
	want := map[netip.Addr]Address{}
	for _, h := range held {
		want[h.Addr.Addr()] = HeldAddress(h, now, slack)
	}
	var dels, adds []Op
	present := map[netip.Addr]bool{}
	for _, a := range have {
		ip := a.Prefix.Addr()
		w, held := want[ip]
		if !held {
			if ours(Owned{Iface: a.Iface, Addr: ip}) {
				dels = append(dels, Op{OpDelete, a})
			}
			continue
		}
		if present[ip] || !sameAttrs(a, w) {
			dels = append(dels, Op{OpDelete, a}) // a duplicate, or the wrong shape
			continue
		}
		present[ip] = true
	}
	for ip, w := range want {
		k := OpAdd
		if present[ip] {
			k = OpRefresh
		}
		adds = append(adds, Op{k, w})
	}
	byAddr := func(a, b Op) int { return a.Addr.Prefix.Addr().Compare(b.Addr.Prefix.Addr()) }
	slices.SortFunc(dels, func(a, b Op) int {
		return cmp.Or(byAddr(a, b), cmp.Compare(a.Addr.Prefix.Bits(), b.Addr.Prefix.Bits()))
	})
	slices.SortFunc(adds, byAddr)
	return append(dels, adds...)
}

// sameAttrs reports whether the kernel's address have is what want asks
// for, lifetimes aside.
func sameAttrs(have, want Address) bool {
	h, w := have.Normalized(), want.Normalized()
	return h.Prefix == w.Prefix && h.Label == w.Label && h.Scope == w.Scope && h.Broadcast == w.Broadcast
}
