package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// SenderConfig says where a Sender's adverts go.
type SenderConfig struct {
	// Src is the source address of the IP packets, which enters the v3
	// checksum: the PacketConn's source (Conn.Src for a raw Conn).
	Src netip.Addr
	// Dsts are the destinations of every advert: the group (GroupV4 or
	// GroupV6) or the unicast peers (keepalived's unicast_peer).
	Dsts []netip.Addr
	// Options are the encoding options (v3_checksum_as_v2).
	Options Options
	// Logger receives send errors; nil discards.
	Logger *slog.Logger
}

// SenderStats counts what a Sender did.
type SenderStats struct {
	Sent   uint64 // messages handed to the PacketConn (one per destination)
	Errors uint64 // WriteTo failures
}

// Sender announces one virtual router while it is told to hold it: an
// advert at once, then one every advert interval, to every destination;
// one priority-0 advert on Release. It decides nothing.
//
// Hold, Release and Stats may be called from any goroutine. Run drives the
// periodic adverts and returns when its context ends; a Sender without Run
// still sends the immediate and the release adverts.
type Sender struct {
	conn  PacketConn
	cfg   SenderConfig
	log   *slog.Logger
	wake  chan struct{}
	sent  atomic.Uint64
	errs  atomic.Uint64
	mu    sync.Mutex // serializes sends: nothing follows the priority-0 advert
	adv   *Advert    // nil while not holding
	wires [][]byte   // adv encoded for each of cfg.Dsts
	until time.Time  // the lease end (Lease); zero: none
}

// NewSender returns a Sender writing to conn.
func NewSender(conn PacketConn, cfg SenderConfig) (*Sender, error) {
	if conn == nil {
		return nil, errors.New("vrrp: new sender: nil PacketConn")
	}
	if len(cfg.Dsts) == 0 {
		return nil, errors.New("vrrp: new sender: no destination")
	}
	for _, d := range cfg.Dsts {
		if !cfg.Src.IsValid() || d.Unmap().Is4() != cfg.Src.Unmap().Is4() {
			return nil, fmt.Errorf("vrrp: new sender: %w: source %v, destination %v", ErrAddrFamily, cfg.Src, d)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{conn: conn, cfg: cfg, log: log, wake: make(chan struct{}, 1)}, nil
}

func (s *Sender) encode(a *Advert) ([][]byte, error) {
	wires := make([][]byte, len(s.cfg.Dsts))
	for i, d := range s.cfg.Dsts {
		b, err := a.Marshal(s.cfg.Src, d, s.cfg.Options)
		if err != nil {
			return nil, fmt.Errorf("vrrp: sender vrid %d: %w", a.VRID, err)
		}
		wires[i] = b
	}
	return wires, nil
}

// Hold starts (or updates: priority, addresses) the adverts for a, sending
// one at once. Holding the advert already held does nothing, so a driver
// may call Hold on every pass (level-triggered). It fails, changing
// nothing, if a cannot be encoded, its interval is not positive or its
// priority is 0. The returned error also reports a failed immediate send;
// the periodic adverts go on regardless.
func (s *Sender) Hold(a Advert) error {
	if a.Interval <= 0 {
		return fmt.Errorf("vrrp: sender vrid %d: %w: %v", a.VRID, ErrInterval, a.Interval)
	}
	if a.Priority == 0 {
		return fmt.Errorf("vrrp: sender vrid %d: priority 0 is reserved for Release (RFC 5798 §5.2.4)", a.VRID)
	}
	a.Addrs = append([]netip.Addr(nil), a.Addrs...)
	wires, err := s.encode(&a)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.adv != nil && sameAdvert(s.adv, &a) {
		s.mu.Unlock()
		return nil
	}
	s.adv, s.wires = &a, wires
	err = s.sendLocked(wires)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return err
}

// Release stops the adverts and sends one priority-0 advert (RFC 5798
// §6.4.3 "Shutdown") so that a backup takes over after its skew time. It
// does nothing if the Sender is not holding.
func (s *Sender) Release() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adv == nil {
		return nil
	}
	a := *s.adv
	s.adv, s.wires = nil, nil
	a.Priority = 0
	wires, err := s.encode(&a)
	if err != nil {
		return err // unreachable: a was encodable with another priority
	}
	return s.sendLocked(wires)
}

// Lease bounds the periodic adverts: none is sent once the clock reaches
// until (the holder's lease end, refreshed on every renewal), so a process
// that was frozen past its lease and runs again does not advertise before
// its driver releases. Release's priority-0 advert is always sent.
func (s *Sender) Lease(until time.Time) {
	s.mu.Lock()
	s.until = until
	s.mu.Unlock()
}

// Holding reports whether the Sender is announcing.
func (s *Sender) Holding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adv != nil
}

// Stats returns the counters.
func (s *Sender) Stats() SenderStats {
	return SenderStats{Sent: s.sent.Load(), Errors: s.errs.Load()}
}

func (s *Sender) sendLocked(wires [][]byte) error {
	var errs []error
	for i, w := range wires {
		if err := s.conn.WriteTo(w, s.cfg.Dsts[i]); err != nil {
			s.errs.Add(1)
			s.log.Warn("vrrp advert not sent", "dst", s.cfg.Dsts[i], "err", err)
			errs = append(errs, err)
			continue
		}
		s.sent.Add(1)
	}
	return errors.Join(errs...)
}

// interval returns the current advert interval, or 0 when not holding.
func (s *Sender) interval() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adv == nil {
		return 0
	}
	return s.adv.Interval
}

// Run sends the periodic adverts until ctx ends, and returns nil then.
// Only one Run may be active.
func (s *Sender) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	arm := func() {
		t.Stop()
		if d := s.interval(); d > 0 {
			t.Reset(d)
		}
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
			arm() // Hold just sent one: the next is one interval away
		case <-t.C:
			s.mu.Lock()
			if s.wires != nil && (s.until.IsZero() || time.Now().Before(s.until)) {
				_ = s.sendLocked(s.wires) // counted and logged
			}
			s.mu.Unlock()
			arm()
		}
	}
}

func sameAdvert(x, y *Advert) bool {
	return x.Version == y.Version && x.VRID == y.VRID && x.Priority == y.Priority &&
		x.AuthType == y.AuthType && x.Interval == y.Interval && x.AuthData == y.AuthData &&
		slices.Equal(x.Addrs, y.Addrs)
}
