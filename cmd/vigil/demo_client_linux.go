package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"golang.org/x/net/websocket"

	"vigil/test/netns"
)

// httpGet fetches http://addr/ from inside host over a new connection and
// returns the first line of the body (the real server's name).
func httpGet(h *netns.Host, addr string, timeout time.Duration) (string, error) {
	body, err := h.Get(addr, "/", timeout)
	name, _, _ := strings.Cut(body, "\n")
	return strings.TrimSpace(name), err
}

// whoAnswers sends one ARP request for vip from the host's eth0 and
// returns the MACs that replied within 60 ms: who serves the VIP now. (A
// dead director's address may linger on its interface for a second or
// two, but its nftables fence keeps it from answering.)
func whoAnswers(h *netns.Host, vip netip.Addr) ([]string, error) {
	var macs []string
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Request(vip); err != nil {
			return err
		}
		seen := map[string]bool{}
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Millisecond))
		for {
			p, _, err := c.Read()
			if err != nil {
				break
			}
			if p.Operation == arp.OperationReply && p.SenderIP == vip && !seen[p.SenderHardwareAddr.String()] {
				seen[p.SenderHardwareAddr.String()] = true
				macs = append(macs, p.SenderHardwareAddr.String())
			}
		}
		return nil
	})
	return macs, err
}

// wsWatch holds one WebSocket through the VIP, sends a message every
// 50 ms, and records what came back: which servers answered, the longest
// silence, and whether the connection broke.
type wsWatch struct {
	conn *websocket.Conn

	mu      sync.Mutex
	servers map[string]int
	last    time.Time
	maxGap  time.Duration
	gapAt   time.Time
	sent    int
	got     int
	err     error
	done    chan struct{}
	stopped chan struct{}
}

func openWS(h *netns.Host, addr string) (*wsWatch, error) {
	w := &wsWatch{servers: map[string]int{}, done: make(chan struct{}), stopped: make(chan struct{})}
	err := h.Do(func() error {
		cfg, err := websocket.NewConfig("ws://"+addr+"/ws", "http://"+addr)
		if err != nil {
			return err
		}
		cfg.Dialer = &net.Dialer{Timeout: 2 * time.Second}
		w.conn, err = websocket.DialConfig(cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open WebSocket to %s: %w", addr, err)
	}
	w.last = time.Now()
	go w.read()
	go w.write()
	return w, nil
}

func (w *wsWatch) read() {
	defer close(w.stopped)
	for {
		var msg string
		if err := websocket.Message.Receive(w.conn, &msg); err != nil {
			w.fail(err)
			return
		}
		now := time.Now()
		w.mu.Lock()
		if gap := now.Sub(w.last); gap > w.maxGap {
			w.maxGap, w.gapAt = gap, w.last
		}
		w.last = now
		w.got++
		if name, _, ok := strings.Cut(msg, " "); ok {
			w.servers[name]++
		}
		w.mu.Unlock()
	}
}

func (w *wsWatch) write() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		_ = w.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := websocket.Message.Send(w.conn, fmt.Sprintf("hello %d", i)); err != nil {
			w.fail(err)
			return
		}
		w.mu.Lock()
		w.sent++
		w.mu.Unlock()
	}
}

func (w *wsWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		return // closed by us
	default:
	}
	if w.err == nil {
		w.err = err
	}
}

// report is the watch's state now.
func (w *wsWatch) report() (servers []string, maxGap time.Duration, sent, got int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for s := range w.servers {
		servers = append(servers, s)
	}
	return servers, w.maxGap, w.sent, w.got, w.err
}

func (w *wsWatch) close() {
	close(w.done)
	w.conn.Close()
	<-w.stopped
}
