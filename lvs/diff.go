package lvs

import (
	"errors"
	"fmt"
	"net/netip"
)

// OpKind is the kind of one datapath operation.
type OpKind uint8

// Operation kinds, in the vocabulary of IPVS (ipvsadm -A/-E/-D, -a/-e/-d).
const (
	AddService OpKind = iota + 1
	UpdateService
	DelService
	AddDest
	UpdateDest
	DelDest
)

func (k OpKind) String() string {
	switch k {
	case AddService:
		return "add-service"
	case UpdateService:
		return "update-service"
	case DelService:
		return "del-service"
	case AddDest:
		return "add-dest"
	case UpdateDest:
		return "update-dest"
	case DelDest:
		return "del-dest"
	}
	return fmt.Sprintf("op%d", uint8(k))
}

// Op is one datapath operation. Service carries the service's attributes
// (its Reals are nil); Real is set for the *Dest kinds.
type Op struct {
	Kind    OpKind
	Service Service
	Real    Real
}

// IsDest reports whether the op is about a destination (real server).
func (o Op) IsDest() bool { return o.Kind >= AddDest }

func (o Op) String() string {
	if o.IsDest() {
		return fmt.Sprintf("%s %s -> %s %s w=%d", o.Kind, o.Service.Key(), o.Real.AddrPort(), o.Real.Method, o.Real.Weight)
	}
	return fmt.Sprintf("%s %s", o.Kind, o.Service.header())
}

// Diff returns the fewest operations that turn have into want: services
// missing from want are deleted (with their reals, in one operation), new
// ones added, changed attributes (scheduler, flags, persistence) updated in
// place, and reals added, deleted, or updated in place when only their weight
// or method differ. Both states are canonicalized first, so the order of the
// inputs does not matter and the ops come in canonical order: service
// deletions first, then per service its update, real deletions, real
// updates, real additions.
//
// Diff deletes everything in have that want lacks: callers that share the
// kernel with others restrict have to what they own first (see Restrict).
func Diff(have, want State) []Op {
	h, w := have.Canonical(), want.Canonical()
	var dels, rest []Op
	i, j := 0, 0
	for i < len(h.Services) || j < len(w.Services) {
		var c int
		switch {
		case i == len(h.Services):
			c = 1
		case j == len(w.Services):
			c = -1
		default:
			c = h.Services[i].Key().Compare(w.Services[j].Key())
		}
		switch {
		case c < 0:
			dels = append(dels, Op{Kind: DelService, Service: attrs(h.Services[i])})
			i++
		case c > 0:
			ws := &w.Services[j]
			rest = append(rest, Op{Kind: AddService, Service: attrs(*ws)})
			for _, r := range ws.Reals {
				rest = append(rest, Op{Kind: AddDest, Service: attrs(*ws), Real: r})
			}
			j++
		default:
			rest = diffService(rest, &h.Services[i], &w.Services[j])
			i++
			j++
		}
	}
	return append(dels, rest...)
}

func attrs(s Service) Service {
	s.Reals = nil
	return s
}

// SameAttrs reports whether two services have equal attributes (ignoring
// their reals). Both must be canonical.
func SameAttrs(a, b *Service) bool {
	return a.Key() == b.Key() && a.Scheduler == b.Scheduler && a.Flags == b.Flags &&
		a.PersistenceTimeout == b.PersistenceTimeout && a.PersistenceNetmask == b.PersistenceNetmask &&
		a.Method == b.Method
}

func diffService(ops []Op, h, w *Service) []Op {
	sa := attrs(*w)
	if !SameAttrs(h, w) {
		ops = append(ops, Op{Kind: UpdateService, Service: sa})
	}
	hr := make(map[netip.AddrPort]Real, len(h.Reals))
	for _, r := range h.Reals {
		hr[r.AddrPort()] = r
	}
	wr := make(map[netip.AddrPort]bool, len(w.Reals))
	for _, r := range w.Reals {
		wr[r.AddrPort()] = true
	}
	for _, r := range h.Reals {
		if !wr[r.AddrPort()] {
			ops = append(ops, Op{Kind: DelDest, Service: sa, Real: r})
		}
	}
	var adds []Op
	for _, r := range w.Reals {
		old, ok := hr[r.AddrPort()]
		switch {
		case !ok:
			adds = append(adds, Op{Kind: AddDest, Service: sa, Real: r})
		case old != r:
			ops = append(ops, Op{Kind: UpdateDest, Service: sa, Real: r})
		}
	}
	return append(ops, adds...)
}

// Restrict returns the services of have that keep accepts, so that Diff never
// touches services vigil did not create. The usual keep is "in want, or in
// the set of services this datapath has created before" (see Owned).
func Restrict(have State, keep func(ServiceKey) bool) State {
	var out State
	for _, s := range have.Services {
		if keep(s.Key()) {
			out.Services = append(out.Services, s)
		}
	}
	return out
}

// Owned is the set of services a datapath has created: the ownership marker
// for datapaths (IPVS) that share their table with other software.
type Owned map[ServiceKey]bool

// Keep reports whether k is owned or wanted.
func (o Owned) Keep(want State) func(ServiceKey) bool {
	w := make(map[ServiceKey]bool, len(want.Services))
	for i := range want.Services {
		w[want.Services[i].Key()] = true
	}
	return func(k ServiceKey) bool { return o[k] || w[k] }
}

// Record updates the set after ops were applied: added services become
// owned, deleted ones are forgotten.
func (o Owned) Record(ops []Op) {
	for _, op := range ops {
		switch op.Kind {
		case AddService, UpdateService:
			o[op.Service.Key()] = true
		case DelService:
			delete(o, op.Service.Key())
		}
	}
}

// Execute runs ops in order through do. When an op fails, the remaining ops
// of the same service are skipped (a failed service must not be left half
// built on top of an error) and the others still run; the result joins one
// *OpError per failed service. It returns the ops that succeeded.
func Execute(ops []Op, do func(Op) error) ([]Op, error) {
	failed := map[ServiceKey]bool{}
	var errs []error
	var done []Op
	for _, op := range ops {
		k := op.Service.Key()
		if failed[k] {
			continue
		}
		if err := do(op); err != nil {
			failed[k] = true
			errs = append(errs, &OpError{Op: op, Err: err})
			continue
		}
		done = append(done, op)
	}
	return done, errors.Join(errs...)
}
