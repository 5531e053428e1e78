package vip

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Sender sends one unsolicited announcement of Target's address from its
// interface: a gratuitous ARP for IPv4, an unsolicited neighbour
// advertisement for IPv6. It must not block for long (Stop waits for the
// packet in flight). The Announcer calls it from Run's goroutine only.
// LinkSender is the Linux implementation; viptest.Sender records.
type Sender interface {
	Send(tg Target) error
}

// AnnouncerOptions are the Announcer's optional settings.
type AnnouncerOptions struct {
	Clock  Clock        // SystemClock
	Logger *slog.Logger // discards
}

// Announcer is the thin driver around a Schedule: Announce and Stop change
// what is announced, Run sends what is due until its context is done or
// Close is called. It starts no goroutine of its own: the caller runs Run.
//
// Ordering contract:
//  1. Call Announce only after the address is on the interface (Manager.Set
//     returned): a gratuitous ARP for an address not configured tells
//     clients to send to a host that drops the traffic.
//  2. Call Stop before removing the address: once Stop returns, no packet
//     for that target is sent any more, not even the rest of a burst.
//  3. Announce and Stop are reference-counted per target: the first
//     Announce starts the takeover burst, further ones only count.
//  4. A target with a lease (Lease) is announced only before the lease
//     ends: a process that was frozen past its lease and runs again sends
//     nothing for the address before its owner stops the target.
type Announcer struct {
	send  Sender
	clock Clock
	log   *slog.Logger
	wake  chan struct{}
	quit  chan struct{}
	once  sync.Once

	sent, failed atomic.Uint64

	sendMu sync.Mutex // held across one Send; Stop waits on it
	mu     sync.Mutex // guards sched and until
	sched  *Schedule
	until  map[Target]time.Time // lease ends (Lease)
}

// NewAnnouncer returns an Announcer sending through s with timing t.
func NewAnnouncer(s Sender, t Timing, opts AnnouncerOptions) (*Announcer, error) {
	sched, err := NewSchedule(t)
	if err != nil {
		return nil, err
	}
	a := &Announcer{
		send:  s,
		clock: opts.Clock,
		log:   opts.Logger,
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		sched: sched,
		until: map[Target]time.Time{},
	}
	if a.clock == nil {
		a.clock = SystemClock{}
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return a, nil
}

// Announce takes a reference on addr on iface; the first one starts its
// takeover burst at once (Run must be running for packets to go out).
func (a *Announcer) Announce(iface string, addr netip.Addr) {
	a.mu.Lock()
	first := a.sched.Start(a.clock.Now(), Target{iface, addr.Unmap()})
	a.mu.Unlock()
	if first {
		a.log.Info("announcing", "iface", iface, "addr", addr)
		a.poke()
	}
}

// Lease bounds the announcements of addr on iface: none is sent once the
// clock reaches until (the holder's lease end, refreshed on every
// renewal). The bound is dropped with the target's last Stop.
func (a *Announcer) Lease(iface string, addr netip.Addr, until time.Time) {
	a.mu.Lock()
	a.until[Target{iface, addr.Unmap()}] = until
	a.mu.Unlock()
}

// Stop drops a reference on addr on iface. When it was the last, no packet
// for it is sent after Stop returns.
func (a *Announcer) Stop(iface string, addr netip.Addr) {
	a.mu.Lock()
	last := a.sched.Stop(Target{iface, addr.Unmap()})
	if last {
		delete(a.until, Target{iface, addr.Unmap()})
	}
	a.mu.Unlock()
	// A packet for addr may be in flight (it was checked before the
	// schedule changed): wait for it. Any later one sees addr stopped.
	a.sendMu.Lock()
	//lint:ignore SA2001 waiting for the packet in flight is the point
	a.sendMu.Unlock()
	if last {
		a.log.Info("stopped announcing", "iface", iface, "addr", addr)
		a.poke()
	}
}

// Targets returns what is being announced.
func (a *Announcer) Targets() []Target {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sched.Targets()
}

// Stats returns the number of packets sent and of sends that failed.
func (a *Announcer) Stats() (sent, failed uint64) { return a.sent.Load(), a.failed.Load() }

func (a *Announcer) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Close makes Run return; it is safe to call more than once.
func (a *Announcer) Close() error {
	a.once.Do(func() { close(a.quit) })
	return nil
}

// Run sends announcements as they fall due until ctx is done (it returns
// nil) or Close is called (ErrClosed). Send errors are logged and counted
// (an interface may be down for a while); they do not stop the loop.
func (a *Announcer) Run(ctx context.Context) error {
	for {
		a.mu.Lock()
		due := a.sched.Due(a.clock.Now())
		a.mu.Unlock()
		for _, tg := range due {
			a.sendOne(tg)
		}
		a.mu.Lock()
		next, ok := a.sched.Next()
		a.mu.Unlock()
		var timer Timer
		var tc <-chan time.Time
		if ok {
			timer = a.clock.NewTimer(next.Sub(a.clock.Now()))
			tc = timer.C()
		}
		select {
		case <-ctx.Done():
			stop(timer)
			return nil
		case <-a.quit:
			stop(timer)
			return ErrClosed
		case <-a.wake:
			stop(timer)
		case <-tc:
		}
	}
}

// sendOne sends one packet unless tg was stopped since it fell due. The
// send lock is held across the check and the send, and Stop takes it after
// changing the schedule, so that Stop is immediate.
func (a *Announcer) sendOne(tg Target) {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	a.mu.Lock()
	active := a.sched.Active(tg)
	until, leased := a.until[tg]
	a.mu.Unlock()
	if !active {
		return
	}
	if leased && !a.clock.Now().Before(until) {
		a.log.Warn("not announcing: the lease ended", "iface", tg.Iface, "addr", tg.Addr)
		return
	}
	if err := a.send.Send(tg); err != nil {
		a.failed.Add(1)
		var oe *OpError
		if !errors.As(err, &oe) {
			err = opErr("announce", tg.Iface, netip.PrefixFrom(tg.Addr, tg.Addr.BitLen()), err)
		}
		a.log.Warn("announce failed", "iface", tg.Iface, "addr", tg.Addr, "err", err)
		return
	}
	a.sent.Add(1)
}

func stop(t Timer) {
	if t != nil {
		t.Stop()
	}
}
