// Package lvstest provides an in-memory lvs.Datapath that models the IPVS
// kernel table (EEXIST/ENOENT on bad operations, canonical String), random
// state generators, and RunConformance, the one suite every datapath passes.
package lvstest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"vigil/lvs"
)

// Kernel models the kernel's IPVS table: services keyed by ServiceKey, each
// with destinations keyed by address and port. Bad operations fail as the
// kernel does: adding what exists gives lvs.ErrExist (EEXIST), touching what
// does not exist gives lvs.ErrNotExist (ENOENT).
type Kernel struct {
	svcs map[lvs.ServiceKey]*lvs.Service
	ops  uint64
	// FailOn, when set, is called before every operation; a non-nil error
	// fails the operation without changing the table (fault injection).
	FailOn func(lvs.Op) error
}

// NewKernel returns an empty table.
func NewKernel() *Kernel { return &Kernel{svcs: map[lvs.ServiceKey]*lvs.Service{}} }

// Ops returns the number of operations attempted.
func (k *Kernel) Ops() uint64 { return k.ops }

// Do performs one operation.
func (k *Kernel) Do(op lvs.Op) error {
	k.ops++
	if k.FailOn != nil {
		if err := k.FailOn(op); err != nil {
			return err
		}
	}
	key := op.Service.Key()
	s := k.svcs[key]
	switch op.Kind {
	case lvs.AddService:
		if s != nil {
			return fmt.Errorf("service %s: %w", key, lvs.ErrExist)
		}
		ns := op.Service
		ns.Reals = nil
		k.svcs[key] = &ns
		return nil
	}
	if s == nil {
		return fmt.Errorf("service %s: %w", key, lvs.ErrNotExist)
	}
	i := slices.IndexFunc(s.Reals, func(r lvs.Real) bool { return r.AddrPort() == op.Real.AddrPort() })
	switch op.Kind {
	case lvs.UpdateService:
		reals := s.Reals
		*s = op.Service
		s.Reals = reals
	case lvs.DelService:
		delete(k.svcs, key)
	case lvs.AddDest:
		if i >= 0 {
			return fmt.Errorf("dest %s: %w", op.Real.AddrPort(), lvs.ErrExist)
		}
		s.Reals = append(s.Reals, op.Real)
	case lvs.UpdateDest:
		if i < 0 {
			return fmt.Errorf("dest %s: %w", op.Real.AddrPort(), lvs.ErrNotExist)
		}
		s.Reals[i] = op.Real
	case lvs.DelDest:
		if i < 0 {
			return fmt.Errorf("dest %s: %w", op.Real.AddrPort(), lvs.ErrNotExist)
		}
		s.Reals = slices.Delete(s.Reals, i, i+1)
	default:
		return fmt.Errorf("unknown op %d", op.Kind)
	}
	return nil
}

// Insert adds a service as other software would (a foreign service).
func (k *Kernel) Insert(s lvs.Service) {
	s.Reals = slices.Clone(s.Reals)
	k.svcs[s.Key()] = &s
}

// State returns the whole table in canonical form.
func (k *Kernel) State() lvs.State {
	var st lvs.State
	for _, s := range k.svcs {
		c := *s
		c.Reals = slices.Clone(s.Reals)
		st.Services = append(st.Services, c)
	}
	return st.Canonical()
}

// String renders the table canonically, one "ipvs svc"/"ipvs dst" line each.
func (k *Kernel) String() string { return k.State().String() }

// Datapath is the in-memory lvs.Datapath over a Kernel. It remembers which
// services it created and never touches others.
type Datapath struct {
	K     *Kernel
	owned lvs.Owned
}

var _ lvs.Datapath = (*Datapath)(nil)

// New returns a datapath over k (a fresh Kernel when k is nil).
func New(k *Kernel) *Datapath {
	if k == nil {
		k = NewKernel()
	}
	return &Datapath{K: k, owned: lvs.Owned{}}
}

// Apply implements lvs.Datapath.
func (d *Datapath) Apply(ctx context.Context, want lvs.State) error {
	if err := want.Validate(); err != nil {
		return err
	}
	have := lvs.Restrict(d.K.State(), d.owned.Keep(want))
	done, err := lvs.Execute(lvs.Diff(have, want), d.K.Do)
	d.owned.Record(done)
	return err
}

// Read implements lvs.Datapath: the services this datapath owns.
func (d *Datapath) Read(ctx context.Context) (lvs.State, error) {
	return lvs.Restrict(d.K.State(), func(k lvs.ServiceKey) bool { return d.owned[k] }), nil
}

// Close implements lvs.Datapath.
func (d *Datapath) Close() error { return nil }

// KernelOps implements lvs.Counter.
func (d *Datapath) KernelOps() uint64 { return d.K.Ops() }

// Forget drops the memory of what this datapath created (a restarted agent).
func (d *Datapath) Forget() { d.owned = lvs.Owned{} }

// addr is a helper for tables.
func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// MustAddr parses an IP address or panics, for tables.
func MustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
