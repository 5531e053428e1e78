package cluster

// The simulation world: true time, one event queue, nodes with their own
// drifting clocks, a network that loses, delays, duplicates and reorders,
// partitions, crashes, restarts and pauses, and the kernel model of each
// node's VIPs. The nodes run the production Core; only Raft and the
// driver around the core are modelled here.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

type simParams struct {
	nodes     int
	instances int
	timing    Timing
	// clockDrift is the true bound on clock rates (may exceed
	// timing.Drift in the teeth tests).
	clockDrift      float64
	heartbeat       int64 // local ns
	electionTimeout int64 // local ns, randomized in [et, 2et)
	faultsUntil     int64 // true ns: H, when every fault heals
	liveBound       int64 // B: a holder exists by H+B
	end             int64
	// kernelSlack, when set, is the model kernel's real slack (the
	// timing's KernelSlack is what the core assumes).
	kernelSlack time.Duration
	// strike, when set, hits the holder of the first instance at
	// strikeAt: "crash" (the machine), "kill" (the process; its address
	// lingers until its kernel lifetime ends), "drain" or "transfer" (planned moves);
	// the world records the time from the strike (from the release, for a
	// drain) until another node holds it.
	strike   string
	strikeAt int64
	// specs, when set, replaces the random instances.
	specs []InstanceSpec
	// teeth knobs
	noElectionWait bool
	skipVerify     bool
	// leaseFromReceipt: the holder counts its lease from the grant's
	// arrival instead of from its request.
	leaseFromReceipt bool
}

func defaultSimParams(nodes int) simParams {
	t := Timing{
		Lease:       time.Second,
		Renew:       time.Second / 3,
		Retry:       100 * time.Millisecond,
		KernelSlack: 100 * time.Millisecond,
		Drift:       0.01,
		Margin:      10 * time.Millisecond,
	}
	p := simParams{
		nodes: nodes, instances: 2, timing: t, clockDrift: 0.01,
		heartbeat:       int64(50 * time.Millisecond),
		electionTimeout: int64(150 * time.Millisecond),
		faultsUntil:     int64(8 * time.Second),
	}
	p.liveBound = p.liveBoundFor()
	p.end = p.faultsUntil + p.liveBound + int64(3*time.Second)
	return p
}

// liveBoundFor is the stated liveness bound after all faults heal: a few
// election rounds (each at most 2·ET, plus messages), the new leader's wait
// D, one lease for a holder to notice and ask, and a few heartbeats.
func (p simParams) liveBoundFor() int64 {
	return 6*2*p.electionTimeout + int64(p.timing.MoveWait()) + int64(p.timing.Lease) + 10*p.heartbeat
}

const (
	eDeliver uint8 = iota + 1
	eRaftTimer
	eCoreTimer
	eFault
	eResume
	eRestart
	eHeal
	eLive
	eStrike
)

type simVIP struct {
	present bool
	expires int64 // true time the kernel drops it
	epoch   uint64
}

type simNode struct {
	w    *simWorld
	id   int
	name string
	rate float64
	base int64
	nowL int64 // local time of the event being handled

	up          bool
	gen         uint64 // bumps on crash, restart and pause: stale timers die
	pausedUntil int64
	armed       int64 // a pause that hits between Ready and executing the actions
	deferred    []Action
	buffered    []*simMsg
	inc         uint64

	// durable Raft state
	term     uint64
	votedFor int
	log      []simEntry
	// volatile Raft state
	role, leader int
	commit       uint64
	applied      uint64
	votes        uint64
	next, match  []uint64
	lastAck      []int64
	reach        []bool
	raftAt       int64
	noopIdx      uint64
	readySent    bool
	verActive    bool
	verRound     uint64
	verAcks      uint64
	fsm          *State
	core         *Core
	coreAt       int64
	raftGen      uint64
	raftSched    int64
	coreGen      uint64
	reportAt     int64
	track        map[string]InstanceReport // the trackers' effect per instance
	drained      bool

	vip []simVIP
}

type simWorld struct {
	p                      simParams
	seed                   uint64
	rng                    *rand.Rand
	now                    int64
	seq                    uint64
	q                      evQueue
	nodes                  []*simNode
	block                  [][]bool
	loss                   float64
	dup                    float64
	longP                  float64
	specs                  []InstanceSpec
	inst                   map[string]int
	healed                 bool
	fence                  bool // Config.Fence: the leader fences holders that do not acknowledge
	storm                  bool // faults five times as often, trackers flapping
	events                 int
	failure                string
	faultHolds, faultMoves int // during the fault phase: acquisitions, and those by another node than the last
	lastHolder             []int
	struck                 int      // node struck by p.strike, -1 before
	lostAt                 int64    // true time the struck node stopped serving (-1: not yet)
	gap                    int64    // from lostAt until another node held the instance
	maxEpoch               []uint64 // per instance: the highest epoch held so far (fencing tokens never go back)
	held                   []int64  // per instance: first true time >= H with a VIP present, -1 before
	trace                  *strings.Builder
}

