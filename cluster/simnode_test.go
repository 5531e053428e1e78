package cluster

// The simulated node: its clock, the driver around the production Core
// (start, crash, pause, executing actions, retrying its writes) and the
// kernel's view of its VIPs.

import (
	"math"
	"time"
)

// local is node n's clock at true time t.
func (n *simNode) local(t int64) int64 { return n.base + int64(float64(t)*n.rate) }

// trueAt is the first true time at which n's clock reads at least l.
func (n *simNode) trueAt(l int64) int64 {
	t := int64(math.Ceil(float64(l-n.base) / n.rate))
	for n.local(t) < l {
		t++
	}
	for t > 0 && n.local(t-1) >= l {
		t--
	}
	return max(t, n.w.now)
}

func (n *simNode) t() time.Time { return time.Unix(0, n.nowL) }

// start runs a fresh process: volatile state lost, durable Raft state
// kept. The driver first removes every VIP it might have left behind.
func (n *simNode) start() {
	w := n.w
	n.up = true
	n.gen++
	n.inc++
	n.nowL = n.local(w.now)
	for i := range n.vip {
		n.vip[i].present = false
	}
	n.role, n.leader, n.commit, n.applied, n.votes = roleFollower, -1, 0, 0, 0
	n.next = make([]uint64, len(w.nodes))
	n.match = make([]uint64, len(w.nodes))
	n.lastAck = make([]int64, len(w.nodes))
	n.reach = make([]bool, len(w.nodes))
	n.verActive, n.readySent = false, false
	n.deferred, n.buffered, n.armed, n.pausedUntil = nil, nil, 0, 0
	n.fsm = NewState()
	n.cfg = 0 // its file; the log's configuration follows as it is applied
	names := make([]string, len(w.nodes))
	for i, o := range w.nodes {
		names[i] = o.name
	}
	core, err := NewCore(Config{Node: n.name, Nodes: names, Timing: w.p.timing, Instances: w.cfgs[0], Incarnation: n.inc, Barrier: n.lastIdx(), Fence: w.fence})
	if err != nil {
		panic(err)
	}
	core.leader.unsafeNoElectionWait = w.p.noElectionWait
	core.leader.unsafeSkipVerify = w.p.skipVerify
	core.leader.unsafeNoSettle = w.p.noSettle
	core.holder.unsafeLeaseFromReceipt = w.p.leaseFromReceipt
	n.core = core
	n.core.Step(n.t(), Leadership{Leader: false, Term: n.term})
	n.resetElection()
	n.coreAt, n.raftSched = -1, -1
	n.coreGen++
	n.raftGen++
	n.w.tracef(n, "start inc=%d barrier=%d term=%d", n.inc, n.lastIdx(), n.term)
	n.flush()
}

func (n *simNode) crash(machine bool) {
	n.up = false
	n.gen++
	if machine {
		for i := range n.vip {
			n.vip[i].present = false
		}
	}
	n.w.tracef(n, "crash machine=%t", machine)
}

// flush executes the core's actions, unless a pause was armed to hit
// between Ready and execution; then reschedules the node's timers.
func (n *simNode) flush() {
	for len(n.core.Ready()) > 0 {
		acts := append([]Action(nil), n.core.Ready()...)
		n.core.Advance()
		if n.armed > 0 {
			n.deferred = append(n.deferred, acts...)
			n.pause(n.armed)
			n.armed = 0
			return
		}
		for _, a := range acts {
			n.exec(a)
		}
	}
	n.report()
	n.schedule()
}

func (n *simNode) pause(d int64) {
	n.pausedUntil = n.w.now + d
	n.gen++
	n.w.tracef(n, "pause %.0fms deferred=%d", float64(d)/1e6, len(n.deferred))
	n.w.at(n.pausedUntil, eResume, n.id, n.gen, nil)
}

func (n *simNode) schedule() {
	if n.pausedUntil > n.w.now || !n.up {
		return
	}
	if n.raftSched != n.raftAt {
		n.raftSched = n.raftAt
		n.raftGen++
		n.w.at(n.trueAt(n.raftAt), eRaftTimer, n.id, n.raftGen, nil)
	}
	if d, ok := n.core.Deadline(); ok {
		at := n.trueAt(d.UnixNano())
		if at <= n.w.now {
			at = n.w.now + 1
		}
		if at != n.coreAt {
			n.coreAt = at
			n.coreGen++
			n.w.at(at, eCoreTimer, n.id, n.coreGen, nil)
		}
	}
}

// report re-proposes the node's tracker state and drain flag until the
// committed state shows them (as a driver retries its writes).
func (n *simNode) report() {
	if n.nowL < n.reportAt {
		return
	}
	r := n.fsm.Nodes[n.name]
	for _, s := range n.w.specs {
		if want := n.track[s.Name]; r.Instances[s.Name] != want {
			n.propose(Command{Op: OpReport, Node: n.name, Instance: s.Name, Weight: want.Weight, Fault: want.Fault})
			n.reportAt = n.nowL + int64(100*time.Millisecond)
		}
	}
	if r.Drained != n.drained {
		n.propose(Command{Op: OpDrain, Node: n.name, Drained: n.drained})
		n.reportAt = n.nowL + int64(100*time.Millisecond)
	}
}

