package cluster

// The simulation world: true time, one event queue, nodes with their own
// drifting clocks, a network that loses, delays, duplicates and reorders,
// partitions, crashes, restarts and pauses, and the kernel model of each
// node's VIPs. The nodes run the production Core; only Raft and the
// driver around the core are modelled here.

import (
	"fmt"
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
	// reconf makes every schedule change the configuration (otherwise a
	// third of them do).
	reconf bool
	// teeth knobs
	noElectionWait bool
	skipVerify     bool
	noSettle       bool
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
	addrs   []int // the instance's addresses under the definition it was taken with
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
	cfg          int // the configuration this node runs (index in w.cfgs)

	vip []simVIP // per instance
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
	specs                  []InstanceSpec   // every instance any configuration may have
	cfgs                   [][]InstanceSpec // the configurations proposed; [0] is every node's file
	reconf                 bool             // this schedule changes the configuration
	configsApplied         int              // configuration changes applied by some node
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
	w.setupConfigs(names)
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
