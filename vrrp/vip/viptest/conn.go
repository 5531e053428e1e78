// Package viptest holds fakes of the vip package's seams for the tests of
// the deterministic cores and of their users (cluster): an AddrConn that
// models the kernel's address table with lifetimes on an injected clock, a
// Clock that only moves when told, and a recording announcement Sender.
// Every fake records state and renders it canonically with String.
package viptest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"vigil/vrrp/vip"
)

// Conn is an in-memory vip.AddrConn modelling the kernel: EEXIST on a
// second add, EADDRNOTAVAIL on deleting what is not there, ENODEV for an
// unknown interface, and lifetimes that run out on the injected clock (the
// address disappears, as the kernel removes it). Identity follows the
// kernel: an IPv4 address is its IP and prefix length (10.0.0.1/24 and
// 10.0.0.1/32 may coexist), an IPv6 address its IP alone; a delete must
// name the prefix length the address has.
type Conn struct {
	now func() time.Time

	mu     sync.Mutex
	ifaces map[string][]*entry
	calls  []string
	fail   map[string]error
}

type entry struct {
	a         vip.Address // normalized, lifetimes as given
	validEnd  time.Time   // zero: forever
	prefEnd   time.Time
	createdAt time.Time
}

var _ vip.AddrConn = (*Conn)(nil)

// NewConn returns a fake with the given interfaces, empty. now is the
// clock lifetimes run on (a Clock's Now, usually).
func NewConn(now func() time.Time, ifaces ...string) *Conn {
	c := &Conn{now: now, ifaces: map[string][]*entry{}, fail: map[string]error{}}
	for _, i := range ifaces {
		c.ifaces[i] = nil
	}
	return c
}

// AddInterface adds an interface with no addresses (no-op if it exists).
func (c *Conn) AddInterface(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ifaces[name]; !ok {
		c.ifaces[name] = nil
	}
}

// RemoveInterface removes an interface and its addresses, as unplugging a
// device does.
func (c *Conn) RemoveInterface(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ifaces, name)
}

// FailNext makes the next call of op ("add", "replace", "delete", "list")
// fail with err (an injected kernel error such as ENOBUFS).
func (c *Conn) FailNext(op string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail[op] = err
}

// Calls returns the mutating calls made so far ("add eth0 10.0.0.1/24
// valid 3s", "delete eth0 10.0.0.1/24", ...) and forgets them.
func (c *Conn) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *Conn) injected(op string) error {
	if err, ok := c.fail[op]; ok {
		delete(c.fail, op)
		return err
	}
	return nil
}

// expire drops the addresses whose valid lifetime ran out, as the kernel's
// address worker does.
func (c *Conn) expire(now time.Time) {
	for name, es := range c.ifaces {
		c.ifaces[name] = slices.DeleteFunc(es, func(e *entry) bool {
			return !e.validEnd.IsZero() && !now.Before(e.validEnd)
		})
	}
}

// same reports whether e is the address p names for add and replace: the
// same IP and, for IPv4, the same prefix length.
func same(e *entry, p netip.Prefix) bool {
	if e.a.Prefix.Addr() != p.Addr() {
		return false
	}
	return p.Addr().Is6() || e.a.Prefix.Bits() == p.Bits()
}

func errno(op string, a vip.Address, sentinel error, en syscall.Errno) error {
	return &vip.OpError{Op: op, Iface: a.Iface, Addr: a.Prefix, Err: fmt.Errorf("%w (%w)", sentinel, en)}
}

// Add adds a; ErrExist (EEXIST) when it is there.
func (c *Conn) Add(a vip.Address) error { return c.set("add", a) }

// Replace adds a or refreshes its lifetimes.
func (c *Conn) Replace(a vip.Address) error { return c.set("replace", a) }

