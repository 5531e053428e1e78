package cluster

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Unix(1000, 0)
	up := func(name string, since time.Duration) NodeStatus {
		return NodeStatus{Name: name, Reachable: true, EligibleSince: t0.Add(-since)}
	}
	spec := func(mod func(*InstanceSpec)) InstanceSpec {
		s := InstanceSpec{Name: "vi", Priority: map[string]int{"a": 100, "b": 150, "c": 150}}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	live := func(h string) Assignment { return Assignment{Holder: h, Epoch: 7} }
	long := time.Hour
	tests := []struct {
		name    string
		spec    InstanceSpec
		cur     Assignment
		nodes   []NodeStatus
		want    string
		reason  string
		recheck time.Duration // relative to t0, 0 for none
	}{
		{name: "no holder: best priority, tie to smallest name", spec: spec(nil),
			nodes: []NodeStatus{up("a", long), up("c", long), up("b", long)}, want: "b", reason: "best eligible"},
		{name: "no eligible node", spec: spec(nil),
			nodes: []NodeStatus{{Name: "a"}, {Name: "b", Reachable: true, Fault: true}}, want: "", reason: "no eligible node"},
		{name: "node without priority is no candidate", spec: spec(nil),
			nodes: []NodeStatus{up("z", long)}, want: "", reason: "no eligible node"},
		{name: "stickiness: equal priority holder stays", spec: spec(nil), cur: live("c"),
			nodes: []NodeStatus{up("b", long), up("c", long)}, want: "c", reason: "holder stays"},
		{name: "preempt: higher priority takes over", spec: spec(nil), cur: live("a"),
			nodes: []NodeStatus{up("a", long), up("b", long)}, want: "b", reason: "preempted by higher priority"},
		{name: "nopreempt keeps the holder", spec: spec(func(s *InstanceSpec) { s.Nopreempt = true }), cur: live("a"),
			nodes: []NodeStatus{up("a", long), up("b", long)}, want: "a", reason: "holder stays (nopreempt)"},
		{name: "nopreempt still moves off a faulted holder", spec: spec(func(s *InstanceSpec) { s.Nopreempt = true }), cur: live("a"),
			nodes: []NodeStatus{{Name: "a", Reachable: true, Fault: true}, up("b", long)}, want: "b", reason: "holder a not eligible"},
		{name: "preempt_delay not yet matured", spec: spec(func(s *InstanceSpec) { s.PreemptDelay = 10 * time.Second }), cur: live("a"),
			nodes: []NodeStatus{up("a", long), up("b", 4*time.Second)}, want: "a", reason: "holder stays (preempt_delay)", recheck: 6 * time.Second},
		{name: "preempt_delay matured", spec: spec(func(s *InstanceSpec) { s.PreemptDelay = 10 * time.Second }), cur: live("a"),
			nodes: []NodeStatus{up("a", long), up("b", 10*time.Second)}, want: "b", reason: "preempted by higher priority"},
		{name: "preempt_delay does not delay taking a free instance", spec: spec(func(s *InstanceSpec) { s.PreemptDelay = 10 * time.Second }),
			nodes: []NodeStatus{up("a", long), up("b", 0)}, want: "b", reason: "best eligible"},
		{name: "transfer: the pinned node takes over from a better holder", spec: spec(func(s *InstanceSpec) { s.Nopreempt = true }),
			cur:   Assignment{Holder: "b", Epoch: 7, Pinned: "a"},
			nodes: []NodeStatus{up("a", 0), up("b", long)}, want: "a", reason: "transferred to a"},
		{name: "transfer: the pinned holder stays against a higher priority", spec: spec(nil),
			cur:   Assignment{Holder: "a", Epoch: 7, Pinned: "a"},
			nodes: []NodeStatus{up("a", long), up("b", long)}, want: "a", reason: "holder stays (pinned)"},
		{name: "transfer: a pin to an ineligible node is ignored", spec: spec(nil),
			cur:   Assignment{Holder: "b", Epoch: 7, Pinned: "a"},
			nodes: []NodeStatus{{Name: "a", Reachable: true, Drained: true}, up("b", long)}, want: "b", reason: "holder stays"},
		{name: "transfer: a pin to a node without priority is ignored", spec: spec(nil),
			cur:   Assignment{Holder: "b", Epoch: 7, Pinned: "z"},
			nodes: []NodeStatus{up("z", long), up("b", long)}, want: "b", reason: "holder stays"},
		{name: "drained holder moves", spec: spec(nil), cur: live("b"),
			nodes: []NodeStatus{up("a", long), {Name: "b", Reachable: true, Drained: true}}, want: "a", reason: "holder b not eligible"},
		{name: "unreachable holder moves", spec: spec(nil), cur: live("b"),
			nodes: []NodeStatus{up("a", long), {Name: "b"}}, want: "a", reason: "holder b not eligible"},
		{name: "tracker weight lifts a node above the holder", spec: spec(nil), cur: live("b"),
			nodes: []NodeStatus{{Name: "a", Reachable: true, Weight: 60, EligibleSince: t0}, up("b", long)}, want: "a", reason: "preempted by higher priority"},
		{name: "negative weight lets a holder be preempted", spec: spec(nil), cur: live("b"),
			nodes: []NodeStatus{{Name: "b", Reachable: true, Weight: -60}, up("a", long)}, want: "a", reason: "preempted by higher priority"},
		{name: "weights clamp to 254: no preemption between clamped nodes", spec: spec(nil), cur: live("a"),
			nodes: []NodeStatus{{Name: "a", Reachable: true, Weight: 500}, {Name: "b", Reachable: true, Weight: 500}}, want: "a", reason: "holder stays"},
		{name: "released holder is not live: best wins, even itself", spec: spec(nil), cur: Assignment{Holder: "b", Epoch: 7, Released: true},
			nodes: []NodeStatus{up("b", long), up("c", long)}, want: "b", reason: "best eligible"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.spec, tc.cur, tc.nodes, t0)
			if d.Holder != tc.want || d.Reason != tc.reason {
				t.Errorf("Decide = %q (%s), want %q (%s)", d.Holder, d.Reason, tc.want, tc.reason)
			}
			var wantRecheck time.Time
			if tc.recheck != 0 {
				wantRecheck = t0.Add(tc.recheck)
			}
			if !d.Recheck.Equal(wantRecheck) {
				t.Errorf("Recheck = %v, want %v", d.Recheck, wantRecheck)
			}
			// Deterministic: the order of nodes does not matter.
			rev := make([]NodeStatus, len(tc.nodes))
			for i, n := range tc.nodes {
				rev[len(rev)-1-i] = n
			}
			if d2 := Decide(tc.spec, tc.cur, rev, t0); d2 != d {
				t.Errorf("reversed input: %+v, want %+v", d2, d)
			}
		})
	}
}

