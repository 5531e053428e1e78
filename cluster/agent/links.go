package agent

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// linkStream is the Raft stream layer over one or more heartbeat links.
// Raft addresses a server by node name; Dial resolves the name to the
// node's addresses, one per link, and tries them in link order, so a peer
// stays reachable while any one link works. Accept merges the listeners
// of every local link.
type linkStream struct {
	port     int
	peers    *peerTable    // node name → address per link
	perLink  time.Duration // dial timeout of one link
	srvTLS   *tls.Config   // nil: plain TCP
	cliTLS   *tls.Config
	lns      []net.Listener
	conns    chan net.Conn
	done     chan struct{}
	closeErr error
	once     sync.Once
	wg       sync.WaitGroup
}

// listenLinks listens on port on each local link address.
// srvTLS and cliTLS, when set, make every connection mutual TLS.
func listenLinks(local []string, port int, peers *peerTable, perLink time.Duration, srvTLS, cliTLS *tls.Config) (*linkStream, error) {
	s := &linkStream{port: port, peers: peers, perLink: perLink, srvTLS: srvTLS, cliTLS: cliTLS, conns: make(chan net.Conn), done: make(chan struct{})}
	for _, a := range local {
		ln, err := net.Listen("tcp", net.JoinHostPort(a, fmt.Sprint(port)))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("agent: listen for raft on %s port %d: %w", a, port, err)
		}
		s.lns = append(s.lns, ln)
	}
	for _, ln := range s.lns {
		s.wg.Add(1)
		go s.accept(ln)
	}
	return s, nil
}

func (s *linkStream) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		if s.srvTLS != nil {
			// The handshake runs on first use, inside raft's own
			// connection handler: Accept stays quick.
			c = tls.Server(c, s.srvTLS)
		}
		select {
		case s.conns <- c:
		case <-s.done:
			c.Close()
			return
		}
	}
}

// Accept returns the next connection from any link.
func (s *linkStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// Close stops every listener and waits for the accept loops.
func (s *linkStream) Close() error {
	s.once.Do(func() {
		close(s.done)
		for _, ln := range s.lns {
			if err := ln.Close(); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
		s.wg.Wait()
	})
	return s.closeErr
}

// Addr is the first link's listener address (raft only logs it).
func (s *linkStream) Addr() net.Addr {
	if len(s.lns) == 0 {
		return &net.TCPAddr{}
	}
	return s.lns[0].Addr()
}

// Dial connects to node address (a node name) over the first link that
// answers, in link order.
func (s *linkStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	addrs, ok := s.peers.addrs(string(address))
	if !ok {
		return nil, fmt.Errorf("agent: dial %s: not a cluster member", address)
	}
	var errs []error
	deadline := time.Now().Add(timeout)
	for i, a := range addrs {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		per := min(left, s.perLink)
		if i == len(addrs)-1 {
			per = left
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(a, fmt.Sprint(s.port)), per)
		if err == nil && s.cliTLS != nil {
			c, err = tlsDial(c, string(address), s.cliTLS, time.Now().Add(per))
		}
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("link %d (%s): %w", i, a, err))
	}
	return nil, fmt.Errorf("agent: dial %s on every link: %w", address, errors.Join(errs...))
}
