package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of the cluster block. doc.go documents each keyword.
const (
	DefaultDataDir           = "/var/lib/vigil"
	DefaultAPIListen         = "127.0.0.1:7070"
	DefaultRaftPort          = 7000
	DefaultGossipPort        = 7001
	DefaultLease             = 800 * time.Millisecond
	DefaultHeartbeat         = 200 * time.Millisecond
	DefaultClockDrift        = 0.01
	DefaultFenceTimeout      = 10 * time.Second
	DefaultDatapath          = "auto"
	DefaultHealthQuorum      = "majority"
	DefaultSnapshotInterval  = 120 * time.Second
	DefaultSnapshotThreshold = 8192
	DefaultSnapshotRetain    = 2
	DefaultWebhookTimeout    = 10 * time.Second
	DefaultWebhookRetry      = 5
)

// Cluster is vigil's `cluster { }` block: the directors and how they talk.
type Cluster struct {
	Name              string         `json:"name"`
	DataDir           string         `json:"data_dir"`
	Nodes             []*ClusterNode `json:"nodes"`
	APIListen         string         `json:"api_listen"`
	RaftPort          int            `json:"raft_port"`
	GossipPort        int            `json:"gossip_port"` // link i uses GossipPort+i
	Lease             Duration       `json:"lease"`
	Heartbeat         Duration       `json:"heartbeat"`
	ClockDrift        float64        `json:"clock_drift"` // fraction: 0.01 is 1%
	TLS               *TLSFiles      `json:"tls,omitempty"`
	GossipKey         []byte         `json:"gossip_key,omitempty"` // 16, 24 or 32 bytes (base64 in the file)
	APIToken          string         `json:"api_token,omitempty"`
	FencePeer         *FenceHook     `json:"fence_peer,omitempty"`
	Webhooks          []*Webhook     `json:"webhooks,omitempty"`
	Datapath          string         `json:"datapath"`      // auto, ipvs or nftables
	HealthQuorum      string         `json:"health_quorum"` // majority, leader or any
	SnapshotInterval  Duration       `json:"snapshot_interval"`
	SnapshotThreshold int            `json:"snapshot_threshold"`
	SnapshotRetain    int            `json:"snapshot_retain"`
	Node              *Node          `json:"-"`
}

// ClusterNode is one director: its name and one address per heartbeat
// link, in link order (link 0 first).
type ClusterNode struct {
	Name      string       `json:"name"`
	Addresses []netip.Addr `json:"address"`
	Pos       Pos          `json:"-"`
}

// TLSFiles are PEM file paths for mutual TLS between directors and on the API.
type TLSFiles struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// FenceHook is the fence_peer block: a command run before taking over a
// VIP from a peer that did not release it.
type FenceHook struct {
	Script   string   `json:"script"`
	Timeout  Duration `json:"timeout"`
	Required bool     `json:"required"` // takeover waits for the hook to succeed
}

// Webhook is a webhook block: every alert and state transition is POSTed
// to URL as JSON, retried.
type Webhook struct {
	URL     string            `json:"url"`
	Timeout Duration          `json:"timeout"` // one POST
	Retry   int               `json:"retry"`   // attempts per notification
	Headers map[string]string `json:"headers,omitempty"`
	Pos     Pos               `json:"-"`
}

// Links returns the number of heartbeat links (addresses per node).
func (c *Cluster) Links() int {
	if len(c.Nodes) == 0 {
		return 0
	}
	return len(c.Nodes[0].Addresses)
}

