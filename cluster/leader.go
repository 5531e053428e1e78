package cluster

import (
	"slices"
	"time"
)

// leader is the leader side: it grants lease renewals to committed holders
// after a quorum round, and moves instances only when the old holder
// acknowledged release or its lease has surely run out.
type leader struct {
	me    string
	t     Timing
	wait  time.Duration // MoveWait
	specs []InstanceSpec
	nodes []string // every node named in any spec, sorted
	view  *State
	out   *[]Action

	// unsafeNoElectionWait disables the new-leader wait. Only the
	// simulation's teeth test sets it, to prove the simulation notices.
	unsafeNoElectionWait bool
	// unsafeSkipVerify grants without a quorum round (teeth test only).
	unsafeSkipVerify bool
	// unsafeNoSettle grants while assignments under older definitions
	// may still be held (teeth test only).
	unsafeNoSettle bool

	// fence gates every move away from a holder that did not acknowledge
	// on a successful fence-peer hook (Config.Fence).
	fence bool

	isLeader  bool
	ready     bool
	term      uint64
	electedAt time.Time

	round      uint64
	inflight   bool
	roundStart time.Time
	roundReqs  []LeaseRequest
	pending    []LeaseRequest

	reach map[string]bool
	since map[sinceKey]time.Time
	insts map[string]*lInst
}

type lInst struct {
	lastGrant  time.Time
	doomed     uint64 // an assignment replacing this epoch was proposed: never grant it again
	revoking   bool
	askedAt    time.Time
	proposedAt time.Time
	proposedEp uint64
	proposing  bool
	wakeAt     time.Time
	fencedEp   uint64    // the epoch whose holder a fence-peer hook put out of action
	fenceAt    time.Time // when the hook was last asked
}

func (li *lInst) wake(t time.Time) {
	if li.wakeAt.IsZero() || t.Before(li.wakeAt) {
		li.wakeAt = t
	}
}

func newLeader(me string, t Timing, specs []InstanceSpec, nodes []string, view *State, out *[]Action) *leader {
	return &leader{me: me, t: t, wait: t.MoveWait(), specs: specs, nodes: nodes, view: view, out: out,
		reach: map[string]bool{}, since: map[sinceKey]time.Time{}, insts: map[string]*lInst{}}
}

func (l *leader) emit(a Action) { *l.out = append(*l.out, a) }

func (l *leader) leadership(now time.Time, ev Leadership) {
	if ev.Leader == l.isLeader && ev.Term == l.term {
		return
	}
	// Any change of leadership or term starts afresh: the volatile grant
	// records are only meaningful within one term.
	l.isLeader, l.term = ev.Leader, ev.Term
	l.ready = false
	l.electedAt = now
	l.inflight, l.roundReqs, l.pending = false, nil, nil
	l.since = map[sinceKey]time.Time{}
	l.insts = map[string]*lInst{}
	l.tick(now)
}

func (l *leader) leaderReady(now time.Time, ev LeaderReady) {
	if l.isLeader && ev.Term == l.term {
		l.ready = true
		l.tick(now)
	}
}

func (l *leader) inst(name string) *lInst {
	li := l.insts[name]
	if li == nil {
		li = &lInst{}
		l.insts[name] = li
	}
	return li
}

func (l *leader) request(now time.Time, r LeaseRequest) {
	if !l.isLeader {
		return
	}
	for _, p := range l.pending {
		if p.ID == r.ID && p.From == r.From {
			return
		}
	}
	l.pending = append(l.pending, r)
	l.startRound(now)
}

// startRound begins a quorum round covering every request received so far.
// The round starts after those requests arrived, which is what makes a
// grant safe against any later leader (see the package doc).
func (l *leader) startRound(now time.Time) {
	if l.inflight || len(l.pending) == 0 || !l.isLeader {
		return
	}
	l.round++
	l.inflight, l.roundStart = true, now
	l.roundReqs, l.pending = l.pending, nil
	if l.unsafeSkipVerify {
		l.verified(now, Verified{Round: l.round, OK: true})
		return
	}
	l.emit(VerifyLeader{Round: l.round, Term: l.term})
}

