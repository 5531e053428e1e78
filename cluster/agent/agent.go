// Package agent runs one director: the thin driver loop around the
// deterministic core of package cluster. It owns the Raft node
// (hashicorp/raft with raft-boltdb in the data directory), the lease
// messages between nodes, and the Executor that puts VIPs on and off the
// wire. It decides nothing itself.
//
// The loop's ordering contract, one iteration at a time:
//
//  1. Wait for one input: the timer armed at the core's Deadline, a newly
//     committed state from the FSM, a Raft leadership or heartbeat
//     observation, a lease message from a peer, or the answer of an
//     asynchronous Raft call (Barrier) started by an earlier action.
//  2. Feed it to the core with the current time (Step or Tick). Time is
//     read here, never inside the core.
//  3. Execute the core's actions in order. A Release is carried out (the
//     address removed, the priority-0 advert sent) before any later action
//     of the batch, so a release acknowledgement is never proposed before
//     the VIP is gone. A Hold whose lease end has passed is not executed.
//  4. Advance the core and arm the timer at its new Deadline.
//
// Raft calls that block (Barrier, Apply) run in goroutines owned by the
// agent; their answers come back as inputs in step 1. Run returns only
// after every goroutine it started has stopped.
package agent

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"vigil/cluster"
	"vigil/fencing"
	"vigil/health"
	"vigil/lvs"
)

// Executor carries out the core's Hold and Release actions: the VIP
// addresses (with a kernel lifetime bounded by the lease), gratuitous ARP,
// and VRRP adverts. Calls come from the agent's single loop, never
// concurrently, and must not block for long: a slow executor delays the
// release of other instances.
type Executor interface {
	// Hold keeps or adds the instance's addresses with a kernel lifetime
	// ending no later than until plus the core's KernelSlack, and announces
	// them when they are new. Called again on every renewal.
	Hold(instance string, epoch uint64, until time.Time) error
	// Release removes the instance's addresses and stops its adverts
	// (sending a priority-0 advert). Idempotent.
	Release(instance string, epoch uint64, reason string) error
}

// Config configures an Agent.
type Config struct {
	// Cluster is the cluster's name; messages of another cluster are
	// dropped.
	Cluster string
	// Node is this director's name.
	Node string
	// Peers maps every member, this node included, to its addresses, one
	// per heartbeat link in link order.
	Peers map[string][]string
	// RaftPort and MessagePort are the TCP port of the Raft transport and
	// the UDP port of lease messages, the same on every node and link.
	RaftPort, MessagePort int
	// GossipPort is the memberlist port of link 0; link i uses
	// GossipPort+i. GossipKey, when set, encrypts gossip (16, 24 or 32
	// bytes).
	GossipPort int
	GossipKey  []byte
	Gossip     GossipTiming
	// TLS, when set, makes the Raft transport mutual TLS.
	TLS *TLSFiles
	// Fencer, when set, is the fence_peer hook: the leader takes a VIP
	// from a holder that did not acknowledge its release only after it
	// succeeded.
	Fencer fencing.Fencer
	// DataDir holds the Raft log, stable store and snapshots.
	DataDir string
	// Join, on a first start (an empty DataDir), skips the bootstrap: the
	// node waits until a member adds it (vigil members add).
	Join bool
	// Timing is the lease timing; zero means cluster.DefaultTiming.
	Timing cluster.Timing
	// Raft overrides the Raft timeouts (heartbeat, election, leader lease,
	// commit); zero values take fastRaft's.
	Raft RaftTiming
	// Instances are the VRRP instances whose ownership is decided.
	Instances []cluster.InstanceSpec
	// Executor carries out Hold and Release.
	Executor Executor
	// Report says where transitions and alerts go besides the log.
	Report ReportConfig
	// Trackers are this node's trackers; their reports per instance go
	// to the log (the Director runs the tracker loops and hands their
	// statuses to reportTrack).
	Trackers Trackers
	// Health are the checked real servers; their verdicts are agreed
	// under HealthQuorum, and OnVerdicts (called from the loop, must not
	// block) receives every change of the agreed verdicts.
	Health       []HealthServer
	HealthQuorum health.Quorum
	OnVerdicts   func(lvs.Health)
	// ConfigText is this node's configuration (normalized, includes
	// expanded): proposed as the cluster's when the cluster has none.
	// OnConfig applies a newly committed cluster configuration (from the
	// loop; it must not block for long); an error wrapping ErrIdentity
	// stops the agent, any other leaves the previous configuration running.
	ConfigText string
	OnConfig   func(text string) error
	// ValidateConfig checks a configuration POSTed to /v1/config before it
	// is written to the log: it parses, keeps the cluster block, passes
	// Check, and can be applied live.
	ValidateConfig func(text string) error
	// Logger receives everything; nil discards.
	Logger *slog.Logger
}

