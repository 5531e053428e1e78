package agent

// The agent's loop (see the package doc for its ordering contract) and
// what it feeds the core: leadership, reachability, steering.

import (
	"context"
	"time"

	"github.com/hashicorp/raft"

	"vigil/cluster"
)

// Run drives the core until ctx is cancelled, then releases every VIP this
// node holds and shuts Raft down. It returns ctx's error.
func (a *Agent) Run(ctx context.Context) error {
	defer a.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); a.wg.Wait() }()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	a.feedLeadership(ctx, time.Now())
	for {
		a.execute(ctx)
		a.steer(ctx, time.Now())
		a.report.tick(time.Now())
		a.arm(timer)
		select {
		case <-ctx.Done():
			if context.Cause(ctx) != errAbandon {
				a.releaseAll("agent stopping")
			}
			return ctx.Err()
		case <-timer.C:
			// The timer's own timestamp is stale when the loop was busy:
			// a lease end must be judged on the clock now.
			a.core.Tick(time.Now())
			a.feedReach(time.Now(), false)
			if st := a.fsm.current(); st.Config.Version == 0 {
				_ = a.committedConfig(ctx, time.Now(), st) // proposes only
			}
			if len(a.myHealth) > 0 || !a.reportSettled {
				st := a.fsm.current()
				a.proposeHealth(ctx, time.Now(), st)
				a.proposeReport(ctx, time.Now(), st)
			}
		case s := <-a.fsm.notify:
			now := time.Now()
			// A new configuration first: the core must see an assignment
			// with the instance definitions it was made under.
			if err := a.committedConfig(ctx, now, s); err != nil {
				a.releaseAll("configuration refused")
				return err
			}
			a.core.Step(now, cluster.Committed{State: s})
			a.setState(s)
			a.report.committed(now, s)
			a.committedHealth(ctx, now, s)
			a.proposeReport(ctx, now, s)
		case o := <-a.obs:
			a.observe(ctx, o)
		case <-a.gossip.notify:
			now := time.Now()
			a.feedReach(now, false)
			a.report.peerLinks(now, a.gossip.peers(a.peers.names()))
		case m := <-a.msgs.in:
			a.deliver(m)
		case r := <-a.trackIn:
			if r.gen != a.trackGen {
				continue // from trackers a configuration change replaced
			}
			a.tracks[r.key] = r.st
			a.proposeReport(ctx, time.Now(), a.fsm.current())
		case cmd := <-a.writes:
			a.propose(ctx, cmd)
		case r := <-a.healthIn:
			a.myHealth[r.server] = r
			a.proposeHealth(ctx, time.Now(), a.fsm.current())
		case ev := <-a.seen:
			a.report.step(ev)
		case ev := <-a.results:
			if f, ok := ev.(fencedEvent); ok {
				delete(a.fences, f.key)
				ev = f.Fenced
			}
			a.core.Step(time.Now(), ev)
		}
	}
}

// arm sets the timer to the core's next deadline (at most a second away,
// so the loop also notices leadership it was not told about).
func (a *Agent) arm(t *time.Timer) {
	d := time.Second
	if dl, ok := a.core.Deadline(); ok {
		d = min(d, max(time.Until(dl), 0))
	}
	// Also when a node's last lease request stops counting as evidence
	// that it is alive (see feedReach).
	for _, h := range a.heard {
		if end := time.Until(h.Add(2 * a.cfg.Timing.Renew)); end > 0 {
			d = min(d, end)
		}
	}
	t.Reset(d)
}

// observe turns a Raft observation into core events.
func (a *Agent) observe(ctx context.Context, o raft.Observation) {
	now := time.Now()
	switch d := o.Data.(type) {
	case raft.FailedHeartbeatObservation:
		a.raftFailed[string(d.PeerID)] = true
		a.feedReach(now, false)
	case raft.ResumedHeartbeatObservation:
		delete(a.raftFailed, string(d.PeerID))
		a.feedReach(now, false)
	case raft.RaftState, raft.LeaderObservation:
		a.feedLeadership(ctx, now)
	}
}

