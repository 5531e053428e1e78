package cluster

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestStateApply(t *testing.T) {
	type step struct {
		index   uint64
		cmd     Command
		changed bool
		err     error
	}
	tests := []struct {
		name  string
		steps []step
		want  map[string]Assignment
	}{
		{name: "assign: the epoch is the entry's index", steps: []step{
			{5, Command{Op: OpAssign, Instance: "vi", Node: "a"}, true, nil},
		}, want: map[string]Assignment{"vi": {Holder: "a", Epoch: 5}}},
		{name: "a retried assignment is a no-op", steps: []step{
			{5, Command{Op: OpAssign, Instance: "vi", Node: "a"}, true, nil},
			{6, Command{Op: OpAssign, Instance: "vi", Node: "a"}, false, ErrStaleEpoch},
		}, want: map[string]Assignment{"vi": {Holder: "a", Epoch: 5}}},
		{name: "move names the epoch it replaces", steps: []step{
			{5, Command{Op: OpAssign, Instance: "vi", Node: "a"}, true, nil},
			{9, Command{Op: OpAssign, Instance: "vi", Node: "b", Epoch: 5}, true, nil},
			{10, Command{Op: OpAssign, Instance: "vi", Node: "c", Epoch: 5}, false, ErrStaleEpoch},
		}, want: map[string]Assignment{"vi": {Holder: "b", Epoch: 9}}},
		{name: "release by the holder, twice", steps: []step{
			{5, Command{Op: OpAssign, Instance: "vi", Node: "a"}, true, nil},
			{6, Command{Op: OpRelease, Instance: "vi", Node: "a", Epoch: 5}, true, nil},
			{7, Command{Op: OpRelease, Instance: "vi", Node: "a", Epoch: 5}, false, nil},
		}, want: map[string]Assignment{"vi": {Holder: "a", Epoch: 5, Released: true}}},
		{name: "release of another epoch or by another node is refused", steps: []step{
			{5, Command{Op: OpAssign, Instance: "vi", Node: "a"}, true, nil},
			{6, Command{Op: OpRelease, Instance: "vi", Node: "a", Epoch: 4}, false, ErrNotHolder},
			{7, Command{Op: OpRelease, Instance: "vi", Node: "b", Epoch: 5}, false, ErrNotHolder},
		}, want: map[string]Assignment{"vi": {Holder: "a", Epoch: 5}}},
		{name: "entries at or below the applied index are ignored", steps: []step{
			{5, Command{Op: OpAssign, Instance: "vi", Node: "a"}, true, nil},
			{5, Command{Op: OpAssign, Instance: "vi", Node: "b", Epoch: 5}, false, nil},
		}, want: map[string]Assignment{"vi": {Holder: "a", Epoch: 5}}},
		{name: "transfer pins, the pinned node's assignment keeps the pin", steps: []step{
			{5, Command{Op: OpAssign, Instance: "vi", Node: "a"}, true, nil},
			{6, Command{Op: OpTransfer, Instance: "vi", Node: "b"}, true, nil},
			{7, Command{Op: OpTransfer, Instance: "vi", Node: "b"}, false, nil},
			{8, Command{Op: OpRelease, Instance: "vi", Node: "a", Epoch: 5}, true, nil},
			{9, Command{Op: OpAssign, Instance: "vi", Node: "b", Epoch: 5}, true, nil},
		}, want: map[string]Assignment{"vi": {Holder: "b", Epoch: 9, Pinned: "b"}}},
		{name: "assigning to another node clears the pin", steps: []step{
			{5, Command{Op: OpTransfer, Instance: "vi", Node: "b"}, true, nil},
			{6, Command{Op: OpAssign, Instance: "vi", Node: "c"}, true, nil},
		}, want: map[string]Assignment{"vi": {Holder: "c", Epoch: 6}}},
		{name: "transfer to nobody clears the pin", steps: []step{
			{5, Command{Op: OpTransfer, Instance: "vi", Node: "b"}, true, nil},
			{6, Command{Op: OpTransfer, Instance: "vi"}, true, nil},
		}, want: map[string]Assignment{"vi": {}}},
		{name: "bad commands", steps: []step{
			{1, Command{Op: OpAssign}, false, ErrBadCommand},
			{2, Command{Op: 99}, false, ErrBadCommand},
			{3, Command{Op: OpReport}, false, ErrBadCommand},
			{4, Command{Op: OpTransfer, Node: "a"}, false, ErrBadCommand},
			{5, Command{Op: OpReport, Node: "a", Weight: -10}, false, ErrBadCommand}, // a report is per instance
		}, want: map[string]Assignment{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			for i, st := range tc.steps {
				changed, err := s.Apply(st.index, st.cmd)
				if changed != st.changed || !errors.Is(err, st.err) || (st.err == nil) != (err == nil) {
					t.Errorf("step %d %v: changed=%t err=%v, want %t %v", i, st.cmd, changed, err, st.changed, st.err)
				}
			}
			if !reflect.DeepEqual(s.Instances, tc.want) {
				t.Errorf("instances = %v, want %v", s.Instances, tc.want)
			}
		})
	}
}