func (w *simWorld) tracef(n *simNode, format string, args ...any) {
	if w.trace == nil {
		return
	}
	who := "world"
	if n != nil {
		who = n.name
	}
	fmt.Fprintf(w.trace, "%9.3fms %-3s %s\n", float64(w.now)/1e6, who, fmt.Sprintf(format, args...))
}

func (w *simWorld) fail(format string, args ...any) {
	if w.failure == "" {
		w.failure = fmt.Sprintf("t=%.3fms: ", float64(w.now)/1e6) + fmt.Sprintf(format, args...)
		w.tracef(nil, "FAIL %s", w.failure)
	}
}

func (w *simWorld) at(t int64, kind uint8, node int, gen uint64, m *simMsg) {
	w.seq++
	w.q.push(simEv{at: t, seq: w.seq, kind: kind, node: node, gen: gen, msg: m})
}

func newSimWorld(p simParams, seed uint64, trace bool) *simWorld {
	w := &simWorld{p: p, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x76696769)), inst: map[string]int{}}
	if trace {
		w.trace = &strings.Builder{}
	}
	names := make([]string, p.nodes)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i+1)
	}
	for i, s := range p.specs {
		w.specs = append(w.specs, s)
		w.inst[s.Name] = i
		w.held = append(w.held, -1)
		w.maxEpoch = append(w.maxEpoch, 0)
		w.lastHolder = append(w.lastHolder, -1)
	}
	for i := range p.instances {
		if p.specs != nil {
			break
		}
		s := InstanceSpec{Name: fmt.Sprintf("vi%d", i+1), VRID: uint8(i + 1), Priority: map[string]int{}}
		for _, nm := range names {
			if w.rng.IntN(4) > 0 {
				s.Priority[nm] = 50 + 10*w.rng.IntN(5)
			}
		}
		if len(s.Priority) == 0 {
			s.Priority[names[w.rng.IntN(len(names))]] = 100
		}
		s.Nopreempt = w.rng.IntN(3) == 0
		s.PreemptDelay = []time.Duration{0, 0, 500 * time.Millisecond, 2 * time.Second}[w.rng.IntN(4)]
		w.specs = append(w.specs, s)
		w.inst[s.Name] = i
		w.held = append(w.held, -1)
		w.maxEpoch = append(w.maxEpoch, 0)
		w.lastHolder = append(w.lastHolder, -1)
	}
	w.storm = w.rng.IntN(3) == 0
	w.fence = w.rng.IntN(4) == 0
	w.block = make([][]bool, p.nodes)
	for i := range p.nodes {
		w.block[i] = make([]bool, p.nodes)
		n := &simNode{w: w, id: i, name: names[i], votedFor: -1, base: int64(1000+w.rng.IntN(100000)) * int64(time.Millisecond)}
		switch w.rng.IntN(3) {
		case 0:
			n.rate = 1 + p.clockDrift
		case 1:
			n.rate = 1 - p.clockDrift
		default:
			n.rate = 1 + p.clockDrift*(2*w.rng.Float64()-1)
		}
		n.vip = make([]simVIP, len(w.specs))
		w.nodes = append(w.nodes, n)
	}
	for _, n := range w.nodes {
		n.start()
	}
	w.loss, w.dup, w.longP = 0.05, 0.02, 0.02
	w.at(w.nextFault(), eFault, -1, 0, nil)
	w.at(p.faultsUntil, eHeal, -1, 0, nil)
	w.at(p.faultsUntil+p.liveBound, eLive, -1, 0, nil)
	w.struck, w.gap, w.lostAt = -1, -1, -1
	if p.strike != "" {
		w.at(p.strikeAt, eStrike, -1, 0, nil)
	}
	return w
}

