package agent

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// gossip runs one memberlist pool per heartbeat link. It is a hint, never
// the authority: a peer that gossip sees down on every link makes the
// leader look again sooner than Raft's heartbeats would, but nothing moves
// before the peer's lease has surely run out. A peer down on some links
// only is "degraded" and moves nothing.
type gossip struct {
	me     string
	addrs  *peerTable // node → address per link
	port   int
	lists  []*memberlist.Memberlist
	log    *slog.Logger
	notify chan struct{} // a link state changed (coalesced)

	mu    sync.Mutex
	alive []map[string]bool // per link: peer → alive
	since map[string]time.Time
	macs  map[string][]net.HardwareAddr // peer → MACs from its metadata
	meta  *metaDelegate                 // this node's metadata

	stop, done chan struct{} // the rejoin loop
	updates    sync.WaitGroup
}

// Link states of a peer, over all links.
const (
	LinkUp       = "up"
	LinkDown     = "down"
	LinkDegraded = "degraded"
)

// GossipTiming tunes memberlist for directors on a LAN.
type GossipTiming struct {
	Probe, ProbeTimeout, Gossip time.Duration
	SuspicionMult               int
}

func (t GossipTiming) orDefault(heartbeat time.Duration) GossipTiming {
	if t.Probe == 0 {
		t.Probe = max(heartbeat, 100*time.Millisecond)
	}
	if t.ProbeTimeout == 0 {
		t.ProbeTimeout = t.Probe / 2
	}
	if t.Gossip == 0 {
		t.Gossip = t.Probe / 2
	}
	if t.SuspicionMult == 0 {
		t.SuspicionMult = 3
	}
	return t
}

// startGossip joins one pool per link: link i binds the node's i-th
// address on port+i and joins the peers' i-th addresses. meta is this
// node's metadata (see encodeMeta).
func startGossip(me string, peers *peerTable, port int, key, meta []byte, t GossipTiming, lg *slog.Logger) (*gossip, error) {
	g := &gossip{me: me, addrs: peers, port: port, log: lg, notify: make(chan struct{}, 1), since: map[string]time.Time{},
		macs: map[string][]net.HardwareAddr{}, meta: &metaDelegate{b: meta}}
	local, _ := peers.addrs(me)
	for i, addr := range local {
		g.alive = append(g.alive, map[string]bool{})
		c := memberlist.DefaultLANConfig()
		c.Name = me
		c.BindAddr, c.BindPort = addr, port+i
		c.AdvertiseAddr, c.AdvertisePort = addr, port+i
		c.ProbeInterval, c.ProbeTimeout = t.Probe, t.ProbeTimeout
		c.GossipInterval = t.Gossip
		c.SuspicionMult = t.SuspicionMult
		c.PushPullInterval = 10 * time.Second
		c.Label = fmt.Sprintf("vigil-link%d", i)
		c.SecretKey = key
		c.Events = &linkEvents{g: g, link: i}
		c.Delegate = g.meta
		c.Logger = log.New(io.Discard, "", 0)
		c.DNSConfigPath = "/dev/null"
		ml, err := memberlist.Create(c)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("agent: gossip on link %d (%s:%d): %w", i, addr, port+i, err)
		}
		g.lists = append(g.lists, ml)
		var join []string
		for n, as := range peers.all() {
			if n != me && i < len(as) {
				join = append(join, net.JoinHostPort(as[i], fmt.Sprint(port+i)))
			}
		}
		if _, err := ml.Join(join); err != nil {
			// Peers not up yet: they join us when they start.
			lg.Debug("gossip join", "link", i, "err", err)
		}
	}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go g.rejoin(t.Probe * 5)
	return g, nil
}

// rejoin asks, every period, each link's pool to join the peers it does
// not see alive. memberlist alone only finds a peer it declared dead
// again at its next push-pull (many seconds): a link that comes back must
// clear its "degraded" alert sooner than that.
func (g *gossip) rejoin(period time.Duration) {
	defer close(g.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		for i, ml := range g.lists {
			var join []string
			g.mu.Lock()
			for n, as := range g.addrs.all() {
				if n != g.me && i < len(as) && !g.alive[i][n] {
					join = append(join, net.JoinHostPort(as[i], fmt.Sprint(g.port+i)))
				}
			}
			g.mu.Unlock()
			if len(join) > 0 {
				_, _ = ml.Join(join) // unreachable peers fail; try again next period
			}
		}
	}
}