// feedLeadership reports the leader flag and term as a level; on becoming
// leader it starts a Barrier whose success is LeaderReady.
func (a *Agent) feedLeadership(ctx context.Context, now time.Time) {
	leader := a.raft.State() == raft.Leader
	term := a.raft.CurrentTerm()
	_, id := a.raft.LeaderWithID()
	a.mu.Lock()
	wasLeader := a.status.RaftState == raft.Leader.String() && a.status.Term == term
	a.status.RaftState, a.status.Term, a.status.Leader = a.raft.State().String(), term, string(id)
	a.leaderID = string(id)
	a.mu.Unlock()
	if leader != wasLeader {
		// Heartbeat failures are the leader's replication observations,
		// counted per term: after a change of leadership no "resumed"
		// follows a failure seen before it, so a stale one would keep a
		// live peer unreachable for good. Start afresh.
		clear(a.raftFailed)
	}
	a.core.Step(now, cluster.Leadership{Leader: leader, Term: term})
	a.report.raft(now, a.raft.State().String(), term, a.raft.CommitIndex(), id != "", len(a.peers.names()))
	if leader && !wasLeader {
		a.feedReach(now, true)
		a.async(ctx, func() cluster.Event {
			// Until the Barrier commits, the new leader grants and moves
			// nothing: retry for as long as it leads this term.
			for {
				err := a.raft.Barrier(a.cfg.Timing.Lease).Error()
				if err == nil {
					return cluster.LeaderReady{Term: term}
				}
				if a.raft.State() != raft.Leader || a.raft.CurrentTerm() != term || ctx.Err() != nil {
					return nil
				}
				a.log.Warn("barrier after election failed; retrying", "term", term, "err", err)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(a.cfg.Timing.Retry):
				}
			}
		})
	}
}

// feedReach tells the core which peers it can reach: alive on at least
// one gossip link and not failing Raft heartbeats. Both are hints; the
// lease rules make acting on a wrong one safe. With all set, every peer's
// state is fed, changed or not (a new leader starts from nothing).
//
// A lease request from a node is direct evidence that it is alive and
// reaches us: for two renewal periods after one arrived, the node counts
// as reachable whatever the other hints say. Without it, a holder that
// just rejoined after a partition could be judged unreachable on a stale
// Raft heartbeat failure, moved, and fenced while it serves.
func (a *Agent) feedReach(now time.Time, all bool) {
	for _, p := range a.gossip.peers(a.peers.names()) {
		heard := now.Sub(a.heard[p.Node]) < 2*a.cfg.Timing.Renew
		up := heard || (p.State != LinkDown && !a.raftFailed[p.Node])
		if prev, ok := a.fedReach[p.Node]; all || !ok || prev != up {
			a.fedReach[p.Node] = up
			a.core.Step(now, cluster.Reachable{Node: p.Node, Up: up})
		}
	}
}

// steer hands Raft leadership to a reachable node that holds nothing
// when this leader holds a VIP. Killing a node that is both leader and
// holder costs an election on top of the lease wait; with the roles on
// different nodes a crash costs one or the other. At most every 10 s, and
// only once the cluster is quiet: every peer reachable and this node's
// holdings unchanged for 5 s (a new leader's view of who is reachable is
// the least settled right after a failure).
func (a *Agent) steer(ctx context.Context, now time.Time) {
	if now.Sub(a.steered) < 10*time.Second || now.Sub(a.holdChanged) < 5*time.Second || a.raft.State() != raft.Leader {
		return
	}
	for _, up := range a.fedReach {
		if !up {
			return
		}
	}
	st := a.Status()
	if len(st.Holding) == 0 {
		return
	}
	busy := map[string]bool{}
	for _, as := range st.State.Instances {
		if as.Live() {
			busy[as.Holder] = true
		}
	}
	for _, n := range a.peers.names() {
		if n == a.cfg.Node || busy[n] || !a.fedReach[n] {
			continue
		}
		a.steered = now
		a.log.Info("handing Raft leadership to a node that holds no VIP", "to", n)
		a.async(ctx, func() cluster.Event {
			if err := a.raft.LeadershipTransferToServer(raft.ServerID(n), raft.ServerAddress(n)).Error(); err != nil {
				a.log.Warn("leadership transfer", "to", n, "err", err)
			}
			return nil
		})
		return
	}
}

// async runs fn in a goroutine the agent waits for, and feeds its event to
// the loop (nil: nothing to feed).
func (a *Agent) async(ctx context.Context, fn func() cluster.Event) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if ev := fn(); ev != nil {
			select {
			case a.results <- ev:
			case <-ctx.Done():
			}
		}
	}()
}