func (l *leader) verified(now time.Time, v Verified) {
	if !l.isLeader || !l.inflight || v.Round != l.round {
		return
	}
	reqs := l.roundReqs
	l.inflight, l.roundReqs = false, nil
	if v.OK && l.ready {
		for _, r := range reqs {
			cur := l.view.Instances[r.Instance]
			li := l.inst(r.Instance)
			if cur.Holder != r.From || cur.Epoch != r.Epoch || cur.Released || li.revoking || li.doomed == cur.Epoch || !l.current(r.Instance, cur) {
				continue
			}
			// Record the grant at the time the round completed: later than
			// the request was sent, so lastGrant+wait bounds its lease.
			li.lastGrant = now
			l.emit(SendGrant{To: r.From, Instance: r.Instance, Epoch: r.Epoch, ID: r.ID})
		}
	}
	l.startRound(now)
}

// statuses is every node as the leader sees it for one instance: reachable
// and drained as a node, weight and fault from its trackers' report for
// the instance. EligibleSince starts when the node became eligible with an
// effective priority above the live holder's (any, when none is live) and
// ends when it no longer is: keepalived's preempt_delay counts from when a
// backup first sees a master of lower priority, so a holder whose tracker
// drops its priority, or a node whose tracker recovers, waits it out.
func (l *leader) statuses(now time.Time, spec InstanceSpec, cur Assignment) []NodeStatus {
	out := make([]NodeStatus, 0, len(l.nodes))
	holderPrio := 0
	for _, n := range l.nodes {
		r := l.view.Nodes[n]
		ir := r.Instances[spec.Name]
		st := NodeStatus{Name: n, Reachable: n == l.me || l.reach[n], Fault: ir.Fault, Weight: ir.Weight, Drained: r.Drained}
		if p, ok := EffectivePriority(spec, st); ok && st.Eligible() && cur.Live() && n == cur.Holder {
			holderPrio = p
		}
		out = append(out, st)
	}
	for i := range out {
		st := &out[i]
		k := sinceKey{node: st.Name, instance: spec.Name}
		if p, ok := EffectivePriority(spec, *st); ok && st.Eligible() && p > holderPrio {
			if l.since[k].IsZero() {
				l.since[k] = now
			}
			st.EligibleSince = l.since[k]
		} else {
			delete(l.since, k)
		}
	}
	return out
}

// sinceKey names a node's candidacy for one instance.
type sinceKey struct{ node, instance string }

func (l *leader) tick(now time.Time) {
	if !l.isLeader {
		return
	}
	if l.inflight && !now.Before(l.roundStart.Add(l.t.Renew)) {
		// The round was lost; the holders will ask again.
		l.inflight, l.roundReqs = false, nil
	}
	l.startRound(now)
	if !l.ready {
		return
	}
	for _, li := range l.insts {
		li.wakeAt = time.Time{} // set again below for what still has work
	}
	for _, spec := range l.work() {
		cur := l.view.Instances[spec.Name]
		li := l.inst(spec.Name)
		d := Decide(spec, cur, l.statuses(now, spec, cur), now)
		if !d.Recheck.IsZero() {
			li.wakeAt = d.Recheck
		}
		if li.proposing && li.proposedEp != cur.Epoch {
			li.proposing = false // the proposal (or another) committed
		}
		stale := cur.Def != spec.Def
		if cur.Live() && d.Holder == cur.Holder && !stale {
			li.revoking = false
			continue
		}
		if !cur.Live() {
			if d.Holder != "" && l.settling(spec.Name) {
				continue // the commit of that release or move ticks again
			}
			if d.Holder != "" || cur.Holder != "" {
				l.propose(now, spec, li, cur, d.Holder)
			}
			continue
		}
		// The live holder must go. Stop renewing it, ask it to let go, and
		// move it once it acknowledged (then cur is not live) or its lease
		// has surely expired.
		li.revoking = true
		if cur.Holder == l.me || l.reach[cur.Holder] {
			if li.askedAt.IsZero() || !now.Before(li.askedAt.Add(l.t.Retry)) {
				li.askedAt = now
				l.emit(SendReleaseRequest{To: cur.Holder, Instance: spec.Name, Epoch: cur.Epoch})
			}
			li.wake(li.askedAt.Add(l.t.Retry))
		}
		safe := l.safeAt(li)
		if l.fence && li.fencedEp != cur.Epoch && (!now.Before(safe) || !(cur.Holder == l.me || l.reach[cur.Holder])) {
			// The holder will not acknowledge (it is unreachable, or the
			// wait ran out): put it out of action, in parallel with the
			// wait, and ask again while the hook fails.
			retry := max(l.t.Retry, l.t.Renew)
			if li.fenceAt.IsZero() || !now.Before(li.fenceAt.Add(retry)) {
				li.fenceAt = now
				l.emit(FencePeer{Node: cur.Holder, Instance: spec.Name, Epoch: cur.Epoch})
			}
			li.wake(li.fenceAt.Add(retry))
		}
		if now.Before(safe) {
			li.wake(safe)
			continue
		}
		if l.fence && li.fencedEp != cur.Epoch {
			continue // the fence must succeed before the takeover
		}
		to := d.Holder
		if l.settling(spec.Name) {
			to = "" // free it; it is granted once the older definitions are gone
		}
		l.propose(now, spec, li, cur, to)
	}
}

