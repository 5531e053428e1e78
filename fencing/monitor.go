package fencing

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"time"
)

// MonitorConfig configures a Monitor. Zero fields take the defaults noted.
type MonitorConfig struct {
	// Node is this director's name: the subject of its own quorum_lost and
	// config_stale alerts when an event leaves Node empty.
	Node string
	// FlapMoves and FlapWindow: more than FlapMoves moves of one instance
	// within FlapWindow raise vip_flapping (defaults 3 and 10 minutes).
	FlapMoves  int
	FlapWindow time.Duration
	// Quiet clears a rogue_advert or arp_conflict alert once no offending
	// packet has been seen for this long (default 10s: a few advert
	// intervals).
	Quiet time.Duration
	// HandoverGrace is how long the previous holder's adverts and ARP
	// replies are tolerated after a move (default 3s).
	HandoverGrace time.Duration
}

func (c MonitorConfig) withDefaults() MonitorConfig {
	if c.FlapMoves <= 0 {
		c.FlapMoves = 3
	}
	if c.FlapWindow <= 0 {
		c.FlapWindow = 10 * time.Minute
	}
	if c.Quiet <= 0 {
		c.Quiet = 10 * time.Second
	}
	if c.HandoverGrace <= 0 {
		c.HandoverGrace = 3 * time.Second
	}
	return c
}

// Event is an input of the Monitor. The concrete types are
// InstanceConfigured, InstanceRemoved, NodeIdentity, HolderChanged, AdvertObservation,
// ARPObservation, QuorumChanged, LinkChanged, FenceOutcome and
// ConfigApplied.
type Event interface{ monitorEvent() }

// InstanceConfigured declares (or redeclares) an instance's VRID and VIPs.
type InstanceConfigured struct {
	Name string
	VRID uint8
	VIPs []netip.Addr
}

// InstanceRemoved forgets an instance a configuration change removed: its
// VRID and VIPs are no longer judged.
type InstanceRemoved struct{ Name string }

// HolderChanged reports the replicated holder of an instance (Holder.Node
// empty: released).
type HolderChanged struct {
	At       time.Time
	Instance string
	Holder   Holder
}

// QuorumChanged reports whether Node (empty: this director) reaches a
// quorum; Reachable and Members are evidence.
type QuorumChanged struct {
	At                 time.Time
	Node               string
	Quorum             bool
	Reachable, Members int
}

// LinkChanged reports the state of one heartbeat link to a peer. The
// Monitor learns a peer's links from these events: report every link's
// initial state.
type LinkChanged struct {
	At         time.Time
	Peer, Link string
	Up         bool
}

// FenceOutcome reports one attempt of a fence-peer hook against Node for
// Instance; Err nil is success (and clears fence_failed).
type FenceOutcome struct {
	At       time.Time
	Node     string
	Instance string
	Epoch    uint64
	Attempt  int
	Err      error
}

// ConfigApplied reports the configuration version a director applies and
// the cluster's current one (versions are Raft indexes or serials: larger
// is newer). Node empty means this director.
type ConfigApplied struct {
	At               time.Time
	Node             string
	Applied, Cluster uint64
}

func (InstanceConfigured) monitorEvent() {}
func (InstanceRemoved) monitorEvent()    {}
func (HolderChanged) monitorEvent()      {}
func (AdvertObservation) monitorEvent()  {}
func (ARPObservation) monitorEvent()     {}
func (QuorumChanged) monitorEvent()      {}
func (LinkChanged) monitorEvent()        {}
func (FenceOutcome) monitorEvent()       {}
func (ConfigApplied) monitorEvent()      {}

// Op is what an Action does.
type Op int

// The operations.
const (
	Raise Op = iota + 1
	Clear
)