// NodeByName returns the node called name, or nil.
func (c *Cluster) NodeByName(name string) *ClusterNode {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// LocalNode returns the name of the one cluster node that has an address
// among addrs (the addresses of the local interfaces).
func (c *Config) LocalNode(addrs []net.IP) (string, error) {
	if c.Cluster == nil {
		return "", fmt.Errorf("config: local node: %w", ErrNoCluster)
	}
	var found []string
	for _, n := range c.Cluster.Nodes {
	nodeLoop:
		for _, a := range n.Addresses {
			for _, ip := range addrs {
				if ip2, ok := netip.AddrFromSlice(ip); ok && ip2.Unmap() == a.Unmap() {
					found = append(found, n.Name)
					break nodeLoop
				}
			}
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("config: local node: %w: no node of cluster %q has an address on this host; use --node", ErrNoLocalNode, c.Cluster.Name)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("config: local node: %w: nodes %s all have an address on this host; use --node", ErrNoLocalNode, strings.Join(found, ", "))
}

var clusterTable = table[Cluster]{
	"name":     {fn: func(b *builder, n *Node, c *Cluster) { c.Name, _ = b.str(n) }},
	"data_dir": {fn: func(b *builder, n *Node, c *Cluster) { c.DataDir, _ = b.str(n) }},
	"node": {fn: func(b *builder, n *Node, c *Cluster) {
		if !b.block(n) || !b.nargs(n, 1, 1) {
			return
		}
		cn := &ClusterNode{Name: n.Args[0], Pos: n.Pos}
		apply(b, clusterNodeTable, n.Children, cn, "cluster node block")
		if len(cn.Addresses) == 0 {
			b.errorf(n, "node %s has no address (one per heartbeat link)", cn.Name)
		}
		c.Nodes = append(c.Nodes, cn)
	}},
	"api_listen": {fn: func(b *builder, n *Node, c *Cluster) {
		if s, ok := b.str(n); ok {
			if _, _, err := net.SplitHostPort(s); err != nil {
				b.errorf(n, "%q is not HOST:PORT", s)
				return
			}
			c.APIListen = s
		}
	}},
	"raft_port":   {fn: func(b *builder, n *Node, c *Cluster) { c.RaftPort, _ = b.int1(n, 1, 65535) }},
	"gossip_port": {fn: func(b *builder, n *Node, c *Cluster) { c.GossipPort, _ = b.int1(n, 1, 65535) }},
	"lease":       {fn: func(b *builder, n *Node, c *Cluster) { c.Lease, _ = b.flexDur(n, 3600) }},
	"heartbeat":   {fn: func(b *builder, n *Node, c *Cluster) { c.Heartbeat, _ = b.flexDur(n, 60) }},
	"clock_drift": {fn: func(b *builder, n *Node, c *Cluster) {
		s, ok := b.str(n)
		if !ok {
			return
		}
		pct := strings.HasSuffix(s, "%")
		f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if pct {
			f /= 100
		}
		if err != nil || f < 0 || f >= 0.5 {
			b.errorf(n, "%q is not a drift rate between 0%% and 50%% (e.g. 1%% or 0.01)", s)
			return
		}
		c.ClockDrift = f
	}},
	"tls": {fn: func(b *builder, n *Node, c *Cluster) {
		if !b.block(n) || !b.nargs(n, 0, 0) {
			return
		}
		t := &TLSFiles{}
		apply(b, tlsTable, n.Children, t, "cluster tls block")
		if t.CA == "" || t.Cert == "" || t.Key == "" {
			b.errorf(n, "needs ca, cert and key")
		}
		c.TLS = t
	}},
	"gossip_key": {fn: func(b *builder, n *Node, c *Cluster) {
		s, ok := b.str(n)
		if !ok {
			return
		}
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil || (len(k) != 16 && len(k) != 24 && len(k) != 32) {
			b.errorf(n, "must be 16, 24 or 32 bytes in base64 (e.g. head -c32 /dev/urandom | base64)")
			return
		}
		c.GossipKey = k
	}},
	"api_token": {fn: func(b *builder, n *Node, c *Cluster) { c.APIToken, _ = b.str(n) }},
	"fence_peer": {fn: func(b *builder, n *Node, c *Cluster) {
		if !b.block(n) || !b.nargs(n, 0, 0) {
			return
		}
		f := &FenceHook{Timeout: Duration(DefaultFenceTimeout), Required: true}
		apply(b, fenceTable, n.Children, f, "fence_peer block")
		if f.Script == "" {
			b.errorf(n, "needs a script")
		}
		c.FencePeer = f
	}},
	"webhook": {fn: func(b *builder, n *Node, c *Cluster) {
		if !b.block(n) || !b.nargs(n, 0, 0) {
			return
		}
		w := &Webhook{Timeout: Duration(DefaultWebhookTimeout), Retry: DefaultWebhookRetry, Pos: n.Pos}
		apply(b, webhookTable, n.Children, w, "webhook block")
		if w.URL == "" {
			b.errorf(n, "needs a url")
			return
		}
		c.Webhooks = append(c.Webhooks, w)
	}},
	"datapath": {fn: func(b *builder, n *Node, c *Cluster) {
		c.Datapath, _ = b.oneOf(n, "auto", "ipvs", "nftables")
	}},
	"health_quorum": {fn: func(b *builder, n *Node, c *Cluster) {
		c.HealthQuorum, _ = b.oneOf(n, "majority", "leader", "any")
	}},
	"snapshot_interval":  {fn: func(b *builder, n *Node, c *Cluster) { c.SnapshotInterval, _ = b.flexDur(n, 86400) }},
	"snapshot_threshold": {fn: func(b *builder, n *Node, c *Cluster) { c.SnapshotThreshold, _ = b.int1(n, 1, 1<<30) }},
	"snapshot_retain":    {fn: func(b *builder, n *Node, c *Cluster) { c.SnapshotRetain, _ = b.int1(n, 1, 100) }},
}

var clusterNodeTable = table[ClusterNode]{
	"address": {fn: func(b *builder, n *Node, cn *ClusterNode) {
		if !b.noBlock(n) || !b.nargs(n, 1, -1) {
			return
		}
		for i := range n.Args {
			if a, ok := b.addrArg(n, i); ok {
				cn.Addresses = append(cn.Addresses, a)
			}
		}
	}},
}

var tlsTable = table[TLSFiles]{
	"ca":   {fn: func(b *builder, n *Node, t *TLSFiles) { t.CA, _ = b.str(n) }},
	"cert": {fn: func(b *builder, n *Node, t *TLSFiles) { t.Cert, _ = b.str(n) }},
	"key":  {fn: func(b *builder, n *Node, t *TLSFiles) { t.Key, _ = b.str(n) }},
}

var fenceTable = table[FenceHook]{
	"script":   {fn: func(b *builder, n *Node, f *FenceHook) { f.Script, _ = b.joined(n) }},
	"timeout":  {fn: func(b *builder, n *Node, f *FenceHook) { f.Timeout, _ = b.flexDur(n, 3600) }},
	"required": {fn: func(b *builder, n *Node, f *FenceHook) { f.Required, _ = b.flag(n) }},
}

var webhookTable = table[Webhook]{
	"url": {fn: func(b *builder, n *Node, w *Webhook) {
		s, ok := b.str(n)
		if !ok {
			return
		}
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			b.errorf(n, "%q is not an absolute http or https URL (e.g. https://alerts.example.com/vigil)", s)
			return
		}
		w.URL = s
	}},
	"timeout": {fn: func(b *builder, n *Node, w *Webhook) {
		if d, ok := b.flexDur(n, 3600); ok && d <= 0 {
			b.errorf(n, "must be more than 0")
		} else if ok {
			w.Timeout = d
		}
	}},
	"retry": {fn: func(b *builder, n *Node, w *Webhook) {
		if v, ok := b.int1(n, 1, 100); ok {
			w.Retry = v
		}
	}},
	"header": {fn: func(b *builder, n *Node, w *Webhook) {
		if !b.noBlock(n) || !b.nargs(n, 2, -1) {
			return
		}
		if strings.ContainsAny(n.Args[0], " :\t") {
			b.errorf(n, "%q is not a header name", n.Args[0])
			return
		}
		if w.Headers == nil {
			w.Headers = map[string]string{}
		}
		w.Headers[n.Args[0]] = strings.Join(n.Args[1:], " ")
	}},
}

// flexDur reads seconds ("2", "0.2") or a Go duration ("200ms", "2s").
func (b *builder) flexDur(n *Node, max float64) (Duration, bool) {
	if !b.noBlock(n) || !b.nargs(n, 1, 1) {
		return 0, false
	}
	if d, err := time.ParseDuration(n.Args[0]); err == nil {
		if d < 0 || d.Seconds() > max {
			b.errorf(n, "%s out of range 0-%gs", n.Args[0], max)
			return 0, false
		}
		return Duration(d), true
	}
	return b.durArg(n, 0, max)
}

// oneOf reads a single argument that must be one of choices.
func (b *builder) oneOf(n *Node, choices ...string) (string, bool) {
	s, ok := b.str(n)
	if !ok {
		return "", false
	}
	for _, c := range choices {
		if s == c {
			return s, true
		}
	}
	msg := fmt.Sprintf("%q is not one of %s", s, strings.Join(choices, ", "))
	if sg := suggest(s, choices); sg != "" {
		msg += fmt.Sprintf("; did you mean %q?", sg)
	}
	b.errorf(n, "%s", msg)
	return "", false
}

func (b *builder) cluster(n *Node) *Cluster {
	c := &Cluster{
		DataDir:           DefaultDataDir,
		APIListen:         DefaultAPIListen,
		RaftPort:          DefaultRaftPort,
		GossipPort:        DefaultGossipPort,
		Lease:             Duration(DefaultLease),
		Heartbeat:         Duration(DefaultHeartbeat),
		ClockDrift:        DefaultClockDrift,
		Datapath:          DefaultDatapath,
		HealthQuorum:      DefaultHealthQuorum,
		SnapshotInterval:  Duration(DefaultSnapshotInterval),
		SnapshotThreshold: DefaultSnapshotThreshold,
		SnapshotRetain:    DefaultSnapshotRetain,
		Node:              n,
	}
	if !b.block(n) || !b.nargs(n, 0, 0) {
		return c
	}
	apply(b, clusterTable, n.Children, c, "cluster block")
	return c
}

// validateCluster checks the cluster block as a whole.
func validateCluster(b *builder, c *Cluster) {
	n := c.Node
	if c.Name == "" {
		b.errorf(n, "missing name")
	}
	if len(c.Nodes) == 0 {
		b.errorf(n, "no node blocks: list every director with node NAME { address ... }")
		return
	}
	seen := map[string]*ClusterNode{}
	addrs := map[netip.Addr]*ClusterNode{}
	links := len(c.Nodes[0].Addresses)
	for _, cn := range c.Nodes {
		if prev := seen[cn.Name]; prev != nil {
			b.errorAt(cn.Pos, "node", "node %s defined twice (first at %s)", cn.Name, prev.Pos)
		}
		seen[cn.Name] = cn
		if len(cn.Addresses) != links && len(cn.Addresses) > 0 {
			b.errorAt(cn.Pos, "node", "node %s has %d address(es) but node %s has %d: every node needs one address per heartbeat link",
				cn.Name, len(cn.Addresses), c.Nodes[0].Name, links)
		}
		for _, a := range cn.Addresses {
			if prev := addrs[a]; prev != nil {
				b.errorAt(cn.Pos, "node", "address %s of node %s is also node %s's", a, cn.Name, prev.Name)
			}
			addrs[a] = cn
		}
	}
	if len(c.Nodes)%2 == 0 {
		b.warnf(n, "%d nodes: an even number tolerates no more failures than %d; use an odd number", len(c.Nodes), len(c.Nodes)-1)
	}
	if c.Lease < 3*c.Heartbeat {
		b.errorf(n, "lease %s s must be at least 3 heartbeats (heartbeat %s s)", c.Lease, c.Heartbeat)
	}
	if c.RaftPort >= c.GossipPort && c.RaftPort < c.GossipPort+links {
		b.errorf(n, "raft_port %d collides with gossip ports %d-%d (one per link)", c.RaftPort, c.GossipPort, c.GossipPort+links-1)
	}
	if c.GossipPort+links-1 > 65535 {
		b.errorf(n, "gossip_port %d + %d links exceeds 65535", c.GossipPort, links)
	}
}