// work is what tick decides on: every configured instance, and every
// instance the configuration no longer has that is still assigned to a
// live holder, as an instance no node is a candidate for (so it is
// revoked).
func (l *leader) work() []InstanceSpec {
	out := l.specs
	var gone []string
	for name, a := range l.view.Instances {
		if _, ok := l.spec(name); !ok && a.Live() {
			gone = append(gone, name)
		}
	}
	if len(gone) == 0 {
		return out
	}
	slices.Sort(gone)
	out = slices.Clone(out)
	for _, name := range gone {
		out = append(out, InstanceSpec{Name: name, Def: removedDef})
	}
	return out
}

// removedDef is the definition of an instance the configuration no
// longer has: no assignment is ever made under it.
const removedDef = "\x00removed"

func (l *leader) spec(name string) (InstanceSpec, bool) {
	i, ok := slices.BinarySearchFunc(l.specs, name, func(s InstanceSpec, n string) int { return cmpString(s.Name, n) })
	if !ok {
		return InstanceSpec{}, false
	}
	return l.specs[i], true
}

// current reports whether a was made under the instance's definition in
// the running configuration.
func (l *leader) current(name string, a Assignment) bool {
	s, ok := l.spec(name)
	return ok && a.Def == s.Def
}

// settling reports whether an instance other than except is still
// assigned to a live holder under a definition the configuration no
// longer has. While one is, no instance is granted: the VIPs of the old
// definitions and of the new ones may overlap (a VIP moved from one
// instance to another), and only the current configuration's instances
// are known to be disjoint.
func (l *leader) settling(except string) bool {
	if l.unsafeNoSettle {
		return false
	}
	for name, a := range l.view.Instances {
		if name != except && a.Live() && !l.current(name, a) {
			return true
		}
	}
	return false
}

func (l *leader) fenced(now time.Time, f Fenced) {
	if !l.isLeader || !f.OK {
		return
	}
	cur := l.view.Instances[f.Instance]
	if cur.Holder != f.Node || cur.Epoch != f.Epoch {
		return
	}
	l.inst(f.Instance).fencedEp = f.Epoch
	l.tick(now)
}

// safeAt is when, on this leader's clock, no lease for the instance's
// current epoch can still be in force: MoveWait after the later of the
// election and the last grant of this term.
func (l *leader) safeAt(li *lInst) time.Time {
	from := l.electedAt
	if li.lastGrant.After(from) {
		from = li.lastGrant
	}
	if l.unsafeNoElectionWait && li.lastGrant.IsZero() {
		return from
	}
	return from.Add(l.wait)
}

func (l *leader) propose(now time.Time, spec InstanceSpec, li *lInst, cur Assignment, to string) {
	// The leader's own proposals are lost only with its leadership (and
	// then all of this is reset), so retry slowly: a proposal that cannot
	// commit must not flood the log.
	retry := max(l.t.Retry, l.t.Renew)
	if li.proposing && li.proposedEp == cur.Epoch && now.Before(li.proposedAt.Add(retry)) {
		li.wake(li.proposedAt.Add(retry))
		return
	}
	li.proposing, li.proposedEp, li.proposedAt = true, cur.Epoch, now
	li.doomed = cur.Epoch
	li.wake(now.Add(retry))
	def := spec.Def
	if def == removedDef {
		def = ""
	}
	l.emit(Propose{Command{Op: OpAssign, Instance: spec.Name, Node: to, Epoch: cur.Epoch, Def: def}})
}

func (l *leader) deadline() (time.Time, bool) {
	if !l.isLeader {
		return time.Time{}, false
	}
	var d time.Time
	set := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if l.inflight {
		set(l.roundStart.Add(l.t.Renew))
	}
	for _, li := range l.insts {
		set(li.wakeAt)
	}
	return d, !d.IsZero()
}