func (c *Conn) set(op string, a vip.Address) error {
	if err := a.Validate(); err != nil {
		return &vip.OpError{Op: op, Iface: a.Iface, Addr: a.Prefix, Err: err}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.expire(now)
	if err := c.injected(op); err != nil {
		return &vip.OpError{Op: op, Iface: a.Iface, Addr: a.Prefix, Err: err}
	}
	es, ok := c.ifaces[a.Iface]
	if !ok {
		return errno(op, a, vip.ErrNoInterface, syscall.ENODEV)
	}
	n := a.Normalized()
	c.calls = append(c.calls, op+" "+n.String())
	ne := &entry{a: n, createdAt: now}
	if n.ValidLft != 0 {
		ne.validEnd = now.Add(n.ValidLft)
		ne.prefEnd = now.Add(n.PreferredLft)
	}
	for _, e := range es {
		// IPv6 matches on the IP alone: a second prefix length is EEXIST
		// for add, a modification for replace.
		if same(e, n.Prefix) {
			if op == "add" {
				return errno(op, a, vip.ErrExist, syscall.EEXIST)
			}
			// The kernel refreshes lifetimes (and flags) of the existing
			// address; label, scope and broadcast stay as they were.
			e.validEnd, e.prefEnd = ne.validEnd, ne.prefEnd
			e.a.ValidLft, e.a.PreferredLft = n.ValidLft, n.PreferredLft
			if n.Prefix.Addr().Is6() {
				e.a.Prefix = n.Prefix
			}
			return nil
		}
	}
	c.ifaces[a.Iface] = append(es, ne)
	return nil
}

// Delete removes p from iface; ErrNotExist (EADDRNOTAVAIL) if absent.
func (c *Conn) Delete(iface string, p netip.Prefix) error {
	a := vip.Address{Iface: iface, Prefix: p}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(c.now())
	if err := c.injected("delete"); err != nil {
		return &vip.OpError{Op: "delete", Iface: iface, Addr: p, Err: err}
	}
	es, ok := c.ifaces[iface]
	if !ok {
		return errno("delete", a, vip.ErrNoInterface, syscall.ENODEV)
	}
	for i, e := range es {
		if e.a.Prefix == p {
			c.calls = append(c.calls, "delete "+iface+" "+p.String())
			c.ifaces[iface] = slices.Delete(es, i, i+1)
			return nil
		}
	}
	return errno("delete", a, vip.ErrNotExist, syscall.EADDRNOTAVAIL)
}

// List returns iface's addresses, IPv4 then IPv6, in insertion order, with
// their remaining lifetimes rounded up to whole seconds as the kernel
// reports them.
func (c *Conn) List(iface string) ([]vip.Address, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.expire(now)
	if err := c.injected("list"); err != nil {
		return nil, &vip.OpError{Op: "list", Iface: iface, Err: err}
	}
	es, ok := c.ifaces[iface]
	if !ok {
		return nil, errno("list", vip.Address{Iface: iface}, vip.ErrNoInterface, syscall.ENODEV)
	}
	var v4, v6 []vip.Address
	for _, e := range es {
		a := e.a
		if !e.validEnd.IsZero() {
			a.ValidLft = remaining(e.validEnd, now)
			a.PreferredLft = remaining(e.prefEnd, now)
		}
		if a.Prefix.Addr().Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	return append(v4, v6...), nil
}

func remaining(end, now time.Time) time.Duration {
	if !now.Before(end) {
		return 0
	}
	return time.Duration(vip.KernelSeconds(end.Sub(now))) * time.Second
}

// String renders every address, one per line, sorted by interface and
// address, in vip.Address's canonical form with remaining lifetimes:
//
//	eth0 10.0.0.200/24 label eth0:vip valid 3s
func (c *Conn) String() string {
	c.mu.Lock()
	names := make([]string, 0, len(c.ifaces))
	for n := range c.ifaces {
		names = append(names, n)
	}
	c.mu.Unlock()
	slices.Sort(names)
	var lines []string
	for _, n := range names {
		as, err := c.List(n)
		if err != nil {
			continue // removed meanwhile
		}
		slices.SortFunc(as, func(a, b vip.Address) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
		for _, a := range as {
			lines = append(lines, a.String())
		}
	}
	return strings.Join(lines, "\n")
}
