package lvstest

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"vigil/lvs"
)

// Harness tells RunConformance how to build the datapath under test.
type Harness struct {
	// New returns a fresh datapath over an empty table; the harness closes
	// it (register other cleanups with t.Cleanup).
	New func(t *testing.T) lvs.Datapath
	// Caps limits the states the suite applies.
	Caps Caps
	// Unsupported lists services the datapath must refuse with an error
	// wrapping lvs.ErrUnsupported that names the service, both from Validate
	// (if it is a lvs.Validator) and from Apply, leaving the rest applied.
	Unsupported []lvs.Service
	// RandomSteps is the number of random states applied in sequence (0 = 40).
	RandomSteps int
}

// NamedState is one step of the conformance tables.
type NamedState struct {
	Name  string
	State lvs.State
}

func svc(proto lvs.Proto, vip string, port uint16, sched string, reals ...lvs.Real) lvs.Service {
	return lvs.Service{Proto: proto, Addr: addr(vip), Port: port, Scheduler: sched, Reals: reals}
}

func rs(a string, port uint16, w int) lvs.Real {
	return lvs.Real{Addr: addr(a), Port: port, Weight: w, Method: lvs.NAT}
}

func with(s lvs.Service, f func(*lvs.Service)) lvs.Service { f(&s); return s }

// States is the table of desired states the suite applies in order, then in
// random orders: each differs from the previous by one kind of change.
func States() []NamedState {
	web := svc(lvs.TCP, "10.0.0.1", 80, "mh", rs("10.0.1.1", 8080, 1), rs("10.0.1.2", 8080, 1))
	dns := svc(lvs.UDP, "10.0.0.2", 53, "rr", rs("10.0.1.3", 53, 1), rs("10.0.1.4", 53, 1))
	st := func(ss ...lvs.Service) lvs.State { return lvs.State{Services: ss} }
	return []NamedState{
		{"empty", st()},
		{"one service", st(web)},
		{"second service", st(web, dns)},
		{"add real", st(with(web, func(s *lvs.Service) { s.Reals = append(s.Reals[:2:2], rs("10.0.1.5", 8080, 1)) }), dns)},
		{"weight change", st(with(web, func(s *lvs.Service) { s.Reals = []lvs.Real{rs("10.0.1.1", 8080, 3), rs("10.0.1.2", 8080, 1)} }), dns)},
		{"inhibited real weight 0", st(with(web, func(s *lvs.Service) { s.Reals = []lvs.Real{rs("10.0.1.1", 8080, 0), rs("10.0.1.2", 8080, 1)} }), dns)},
		{"remove real", st(with(web, func(s *lvs.Service) { s.Reals = s.Reals[:1] }), dns)},
		{"scheduler change", st(with(web, func(s *lvs.Service) { s.Scheduler = "sh" }), dns)},
		{"sh-port", st(with(web, func(s *lvs.Service) { s.Scheduler = "sh"; s.Flags = lvs.FlagSHPort }), dns)},
		{"mh-port persistent", st(with(web, func(s *lvs.Service) { s.Flags = lvs.FlagMHPort; s.PersistenceTimeout = 300 }), dns)},
		{"persistence granularity", st(with(web, func(s *lvs.Service) { s.PersistenceTimeout = 300; s.PersistenceNetmask = 24 }), dns)},
		{"wrr weights", st(web, with(dns, func(s *lvs.Service) {
			s.Scheduler = "wrr"
			s.Reals = []lvs.Real{rs("10.0.1.3", 53, 2), rs("10.0.1.4", 53, 3)}
		}))},
		{"no reals", st(with(web, func(s *lvs.Service) { s.Reals = nil }), dns)},
		{"port translation", st(with(web, func(s *lvs.Service) { s.Reals = []lvs.Real{rs("10.0.1.1", 80, 1), rs("10.0.1.1", 8080, 1)} }))},
		{"wlc", st(with(web, func(s *lvs.Service) { s.Scheduler = "wlc" }))},
		{"dr", st(with(web, func(s *lvs.Service) {
			s.Reals = []lvs.Real{{Addr: addr("10.0.1.1"), Port: 80, Weight: 1, Method: lvs.DR}}
		}))},
		{"ipv6", st(svc(lvs.TCP, "fd00::1", 80, "rr", lvs.Real{Addr: addr("fd00:1::1"), Port: 80, Weight: 1, Method: lvs.NAT}))},
		{"fwmark", st(lvs.Service{FWMark: 7, Scheduler: "rr", Reals: []lvs.Real{rs("10.0.1.1", 0, 1)}})},
		{"many", st(web, dns, svc(lvs.TCP, "10.0.0.1", 443, "mh", rs("10.0.1.1", 8443, 1)), svc(lvs.TCP, "10.0.0.3", 80, "sh", rs("10.0.1.6", 80, 2)))},
	}
}