type linkEvents struct {
	g    *gossip
	link int
}

func (e *linkEvents) NotifyJoin(n *memberlist.Node) {
	e.g.setMeta(n.Name, n.Meta)
	e.g.set(e.link, n.Name, true)
}
func (e *linkEvents) NotifyLeave(n *memberlist.Node) { e.g.set(e.link, n.Name, false) }
func (e *linkEvents) NotifyUpdate(n *memberlist.Node) {
	if e.g.setMeta(n.Name, n.Meta) {
		e.g.poke()
	}
}

// metaDelegate is a memberlist Delegate that only announces this node's
// metadata: gossip carries no messages or state of vigil's.
type metaDelegate struct {
	mu sync.Mutex
	b  []byte
}

func (d *metaDelegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.b) > limit {
		return nil // encodeMeta keeps it within the limit
	}
	return d.b
}
func (*metaDelegate) NotifyMsg([]byte)                           {}
func (*metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (*metaDelegate) LocalState(join bool) []byte                { return nil }
func (*metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

// setLocalMeta changes this node's metadata (a live configuration change
// gave it other MACs) and gossips it on every link in the background.
func (g *gossip) setLocalMeta(meta []byte) {
	g.meta.mu.Lock()
	same := string(g.meta.b) == string(meta)
	g.meta.b = meta
	g.meta.mu.Unlock()
	if same {
		return
	}
	for i, ml := range g.lists {
		g.updates.Go(func() {
			if err := ml.UpdateNode(time.Second); err != nil {
				g.log.Warn("gossiping this node's new MACs", "link", i, "err", err)
			}
		})
	}
}

// setMeta records a peer's metadata and reports whether its MACs changed.
func (g *gossip) setMeta(node string, meta []byte) bool {
	if node == g.me {
		return false
	}
	macs, err := decodeMeta(meta)
	if err != nil {
		g.log.Warn("ignoring a peer's gossip metadata", "peer", node, "err", err)
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if fmt.Sprint(g.macs[node]) == fmt.Sprint(macs) {
		return false
	}
	g.macs[node] = macs
	return true
}

func (g *gossip) poke() {
	select {
	case g.notify <- struct{}{}:
	default:
	}
}

func (g *gossip) set(link int, node string, alive bool) {
	if node == g.me {
		return
	}
	g.mu.Lock()
	before := g.stateLocked(node)
	g.alive[link][node] = alive
	after := g.stateLocked(node)
	if before != after {
		g.since[node] = time.Now()
	}
	g.mu.Unlock()
	g.log.Info("gossip", "link", link, "peer", node, "alive", alive, "peer_state", after)
	g.poke()
}

// stateLocked summarizes node's links: up, degraded or down.
func (g *gossip) stateLocked(node string) string {
	up := 0
	for _, m := range g.alive {
		if m[node] {
			up++
		}
	}
	switch {
	case up == len(g.alive):
		return LinkUp
	case up == 0:
		return LinkDown
	}
	return LinkDegraded
}

// PeerLinks is one peer's link states as gossip sees them.
type PeerLinks struct {
	Node  string
	State string // up, degraded, down
	Since time.Time
	Links []bool // per link: alive
	// MACs are the MACs the peer answers ARP with for the VIPs, as its
	// gossip metadata announced them (nil until then).
	MACs []net.HardwareAddr
}

func (g *gossip) peers(names []string) []PeerLinks {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []PeerLinks
	for _, n := range names {
		if n == g.me {
			continue
		}
		p := PeerLinks{Node: n, State: g.stateLocked(n), Since: g.since[n], MACs: g.macs[n]}
		for _, m := range g.alive {
			p.Links = append(p.Links, m[n])
		}
		out = append(out, p)
	}
	return out
}

func (g *gossip) close() {
	if g.stop != nil {
		close(g.stop)
		<-g.done
		g.stop = nil
	}
	g.updates.Wait()
	for _, ml := range g.lists {
		_ = ml.Leave(100 * time.Millisecond)
		_ = ml.Shutdown()
	}
}
