package fencing

import (
	"context"
	"sync"
	"time"
)

// Tracker runs each fencing at most once: the leader's decision loop may
// ask again and again to fence the holder of an epoch it is taking over,
// and the hook must run exactly once per (node, instance, epoch) all the
// same. Safe for concurrent use.
type Tracker struct {
	f   Fencer
	now func() time.Time
	mu  sync.Mutex
	ops map[trackKey]*Operation
}

type trackKey struct {
	node, instance string
	epoch          uint64
}

// NewTracker returns a Tracker running f (usually a *Retrying); now
// stamps the operations (nil: time.Now).
func NewTracker(f Fencer, now func() time.Time) *Tracker {
	return &Tracker{f: f, now: now, ops: map[trackKey]*Operation{}}
}

// Ensure returns the operation fencing req's node for its instance and
// epoch, starting it (with ctx) if none exists. A finished operation is
// returned as it ended, failed or not: to run a failed one again, Forget
// it first.
func (t *Tracker) Ensure(ctx context.Context, req Request) *Operation {
	k := trackKey{req.Node, req.Instance, req.Epoch}
	t.mu.Lock()
	defer t.mu.Unlock()
	if op, ok := t.ops[k]; ok {
		return op
	}
	op := Start(ctx, t.f, req, t.now)
	t.ops[k] = op
	return op
}

// Forget drops the operation of req (a finished one, or one whose epoch
// is settled); a later Ensure starts a new one.
func (t *Tracker) Forget(req Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.ops, trackKey{req.Node, req.Instance, req.Epoch})
}

// ForgetBefore drops the operations of instance with an epoch older than
// epoch (assignments the cluster has moved past).
func (t *Tracker) ForgetBefore(instance string, epoch uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.ops {
		if k.instance == instance && k.epoch < epoch {
			delete(t.ops, k)
		}
	}
}
