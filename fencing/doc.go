// Package fencing keeps a split brain from happening unnoticed and from
// lasting: it detects the signs of one, fences what may no longer serve,
// and measures how fast a director fences itself. It elects nobody: the
// cluster decides, fencing executes and reports.
//
// The parts:
//
//   - Alert, Kind, Severity: typed alerts with their evidence.
//   - Monitor: the deterministic core of split-brain monitoring (Step,
//     Tick, Ready, Advance; no goroutines, no clock, no I/O). It folds
//     observations into at most one open alert per Subject and clears an
//     alert when its condition goes away.
//   - DetectRogueAdvert, DetectARPConflict, FlapDetector: the detectors, pure
//     functions of an observation and the HolderTable.
//   - Fencer, ScriptFencer, Retrying, Start/Operation: fence-peer hooks run
//     with the request as arguments and environment, a timeout that kills
//     the hook's process group, retries with backoff, an alert on every
//     failure, and a result the cluster core can wait on when the hook is
//     `required`.
//   - SelfFence: the measurement of a self-fencing.
//
// Sub-packages: fencing/notify (keepalived-compatible notify scripts, the
// notify FIFO, SMTP and webhook sinks, the non-blocking dispatcher),
// fencing/arpwatch (the ARP claims on the VIPs seen on a LAN, for the
// arp_conflict detector) and fencing/metrics (the Prometheus metrics of
// the agent).
//
// The agent's driver for this package, in order:
//
//  1. Feed the Monitor every InstanceConfigured (on config load),
//     NodeIdentity (each director's advert sources and MACs, as they are
//     learned) and HolderChanged (on every applied assignment) before any
//     observation that could concern them; then adverts, ARP packets,
//     quorum and link changes, fence outcomes and config versions as they
//     come; Tick once a second (packets from directors are judged at a
//     Tick once the handover grace is over).
//  2. After each Step or Tick, deliver Ready's actions (slog, metrics,
//     notify.Dispatcher.Publish, which never blocks), then Advance.
//  3. On lease expiry: NewSelfFence; remove the VIPs, then stop adverts
//     (no priority-0 advert: we are not the holder any more), then run
//     notify_fault; Mark each step as it completes; report.
//  4. Before a takeover from an unreachable holder (leader only): Start a
//     fencing with the old holder's epoch; with `required`, commit the new
//     assignment only after the Operation reports OK.
package fencing
