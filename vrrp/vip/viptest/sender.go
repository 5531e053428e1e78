package viptest

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"vigil/vrrp/vip"
)

// Sender is a vip.Sender that records every packet with the instant it was
// sent on its clock. Fail makes sends on one interface fail.
type Sender struct {
	clock vip.Clock

	mu      sync.Mutex
	packets []Packet
	fail    map[string]error
	sent    chan struct{}
}

// Packet is one recorded announcement.
type Packet struct {
	At     time.Duration // since Epoch
	Target vip.Target
}

func (p Packet) String() string { return fmt.Sprintf("%s %s", p.At, p.Target) }

var _ vip.Sender = (*Sender)(nil)

// NewSender returns a recording Sender stamping packets with clock.
func NewSender(clock vip.Clock) *Sender {
	return &Sender{clock: clock, fail: map[string]error{}, sent: make(chan struct{}, 1)}
}

// Send records tg, or fails if Fail was called for its interface.
func (s *Sender) Send(tg vip.Target) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[tg.Iface]; err != nil {
		return err
	}
	s.packets = append(s.packets, Packet{At: s.clock.Now().Sub(Epoch), Target: tg})
	select {
	case s.sent <- struct{}{}:
	default:
	}
	return nil
}

// Fail makes every send on iface fail with err (nil heals it).
func (s *Sender) Fail(iface string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[iface] = err
}

// Packets returns what was sent so far.
func (s *Sender) Packets() []Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Packet(nil), s.packets...)
}

// Wait blocks until n packets in total were sent or timeout passes; it
// reports which.
func (s *Sender) Wait(n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got := len(s.packets)
		s.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-s.sent:
		case <-deadline:
			return false
		}
	}
}

// String renders every packet, one per line: "5s eth0 10.0.0.200".
func (s *Sender) String() string {
	var b strings.Builder
	for i, p := range s.Packets() {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}
