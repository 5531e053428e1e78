package agent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"vigil/cluster"
)

// The lease messages travel as single UDP datagrams of JSON, sent on every
// heartbeat link at once: one link down costs nothing, and a duplicate is
// harmless because the core matches grants to requests by RequestID and
// every release is idempotent.
const (
	kindLeaseRequest   = "lease_request"
	kindLeaseGrant     = "lease_grant"
	kindReleaseRequest = "release_request"
	kindPropose        = "propose" // a write forwarded to the leader
	kindMembership     = "membership"
)

type message struct {
	// MAC authenticates the rest of the message with the cluster's key
	// (gossip_key): HMAC-SHA256 over the JSON with MAC empty.
	MAC      []byte            `json:"mac,omitempty"`
	Kind     string            `json:"kind"`
	From     string            `json:"from"`
	Cluster  string            `json:"cluster"`
	Instance string            `json:"instance,omitempty"`
	Epoch    uint64            `json:"epoch,omitempty"`
	ID       cluster.RequestID `json:"id"`
	Command  *cluster.Command  `json:"command,omitempty"`
	// Membership is a Raft configuration change forwarded to the leader.
	Membership *MembersRequest `json:"membership,omitempty"`
}

// maxMessage bounds a datagram; a command is a few hundred bytes.
const maxMessage = 8 << 10

// messenger sends and receives lease messages on every link.
type messenger struct {
	key     []byte // nil: messages are not authenticated
	cluster string
	me      string
	port    int
	peers   *peerTable
	conns   []*net.UDPConn
	in      chan message
	log     *slog.Logger
	wg      sync.WaitGroup
}

// key, when set, authenticates every message (HMAC-SHA256); messages
// without a valid MAC are dropped.
func newMessenger(clusterName, me string, local []string, port int, peers *peerTable, key []byte, log *slog.Logger) (*messenger, error) {
	m := &messenger{key: key, cluster: clusterName, me: me, port: port, peers: peers, in: make(chan message, 256), log: log}
	for _, a := range local {
		ua, err := net.ResolveUDPAddr("udp", net.JoinHostPort(a, fmt.Sprint(port)))
		if err != nil {
			m.close()
			return nil, fmt.Errorf("agent: messages on %s: %w", a, err)
		}
		c, err := net.ListenUDP("udp", ua)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("agent: listen for lease messages on %s port %d: %w", a, port, err)
		}
		m.conns = append(m.conns, c)
	}
	for _, c := range m.conns {
		m.wg.Add(1)
		go m.read(c)
	}
	return m, nil
}

func (m *messenger) read(c *net.UDPConn) {
	defer m.wg.Done()
	buf := make([]byte, maxMessage)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var msg message
		if err := json.Unmarshal(buf[:n], &msg); err != nil {
			m.log.Debug("dropping malformed lease message", "from", from, "err", err)
			continue
		}
		if !m.verify(&msg) {
			m.log.Warn("dropping lease message with a bad or missing MAC (is gossip_key the same on every director?)", "from", from)
			continue
		}
		if msg.Cluster != m.cluster {
			m.log.Warn("dropping lease message from another cluster", "from", from, "cluster", msg.Cluster)
			continue
		}
		if _, ok := m.peers.addrs(msg.From); !ok {
			m.log.Warn("dropping lease message from a non-member", "from", from, "node", msg.From)
			continue
		}
		select {
		case m.in <- msg:
		default:
			m.log.Warn("lease message queue full, dropping", "kind", msg.Kind, "from", msg.From)
		}
	}
}

// send sends msg to node on every link. Errors are logged, not returned:
// the core retries what is lost.
func (m *messenger) send(node string, msg message) {
	msg.From, msg.Cluster = m.me, m.cluster
	m.sign(&msg)
	b, err := json.Marshal(msg)
	if err != nil {
		m.log.Error("encode lease message", "err", err)
		return
	}
	addrs, _ := m.peers.addrs(node)
	for i, a := range addrs {
		if i >= len(m.conns) {
			break
		}
		to, err := net.ResolveUDPAddr("udp", net.JoinHostPort(a, fmt.Sprint(m.port)))
		if err != nil {
			continue
		}
		// Send from the matching link's socket, so each datagram takes its
		// own link.
		if _, err := m.conns[i].WriteToUDP(b, to); err != nil {
			m.log.Debug("send lease message", "to", node, "link", i, "err", err)
		}
	}
}

func (m *messenger) close() {
	for _, c := range m.conns {
		c.Close()
	}
	m.wg.Wait()
}

func (m *messenger) mac(msg message) []byte {
	msg.MAC = nil
	b, _ := json.Marshal(msg)
	h := hmac.New(sha256.New, m.key)
	h.Write(b)
	return h.Sum(nil)
}

func (m *messenger) sign(msg *message) {
	if m.key != nil {
		msg.MAC = m.mac(*msg)
	}
}

func (m *messenger) verify(msg *message) bool {
	if m.key == nil {
		return true
	}
	return len(msg.MAC) > 0 && hmac.Equal(msg.MAC, m.mac(*msg))
}
