package vip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// DefaultSlack is how much longer than the lease the kernel lifetime of a
// held address is, by default.
const DefaultSlack = time.Second

// DefaultSweep is the period of Manager.Run's sweep, by default.
const DefaultSweep = time.Second

// KernelExpiryJitter bounds how late after its valid lifetime the kernel
// removes an address: lifetimes are whole seconds (rounded up here) and the
// kernel's address worker is rounded to the next second. A frozen holder
// therefore loses a VIP at most Slack + KernelExpiryJitter after Until; the
// cluster must not assign it elsewhere before that.
const KernelExpiryJitter = 2 * time.Second

// ManagerOptions are the Manager's optional settings; zero values mean the
// defaults.
type ManagerOptions struct {
	Clock  Clock         // SystemClock
	Slack  time.Duration // DefaultSlack; negative means none
	Sweep  time.Duration // DefaultSweep: Run's period
	Logger *slog.Logger  // discards
}

// Manager keeps the addresses of one network namespace in line with what
// this node holds. Every pass (Set, SetOwned, Sweep, and Run's periodic
// sweep) lists the interfaces concerned and, through Plan:
//
//  1. deletes every owned address that is not held (crash leftovers
//     included), and any held address whose shape changed;
//  2. adds every held address that is missing, with a kernel lifetime of
//     the rest of its lease plus Slack;
//  3. refreshes the lifetime of every held address already there.
//
// Addresses that are not owned are never touched. A hold whose Until has
// passed is not held: the pass removes it (self-fencing at the address
// level), and the kernel would remove it shortly after anyway. Errors are
// per address: a missing interface fails its own holds, the others still
// apply. A Manager is safe for concurrent use; passes are serialized.
type Manager struct {
	conn  AddrConn
	clock Clock
	slack time.Duration
	sweep time.Duration
	log   *slog.Logger
	wake  chan struct{}

	mu    sync.Mutex
	ours  map[Owned]bool // from the configuration
	added map[Owned]bool // what this Manager put there: ours until removed
	held  []Hold
}

// NewManager returns a Manager over conn for the owned addresses ours. It
// does nothing until the first pass.
func NewManager(conn AddrConn, ours []Owned, opts ManagerOptions) *Manager {
	m := &Manager{
		conn:  conn,
		clock: opts.Clock,
		slack: opts.Slack,
		sweep: opts.Sweep,
		log:   opts.Logger,
		wake:  make(chan struct{}, 1),
		added: map[Owned]bool{},
	}
	if m.clock == nil {
		m.clock = SystemClock{}
	}
	switch {
	case m.slack == 0:
		m.slack = DefaultSlack
	case m.slack < 0:
		m.slack = 0
	}
	if m.sweep <= 0 {
		m.sweep = DefaultSweep
	}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m.ours = ownedSet(ours)
	return m
}

func ownedSet(ours []Owned) map[Owned]bool {
	s := make(map[Owned]bool, len(ours))
	for _, o := range ours {
		s[Owned{o.Iface, o.Addr.Unmap()}] = true
	}
	return s
}

// SetOwned replaces the set of owned addresses (after a configuration
// change) and runs a pass. Addresses this Manager added stay owned until
// it has removed them.
func (m *Manager) SetOwned(ours []Owned) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ours = ownedSet(ours)
	return m.pass()
}

// Set makes held the set of addresses this node holds and runs a pass. It
// may be called any number of times with the same input: a repeat only
// refreshes lifetimes. Set(nil) releases everything. Holds that are
// malformed (no interface, an invalid prefix or label, no Until, two holds
// for one address) fail with ErrInvalid and are left out; the others apply.
func (m *Manager) Set(held []Hold) error {
	var errs []error
	var ok []Hold
	seen := map[netip.Addr]bool{}
	for _, h := range held {
		h.Addr = netip.PrefixFrom(h.Addr.Addr().Unmap(), h.Addr.Bits())
		if h.Addr.Addr().Is4() && h.Addr.Bits() > 32 {
			h.Addr = netip.Prefix{} // was an IPv4-mapped /96+ prefix: invalid below
		}
		err := HeldAddress(h, h.Until, 0).Validate()
		if err == nil && h.Until.IsZero() {
			err = fmt.Errorf("%w: hold of %s has no lease end (Until)", ErrInvalid, h.Addr)
		}
		if err == nil && seen[h.Addr.Addr()] {
			err = fmt.Errorf("%w: %s is held twice", ErrInvalid, h.Addr.Addr())
		}
		if err != nil {
			errs = append(errs, opErr("hold", h.Iface, h.Addr, err))
			continue
		}
		seen[h.Addr.Addr()] = true
		ok = append(ok, h)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held = ok
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return errors.Join(append(errs, m.pass())...)
}

// Sweep runs a pass with the current holds.
func (m *Manager) Sweep() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pass()
}