// Agent is one running director.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	raft   *raft.Raft
	fsm    *fsm
	stream *linkStream
	msgs   *messenger
	stores *stores
	gossip *gossip
	core   *cluster.Core
	report *reporter
	peers  *peerTable // the cluster block's nodes (cfg.Peers, then live changes)

	raftFailed  map[string]bool      // peers whose Raft heartbeats fail
	fedReach    map[string]bool      // reachability last fed to the core
	heard       map[string]time.Time // when a lease request last came from each node
	steered     time.Time            // last leadership transfer away from a holder
	holdChanged time.Time            // when this node last took or released an instance

	writes        chan cluster.Command // operator writes (drain) to propose
	trackIn       chan trackReport
	trackGen      uint64                          // the running trackers' generation
	tracks        map[trackKey]health.TrackStatus // latest status per tracked object
	proposedR     map[string]time.Time            // when each instance's tracker report was last proposed
	reportSettled bool                            // every instance's tracker report is committed

	fences map[string]bool // fence hooks running (node/instance/epoch)

	proposedC     time.Time      // when this node's file was last proposed as the cluster's
	configSeen    uint64         // the cluster configuration version last seen
	configApplied uint64         // the version running here
	appliedShown  uint64         // configApplied, for the API (guarded by mu)
	health        []HealthServer // the checked real servers (guarded by mu)
	cfgWeight     map[string]int // their configured weights (the loop's)
	healthIn      chan healthReport
	myHealth      map[string]healthReport // this node's latest verdict per server
	proposedH     map[string]time.Time    // when each was last proposed
	verdicts      map[string]bool         // the agreed verdicts
	weights       map[string]int          // the agreed weights

	results chan cluster.Event // answers of asynchronous Raft calls
	seen    chan fencing.Event // observations of the wire (rogue adverts)
	obs     chan raft.Observation
	wg      sync.WaitGroup

	mu       sync.Mutex // guards status
	status   Status
	leaderID string
}

// Status is a snapshot of what the agent knows, for the API and tests.
type Status struct {
	Node      string
	RaftState string
	Term      uint64
	Leader    string
	State     *cluster.State
	// Holding maps the instances this node holds now to their epochs, and
	// LeaseUntil to the end of their current lease on this node's clock.
	Holding    map[string]uint64
	LeaseUntil map[string]time.Time
}

