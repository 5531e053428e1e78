// Package health checks real servers and tracks a director's own health,
// with keepalived's keywords, defaults and timing semantics. It reports;
// package cluster commits.
//
// Three layers:
//
//   - Checkers (New(CheckSpec) → Checker): one probe each of TCP_CHECK,
//     HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK, MISC_CHECK, UDP_CHECK and
//     PING_CHECK. A Checker honours its ctx and leaves nothing behind. New
//     validates what it can offline and returns a *SpecError naming the
//     keyword at fault.
//   - The Scheduler, a deterministic core (no goroutine, socket or clock;
//     Tick, Step, Ready): delay_loop, retry, delay_before_retry, warmup,
//     alpha, omega, inhibit_on_failure, notify_up/notify_down, emitting
//     transitions only. The Driver is its thin loop: it runs probes in
//     goroutines with per-check deadlines and feeds their results back (its
//     ordering contract is in its doc).
//   - Trackers of the director's own eligibility: vrrp_script
//     (ScriptTracker, with RiseFall as its core), track_file (FileTracker)
//     and track_interface (LinkTracker, from rtnetlink events), combined by
//     Priority into an effective priority or a fault.
//
// Verdict aggregates the per-director reports of one real server into the
// committed state under health_quorum (majority, leader, any).
//
// Scripts (MISC_CHECK, vrrp_script) run through Script: a process group of
// their own, run as the configured user, killed as a group at the deadline
// (and when the script exits, so a background child dies with it), and
// always reaped.
//
// Where vigil differs from keepalived 2.2, on purpose:
//   - regex is Go's RE2 syntax, not PCRE2 (no backreferences or lookaround);
//     regex_options, regex_stack and regex_min/max_offset are not supported.
//   - SSL { password } (encrypted keys) is not supported.
//   - track_file is re-read every interval (1 s) rather than on inotify
//     events.
//   - HTTP_GET/SSL_GET check all their urls in each probe (each within
//     connect_timeout); keepalived, recovering from a failure, checks one
//     url per delay_loop (fast_recovery is therefore always on).
//   - bind_if (for IPv6 link-local bindto) is not supported; PING_CHECK
//     takes no fwmark.
//   - A TCP_CHECK closes with a reset (SO_LINGER 0), so that thousands of
//     checks leave no TIME_WAIT sockets on the director.
//
// The HTTP request and the digest are keepalived's, byte for byte: the body
// is hashed as it comes on the wire, a chunked body with its framing, so the
// digests users made with keepalived's genhash keep matching (tested against
// it).
package health
