package cluster

import (
	"slices"
	"time"
)

// holder is the holder side of the lease protocol for one node: it asks for
// leases on the instances the committed state assigns to this node, holds
// the VIP while a lease is valid, and releases at once when it is not.
type holder struct {
	me      string
	t       Timing
	inc     uint64 // incarnation, part of every RequestID
	barrier uint64 // never hold an epoch at or below this (assigned before the restart)
	seq     uint64
	now     time.Time // the latest time seen, for "due at once"
	insts   map[string]*hInst
	names   []string // sorted names of every instance known, removed ones too, for deterministic output
	out     *[]Action

	// unsafeLeaseFromReceipt counts the lease from the grant's arrival.
	// Only the simulation's teeth test sets it.
	unsafeLeaseFromReceipt bool
}

type sentReq struct {
	id     RequestID
	epoch  uint64
	sentAt time.Time
}

type hInst struct {
	committed Assignment
	// def is the instance's definition in this node's configuration;
	// known is false once the configuration no longer has the instance.
	def   string
	known bool

	holding bool
	epoch   uint64
	until   time.Time

	reqs       [4]sentReq // the last few requests, ring
	nreq       int
	lastSent   time.Time
	answered   time.Time // send time of the newest granted request
	released   uint64    // highest epoch this incarnation gave up for good
	ackEpoch   uint64    // release acknowledgement being proposed
	ackSentAt  time.Time
	ackPending bool
}

func newHolder(me string, t Timing, inc, barrier uint64, specs []InstanceSpec, out *[]Action) *holder {
	h := &holder{me: me, t: t, inc: inc, barrier: barrier, insts: map[string]*hInst{}, out: out}
	for _, s := range specs {
		h.insts[s.Name] = &hInst{def: s.Def, known: true}
		h.names = append(h.names, s.Name)
	}
	return h
}

// setInstances takes this node's new instances (specs sorted by name). An
// instance that is gone, or whose definition changed, is given up: a held
// one is released at once, and the epoch assigned to this node is never
// held again and is acknowledged through the log, so the leader can grant
// the new definition without waiting out a lease.
func (h *holder) setInstances(now time.Time, specs []InstanceSpec) {
	h.now = now
	known := map[string]bool{}
	for _, s := range specs {
		known[s.Name] = true
		in := h.insts[s.Name]
		if in == nil {
			in = &hInst{}
			h.insts[s.Name] = in
			h.names = append(h.names, s.Name)
		} else if in.known && in.def != s.Def {
			h.giveUp(s.Name, in, s.Def, false, "instance definition changed")
		}
		in.def, in.known = s.Def, true
	}
	for _, name := range h.names {
		if in := h.insts[name]; !known[name] && in.known {
			h.giveUp(name, in, "", true, "instance removed")
			in.known = false
		}
	}
	slices.Sort(h.names)
	h.tick(now)
}

// giveUp releases the instance held under its old definition and never
// holds that epoch again, nor the committed one unless it was made under
// def, the new definition (none for a removed instance).
func (h *holder) giveUp(name string, in *hInst, def string, removed bool, reason string) {
	if in.holding {
		in.released = max(in.released, in.epoch)
	}
	if c := in.committed; c.Holder == h.me && (removed || c.Def != def) {
		in.released = max(in.released, c.Epoch)
	}
	h.release(name, in, reason)
}

func (h *holder) emit(a Action) { *h.out = append(*h.out, a) }

// committed takes the new committed view and reconciles.
func (h *holder) committedState(now time.Time, s *State) {
	for _, n := range h.names {
		h.insts[n].committed = s.Instances[n]
	}
	h.tick(now)
}

// mine reports whether this incarnation may seek a lease for the committed
// assignment.
func (h *holder) mine(in *hInst) bool {
	c := in.committed
	return c.Live() && c.Holder == h.me && c.Epoch > h.barrier && c.Epoch > in.released && in.known && c.Def == in.def
}

// pending reports whether the committed assignment is this node's under a
// definition its configuration does not have yet (or no longer has, and
// it has not given the epoch up): it neither holds nor acknowledges, and
// waits for its configuration or the leader's release request.
func (h *holder) pending(in *hInst) bool {
	c := in.committed
	return in.known && c.Def != in.def && c.Epoch > h.barrier && c.Epoch > in.released
}

