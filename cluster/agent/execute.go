package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"vigil/cluster"
	"vigil/fencing"
	"vigil/fencing/notify"
)

// execute carries out the core's actions in order (step 3 of the loop)
// and advances the core.
func (a *Agent) execute(ctx context.Context) {
	for {
		actions := a.core.Ready()
		if len(actions) == 0 {
			return
		}
		// Copy: the core reuses its slice after Advance, and executing an
		// action may step the core again (a message to ourselves).
		batch := append([]cluster.Action(nil), actions...)
		a.core.Advance()
		for _, act := range batch {
			a.do(ctx, act)
		}
	}
}

func (a *Agent) do(ctx context.Context, act cluster.Action) {
	switch x := act.(type) {
	case cluster.Hold:
		if !time.Now().Before(x.Until) {
			a.log.Warn("not holding: lease already over", "instance", x.Instance, "epoch", x.Epoch)
			return
		}
		if err := a.cfg.Executor.Hold(x.Instance, x.Epoch, x.Until); err != nil {
			lvl := slog.LevelError
			if errors.Is(err, errStillRefused) {
				lvl = slog.LevelDebug // said before; retried on every renewal
			}
			a.log.Log(ctx, lvl, "hold failed", "instance", x.Instance, "epoch", x.Epoch, "err", err)
			return
		}
		a.mu.Lock()
		_, was := a.status.Holding[x.Instance]
		a.status.Holding[x.Instance] = x.Epoch
		a.status.LeaseUntil[x.Instance] = x.Until
		a.mu.Unlock()
		if !was {
			a.holdChanged = time.Now()
			a.log.Info("holding", "instance", x.Instance, "epoch", x.Epoch)
			a.report.transition(time.Now(), x.Instance, notify.StateMaster, a.priority(x.Instance), x.Epoch)
		}
		a.report.lease(x.Instance, time.Until(x.Until))
	case cluster.Release:
		a.mu.Lock()
		until, held := a.status.LeaseUntil[x.Instance]
		a.mu.Unlock()
		if err := a.cfg.Executor.Release(x.Instance, x.Epoch, x.Reason); err != nil {
			a.log.Error("release failed", "instance", x.Instance, "epoch", x.Epoch, "err", err)
		}
		expired := strings.Contains(x.Reason, "expired")
		if held && expired {
			// Self-fencing: measured from the lease end on this node's clock.
			now := time.Now()
			sf := fencing.NewSelfFence(x.Instance, x.Epoch, until)
			sf.Mark(fencing.StepVIPReleased, now)
			sf.Mark(fencing.StepAdvertsStopped, now)
			a.report.selfFenced(sf)
		}
		a.mu.Lock()
		_, was := a.status.Holding[x.Instance]
		delete(a.status.Holding, x.Instance)
		delete(a.status.LeaseUntil, x.Instance)
		a.mu.Unlock()
		if was {
			a.holdChanged = time.Now()
			a.log.Info("released", "instance", x.Instance, "epoch", x.Epoch, "reason", x.Reason)
			// Losing the lease is keepalived's FAULT (self-fencing);
			// handing over on request is a return to BACKUP.
			st := notify.StateBackup
			if expired {
				st = notify.StateFault
			}
			a.report.transition(time.Now(), x.Instance, st, a.priority(x.Instance), x.Epoch)
		}
		a.report.lease(x.Instance, 0)
	case cluster.SendLeaseRequest:
		m := message{Kind: kindLeaseRequest, Instance: x.Instance, Epoch: x.Epoch, ID: x.ID}
		if leader := a.leader(); leader != "" {
			a.sendTo(leader, m)
		} else {
			for _, n := range a.peers.names() {
				a.sendTo(n, m)
			}
		}
	case cluster.SendGrant:
		a.sendTo(x.To, message{Kind: kindLeaseGrant, Instance: x.Instance, Epoch: x.Epoch, ID: x.ID})
	case cluster.SendReleaseRequest:
		a.sendTo(x.To, message{Kind: kindReleaseRequest, Instance: x.Instance, Epoch: x.Epoch})
	case cluster.Propose:
		a.propose(ctx, x.Command)
	case cluster.VerifyLeader:
		round, term := x.Round, x.Term
		a.async(ctx, func() cluster.Event {
			// A Barrier commits an entry through a majority of the
			// current term: a quorum round that started now.
			err := a.raft.Barrier(a.cfg.Timing.Lease).Error()
			ok := err == nil && a.raft.CurrentTerm() == term
			return cluster.Verified{Round: round, OK: ok}
		})
	case cluster.FencePeer:
		a.fence(ctx, x)
	default:
		a.log.Error("unknown action", "action", cluster.FormatAction(act, time.Time{}))
	}
}

