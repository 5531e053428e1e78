package cluster

// Property tests of one Core against an independent oracle: random event
// sequences (clock jumps, commits, leadership changes, quorum answers,
// lease messages) and, after every input, checks of the lease rules on the
// actions that came out. The simulation checks the system; this checks the
// core's own promises, input by input.

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

type oracle struct {
	t       Timing
	me      string
	barrier uint64
	now     time.Time
	// holder side
	sent     map[RequestID]time.Time // request → send time
	sentEp   map[RequestID]uint64
	holding  map[string]bool
	heldEp   map[string]uint64
	until    map[string]time.Time
	gaveUp   map[string]uint64 // highest epoch released on request
	released map[string]bool   // a Release happened in the current batch
	// leader side
	leader    bool
	ready     bool
	term      uint64
	electedAt time.Time
	view      *State
	pending   map[RequestID]bool  // requests stepped, not yet in a round
	rounds    map[uint64][]string // round → "from/instance/epoch/id" it may grant
	verified  map[uint64]bool
	lastGrant map[string]time.Time
	doomed    map[string]uint64
	fence     bool
	fenced    map[string]uint64 // instance → epoch whose holder a fence put out
}

func (o *oracle) check(acts []Action) error {
	clear(o.released)
	for _, a := range acts {
		switch a := a.(type) {
		case SendLeaseRequest:
			o.sent[a.ID], o.sentEp[a.ID] = o.now, a.Epoch
		case Hold:
			if a.Epoch <= o.barrier {
				return fmt.Errorf("hold of epoch %d at or below the barrier %d", a.Epoch, o.barrier)
			}
			if a.Epoch <= o.gaveUp[a.Instance] {
				return fmt.Errorf("hold of epoch %d after releasing %d on request", a.Epoch, o.gaveUp[a.Instance])
			}
			if !a.Until.After(o.now) {
				return fmt.Errorf("hold until %v, not after now %v", a.Until, o.now)
			}
			ok := false
			for id, at := range o.sent {
				if o.sentEp[id] == a.Epoch && a.Until.Equal(at.Add(o.t.Lease)) {
					ok = true
				}
			}
			if !ok {
				return fmt.Errorf("hold until %v is not Lease after any request for epoch %d", a.Until, a.Epoch)
			}
			o.holding[a.Instance], o.heldEp[a.Instance], o.until[a.Instance] = true, a.Epoch, a.Until
		case Release:
			o.holding[a.Instance] = false
			o.released[a.Instance] = true
		case Propose:
			c := a.Command
			switch c.Op {
			case OpRelease:
				if o.holding[c.Instance] && o.heldEp[c.Instance] == c.Epoch {
					return fmt.Errorf("acknowledged release of %s epoch %d while still holding it", c.Instance, c.Epoch)
				}
			case OpAssign:
				if !o.leader || !o.ready {
					return fmt.Errorf("assignment proposed while not a ready leader")
				}
				cur := o.view.Instances[c.Instance]
				if cur.Live() {
					from := o.electedAt
					if g := o.lastGrant[c.Instance]; g.After(from) {
						from = g
					}
					if o.now.Before(from.Add(o.t.MoveWait())) {
						return fmt.Errorf("moved %s from live holder %s at %v, before %v", c.Instance, cur.Holder, o.now, from.Add(o.t.MoveWait()))
					}
					if o.fence && o.fenced[c.Instance] != cur.Epoch {
						return fmt.Errorf("moved %s from live holder %s epoch %d without a successful fence", c.Instance, cur.Holder, cur.Epoch)
					}
				}
				o.doomed[c.Instance] = c.Epoch
			}
		case FencePeer:
			cur := o.view.Instances[a.Instance]
			if !o.fence || !o.leader || !cur.Live() || cur.Holder != a.Node || cur.Epoch != a.Epoch {
				return fmt.Errorf("fence of %s for %s epoch %d: fence=%t leader=%t committed %+v", a.Node, a.Instance, a.Epoch, o.fence, o.leader, cur)
			}
		case VerifyLeader:
			if !o.leader || a.Term != o.term {
				return fmt.Errorf("quorum round asked for term %d by a non-leader", a.Term)
			}
			var reqs []string
			for k := range o.pending {
				reqs = append(reqs, fmt.Sprint(k))
			}
			o.rounds[a.Round] = reqs
			clear(o.pending)
		case SendGrant:
			if !o.leader || !o.ready {
				return fmt.Errorf("grant while not a ready leader")
			}
			cur := o.view.Instances[a.Instance]
			if !cur.Live() || cur.Holder != a.To || cur.Epoch != a.Epoch {
				return fmt.Errorf("grant to %s epoch %d, committed %+v", a.To, a.Epoch, cur)
			}
			if o.doomed[a.Instance] == a.Epoch {
				return fmt.Errorf("grant of epoch %d after proposing its replacement", a.Epoch)
			}
			found := false
			for r, reqs := range o.rounds {
				for _, k := range reqs {
					if o.verified[r] && k == fmt.Sprint(a.ID) {
						found = true
					}
				}
			}
			if !found {
				return fmt.Errorf("grant for request %v without a confirmed round that started after it", a.ID)
			}
			o.lastGrant[a.Instance] = o.now
		}
	}
	for inst, h := range o.holding {
		if h && !o.now.Before(o.until[inst]) {
			return fmt.Errorf("still holding %s at %v, lease ended %v", inst, o.now, o.until[inst])
		}
	}
	return nil
}