func (h *holder) release(name string, in *hInst, reason string) {
	if !in.holding {
		return
	}
	in.holding = false
	h.emit(Release{Instance: name, Epoch: in.epoch, Reason: reason})
}

func (h *holder) tick(now time.Time) {
	h.now = now
	for _, name := range h.names {
		in := h.insts[name]
		c := in.committed
		if in.holding && (c.Holder != h.me || c.Epoch != in.epoch || c.Released) {
			h.release(name, in, "reassigned")
		}
		if in.holding && !now.Before(in.until) {
			h.release(name, in, "lease expired")
		}
		// Assigned to us, but we cannot hold that epoch (it predates this
		// incarnation, or we gave it up): acknowledge through the log so
		// the leader can move it without waiting out a lease.
		if c.Live() && c.Holder == h.me && !h.mine(in) && !h.pending(in) {
			if !in.ackPending || in.ackEpoch != c.Epoch || !now.Before(in.ackSentAt.Add(h.t.Retry)) {
				in.ackPending, in.ackEpoch, in.ackSentAt = true, c.Epoch, now
				h.emit(Propose{Command{Op: OpRelease, Instance: name, Node: h.me, Epoch: c.Epoch}})
			}
			continue
		}
		in.ackPending = false
		if !h.mine(in) {
			continue
		}
		if at, ok := h.nextSend(in); ok && !now.Before(at) {
			h.seq++
			id := RequestID{Incarnation: h.inc, Seq: h.seq}
			in.reqs[in.nreq%len(in.reqs)] = sentReq{id: id, epoch: c.Epoch, sentAt: now}
			in.nreq++
			in.lastSent = now
			h.emit(SendLeaseRequest{Instance: name, Epoch: c.Epoch, ID: id})
		}
	}
}

// nextSend is when the next lease request for in is due.
func (h *holder) nextSend(in *hInst) (time.Time, bool) {
	if !h.mine(in) {
		return time.Time{}, false
	}
	if in.lastSent.IsZero() || in.committed.Epoch != in.reqs[(in.nreq-1+len(in.reqs))%len(in.reqs)].epoch {
		return h.now, true // due at once
	}
	if in.holding && !in.answered.Before(in.lastSent) {
		return in.lastSent.Add(h.t.Renew), true
	}
	return in.lastSent.Add(h.t.Retry), true
}

func (h *holder) grant(now time.Time, g LeaseGrant) {
	h.now = now
	in := h.insts[g.Instance]
	if in == nil {
		return
	}
	var req *sentReq
	for i := range min(in.nreq, len(in.reqs)) {
		if in.reqs[i].id == g.ID {
			req = &in.reqs[i]
		}
	}
	if req == nil || req.epoch != g.Epoch || !h.mine(in) || in.committed.Epoch != g.Epoch {
		return
	}
	if req.sentAt.After(in.answered) {
		in.answered = req.sentAt
	}
	// The lease runs from when we asked, not from when the answer came.
	until := req.sentAt.Add(h.t.Lease)
	if h.unsafeLeaseFromReceipt {
		until = now.Add(h.t.Lease)
	}
	if !until.After(now) {
		return
	}
	if in.holding && in.epoch == g.Epoch {
		if !until.After(in.until) {
			return
		}
		in.until = until
	} else {
		h.release(g.Instance, in, "epoch changed")
		in.holding, in.epoch, in.until = true, g.Epoch, until
	}
	h.emit(Hold{Instance: g.Instance, Epoch: g.Epoch, Until: until})
}

func (h *holder) releaseRequest(now time.Time, r ReleaseRequest) {
	in := h.insts[r.Instance]
	if in == nil {
		return
	}
	if r.Epoch > in.released {
		in.released = r.Epoch
	}
	if in.holding && in.epoch <= r.Epoch {
		h.release(r.Instance, in, "release requested")
	}
	h.tick(now)
}

// deadline is the earliest time tick has something to do.
func (h *holder) deadline() (time.Time, bool) {
	var d time.Time
	set := func(t time.Time) {
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	for _, name := range h.names {
		in := h.insts[name]
		if in.holding {
			set(in.until)
		}
		if in.ackPending {
			set(in.ackSentAt.Add(h.t.Retry))
		}
		if at, ok := h.nextSend(in); ok {
			set(at)
		}
	}
	return d, !d.IsZero()
}
