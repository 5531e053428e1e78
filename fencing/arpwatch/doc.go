// Package arpwatch watches a LAN for ARP claims on the VIPs: replies, and
// gratuitous ARPs, that say "this address is at this MAC". Each claim for
// a watched VIP goes to the caller (the agent feeds it to the
// fencing.Monitor, whose arp_conflict detector judges it against the
// holder's MACs).
//
// Gratuitous ARPs are broadcast and seen by every director. Replies are
// unicast to whoever asked, so a Watcher also asks: every Probe interval it
// broadcasts an ARP probe (RFC 5227 §2.1.1: sender IP 0.0.0.0, so that no
// host updates its cache from it) for each watched VIP, and every host that
// has the address configured answers it, the holder and any rogue alike.
//
// The frame codec (ParseClaim, ProbeFrame) is pure; the Watcher, an
// AF_PACKET socket per interface, is Linux-only (watch_linux.go), with a
// twin that reports ErrUnsupported elsewhere. The driver, in order:
//
//  1. Open the Watcher in the network namespace of the interface.
//  2. Run it until its context ends: it probes, reads, and calls OnClaim
//     from Run's goroutine for every claim on a watched VIP that another
//     host sent (frames this host sent are filtered out in the kernel).
//  3. Close it (Run does when it returns; Close alone for a Watcher that
//     never ran).
//
// IPv6 VIPs (unsolicited neighbour advertisements) are not watched.
package arpwatch
