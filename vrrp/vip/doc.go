// Package vip puts a node's virtual IP addresses on its interfaces and
// announces them: the kernel side of holding a VIP, never the decision
// (that is cluster's).
//
// Three pieces, each a deterministic core behind a thin driver:
//
//   - Manager reconciles the addresses of the interfaces with the set of
//     holds it is given (Set). Plan, a pure diff, says what to add, refresh
//     and delete; an AddrConn (NetlinkConn on Linux, viptest.Conn in tests)
//     carries it out. Every held address gets a kernel lifetime (valid_lft)
//     just over its lease, refreshed at every pass, so a frozen process
//     loses the address even if it never runs again. Addresses that are
//     Owned (VIPs of the configuration) but not held are removed, crash
//     leftovers included; any other address is never touched.
//   - Announcer sends gratuitous ARP (IPv4) and unsolicited neighbour
//     advertisements (IPv6) on keepalived's schedule: a burst of Repeat
//     packets on takeover, a second burst Delay later, then RefreshRepeat
//     packets every Refresh. Schedule is its core (which target is due
//     when, on instants the caller passes); LinkSender (Linux, AF_PACKET)
//     sends the frames GARPFrame and NAFrame encode.
//   - Clock is injected into both drivers; viptest.Clock steps by hand.
//
// # Ordering
//
// The agent takes and releases a VIP in this order:
//
//  1. Take: Manager.Set with the new hold (the address is configured, with
//     its lifetime), then Announcer.Announce.
//  2. Renew: Manager.Set with the new Until (refreshes the lifetime). The
//     announcer needs nothing: it refreshes on its own.
//  3. Release (lease lost, planned move, shutdown): Announcer.Stop first
//     (no packet goes out after it returns), then Manager.Set without the
//     hold (the address is deleted).
//
// The kernel lifetime is Until - now + Slack rounded up to whole seconds,
// and the kernel removes an expired address up to about a second late:
// a holder that never runs again loses the address at most Slack +
// KernelExpiryJitter after Until.
//
// # Namespaces
//
// NetlinkConn and LinkSender bind to the network namespace of the thread
// that creates them (netns.Host.Do in tests) and stay there whatever
// goroutine uses them afterwards.
package vip