// Held returns the holds that are live now (Until not yet passed).
func (m *Manager) Held() []Hold {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	var out []Hold
	for _, h := range m.held {
		if now.Before(h.Until) {
			out = append(out, h)
		}
	}
	return out
}

// Run sweeps every Sweep period, and at the end of every lease (so an
// expired hold is removed at once, not at the next sweep), until ctx is
// done. Pass errors are logged, not returned. It returns nil when ctx is
// done.
func (m *Manager) Run(ctx context.Context) error {
	sweep := true
	for {
		if sweep {
			if err := m.Sweep(); err != nil {
				m.log.Warn("vip sweep", "err", err)
			}
		}
		t := m.clock.NewTimer(m.nextWake())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-m.wake:
			// Set ran a pass already; only the next lease end may differ.
			t.Stop()
			sweep = false
		case <-t.C():
			sweep = true
		}
	}
}

// nextWake is how long Run sleeps: the sweep period, or less if a lease
// ends before.
func (m *Manager) nextWake() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	d := m.sweep
	for _, h := range m.held {
		// A lease that ended since the last pass (m.held keeps live holds
		// only) needs a pass now.
		if r := h.Until.Sub(now); r < d {
			d = max(r, 0)
		}
	}
	return d
}

// pass runs with m.mu held.
func (m *Manager) pass() error {
	now := m.clock.Now()
	byIface := map[string][]Hold{}
	live := m.held[:0]
	for _, h := range m.held {
		if now.Before(h.Until) {
			byIface[h.Iface] = append(byIface[h.Iface], h)
			live = append(live, h)
		}
	}
	m.held = live // an ended lease is not held: forget it
	ifaces := map[string]bool{}
	for o := range m.ours {
		ifaces[o.Iface] = true
	}
	for o := range m.added {
		ifaces[o.Iface] = true
	}
	for i := range byIface {
		ifaces[i] = true
	}
	names := make([]string, 0, len(ifaces))
	for i := range ifaces {
		names = append(names, i)
	}
	slices.Sort(names)

	ours := func(o Owned) bool { return m.ours[o] || m.added[o] }
	var errs []error
	for _, iface := range names {
		held := byIface[iface]
		have, err := m.conn.List(iface)
		if err != nil {
			if errors.Is(err, ErrNoInterface) {
				// Nothing of ours can be there; forget what we added.
				for o := range m.added {
					if o.Iface == iface {
						delete(m.added, o)
					}
				}
			}
			if len(held) == 0 && errors.Is(err, ErrNoInterface) {
				continue // an owned interface that is gone: nothing to hold or sweep
			}
			cause := err
			if oe := (*OpError)(nil); errors.As(err, &oe) {
				cause = oe.Err
			}
			for _, h := range held {
				errs = append(errs, opErr("add", iface, h.Addr, cause))
			}
			if len(held) == 0 {
				errs = append(errs, err)
			}
			continue
		}
		for _, op := range Plan(now, m.slack, have, held, ours) {
			if err := m.apply(op); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) apply(op Op) error {
	a := op.Addr
	key := Owned{a.Iface, a.Prefix.Addr()}
	switch op.Kind {
	case OpDelete:
		err := m.conn.Delete(a.Iface, a.Prefix)
		if err != nil && !errors.Is(err, ErrNotExist) {
			return err
		}
		delete(m.added, key)
		m.log.Info("vip removed", "iface", a.Iface, "addr", a.Prefix)
	case OpAdd:
		m.added[key] = true // before the call: a half-done add is still ours
		err := m.conn.Add(a)
		if errors.Is(err, ErrExist) {
			err = m.conn.Replace(a) // raced with something; converge anyway
		}
		if err != nil {
			return err
		}
		m.log.Info("vip added", "iface", a.Iface, "addr", a.Prefix, "label", a.Label, "valid_lft", time.Duration(KernelSeconds(a.ValidLft))*time.Second)
	case OpRefresh:
		m.added[key] = true
		if err := m.conn.Replace(a); err != nil {
			return err
		}
		m.log.Debug("vip refreshed", "iface", a.Iface, "addr", a.Prefix, "valid_lft", time.Duration(KernelSeconds(a.ValidLft))*time.Second)
	}
	return nil
}