func TestMoveWait(t *testing.T) {
	tm := Timing{Lease: time.Second, KernelSlack: 0, Drift: 0.01, Margin: 0}
	got := tm.MoveWait()
	// (1+ρ)/(1−ρ) = 1.0202…, slightly more than the first-order 1+2ρ.
	if got != 1020202021*time.Nanosecond {
		t.Errorf("MoveWait = %v, want 1.020202021s", got)
	}
	if first := time.Duration(float64(time.Second) * 1.02); got <= first {
		t.Errorf("MoveWait %v not above the first-order bound %v", got, first)
	}
	d := DefaultTiming()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if w := d.MoveWait(); w != 2906565657*time.Nanosecond {
		t.Errorf("default MoveWait = %v", w)
	}
	for _, bad := range []Timing{
		{},
		{Lease: time.Second, Renew: time.Second, Retry: 1},
		{Lease: time.Second, Renew: 1, Retry: 1, Drift: 0.5},
		{Lease: time.Second, Renew: 1, Retry: 1, KernelSlack: -1},
	} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	t0 := time.Unix(1000, 0)
	spec := InstanceSpec{Name: "vi", Priority: map[string]int{"a": 100, "b": 150, "c": 120, "d": 90, "e": 200}, PreemptDelay: time.Second}
	var nodes []NodeStatus
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		nodes = append(nodes, NodeStatus{Name: n, Reachable: true, EligibleSince: t0.Add(-time.Minute)})
	}
	cur := Assignment{Holder: "b", Epoch: 9}
	for b.Loop() {
		Decide(spec, cur, nodes, t0)
	}
}

// BenchmarkLeaderRound is one renewal on the leader: request, quorum
// answer, grant.
func BenchmarkLeaderRound(b *testing.B) {
	t0 := time.Unix(1000, 0)
	c, err := NewCore(Config{Node: "b", Nodes: []string{"a", "b", "c"}, Timing: DefaultTiming(),
		Instances: []InstanceSpec{{Name: "vi", Priority: map[string]int{"a": 150, "b": 100}}}})
	if err != nil {
		b.Fatal(err)
	}
	st := NewState()
	st.Instances["vi"] = Assignment{Holder: "a", Epoch: 5}
	c.Step(t0, Committed{State: st})
	c.Step(t0, Reachable{Node: "a", Up: true})
	c.Step(t0, Leadership{Leader: true, Term: 2})
	c.Step(t0, LeaderReady{Term: 2})
	c.Advance()
	var seq uint64
	for b.Loop() {
		seq++
		now := t0.Add(time.Duration(seq) * time.Millisecond)
		c.Step(now, LeaseRequest{From: "a", Instance: "vi", Epoch: 5, ID: RequestID{Seq: seq}})
		c.Step(now, Verified{Round: seq, OK: true})
		if len(c.Ready()) != 2 {
			b.Fatalf("actions %v", c.Ready())
		}
		c.Advance()
	}
}
