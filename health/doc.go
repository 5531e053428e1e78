// Package health checks real servers and tracks a director's own health,
// with keepalived's keywords, defaults and timing semantics. It reports;
// package cluster commits.
//
// Three layers:
//
//   - Checkers (New(CheckSpec) → Checker): one probe each of TCP_CHECK,
//     HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK, MISC_CHECK, UDP_CHECK and
//     PING_CHECK. A Checker honours its ctx and leaves nothing behind.
//   - The Scheduler, a deterministic core (no goroutine, socket or clock):
//     delay_loop, retry, delay_before_retry, warmup, alpha, omega,
//     inhibit_on_failure, notify_up/notify_down, emitting transitions only.
//     The Driver is its thin loop: it runs probes in goroutines with
//     per-check deadlines and feeds their results back.
//   - Trackers of the director's own eligibility: vrrp_script
//     (ScriptTracker), track_file (FileTracker) and track_interface
//     (LinkTracker), combined by Priority into an effective priority or a
//     fault.
//
// Verdict aggregates the per-director reports of one real server into the
// committed state under health_quorum (majority, leader, any).
//
// Scripts (MISC_CHECK, vrrp_script) run through Script: a process group of
// their own, killed as a group at the deadline and always reaped.
package health