func (o Op) String() string {
	switch o {
	case Raise:
		return "raise"
	case Clear:
		return "clear"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Action is an output of the Monitor: raise a new alert or clear one (the
// cleared alert has Resolved set).
type Action struct {
	Op    Op
	Alert Alert
}

func (a Action) String() string { return a.Op.String() + " " + a.Alert.String() }

// Monitor is the deterministic core of split-brain monitoring. It turns
// observations into de-duplicated alerts: at most one open alert per
// Subject; repeated observations only update the open alert (Count, Last,
// Evidence); an alert clears when its condition goes away.
//
// It starts no goroutines, does no I/O and never reads the clock: time
// comes from the events and from Tick. Not safe for concurrent use; the
// driver serialises calls:
//
//  1. Step every event, Tick on a timer (once a second is plenty).
//  2. Ready returns the actions since the last Advance, in order.
//  3. Deliver them (log, metrics, sinks), then call Advance.
type Monitor struct {
	cfg      MonitorConfig
	holders  HolderTable
	open     map[Subject]*Alert
	links    map[string]map[string]bool // peer -> link -> up
	flap     FlapDetector
	lastOwn  map[string]string         // instance -> last non-empty holder node
	members  map[string]identity       // director -> what identifies it
	deferred map[string]*deferredClaim // packets from directors, by subject
	pending  []Action
}

// NewMonitor returns a Monitor with no instances and no open alerts.
func NewMonitor(cfg MonitorConfig) *Monitor {
	cfg = cfg.withDefaults()
	return &Monitor{
		cfg:     cfg,
		holders: HolderTable{},
		open:    map[Subject]*Alert{},
		links:   map[string]map[string]bool{},
		flap:    FlapDetector{Window: cfg.FlapWindow, MaxMoves: cfg.FlapMoves},
		lastOwn: map[string]string{},
		members: map[string]identity{}, deferred: map[string]*deferredClaim{},
	}
}

// Step feeds one event. It returns an error wrapping ErrBadEvent for an
// event missing a field it needs; the event is then ignored.
func (m *Monitor) Step(e Event) error {
	bad := func(format string, args ...any) error {
		return &Error{Op: "monitor step", Err: fmt.Errorf("%w: "+format, append([]any{ErrBadEvent}, args...)...)}
	}
	switch e := e.(type) {
	case InstanceConfigured:
		if e.Name == "" {
			return bad("InstanceConfigured without a name")
		}
		ih := m.holders[e.Name]
		ih.VRID, ih.VIPs = e.VRID, append([]netip.Addr(nil), e.VIPs...)
		m.holders[e.Name] = ih
	case InstanceRemoved:
		delete(m.holders, e.Name)
	case HolderChanged:
		if e.Instance == "" {
			return bad("HolderChanged without an instance")
		}
		m.holderChanged(e)
	case NodeIdentity:
		if e.Node == "" {
			return bad("NodeIdentity without a node")
		}
		m.setIdentity(e)
	case AdvertObservation:
		m.observe(e, e.At)
	case ARPObservation:
		m.observe(e, e.At)
	case QuorumChanged:
		node := e.Node
		if node == "" {
			node = m.cfg.Node
		}
		a := newAlert(KindQuorumLost, e.At, fmt.Sprintf("%s reaches %d of %d directors: no quorum", node, e.Reachable, e.Members),
			map[string]string{"reachable": strconv.Itoa(e.Reachable), "members": strconv.Itoa(e.Members)})
		a.Node = node
		m.set(a, !e.Quorum, e.At)
	case LinkChanged:
		if e.Peer == "" || e.Link == "" {
			return bad("LinkChanged needs a peer and a link (got %q, %q)", e.Peer, e.Link)
		}
		if m.links[e.Peer] == nil {
			m.links[e.Peer] = map[string]bool{}
		}
		m.links[e.Peer][e.Link] = e.Up
		m.reconcileLinks(e.Peer, e.At)
	case FenceOutcome:
		if e.Node == "" {
			return bad("FenceOutcome without a node")
		}
		ev := map[string]string{"attempt": strconv.Itoa(e.Attempt)}
		msg := fmt.Sprintf("fence hook for %s (instance %s, epoch %d) succeeded", e.Node, e.Instance, e.Epoch)
		if e.Err != nil {
			ev["error"] = e.Err.Error()
			msg = fmt.Sprintf("fence hook for %s (instance %s, epoch %d) failed, attempt %d: %v", e.Node, e.Instance, e.Epoch, e.Attempt, e.Err)
		}
		a := newAlert(KindFenceFailed, e.At, msg, ev)
		a.Node, a.Instance, a.Epoch = e.Node, e.Instance, e.Epoch
		m.set(a, e.Err != nil, e.At)
	case ConfigApplied:
		node := e.Node
		if node == "" {
			node = m.cfg.Node
		}
		a := newAlert(KindConfigStale, e.At, fmt.Sprintf("%s applies configuration %d, the cluster's is %d", node, e.Applied, e.Cluster),
			map[string]string{"applied": strconv.FormatUint(e.Applied, 10), "cluster": strconv.FormatUint(e.Cluster, 10)})
		a.Node = node
		m.set(a, e.Applied < e.Cluster, e.At)
	case nil:
		return bad("nil event")
	default:
		return bad("unknown event type %T", e)
	}
	return nil
}

func (m *Monitor) holderChanged(e HolderChanged) {
	ih := m.holders[e.Instance]
	if ih.Holder.Node != e.Holder.Node && ih.Holder.Node != "" {
		ih.Previous, ih.PreviousUntil = ih.Holder, e.At.Add(m.cfg.HandoverGrace)
	}
	ih.Holder = m.withIdentity(e.Holder)
	m.holders[e.Instance] = ih

	// Packets from the new holder that raced its announcement are not rogue.
	var stale []*Alert
	for s, a := range m.open {
		if s.Instance != e.Instance {
			continue
		}
		src, _ := netip.ParseAddr(s.Peer)
		mac, _ := net.ParseMAC(s.Peer)
		if (s.Kind == KindRogueAdvert && ih.Holder.hasAddr(src)) || (s.Kind == KindARPConflict && ih.Holder.hasMAC(mac)) {
			stale = append(stale, a)
		}
	}
	m.clearSorted(stale, e.At)

	if e.Holder.Node == "" {
		return
	}
	if last, ok := m.lastOwn[e.Instance]; ok && last != e.Holder.Node {
		n, flapping := m.flap.Move(e.Instance, e.At)
		a := newAlert(KindVIPFlapping, e.At, fmt.Sprintf("instance %s moved %d times within %v (now on %s)", e.Instance, n, m.cfg.FlapWindow, e.Holder.Node),
			map[string]string{"moves": strconv.Itoa(n), "window": m.cfg.FlapWindow.String(), "max_moves": strconv.Itoa(m.cfg.FlapMoves), "holder": e.Holder.Node})
		a.Instance, a.Epoch = e.Instance, e.Holder.Epoch
		if flapping {
			m.raise(a)
		}
	}
	m.lastOwn[e.Instance] = e.Holder.Node
}

// reconcileLinks keeps link_degraded (some links down) and peer_lost (all
// down) consistent with the link table of peer.
func (m *Monitor) reconcileLinks(peer string, at time.Time) {
	links := m.links[peer]
	names := make([]string, 0, len(links))
	var down []string
	for l, up := range links {
		names = append(names, l)
		if !up {
			down = append(down, l)
		}
	}
	sort.Strings(names)
	sort.Strings(down)
	allDown := len(down) == len(names)
	lost := newAlert(KindPeerLost, at, fmt.Sprintf("peer %s unreachable on every link (%v)", peer, down),
		map[string]string{"links_down": fmt.Sprint(down)})
	lost.Peer = peer
	m.set(lost, allDown, at)
	for _, l := range names {
		a := newAlert(KindLinkDegraded, at, fmt.Sprintf("heartbeat link %s to %s is down; %d of %d links down", l, peer, len(down), len(names)),
			map[string]string{"links_down": strconv.Itoa(len(down)), "links": strconv.Itoa(len(names))})
		a.Peer, a.Link = peer, l
		m.set(a, !links[l] && !allDown, at)
	}
}

// set raises a when cond holds and clears its subject otherwise.
func (m *Monitor) set(a Alert, cond bool, at time.Time) {
	if cond {
		m.raise(a)
		return
	}
	if open, ok := m.open[a.Subject()]; ok {
		m.clear(open, at)
	}
}

// raise opens a, or folds it into the open alert of its subject.
func (m *Monitor) raise(a Alert) {
	s := a.Subject()
	if open, ok := m.open[s]; ok {
		open.Count++
		open.Last = a.Last
		open.Evidence, open.Message, open.Epoch = a.Evidence, a.Message, a.Epoch
		return
	}
	cp := a
	m.open[s] = &cp
	m.pending = append(m.pending, Action{Op: Raise, Alert: cp})
}

func (m *Monitor) clear(a *Alert, at time.Time) {
	delete(m.open, a.Subject())
	c := *a
	c.Resolved, c.ResolvedAt = true, at
	m.pending = append(m.pending, Action{Op: Clear, Alert: c})
}

// Tick advances time to now: packets from directors whose handover grace
// is over are judged, packet-driven alerts clear after the quiet period,
// vip_flapping clears once the window holds no more than FlapMoves moves.
func (m *Monitor) Tick(now time.Time) {
	m.judgeDeferred(now)
	var expired []*Alert
	for _, a := range m.open {
		switch a.Kind {
		case KindRogueAdvert, KindARPConflict:
			if now.Sub(a.Last) >= m.cfg.Quiet {
				expired = append(expired, a)
			}
		case KindVIPFlapping:
			if _, flapping := m.flap.Count(a.Instance, now); !flapping {
				expired = append(expired, a)
			}
		}
	}
	m.clearSorted(expired, now)
}

// clearSorted clears alerts in subject order, so that the actions do not
// depend on map iteration order.
func (m *Monitor) clearSorted(as []*Alert, at time.Time) {
	sort.Slice(as, func(i, j int) bool { return as[i].Subject().String() < as[j].Subject().String() })
	for _, a := range as {
		m.clear(a, at)
	}
}

// Ready returns the actions produced since the last Advance, in order.
func (m *Monitor) Ready() []Action { return m.pending }

// Advance acknowledges the actions Ready returned.
func (m *Monitor) Advance() { m.pending = nil }

// HasReady reports whether Ready would return actions.
func (m *Monitor) HasReady() bool { return len(m.pending) > 0 }

// Open returns the open alerts, ordered by subject.
func (m *Monitor) Open() []Alert {
	out := make([]Alert, 0, len(m.open))
	for _, a := range m.open {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject().String() < out[j].Subject().String() })
	return out
}

// Holders returns a copy of the holder table the detectors use.
func (m *Monitor) Holders() HolderTable {
	out := make(HolderTable, len(m.holders))
	for k, v := range m.holders {
		out[k] = v
	}
	return out
}