// TestStateNodes: tracker reports are per node and instance (keepalived
// applies trackers per vrrp_instance); one instance's report leaves the
// node's others alone, a repeat changes nothing, the zero report is no
// entry at all, and a NodeReport taken before a later report (or a Clone)
// does not change under its holder.
func TestStateNodes(t *testing.T) {
	s := NewState()
	steps := []struct {
		c       Command
		changed bool
	}{
		{Command{Op: OpReport, Node: "a", Instance: "vi", Weight: -20}, true},
		{Command{Op: OpReport, Node: "a", Instance: "vj", Fault: true}, true},
		{Command{Op: OpReport, Node: "a", Instance: "vi", Weight: -20}, false},
		{Command{Op: OpDrain, Node: "a", Drained: true}, true},
		{Command{Op: OpDrain, Node: "a", Drained: true}, false},
		{Command{Op: OpReport, Node: "b", Instance: "vi"}, false}, // the default already
	}
	for i, st := range steps {
		if ch, err := s.Apply(uint64(i+1), st.c); err != nil || ch != st.changed {
			t.Fatalf("step %d %v: changed %t, %v; want %t", i, st.c, ch, err, st.changed)
		}
	}
	want := map[string]NodeReport{"a": {Drained: true, Instances: map[string]InstanceReport{"vi": {Weight: -20}, "vj": {Fault: true}}}}
	if !reflect.DeepEqual(s.Nodes, want) {
		t.Fatalf("nodes = %+v, want %+v", s.Nodes, want)
	}
	before, c := s.Nodes["a"], s.Clone()
	s.Apply(10, Command{Op: OpReport, Node: "a", Instance: "vj"})
	if !before.Instances["vj"].Fault || !c.Nodes["a"].Instances["vj"].Fault {
		t.Fatal("a later report changed a NodeReport taken before it")
	}
	if _, ok := s.Nodes["a"].Instances["vj"]; ok {
		t.Fatalf("the zero report is kept: %+v", s.Nodes["a"])
	}
}