func (w *simWorld) nextFault() int64 {
	if w.storm {
		return w.now + 1 + w.rng.Int64N(int64(120*time.Millisecond))
	}
	return w.now + 1 + w.rng.Int64N(int64(600*time.Millisecond))
}

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
	names := make([]string, len(w.nodes))
	for i, o := range w.nodes {
		names[i] = o.name
	}
	core, err := NewCore(Config{Node: n.name, Nodes: names, Timing: w.p.timing, Instances: w.specs, Incarnation: n.inc, Barrier: n.lastIdx(), Fence: w.fence})
	if err != nil {
		panic(err)
	}
	core.leader.unsafeNoElectionWait = w.p.noElectionWait
	core.leader.unsafeSkipVerify = w.p.skipVerify
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
		for _, o := range w.nodes {
			if o != n && o.vip[i].present && o.vip[i].expires > w.now {
				w.fail("SPLIT BRAIN: %s holds %s epoch %d while %s holds it (epoch %d, kernel expiry in %.3fms)",
					n.name, a.Instance, a.Epoch, o.name, o.vip[i].epoch, float64(o.vip[i].expires-w.now)/1e6)
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
		n.vip[i] = simVIP{present: true, epoch: a.Epoch, expires: n.trueAt(a.Until.UnixNano() + int64(slack))}
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

func (w *simWorld) nodeByName(s string) int {
	for _, n := range w.nodes {
		if n.name == s {
			return n.id
		}
	}
	panic("no node " + s)
}

func (w *simWorld) send(m *simMsg) {
	if m.from != m.to && (w.block[m.from][m.to] || w.rng.Float64() < w.loss) {
		return
	}
	copies := 1
	if m.from != m.to && w.rng.Float64() < w.dup {
		copies = 2
	}
	for range copies {
		d := 100*int64(time.Microsecond) + w.rng.Int64N(int64(5*time.Millisecond))
		if w.rng.Float64() < w.longP {
			d += w.rng.Int64N(int64(1500 * time.Millisecond))
		}
		w.at(w.now+d, eDeliver, m.to, 0, m)
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

func (w *simWorld) strike() {
	for _, n := range w.nodes {
		v := n.vip[0]
		if !n.up || !v.present || v.expires <= w.now {
			continue
		}
		w.struck = n.id
		switch w.p.strike {
		case "crash":
			n.crash(true)
			w.lostAt = w.now
		case "kill":
			n.crash(false) // the address lingers until its kernel lifetime ends
			w.lostAt = w.now
		case "drain":
			n.drained = true
			n.nowL = n.local(w.now)
			n.flush()
		case "transfer": // vigil transfer to the next node, through the holder
			to := w.nodes[(n.id+1)%len(w.nodes)]
			n.nowL = n.local(w.now)
			n.propose(Command{Op: OpTransfer, Instance: w.specs[0].Name, Node: to.name})
			n.flush()
		}
		return
	}
}

// run simulates until the end or the first failure.
func (w *simWorld) run() {
	for len(w.q) > 0 && w.failure == "" {
		e := w.q.pop()
		if e.at > w.p.end {
			break
		}
		w.now = e.at
		w.events++
		if w.events > 2_000_000 {
			w.fail("runaway: more than 2M events (a timer that never advances?)")
			break
		}
		var n *simNode
		if e.node >= 0 {
			n = w.nodes[e.node]
		}
		switch e.kind {
		case eDeliver:
			if !n.up {
				continue
			}
			if n.pausedUntil > w.now {
				n.buffered = append(n.buffered, e.msg)
				continue
			}
			n.nowL = n.local(w.now)
			n.deliver(e.msg)
			n.flush()
		case eRaftTimer:
			if e.gen != n.raftGen {
				continue
			}
			n.raftSched = -1
			if !n.up || n.pausedUntil > w.now {
				continue
			}
			n.nowL = n.local(w.now)
			n.raftTimer()
			n.flush()
		case eCoreTimer:
			if e.gen != n.coreGen {
				continue
			}
			n.coreAt = -1
			if !n.up || n.pausedUntil > w.now {
				continue
			}
			n.nowL = n.local(w.now)
			n.core.Tick(n.t())
			n.flush()
		case eResume:
			if !n.up || e.gen != n.gen {
				continue
			}
			n.resume()
		case eRestart:
			if n.up || e.gen != n.gen {
				continue
			}
			n.start()
		case eFault:
			if w.now < w.p.faultsUntil {
				w.fault()
				w.at(w.nextFault(), eFault, -1, 0, nil)
			}
		case eHeal:
			w.heal()
		case eLive:
			w.checkLive(w.p.faultsUntil + w.p.liveBound)
		case eStrike:
			w.strike()
		}
	}
	if w.failure == "" {
		w.now = w.p.end
		w.checkEnd()
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
