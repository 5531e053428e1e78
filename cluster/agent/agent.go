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