// TestStateReplay: applying any log twice, or any prefix again, ends in
// the same state as applying it once (what a restore followed by a replay
// does), and the JSON snapshot round-trips.
func TestStateReplay(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nodes := []string{"a", "b", "c"}
	for trial := range 200 {
		var log []Command
		ref := NewState()
		for i := range 40 {
			var c Command
			in := []string{"vi", "vj"}[r.IntN(2)]
			switch r.IntN(6) {
			case 0:
				c = Command{Op: OpAssign, Instance: in, Node: nodes[r.IntN(3)], Epoch: ref.Instances[in].Epoch}
			case 1:
				a := ref.Instances[in]
				c = Command{Op: OpRelease, Instance: in, Node: a.Holder, Epoch: a.Epoch}
			case 4:
				c = Command{Op: OpTransfer, Instance: in, Node: []string{"", "a", "b", "c"}[r.IntN(4)]}
			case 2:
				c = Command{Op: OpReport, Node: nodes[r.IntN(3)], Instance: in, Weight: r.IntN(3) * 10, Fault: r.IntN(2) == 0}
			case 3:
				c = Command{Op: OpHealth, Node: nodes[r.IntN(3)], Server: in + "/rs", Up: r.IntN(3) > 0, Dynamic: r.IntN(2) == 0, Weight: r.IntN(3)}
			default:
				c = Command{Op: OpDrain, Node: nodes[r.IntN(3)], Drained: r.IntN(2) == 0}
			}
			log = append(log, c)
			ref.Apply(uint64(i+1), c)
		}
		cut := r.IntN(len(log))
		s := NewState()
		for i, c := range log[:cut] {
			s.Apply(uint64(i+1), c)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		restored := NewState()
		if err := json.Unmarshal(b, restored); err != nil {
			t.Fatal(err)
		}
		for i, c := range log { // replays the prefix too
			restored.Apply(uint64(i+1), c)
		}
		if !reflect.DeepEqual(restored, ref) {
			t.Fatalf("trial %d: replay after restore at %d differs:\n%+v\n%+v", trial, cut, restored, ref)
		}
	}
}

// TestApplyHealth: health reports are per node and server, last writer
// wins, a repeat changes nothing, and Clone copies them deeply.
func TestApplyHealth(t *testing.T) {
	s := NewState()
	if _, err := s.Apply(1, Command{Op: OpHealth, Server: "vs/rs1"}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("health without node: %v, want ErrBadCommand", err)
	}
	steps := []struct {
		c       Command
		changed bool
	}{
		{Command{Op: OpHealth, Node: "d1", Server: "vs/rs1", Up: false}, true},
		{Command{Op: OpHealth, Node: "d1", Server: "vs/rs1", Up: false}, false},
		{Command{Op: OpHealth, Node: "d2", Server: "vs/rs1", Up: true}, true},
		{Command{Op: OpHealth, Node: "d1", Server: "vs/rs1", Up: true}, true},
	}
	for i, st := range steps {
		changed, err := s.Apply(uint64(i+2), st.c)
		if err != nil || changed != st.changed {
			t.Fatalf("step %d %v: changed %t, %v; want %t", i, st.c, changed, err, st.changed)
		}
	}
	if got := s.Health["vs/rs1"]; !got["d1"] || !got["d2"] || len(got) != 2 {
		t.Fatalf("health = %v", s.Health)
	}
	c := s.Clone()
	c.Health["vs/rs1"]["d1"] = false
	if !s.Health["vs/rs1"]["d1"] {
		t.Fatal("Clone shares the health maps")
	}
}

// TestApplyHealthWeight: a misc_dynamic weight is recorded with an up
// report and dropped with a down report or a report without one (the
// configured weight); a repeat changes nothing; an empty map is nil, as a
// snapshot restores it.
func TestApplyHealthWeight(t *testing.T) {
	s := NewState()
	h := func(up, dyn bool, w int) Command {
		return Command{Op: OpHealth, Node: "d1", Server: "vs/rs1", Up: up, Dynamic: dyn, Weight: w}
	}
	steps := []struct {
		c       Command
		changed bool
		want    map[string]map[string]int
	}{
		{h(true, true, 5), true, map[string]map[string]int{"vs/rs1": {"d1": 5}}},
		{h(true, true, 5), false, map[string]map[string]int{"vs/rs1": {"d1": 5}}},
		{h(true, true, 0), true, map[string]map[string]int{"vs/rs1": {"d1": 0}}}, // exit 2: weight 0, still up
		{h(true, false, 0), true, nil},
		{h(true, true, 7), true, map[string]map[string]int{"vs/rs1": {"d1": 7}}},
		{h(false, true, 7), true, nil}, // down: no weight
		{h(false, true, 9), false, nil},
	}
	for i, st := range steps {
		changed, err := s.Apply(uint64(i+1), st.c)
		if err != nil || changed != st.changed || !reflect.DeepEqual(s.Weights, st.want) {
			t.Fatalf("step %d %v: changed %t, %v, weights %v; want %t, %v", i, st.c, changed, err, s.Weights, st.changed, st.want)
		}
	}
	s.Apply(20, h(true, true, 3))
	c := s.Clone()
	c.Weights["vs/rs1"]["d1"] = 4
	if s.Weights["vs/rs1"]["d1"] != 3 {
		t.Fatal("Clone shares the weight maps")
	}
}

// TestApplyConfig: the configuration's version is the index that set it;
// the same text again changes nothing; an empty one is refused; an initial
// one only sets the first.
func TestApplyConfig(t *testing.T) {
	s := NewState()
	if _, err := s.Apply(1, Command{Op: OpConfig}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("empty config: %v", err)
	}
	if ch, err := s.Apply(2, Command{Op: OpConfig, Text: "a"}); !ch || err != nil || s.Config != (ConfigEntry{Version: 2, Text: "a"}) {
		t.Fatalf("first config: %t %v %+v", ch, err, s.Config)
	}
	if ch, _ := s.Apply(3, Command{Op: OpConfig, Text: "a"}); ch || s.Config.Version != 2 {
		t.Fatalf("same text again changed the version to %d", s.Config.Version)
	}
	if ch, _ := s.Apply(4, Command{Op: OpConfig, Text: "b"}); !ch || s.Config != (ConfigEntry{Version: 4, Text: "b"}) {
		t.Fatalf("new text: %+v", s.Config)
	}
	// A leader that has not replayed the log proposes its own file as the
	// initial configuration: it must not replace an existing one.
	if ch, _ := s.Apply(5, Command{Op: OpConfig, Text: "stale", Initial: true}); ch || s.Config != (ConfigEntry{Version: 4, Text: "b"}) {
		t.Fatalf("an initial config replaced the cluster's: %+v", s.Config)
	}
	if ch, _ := NewState().Apply(1, Command{Op: OpConfig, Text: "x", Initial: true}); !ch {
		t.Fatal("an initial config was refused on an empty state")
	}
	if c := s.Clone(); c.Config != s.Config {
		t.Fatal("Clone lost the configuration")
	}
}

// TestOperatorWriteIDs: an operator's drain, transfer or configuration
// records its request ID even when the value does not change, so its
// writer can tell that this very write committed (a stale replica may
// already show the value); a retry with the same ID changes nothing; a
// copy whose base is not the last write (delayed past a later write) is
// refused; assignments keep the ID of the last transfer.
func TestOperatorWriteIDs(t *testing.T) {
	s := NewState()
	steps := []struct {
		c       Command
		changed bool
		stale   bool
	}{
		{c: Command{Op: OpDrain, Node: "a", Drained: false, ID: "u1"}, changed: true}, // the value is the default: still recorded
		{c: Command{Op: OpDrain, Node: "a", Drained: false, ID: "u1"}},
		{c: Command{Op: OpDrain, Node: "a", Drained: true, ID: "d1", Base: "u1"}, changed: true},
		{c: Command{Op: OpDrain, Node: "a", Drained: false, ID: "u2", Base: "d1"}, changed: true},
		{c: Command{Op: OpDrain, Node: "a", Drained: true, ID: "d0", Base: "u1"}, stale: true}, // an older drain, delayed
		{c: Command{Op: OpDrain, Node: "a", Drained: true, ID: "d2", Base: "u2"}, changed: true},
		{c: Command{Op: OpTransfer, Instance: "vi", Node: "b", ID: "t1"}, changed: true},
		{c: Command{Op: OpTransfer, Instance: "vi", Node: "b", ID: "t1"}},
		{c: Command{Op: OpAssign, Instance: "vi", Node: "c"}, changed: true},
		{c: Command{Op: OpTransfer, Instance: "vi", Node: "", ID: "t2", Base: "t1"}, changed: true}, // a clear of a pin already gone
		{c: Command{Op: OpConfig, Text: "x", ID: "c1"}, changed: true},
		{c: Command{Op: OpConfig, Text: "y", ID: "c0"}, stale: true},
		{c: Command{Op: OpConfig, Text: "x", ID: "c2", Base: "c1"}, changed: true}, // the same text: recorded, no new version
	}
	for i, st := range steps {
		ch, err := s.Apply(uint64(i+1), st.c)
		if ch != st.changed || errors.Is(err, ErrStaleWrite) != st.stale || (err != nil && !st.stale) {
			t.Errorf("step %d %v: changed %t, err %v; want changed %t, stale %t", i, st.c, ch, err, st.changed, st.stale)
		}
		if i == 8 && s.Instances["vi"].PinID != "t1" {
			t.Errorf("after an assignment the last transfer's ID is %q, want t1", s.Instances["vi"].PinID)
		}
	}
	if r := s.Nodes["a"]; !r.Drained || r.DrainID != "d2" {
		t.Errorf("node a: %+v, want drained by d2", r)
	}
	if s.Config != (ConfigEntry{Version: 11, Text: "x", ID: "c2"}) {
		t.Errorf("config %+v, want x at version 11, last written by c2", s.Config)
	}
	if a := s.Instances["vi"]; a.Pinned != "" || a.PinID != "t2" {
		t.Errorf("vi: %+v, want no pin, last transfer t2", a)
	}
}