// RunConformance runs the datapath conformance suite.
func RunConformance(t *testing.T, h Harness) {
	var table []NamedState
	for _, ns := range States() {
		if h.Caps.Allows(ns.State) {
			table = append(table, ns)
		}
	}
	ctx := context.Background()
	newDP := func(t *testing.T) lvs.Datapath {
		dp := h.New(t)
		t.Cleanup(func() { dp.Close() })
		return dp
	}
	t.Run("Sequence", func(t *testing.T) {
		dp := newDP(t)
		for _, ns := range table {
			applyAndCheck(ctx, t, dp, ns)
		}
	})
	t.Run("RandomOrder", func(t *testing.T) {
		dp := newDP(t)
		seed := uint64(len(table))
		r := rand.New(rand.NewPCG(seed, 1))
		for round := range 3 {
			perm := r.Perm(len(table))
			for _, i := range perm {
				ns := table[i]
				ns.Name = ns.Name + " (round " + string(rune('0'+round)) + ")"
				applyAndCheck(ctx, t, dp, ns)
			}
		}
	})
	t.Run("Random", func(t *testing.T) {
		dp := newDP(t)
		r := rand.New(rand.NewPCG(42, 7))
		n := h.RandomSteps
		if n == 0 {
			n = 40
		}
		for i := range n {
			applyAndCheck(ctx, t, dp, NamedState{Name: "random " + string(rune('a'+i%26)), State: RandomState(r, h.Caps)})
		}
		applyAndCheck(ctx, t, dp, NamedState{Name: "back to empty"})
	})
	t.Run("Unsupported", func(t *testing.T) {
		if len(h.Unsupported) == 0 {
			t.Skip("the datapath supports every service")
		}
		dp := newDP(t)
		base := table[len(table)-1]
		applyAndCheck(ctx, t, dp, base)
		for _, bad := range h.Unsupported {
			want := base.State.Clone()
			want.Services = append(want.Services, bad)
			if v, ok := dp.(lvs.Validator); ok {
				err := v.Validate(want)
				if !errors.Is(err, lvs.ErrUnsupported) || !strings.Contains(err.Error(), bad.Key().String()) {
					t.Errorf("Validate(%s) = %v, want ErrUnsupported naming %s", bad.String(), err, bad.Key())
				}
			}
			err := dp.Apply(ctx, want)
			if !errors.Is(err, lvs.ErrUnsupported) || !strings.Contains(err.Error(), bad.Key().String()) {
				t.Errorf("Apply(+%s) = %v, want ErrUnsupported naming %s", bad.String(), err, bad.Key())
			}
			got, err := dp.Read(ctx)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !got.Equal(base.State) {
				t.Errorf("after rejected %s the rest must stay applied:\n got:\n%s want:\n%s", bad.String(), got.Canonical(), base.State.Canonical())
			}
		}
	})
}

func applyAndCheck(ctx context.Context, t *testing.T, dp lvs.Datapath, ns NamedState) {
	t.Helper()
	if err := dp.Apply(ctx, ns.State); err != nil {
		t.Fatalf("%s: Apply: %v\nwant:\n%s", ns.Name, err, ns.State.Canonical())
	}
	got, err := dp.Read(ctx)
	if err != nil {
		t.Fatalf("%s: Read: %v", ns.Name, err)
	}
	if g, w := got.Canonical().String(), ns.State.Canonical().String(); g != w {
		t.Fatalf("%s: Read after Apply:\n got:\n%s want:\n%s", ns.Name, g, w)
	}
	c, ok := dp.(lvs.Counter)
	var before uint64
	if ok {
		before = c.KernelOps()
	}
	if err := dp.Apply(ctx, ns.State); err != nil {
		t.Fatalf("%s: second Apply: %v", ns.Name, err)
	}
	if ok {
		if n := c.KernelOps() - before; n != 0 {
			t.Errorf("%s: second identical Apply sent %d kernel operations, want 0", ns.Name, n)
		}
	}
}
