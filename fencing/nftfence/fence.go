// Package nftfence is vigil's kernel-level self-fence: nftables rules that
// stop a director from answering for a VIP the moment its lease ends,
// whether or not its process still runs.
//
// The VIP address itself carries a kernel lifetime too, but lifetimes have
// whole-second resolution and the kernel removes an expired address up to
// a second or two late, so a leader that relied on them alone would have to
// wait seconds before moving a VIP away from a frozen or dead holder. The
// fence is precise to a few milliseconds: every VIP the node holds is an
// element, with a timeout at the lease end, of an nftables set; rules drop
// everything that would make the node answer for a configured VIP that is
// not in that set:
//
//	arp  vigil_fence  output        ARP (requests and replies) whose sender
//	                                IP is a VIP not held
//	ip   vigil_fence  prerouting    packets to a VIP not held (raw, before NAT)
//	                  output        packets from a VIP not held
//	                  postrouting   forwarded replies leaving as a VIP not held
//	ip6  vigil_fence  the same for IPv6 (neighbour advertisements for a VIP
//	                  leave with the VIP as source and are caught by output)
//
// When the element times out, the kernel stops matching it at once: the
// stale address may linger on the interface, but nothing answers for it.
// Gratuitous ARPs go out through packet sockets, which these hooks do not
// see; vigil stops sending them before it releases a VIP.
//
// Set replaces the held elements in one atomic batch (flush and re-add), so
// a renewal refreshes every timeout at once and a release takes effect in
// the same transaction.
package nftfence

import (
	"errors"
	"net/netip"
	"time"
)

// Held is one VIP the node holds, until its lease ends.
type Held struct {
	Addr  netip.Addr
	Until time.Time
}

// Slack is added to every element's timeout on top of the lease end: the
// kernel keeps timeouts in milliseconds and expires them on its jiffies
// clock, at most a few milliseconds late. The cluster core must wait this
// out (its KernelSlack) on top of the lease before moving a VIP.
const Slack = 20 * time.Millisecond

// KernelSlack is how long after a lease end the fenced kernel may still
// answer for the VIP: Slack plus a jiffy at the slowest common HZ (100)
// plus scheduling margin.
const KernelSlack = Slack + 30*time.Millisecond

// Errors.
var (
	// ErrUnimplemented: no nftables on this platform.
	ErrUnimplemented = errors.New("nftfence: not implemented on this platform")
	// ErrNotOwned: Set was given an address that is not one of the VIPs
	// the fence was created for.
	ErrNotOwned = errors.New("nftfence: address is not a configured VIP")
)

// Table is the name of the fence's tables (one per family).
const Table = "vigil_fence"
