// Package cluster decides, by quorum, which director holds each VIP, and
// makes sure no two ever hold the same VIP at the same moment.
//
// This package is the deterministic core: the replicated State and its
// Commands, the ownership decision Decide, and Core, which runs the lease
// protocol on both sides (holder and leader) as a plain struct driven by
// events with an injected clock. It starts no goroutines, opens no sockets
// and never reads the clock. The driver (Raft, the lease messages, the VIP
// manager) lives elsewhere and only feeds events and executes actions. The
// simulation in this package's tests runs the same Core against a model of
// Raft, a hostile network, crashes, pauses and drifting clocks.
//
// # Replicated state
//
// Per instance: the holder and the epoch, the Raft index of the entry that
// assigned it (the fencing token), and whether the holder acknowledged its
// release. Per node: tracker weight, fault, drain. Every Command is
// idempotent: an assignment is a compare-and-set on the epoch it replaces,
// a release names the epoch it gives up.
//
// # Ownership
//
// The leader evaluates Decide for each instance whenever something changes
// (commits, reachability, its clock reaching a wait's end): effective
// priority is configured priority plus tracker weights; faulted, drained
// and unreachable nodes are ineligible; a working holder stays unless a
// strictly better node has been eligible for preempt_delay and nopreempt is
// off; ties go to the smallest node name. Gossip and link status are only
// hints that make the driver feed Reachable events; they never move a VIP
// by themselves.
//
// # Leases
//
// Holder side. A node assigned an instance at epoch E sends a lease request
// (ID = random incarnation + sequence) and records its own clock reading at
// sending, s. A grant for that request lets it hold until s+Lease on its own
// clock: the lease counts from the request, not from the answer, so any
// delay of the request, the grant or the process only shortens it. It asks
// again every Renew (Lease/3) and at Retry while unanswered. When its clock
// reaches the lease end it releases at once. It adds the address with a
// kernel valid_lft no longer than the remaining lease (whole seconds,
// rounded down), which the kernel enforces within KernelSlack, so a frozen
// or dead process loses the address too. After releasing on request
// it never holds that epoch again, and it acknowledges the release through
// the log. A restarted process removes every managed address first, and
// never holds an epoch at or below Barrier (the last index its durable log
// and snapshots cover at start):
// it cannot know whether its predecessor acknowledged that epoch, so it
// acknowledges instead (which also frees the instance at once).
//
// Leader side. The leader grants a request only (1) while it is leader of
// the term and ready: it has applied every entry that was in its log when it
// was elected (the commit of its own first entry); (2) for the committed
// holder at the committed epoch, not released, not being revoked, and not
// an epoch whose replacement it has already proposed; (3) after a quorum
// round in its term that started after the request arrived, and it records
// the grant time g, read when that round completed. It moves an instance
// away from a live holder only after
//
//	(a) the holder's release of that epoch is committed, or
//	(b) now ≥ max(electedAt, g_last) + D on its own clock, having stopped
//	    granting that epoch first,
//
//	D = (Lease + KernelSlack) · (1+ρ)/(1−ρ) + Margin      (Timing.MoveWait)
//
// where ρ is the clock-rate bound (Timing.Drift, default 1%) and electedAt
// is when it learned it had become leader.
//
// With Config.Fence (fence-peer hooks configured), case (b) also needs a
// successful fence of the old holder (FencePeer, answered by Fenced), which
// the leader starts as soon as the holder cannot acknowledge, in parallel
// with the wait. The fence is defence in depth: safety never rests on it.
//
// # Why no two nodes hold a VIP at once
//
// Clocks: every node's monotonic clock runs at a rate within [1−ρ, 1+ρ] of
// true time, so a local interval Δ lasts between Δ/(1+ρ) and Δ/(1−ρ) of
// true time. Nothing assumes the clocks agree on a reading.
//
// H (a hold ends in time). If A holds instance i at epoch E at true time τ,
// A's current process sent a request at true time s that was granted for
// (i, E), and τ < s + (Lease+KernelSlack)/(1−ρ). A holds only after a grant
// matching a request of its own incarnation; the process stops holding when
// its clock passes s+Lease; the kernel drops the address by s+Lease+Slack
// on the same clock even if the process never runs again; a Hold executed
// late is skipped if the lease already ended; a new process first removes
// what an old one left. A's clock needs at most (Lease+Slack)/(1−ρ) of true
// time to advance by Lease+Slack.
//
// G (grants precede later elections). Let a leader of term t grant a
// request sent at true time s. Its quorum round started after the request
// arrived, so a majority Q1 confirmed term t at true times after s. A leader
// of term t' > t was elected by a majority Q2 at some true time e'. A node in
// both acknowledged t before voting in t' (after voting it knows t' and
// refuses t), so s < e'. With hashicorp/raft the round must be an entry
// committed after the request arrived (Barrier): VerifyLeader counts
// heartbeat answers to RPCs sent before the call (replication.go notifyAll),
// which would break this ordering.
//
// R (stale assignments cannot resurface). A ready leader's log contains its
// own first entry, committed at a majority. Any later leader's log contains
// it too, and entries after it have higher terms, so an assignment from an
// older term that was missing from the ready leader's log can never be
// committed afterwards; one that was present was applied before the leader
// became ready and changed the epoch it would grant. Hence, once some
// leader proposed the assignment replacing epoch E, every grant for E by a
// leader of another term comes from a leader of an earlier term, or is never
// followed by that assignment's commit.
//
// M (moves wait long enough). Suppose the leader of term t' proposes the
// assignment replacing epoch E held by A; B can hold the new epoch only after
// that entry commits, later still. Case (a): A acknowledged only after its
// Release ran and after recording that this incarnation never holds E again
// (or because E ≤ its Barrier, after removing the addresses at start), and
// every later incarnation has Barrier ≥ E, since A learns of E only from
// durable state that covers index E (its log, or a snapshot it installed;
// Barrier is the larger of the two). Case (b): take any grant for E.
// If it was made in term t' it happened at or before g_last, which is read
// after the request was sent (true time s); at the proposal the leader's
// clock has advanced D since g_last, which took at least D/(1+ρ) >
// (Lease+Slack)/(1−ρ) of true time, so by H A's hold has ended. If it was
// made in an earlier term, s < e' ≤ the true time of electedAt by G, and
// the same computation starts from electedAt. Grants after the proposal: not
// in term t' (the epoch is doomed), not by ready leaders of later terms once
// the entry is committed (their view has moved on), and by R never by a
// leader whose grant could be followed by this entry's commit. Hence A's
// holding of E ends before B's holding of the new epoch starts. Epochs are
// assigned in a chain (each assignment names the epoch it replaces), so by
// induction at most one node holds each VIP at any true instant.
//
// The exact inequality is D/(1+ρ) ≥ (Lease+Slack)/(1−ρ). The familiar
// Lease·(1+2ρ) is a first-order approximation that is short by about
// 2ρ²·Lease; Margin covers the scheduling delay between the driver reading
// the clock and the proposal.
//
// Residual assumptions, outside what any lease can guard: clock rates stay
// within ρ (CLOCK_MONOTONIC is slewed by NTP by at most 0.05%, but it stops
// while a machine is suspended, and so do the kernel's address lifetimes:
// a director that can be suspended and resumed violates the bound); the driver
// re-checks the clock after the netlink call that adds the address (a pause
// between reading the clock and that call would otherwise start the
// kernel lifetime late); KernelSlack covers the kernel's lifetime worker,
// which runs at most once a second (see Timing.KernelSlack).
//
// # Changing the instances
//
// A configuration change (Core.SetInstances, from a committed OpConfig)
// may add, remove and redefine instances while they are held. What an
// instance puts on the wire is fingerprinted as InstanceSpec.Def, and
// every assignment records the Def it was made under. The rules:
//
//   - A holder holds an assignment only while its own configuration gives
//     the instance that Def. When its configuration changes the Def or
//     removes the instance, it releases at once what it held under the
//     old one, never holds that epoch again, and acknowledges; an
//     assignment under a Def it does not run yet is neither held nor
//     acknowledged until its configuration catches up.
//   - The leader renews only assignments under the current Def; one under
//     another Def, or of an instance the configuration no longer has, is
//     revoked like any move: by (a) or (b) above.
//   - The leader grants no instance to anyone while any assignment under
//     an older Def may still be held ("settling"), except the one
//     replacing that very assignment.
//
// Why this is enough: one configuration's instances share no address (the
// configuration check refuses a VIP in two instances). A node holds an
// address only under an assignment and the Def it was made under, and one
// epoch is held by one node at a time (H and M above), so two holders of
// one address would hold two assignments, both live. Every grant of a new epoch happens while all other
// live assignments are under current Defs, so both are instances of the
// current configuration, and disjoint; assignments that go stale later
// keep their addresses, but nothing new is granted until they are gone.
// The simulation changes the configuration while faults strike, moving
// addresses between instances, and checks each address; its teeth test
// shows that granting while settling is caught.
//
// # Liveness
//
// After faults heal (all nodes up and connected, no loss), a leader is
// elected within a few election timeouts, becomes ready after one commit,
// and then: an instance without a live holder is assigned at once; a live
// holder that is eligible keeps it (or renews it); one that is not is
// replaced within D. The new holder holds after one more commit and one
// lease round. The simulation asserts a holder within
// 12·ElectionTimeout + D + Lease + 10·Heartbeat of healing.
//
// # How this is tested
//
//   - sim*_test.go: the production Core on 3 and 5 simulated nodes with a
//     model of Raft (terms, votes with the log rule, AppendEntries, commit by
//     a majority of the current term, a quorum round per VerifyLeader, lazy
//     loss of leadership), clocks drifting within ρ, a network that loses,
//     delays (up to 1.5 s), duplicates and reorders, asymmetric partitions,
//     crashes (process or machine) and quick restarts, pauses longer than
//     the lease (also between Ready and executing it), flapping trackers,
//     live configuration changes that add, remove and redefine instances,
//     and the kernel's address lifetime. 10,000 schedules per go test;
//     at every Hold no other node may have the address, epochs never go
//     back, and after healing a holder appears within the stated bound.
//     -sim.seed replays one schedule with a trace. TestSimulationHasTeeth
//     runs unsafe variants (no election wait, no quorum round, lease from
//     the grant's arrival, no drift margin, kernel slack ignored) and
//     requires a violation from each. TestSimulationDefaultTiming repeats
//     the exercise with DefaultTiming and the agent's Raft timeouts.
//   - property_test.go: one Core against an independent oracle of the
//     rules above, input by input (also a native fuzz target).
//   - testdata/scenarios: scripts with golden output for the individual
//     rules (-rewrite regenerates).
//   - raft_test.go: State under real hashicorp/raft with bolt stores.
//
// # Driver contract
//
// The driver owns one Core and runs one loop:
//
//  1. At process start, remove every address this node manages (and refuse
//     to start if that fails), then create the Core with a random
//     Incarnation and Barrier = max(log store LastIndex, newest snapshot
//     index).
//  2. Wait for one input and feed it with the monotonic time it was read:
//     Committed (a Clone of the FSM state after applying), Leadership (on
//     every change of leader flag or term), LeaderReady (Barrier succeeded
//     after becoming leader), Verified (the answer to VerifyLeader),
//     Reachable (heartbeat failures and resumes; gossip only triggers a
//     recheck), and the lease messages LeaseRequest, LeaseGrant,
//     ReleaseRequest; or call Tick when the timer armed at Deadline fires.
//  3. Execute Ready's actions in order: Release removes the address before
//     anything later in the batch runs (a release acknowledgement is
//     proposed only after it); Hold is skipped when its Until has passed,
//     otherwise adds/refreshes the address with valid_lft =
//     floor(Until−now) seconds (not at all if that is 0), and re-reads the
//     clock after the netlink call, removing the address if Until passed;
//     Send* go to the named node or, for lease requests, to the leader;
//     Propose goes through raft.Apply (forwarded to the leader when not
//     leader); VerifyLeader runs raft.Barrier and answers Verified;
//     FencePeer runs the fence-peer hook against the node (once per node
//     is enough when several instances ask) and answers Fenced.
//  4. Advance, and arm the timer at Deadline.
//
// The driver also writes the node's own tracker verdicts, one OpReport per
// instance (keepalived applies trackers per vrrp_instance), and its drain
// flag (OpDrain). They are last-writer-wins, so a delayed retry can
// overwrite a newer value: the driver re-proposes while the committed
// NodeReport differs from what it knows, as the simulation's driver does.
package cluster