func runProperty(seed uint64, steps int) error {
	r := rand.New(rand.NewPCG(seed, 77))
	tm := Timing{Lease: time.Second, Renew: 300 * time.Millisecond, Retry: 100 * time.Millisecond, KernelSlack: 100 * time.Millisecond, Drift: 0.01, Margin: 10 * time.Millisecond}
	nodes := []string{"a", "b", "c"}
	specs := []InstanceSpec{
		{Name: "vi", Priority: map[string]int{"a": 100, "b": 150, "c": 120}, PreemptDelay: time.Duration(r.IntN(3)) * 200 * time.Millisecond},
		{Name: "vj", Priority: map[string]int{"a": 200, "b": 100}, Nopreempt: r.IntN(2) == 0},
	}
	barrier := uint64(r.IntN(4))
	fence := r.IntN(2) == 0
	c, err := NewCore(Config{Node: "a", Nodes: nodes, Timing: tm, Instances: specs, Incarnation: 9, Barrier: barrier, Fence: fence})
	if err != nil {
		return err
	}
	o := &oracle{t: tm, me: "a", barrier: barrier, now: time.Unix(100, 0), sent: map[RequestID]time.Time{}, sentEp: map[RequestID]uint64{},
		holding: map[string]bool{}, heldEp: map[string]uint64{}, until: map[string]time.Time{}, gaveUp: map[string]uint64{}, released: map[string]bool{},
		view: NewState(), pending: map[RequestID]bool{}, rounds: map[uint64][]string{}, verified: map[uint64]bool{},
		lastGrant: map[string]time.Time{}, doomed: map[string]uint64{}, fence: fence, fenced: map[string]uint64{}}
	var ids []RequestID
	var round uint64
	insts := []string{"vi", "vj"}
	var index uint64 = 1
	for step := range steps {
		var ev Event
		switch k := r.IntN(13); {
		case k < 3:
			o.now = o.now.Add(time.Duration(r.IntN(400)) * time.Millisecond)
		case k == 3: // a commit: move an instance or record a release
			s := o.view.Clone()
			in := insts[r.IntN(2)]
			index += uint64(1 + r.IntN(2))
			cur := s.Instances[in]
			if r.IntN(3) == 0 && cur.Live() {
				s.Apply(index, Command{Op: OpRelease, Instance: in, Node: cur.Holder, Epoch: cur.Epoch})
			} else {
				s.Apply(index, Command{Op: OpAssign, Instance: in, Node: nodes[r.IntN(3)], Epoch: cur.Epoch})
			}
			if r.IntN(4) == 0 {
				s.Apply(index+1, Command{Op: OpReport, Node: nodes[r.IntN(3)], Instance: insts[r.IntN(2)], Weight: 60 * (r.IntN(3) - 1), Fault: r.IntN(5) == 0})
				index++
			}
			o.view = s
			ev = Committed{State: s}
		case k == 4:
			lead := r.IntN(3) > 0
			term := o.term + uint64(r.IntN(2))
			if lead != o.leader || term != o.term {
				o.leader, o.term, o.ready, o.electedAt = lead, term, false, o.now
				clear(o.pending)
				clear(o.lastGrant)
				clear(o.doomed)
				clear(o.rounds)
				clear(o.fenced)
			}
			ev = Leadership{Leader: lead, Term: term}
		case k == 5:
			if o.leader {
				o.ready = true
			}
			ev = LeaderReady{Term: o.term}
		case k == 6:
			round += uint64(r.IntN(2))
			ok := r.IntN(4) > 0
			if ok && o.leader {
				o.verified[round] = true
			}
			ev = Verified{Round: round, OK: ok}
		case k == 7:
			ev = Reachable{Node: nodes[1+r.IntN(2)], Up: r.IntN(3) > 0}
		case k == 8: // a request from some node for the committed epoch (or a stale one)
			in := insts[r.IntN(2)]
			cur := o.view.Instances[in]
			id := RequestID{Incarnation: 1, Seq: uint64(step)}
			from := nodes[r.IntN(3)]
			if r.IntN(2) == 0 && cur.Holder != "" {
				from = cur.Holder
			}
			ep := cur.Epoch - uint64(r.IntN(2))
			if o.leader {
				o.pending[id] = true
			}
			ev = LeaseRequest{From: from, Instance: in, Epoch: ep, ID: id}
		case k == 9 || k == 10: // a grant for one of our requests, maybe late, maybe forged
			for id := range o.sent {
				ids = append(ids, id)
			}
			in := insts[r.IntN(2)]
			g := LeaseGrant{Instance: in, Epoch: o.view.Instances[in].Epoch, ID: RequestID{Incarnation: 9, Seq: uint64(r.IntN(50))}}
			if len(ids) > 0 && r.IntN(4) > 0 {
				g.ID = ids[r.IntN(len(ids))]
				g.Epoch = o.sentEp[g.ID]
			}
			ev = g
		case k == 12: // a fence answer, right or wrong
			in := insts[r.IntN(2)]
			cur := o.view.Instances[in]
			f := Fenced{Node: cur.Holder, Instance: in, Epoch: cur.Epoch - uint64(r.IntN(2)), OK: r.IntN(3) > 0}
			if r.IntN(4) == 0 {
				f.Node = nodes[r.IntN(3)]
			}
			if o.leader && f.OK && cur.Holder == f.Node && cur.Epoch == f.Epoch {
				o.fenced[in] = f.Epoch
			}
			ev = f
		default:
			in := insts[r.IntN(2)]
			ep := o.view.Instances[in].Epoch
			if ep > o.gaveUp[in] {
				o.gaveUp[in] = ep
			}
			ev = ReleaseRequest{Instance: in, Epoch: ep}
		}
		if ev == nil {
			c.Tick(o.now)
		} else {
			c.Step(o.now, ev)
		}
		if err := o.check(c.Ready()); err != nil {
			return fmt.Errorf("step %d (%T %+v): %w", step, ev, ev, err)
		}
		c.Advance()
		if d, ok := c.Deadline(); ok && d.Before(o.now) {
			return fmt.Errorf("step %d: deadline %v in the past (now %v)", step, d, o.now)
		}
	}
	return nil
}

func TestCoreProperties(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := range uint64(n) {
		if err := runProperty(seed, 300); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func FuzzCoreProperties(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(0xdeadbeef))
	f.Fuzz(func(t *testing.T, seed uint64) {
		if err := runProperty(seed, 400); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	})
}