func (n *simNode) exec(a Action) {
	w := n.w
	switch a := a.(type) {
	case Hold:
		i := w.inst[a.Instance]
		if n.nowL >= a.Until.UnixNano() {
			w.tracef(n, "hold %s epoch=%d skipped: lease over", a.Instance, a.Epoch)
			return
		}
		addrs := n.vip[i].addrs // a renewal keeps what was taken
		if !n.vip[i].present || n.vip[i].expires <= w.now {
			if addrs = n.addrsOf(a.Instance); addrs == nil {
				w.fail("HOLD of %s epoch %d on %s, whose configuration %d has no such instance", a.Instance, a.Epoch, n.name, n.cfg)
			}
		}
		for _, o := range w.nodes {
			for j, v := range o.vip {
				if o == n || !v.present || v.expires <= w.now {
					continue
				}
				if x := overlap(addrs, v.addrs); x >= 0 {
					w.fail("SPLIT BRAIN: %s holds address %d (%s epoch %d) while %s holds it (%s epoch %d, kernel expiry in %.3fms)",
						n.name, x, a.Instance, a.Epoch, o.name, w.specs[j].Name, v.epoch, float64(v.expires-w.now)/1e6)
				}
			}
		}
		if a.Epoch < w.maxEpoch[i] {
			w.fail("FENCING: %s holds %s at epoch %d after epoch %d was held", n.name, a.Instance, a.Epoch, w.maxEpoch[i])
		}
		w.maxEpoch[i] = a.Epoch
		if !n.vip[i].present || n.vip[i].expires <= w.now {
			w.tracef(n, "HOLD %s epoch=%d", a.Instance, a.Epoch)
			if !w.healed {
				w.faultHolds++
				if w.lastHolder[i] != n.id {
					w.faultMoves++
				}
			}
			w.lastHolder[i] = n.id
		}
		slack := w.p.timing.KernelSlack
		if w.p.kernelSlack > 0 {
			slack = w.p.kernelSlack
		}
		n.vip[i] = simVIP{present: true, epoch: a.Epoch, expires: n.trueAt(a.Until.UnixNano() + int64(slack)), addrs: addrs}
		if w.healed && w.held[i] < 0 {
			w.held[i] = w.now
		}
		if i == 0 && w.struck >= 0 && n.id != w.struck && w.gap < 0 && w.lostAt >= 0 {
			w.gap = w.now - w.lostAt
		}
	case Release:
		i := w.inst[a.Instance]
		if n.vip[i].present {
			w.tracef(n, "RELEASE %s epoch=%d (%s)", a.Instance, a.Epoch, a.Reason)
		}
		if i == 0 && n.id == w.struck && n.vip[i].present && w.lostAt < 0 {
			w.lostAt = w.now
		}
		n.vip[i].present = false
	case SendLeaseRequest:
		for _, o := range w.nodes {
			w.send(&simMsg{kind: mLeaseReq, from: n.id, to: o.id, inst: a.Instance, epoch: a.Epoch, id: a.ID})
		}
	case SendGrant:
		to := w.nodeByName(a.To)
		w.send(&simMsg{kind: mGrant, from: n.id, to: to, inst: a.Instance, epoch: a.Epoch, id: a.ID})
	case SendReleaseRequest:
		to := w.nodeByName(a.To)
		w.send(&simMsg{kind: mRelReq, from: n.id, to: to, inst: a.Instance, epoch: a.Epoch})
	case Propose:
		if a.Command.Op == OpAssign {
			w.tracef(n, "propose %v", a.Command)
		}
		n.propose(a.Command)
	case VerifyLeader:
		n.startVerify(a)
	case FencePeer:
		// The hook powers the peer off (it restarts a while later) or
		// fails; the answer comes back after the hook's own delay.
		to := w.nodes[w.nodeByName(a.Node)]
		ok := w.healed || w.rng.IntN(10) < 7
		if ok && to.up {
			to.crash(true)
			w.tracef(to, "FENCED by %s", n.name)
			w.at(w.now+int64(200*time.Millisecond)+w.rng.Int64N(int64(2*time.Second)), eRestart, to.id, to.gen, nil)
		}
		m := &simMsg{kind: mFenced, from: to.id, to: n.id, inst: a.Instance, epoch: a.Epoch, ok: ok}
		w.at(w.now+int64(20*time.Millisecond)+w.rng.Int64N(int64(200*time.Millisecond)), eDeliver, n.id, 0, m)
	}
}

func (n *simNode) deliver(m *simMsg) {
	switch m.kind {
	case mLeaseReq:
		n.core.Step(n.t(), LeaseRequest{From: n.w.nodes[m.from].name, Instance: m.inst, Epoch: m.epoch, ID: m.id})
	case mGrant:
		n.core.Step(n.t(), LeaseGrant{Instance: m.inst, Epoch: m.epoch, ID: m.id})
	case mRelReq:
		n.core.Step(n.t(), ReleaseRequest{Instance: m.inst, Epoch: m.epoch})
	case mFenced:
		n.core.Step(n.t(), Fenced{Node: n.w.nodes[m.from].name, Instance: m.inst, Epoch: m.epoch, OK: m.ok})
	default:
		n.handleRaft(m)
	}
}

func (n *simNode) resume() {
	w := n.w
	n.pausedUntil = 0
	n.nowL = n.local(w.now)
	w.tracef(n, "resume deferred=%d buffered=%d", len(n.deferred), len(n.buffered))
	// The driver carries out what it was about to do, with the clock as
	// it reads now.
	acts := n.deferred
	n.deferred = nil
	for _, a := range acts {
		n.exec(a)
	}
	buf := n.buffered
	n.buffered = nil
	for _, m := range buf {
		if n.pausedUntil > w.now || !n.up {
			n.buffered = append(n.buffered, m)
			continue
		}
		n.deliver(m)
		n.flush()
	}
	if n.nowL >= n.raftAt {
		n.raftTimer()
	}
	n.core.Tick(n.t())
	n.coreAt = -1
	n.flush()
}
