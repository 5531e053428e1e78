package agent

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// peerTable is the address book of the cluster block: every node's
// addresses, one per heartbeat link in link order. The Raft transport,
// the lease messages and gossip all resolve nodes through one table, so
// a configuration that adds a node to the cluster block (before vigil
// members add) reaches them all at once. Safe for concurrent use.
type peerTable struct {
	mu sync.RWMutex
	m  map[string][]string
}

func newPeerTable(m map[string][]string) *peerTable {
	return &peerTable{m: maps.Clone(m)}
}

// addrs returns node's addresses and whether it is in the table.
func (p *peerTable) addrs(node string) ([]string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	a, ok := p.m[node]
	return a, ok
}

// names returns every node, sorted.
func (p *peerTable) names() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Sorted(maps.Keys(p.m))
}

// all returns a copy of the table.
func (p *peerTable) all() map[string][]string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return maps.Clone(p.m)
}

// set replaces the table.
func (p *peerTable) set(m map[string][]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m = maps.Clone(m)
}

// peerAddrs returns node's addresses (nil for a node not in the table).
func (a *Agent) peerAddrs(node string) []string {
	addrs, _ := a.peers.addrs(node)
	return addrs
}

// setPeers applies a live change of the cluster block's nodes: the
// transport, lease messages and gossip resolve the new table at once, and
// the detectors learn the new advert sources. It runs on the loop (from
// OnConfig). Raft membership does not change here: vigil members add and
// remove do that.
func (a *Agent) setPeers(peers map[string][]string, src map[string]map[string]netip.Addr) {
	if !maps.EqualFunc(a.peers.all(), peers, slices.Equal) {
		a.log.Info("cluster block nodes changed", "nodes", slices.Sorted(maps.Keys(peers)))
		a.peers.set(peers)
		a.feedReach(time.Now(), false)
	}
	a.report.setSources(src)
}
