package vip

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Timing is when announcements go out, in keepalived's terms. Fields are
// taken literally (0 disables what it counts); start from DefaultTiming.
type Timing struct {
	// Repeat is the number of packets in each takeover burst
	// (vrrp_garp_master_repeat, keepalived's default 5).
	Repeat int
	// Delay is when the second takeover burst goes out, after the first
	// (vrrp_garp_master_delay, default 5 s; 0: no second burst).
	Delay time.Duration
	// Refresh is the period of the steady refresh after the bursts
	// (vrrp_garp_master_refresh). keepalived's default is off; vigil's is
	// 5 s, so that a client whose entry still points at a departed holder
	// is corrected within one period. 0 turns it off.
	Refresh time.Duration
	// RefreshRepeat is the number of packets at each refresh
	// (vrrp_garp_master_refresh_repeat, default 1).
	RefreshRepeat int
	// Interval is the gap between two packets of one burst
	// (vrrp_garp_interval / vrrp_gna_interval, default 0: back to back).
	Interval time.Duration
}

// DefaultTiming returns keepalived's defaults with vigil's refresh on.
func DefaultTiming() Timing {
	return Timing{Repeat: 5, Delay: 5 * time.Second, Refresh: 5 * time.Second, RefreshRepeat: 1}
}

// Validate says which field is out of range.
func (t Timing) Validate() error {
	switch {
	case t.Repeat < 1:
		return fmt.Errorf("%w: garp repeat %d: at least 1 packet per burst", ErrInvalid, t.Repeat)
	case t.Delay < 0:
		return fmt.Errorf("%w: garp delay %s is negative", ErrInvalid, t.Delay)
	case t.Refresh < 0:
		return fmt.Errorf("%w: garp refresh %s is negative", ErrInvalid, t.Refresh)
	case t.Refresh > 0 && t.RefreshRepeat < 1:
		return fmt.Errorf("%w: garp refresh repeat %d: at least 1 packet per refresh", ErrInvalid, t.RefreshRepeat)
	case t.Interval < 0:
		return fmt.Errorf("%w: garp interval %s is negative", ErrInvalid, t.Interval)
	case t.Interval > 0 && t.Refresh > 0 && time.Duration(max(t.Repeat, t.RefreshRepeat)-1)*t.Interval >= t.Refresh:
		return fmt.Errorf("%w: a burst (%d packets %s apart) is longer than the refresh period %s", ErrInvalid, max(t.Repeat, t.RefreshRepeat), t.Interval, t.Refresh)
	}
	return nil
}

// Target is one address announced on one interface: a gratuitous ARP
// (IPv4) or an unsolicited neighbour advertisement (IPv6) per packet.
type Target struct {
	Iface string
	Addr  netip.Addr
}

func (t Target) String() string { return t.Iface + " " + t.Addr.String() }

// phases of an announced target
const (
	phaseFirst   = iota // the takeover burst
	phaseSecond         // the burst Delay later
	phaseRefresh        // the steady refresh
	phaseQuiet          // nothing more to send (refresh off)
)

type announced struct {
	refs       int
	phase      int
	burstStart time.Time // scheduled start of the current burst
	sent       int       // packets of the current burst already due
	next       time.Time // when the next packet is due
}

// Schedule is the announcer's deterministic core: which target is due
// when. It has no clock and no goroutines: every call takes the instant.
// A target is reference-counted (several instances may announce one VIP);
// the first Start begins its takeover burst, the last Stop ends it at once.
type Schedule struct {
	t       Timing
	targets map[Target]*announced
}

// NewSchedule returns an empty schedule; t must be valid.
func NewSchedule(t Timing) (*Schedule, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &Schedule{t: t, targets: map[Target]*announced{}}, nil
}

// Start takes a reference on tg. On the first one, tg's takeover burst is
// due at now; it reports whether this was the first.
func (s *Schedule) Start(now time.Time, tg Target) bool {
	if a, ok := s.targets[tg]; ok {
		a.refs++
		return false
	}
	s.targets[tg] = &announced{refs: 1, phase: phaseFirst, burstStart: now, next: now}
	return true
}

// Stop drops a reference on tg; on the last one tg is forgotten and
// nothing more is due for it. It reports whether tg is no longer announced.
func (s *Schedule) Stop(tg Target) bool {
	a, ok := s.targets[tg]
	if !ok {
		return true
	}
	if a.refs--; a.refs > 0 {
		return false
	}
	delete(s.targets, tg)
	return true
}

// Active reports whether tg is announced (has references).
func (s *Schedule) Active(tg Target) bool { _, ok := s.targets[tg]; return ok }

// Refs returns tg's reference count.
func (s *Schedule) Refs(tg Target) int {
	if a, ok := s.targets[tg]; ok {
		return a.refs
	}
	return 0
}

// Targets returns the announced targets, sorted.
func (s *Schedule) Targets() []Target {
	out := make([]Target, 0, len(s.targets))
	for tg := range s.targets {
		out = append(out, tg)
	}
	slices.SortFunc(out, cmpTarget)
	return out
}

func cmpTarget(a, b Target) int { return cmp.Or(cmp.Compare(a.Iface, b.Iface), a.Addr.Compare(b.Addr)) }

// Next returns when the next packet is due, and false when none ever is.
func (s *Schedule) Next() (time.Time, bool) {
	var next time.Time
	found := false
	for _, a := range s.targets {
		if a.phase == phaseQuiet {
			continue
		}
		if !found || a.next.Before(next) {
			next, found = a.next, true
		}
	}
	return next, found
}

// Due returns the packets due at or before now, one Target per packet, in
// time order (targets sorted within an instant), and advances the
// schedule past them. Refreshes missed because now is late are skipped,
// not sent in a pile.
func (s *Schedule) Due(now time.Time) []Target {
	type pkt struct {
		at time.Time
		tg Target
	}
	var due []pkt
	for tg, a := range s.targets {
		for a.phase != phaseQuiet && !a.next.After(now) {
			due = append(due, pkt{a.next, tg})
			s.advance(a, now)
		}
	}
	slices.SortFunc(due, func(x, y pkt) int { return cmp.Or(x.at.Compare(y.at), cmpTarget(x.tg, y.tg)) })
	out := make([]Target, len(due))
	for i, p := range due {
		out[i] = p.tg
	}
	return out
}

// advance moves a past the packet due at a.next.
func (s *Schedule) advance(a *announced, now time.Time) {
	a.sent++
	size := s.t.Repeat
	if a.phase == phaseRefresh {
		size = s.t.RefreshRepeat
	}
	if a.sent < size {
		a.next = a.burstStart.Add(time.Duration(a.sent) * s.t.Interval)
		return
	}
	a.sent = 0
	switch {
	case a.phase == phaseFirst && s.t.Delay > 0:
		a.phase, a.burstStart = phaseSecond, a.burstStart.Add(s.t.Delay)
	case s.t.Refresh > 0:
		a.phase, a.burstStart = phaseRefresh, a.burstStart.Add(s.t.Refresh)
		for !a.burstStart.After(now) {
			a.burstStart = a.burstStart.Add(s.t.Refresh) // late: skip missed refreshes
		}
	default:
		a.phase = phaseQuiet
		return
	}
	a.next = a.burstStart
}
