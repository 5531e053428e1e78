package e2e

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/arp"
)

// arpWatch is the observer of issue 3: from the client, it asks who has
// the VIP every 50 ms and collects the ARP replies to each request. Two
// different MACs answering one request is two directors serving the VIP
// at the same instant: the test fails. (Gratuitous ARPs are not counted:
// a handover within one round legitimately shows the old holder's reply
// and the new holder's announcement.) Addresses alone would not do: a dead
// or frozen holder's address may linger while its nftables fence already
// keeps it from answering.
type arpWatch struct {
	c    *cluster3
	cl   *arp.Client
	macs map[string]string // MAC → director name

	mu      sync.Mutex
	last    []string // who answered in the last complete round
	rounds  int
	gapFrom time.Time     // start of the current run of unanswered rounds
	maxGap  time.Duration // longest run of unanswered rounds since resetGap
	stop    chan struct{}
	stopped chan struct{}
}

func (c *cluster3) watchARP() *arpWatch {
	w := &arpWatch{c: c, macs: map[string]string{}, stop: make(chan struct{}), stopped: make(chan struct{})}
	for n, d := range c.d {
		mac, err := d.lan.MAC()
		if err != nil {
			c.t.Fatal(err)
		}
		w.macs[mac] = n
	}
	if err := c.client.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		w.cl, err = arp.Dial(ifi)
		return err
	}); err != nil {
		c.t.Fatalf("ARP observer: %v", err)
	}
	go w.run()
	c.t.Cleanup(func() { close(w.stop); <-w.stopped; w.cl.Close() })
	return w
}

func (w *arpWatch) run() {
	defer close(w.stopped)
	target := netip.MustParseAddr(vip)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		_ = w.cl.Request(target)
		seen := map[string]bool{}
		_ = w.cl.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			p, _, err := w.cl.Read()
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					time.Sleep(10 * time.Millisecond)
				}
				break
			}
			if p.Operation == arp.OperationReply && p.SenderIP == target &&
				p.TargetHardwareAddr.String() == w.cl.HardwareAddr().String() {
				seen[p.SenderHardwareAddr.String()] = true
			}
		}
		var who []string
		for mac := range seen {
			name := w.macs[mac]
			if name == "" {
				name = "unknown " + mac
			}
			who = append(who, name)
		}
		slices.Sort(who)
		if len(who) > 1 {
			w.c.t.Errorf("split brain at %s: %v answer ARP for %s", time.Now().Format("15:04:05.000"), who, vip)
		}
		now := time.Now()
		w.mu.Lock()
		w.last, w.rounds = who, w.rounds+1
		switch {
		case len(who) == 0 && w.gapFrom.IsZero():
			w.gapFrom = now
		case len(who) > 0 && !w.gapFrom.IsZero():
			w.maxGap = max(w.maxGap, now.Sub(w.gapFrom))
			w.gapFrom = time.Time{}
		}
		w.mu.Unlock()
	}
}

// answering returns who answered ARP for the VIP in the latest round.
func (w *arpWatch) answering() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.last)
}

// resetGap starts measuring the longest time nobody answered ARP.
func (w *arpWatch) resetGap() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxGap, w.gapFrom = 0, time.Time{}
}

// gap is the longest time nobody answered ARP for the VIP since resetGap
// (rounded to the 50 ms of a round).
func (w *arpWatch) gap() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxGap
}

// roundsDone is how many ARP rounds the observer completed.
func (w *arpWatch) roundsDone() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rounds
}