// propose writes cmd to the log: directly on the leader, forwarded to the
// leader elsewhere. Losing it is harmless; the core retries.
func (a *Agent) propose(ctx context.Context, cmd cluster.Command) {
	if a.raft.State() != raft.Leader {
		if leader := a.leader(); leader != "" && leader != a.cfg.Node {
			a.msgs.send(leader, message{Kind: kindPropose, Command: &cmd})
		}
		return
	}
	b, err := json.Marshal(cmd)
	if err != nil {
		a.log.Error("encode command", "command", cmd.String(), "err", err)
		return
	}
	f := a.raft.Apply(b, a.cfg.Timing.Lease)
	a.async(ctx, func() cluster.Event {
		if err := f.Error(); err != nil {
			a.log.Debug("proposal not committed", "command", cmd.String(), "err", err)
		} else if rerr, ok := f.Response().(error); ok && rerr != nil {
			a.log.Debug("proposal rejected by the state machine", "command", cmd.String(), "err", rerr)
		}
		return nil
	})
}

// sendTo delivers a message to node, short-circuiting messages to self.
func (a *Agent) sendTo(node string, m message) {
	if node == a.cfg.Node {
		m.From = a.cfg.Node
		a.deliver(m)
		return
	}
	a.msgs.send(node, m)
}

func (a *Agent) deliver(m message) {
	now := time.Now()
	switch m.Kind {
	case kindLeaseRequest:
		if m.From != a.cfg.Node {
			a.heard[m.From] = now
			a.feedReach(now, false)
		}
		a.core.Step(now, cluster.LeaseRequest{From: m.From, Instance: m.Instance, Epoch: m.Epoch, ID: m.ID})
	case kindLeaseGrant:
		a.core.Step(now, cluster.LeaseGrant{Instance: m.Instance, Epoch: m.Epoch, ID: m.ID})
	case kindReleaseRequest:
		a.core.Step(now, cluster.ReleaseRequest{Instance: m.Instance, Epoch: m.Epoch})
	case kindPropose:
		// A node forwards writes about itself (release, report, health)
		// and operator writes (drain, config) made through its API.
		if c := m.Command; c != nil && ownOp(c.Op) && c.Node != m.From {
			a.log.Warn("dropping a forwarded write about another node", "from", m.From, "command", c.String())
			return
		}
		if m.Command != nil && a.raft.State() == raft.Leader {
			b, err := json.Marshal(m.Command)
			if err == nil {
				a.raft.Apply(b, a.cfg.Timing.Lease) // the proposer retries if lost
			}
		}
	case kindMembership:
		if m.Membership != nil {
			a.changeMembership(*m.Membership)
		}
	default:
		a.log.Debug("unknown message kind", "kind", m.Kind, "from", m.From)
	}
}

// ownOp is a write a node makes only about itself.
func ownOp(op cluster.Op) bool {
	return op == cluster.OpRelease || op == cluster.OpReport || op == cluster.OpHealth
}

func (a *Agent) leader() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.leaderID
}

// releaseAll releases every held instance on shutdown, then records the
// releases in the log (waiting up to a lease for them to commit) so the
// leader hands the VIPs over at once instead of waiting the lease out.
func (a *Agent) releaseAll(reason string) {
	a.mu.Lock()
	held := a.status.Holding
	a.status.Holding = map[string]uint64{}
	a.status.LeaseUntil = map[string]time.Time{}
	a.mu.Unlock()
	for inst, epoch := range held {
		if err := a.cfg.Executor.Release(inst, epoch, reason); err != nil {
			a.log.Error("release on shutdown failed", "instance", inst, "err", err)
		}
	}
	deadline := time.Now().Add(a.cfg.Timing.Lease)
	for len(held) > 0 && time.Now().Before(deadline) {
		st := a.fsm.current()
		for inst, epoch := range held {
			if as := st.Instances[inst]; as.Epoch != epoch || as.Released {
				delete(held, inst)
				continue
			}
			cmd := cluster.Command{Op: cluster.OpRelease, Instance: inst, Node: a.cfg.Node, Epoch: epoch}
			if a.raft.State() == raft.Leader {
				if b, err := json.Marshal(cmd); err == nil {
					a.raft.Apply(b, a.cfg.Timing.Lease)
				}
			} else if leader := a.leader(); leader != "" {
				a.msgs.send(leader, message{Kind: kindPropose, Command: &cmd})
			}
		}
		if len(held) > 0 {
			time.Sleep(a.cfg.Timing.Retry)
		}
	}
	if len(held) > 0 {
		a.log.Warn("releases not acknowledged before shutdown; the cluster waits out the leases", "instances", len(held))
	}
	for _, s := range a.instances() {
		a.report.transition(time.Now(), s.Name, notify.StateStop, a.priority(s.Name), 0)
	}
}

// priority is this node's configured priority for instance.
func (a *Agent) priority(instance string) int {
	for _, s := range a.instances() {
		if s.Name == instance {
			return s.Priority[a.cfg.Node]
		}
	}
	return 0
}