// New opens the data directory, starts Raft (bootstrapping the cluster
// from Peers on the very first start) and the message sockets. Run drives
// it; Close releases what New opened if Run is never called.
func New(cfg Config) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timing == (cluster.Timing{}) {
		cfg.Timing = cluster.DefaultTiming()
	}
	if cfg.Executor == nil {
		return nil, errors.New("agent: new: no executor")
	}
	local, ok := cfg.Peers[cfg.Node]
	if !ok || len(local) == 0 {
		return nil, fmt.Errorf("agent: new: node %q is not among the peers %v", cfg.Node, slices.Sorted(maps.Keys(cfg.Peers)))
	}
	meta, err := encodeMeta(cfg.Report.MACs)
	if err != nil {
		return nil, fmt.Errorf("agent: new: %w", err)
	}
	a := &Agent{
		cfg:     cfg,
		peers:   newPeerTable(cfg.Peers),
		log:     cfg.Logger.With("node", cfg.Node),
		fsm:     newFSM(),
		results: make(chan cluster.Event, 16),
		seen:    make(chan fencing.Event, 64),
		obs:     make(chan raft.Observation, 64),

		raftFailed: map[string]bool{},
		fedReach:   map[string]bool{},
		heard:      map[string]time.Time{},
		healthIn:   make(chan healthReport, 256),
		writes:     make(chan cluster.Command, 16),
		trackIn:    make(chan trackReport, 64),
		fences:     map[string]bool{},
		tracks:     map[trackKey]health.TrackStatus{},
		proposedR:  map[string]time.Time{},
		myHealth:   map[string]healthReport{},
		proposedH:  map[string]time.Time{},
	}
	if a.stores, err = openStores(cfg.DataDir); err != nil {
		return nil, err
	}
	barrier, err := a.stores.lastIndex()
	if err != nil {
		a.stores.close()
		return nil, err
	}
	var srvTLS, cliTLS *tls.Config
	if cfg.TLS != nil {
		if srvTLS, cliTLS, err = clientServerTLS(*cfg.TLS); err != nil {
			a.stores.close()
			return nil, err
		}
	}
	if a.stream, err = listenLinks(local, cfg.RaftPort, a.peers, 300*time.Millisecond, srvTLS, cliTLS); err != nil {
		a.stores.close()
		return nil, err
	}
	if a.msgs, err = newMessenger(cfg.Cluster, cfg.Node, local, cfg.MessagePort, a.peers, cfg.GossipKey, a.log); err != nil {
		a.stream.Close()
		a.stores.close()
		return nil, err
	}
	if a.gossip, err = startGossip(cfg.Node, a.peers, cfg.GossipPort, cfg.GossipKey, meta, cfg.Gossip.orDefault(cfg.Raft.orDefault().Heartbeat/2), a.log.With("component", "gossip")); err != nil {
		a.msgs.close()
		a.stream.Close()
		a.stores.close()
		return nil, err
	}
	if a.raft, err = a.startRaft(); err != nil {
		a.gossip.close()
		a.msgs.close()
		a.stream.Close()
		a.stores.close()
		return nil, err
	}
	var inc [8]byte
	_, _ = rand.Read(inc[:])
	a.core, err = cluster.NewCore(cluster.Config{
		Node:        cfg.Node,
		Nodes:       slices.Sorted(maps.Keys(cfg.Peers)),
		Timing:      cfg.Timing,
		Instances:   cfg.Instances,
		Incarnation: binary.LittleEndian.Uint64(inc[:]),
		Barrier:     barrier,
		Fence:       cfg.Fencer != nil,
		Logger:      a.log,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	if a.report, err = newReporter(cfg.Report, cfg.Node, cfg.Instances, a.log); err != nil {
		a.Close()
		return nil, err
	}
	a.health = cfg.Health
	a.cfgWeight = configuredWeights(cfg.Health)
	a.status = Status{Node: cfg.Node, Holding: map[string]uint64{}, LeaseUntil: map[string]time.Time{}, State: cluster.NewState()}
	return a, nil
}

// errAbandon, as the cause of Run's context, stops the agent as kill -9
// would: nothing is released. In-process tests crash nodes with it.
var errAbandon = errors.New("agent: abandoned without releasing")

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

// Observe hands an observation of the wire (a foreign VRRP advert, an ARP
// reply) to the alert monitor. Safe from any goroutine; it never blocks:
// when the loop is behind, the observation is dropped and logged.
func (a *Agent) Observe(ev fencing.Event) {
	select {
	case a.seen <- ev:
	default:
		a.log.Warn("observation queue full, dropping", "event", fmt.Sprintf("%T", ev))
	}
}

// Holder returns the replicated holder of instance ("" for none).
func (a *Agent) Holder(instance string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if as := a.status.State.Instances[instance]; as.Live() {
		return as.Holder
	}
	return ""
}

// Status returns what the agent knows now.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.status
	s.State = s.State.Clone()
	s.Holding = maps.Clone(s.Holding)
	s.LeaseUntil = maps.Clone(s.LeaseUntil)
	return s
}

func (a *Agent) setState(s *cluster.State) {
	a.mu.Lock()
	a.status.State = s.Clone()
	a.mu.Unlock()
}

// Close stops Raft and closes the sockets and stores. Run calls it.
func (a *Agent) Close() {
	if a.raft != nil {
		if err := a.raft.Shutdown().Error(); err != nil {
			a.log.Warn("raft shutdown", "err", err)
		}
		a.raft = nil
	}
	if a.report != nil {
		a.report.close()
		a.report = nil
	}
	if a.gossip != nil {
		a.gossip.close()
		a.gossip = nil
	}
	if a.msgs != nil {
		a.msgs.close()
		a.msgs = nil
	}
	if a.stream != nil {
		a.stream.Close()
		a.stream = nil
	}
	if a.stores != nil {
		a.stores.close()
		a.stores = nil
	}
}
