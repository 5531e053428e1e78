package cluster

// Live configuration changes in the simulation: instances added, removed
// and redefined while faults strike. Every instance's definition is a set
// of addresses; the configurations deal the addresses out so that no two
// instances of one configuration share one, and a change may move an
// address from one instance to another. The kernel model tracks what each
// node holds by address, and the split-brain check is per address: the
// core must never let one address be held under an old definition on one
// node and a new one on another.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// setupConfigs gives each instance its first definition (its own address)
// and, in a schedule that reconfigures, adds an instance to the pool that
// later configurations may add.
func (w *simWorld) setupConfigs(names []string) {
	for i := range w.specs {
		if w.specs[i].Def == "" {
			w.specs[i].Def = strconv.Itoa(i)
		}
	}
	w.cfgs = [][]InstanceSpec{slices.Clone(w.specs)}
	w.reconf = w.p.reconf || (w.p.specs == nil && w.rng.IntN(3) == 0)
	if !w.reconf {
		return
	}
	s := InstanceSpec{Name: "vx", VRID: uint8(len(w.specs) + 1), Priority: map[string]int{}}
	for _, nm := range names {
		s.Priority[nm] = 50 + 10*w.rng.IntN(5)
	}
	w.inst[s.Name] = len(w.specs)
	w.specs = append(w.specs, s)
	w.held = append(w.held, -1)
	w.maxEpoch = append(w.maxEpoch, 0)
	w.lastHolder = append(w.lastHolder, -1)
}

// reconfigure proposes a new configuration through a random node (lost if
// it is down, or has no leader to forward to): a random non-empty subset
// of the instances, the addresses dealt out among them afresh, and
// sometimes new priorities.
func (w *simWorld) reconfigure() {
	var in []int
	for i := range w.specs {
		if w.rng.IntN(4) > 0 {
			in = append(in, i)
		}
	}
	if len(in) == 0 {
		in = []int{w.rng.IntN(len(w.specs))}
	}
	addrs := w.rng.Perm(len(w.specs) + 1)
	owned := make([][]int, len(w.specs))
	for k, i := range in {
		owned[i] = []int{addrs[k]}
	}
	for _, a := range addrs[len(in):] {
		if w.rng.IntN(2) == 0 {
			i := in[w.rng.IntN(len(in))]
			owned[i] = append(owned[i], a)
		}
	}
	var cfg []InstanceSpec
	for _, i := range in {
		s := w.specs[i]
		slices.Sort(owned[i])
		s.Def = strings.Trim(fmt.Sprint(owned[i]), "[]")
		if w.rng.IntN(3) == 0 {
			s.Priority = map[string]int{}
			for _, n := range w.nodes {
				if w.rng.IntN(4) > 0 {
					s.Priority[n.name] = 50 + 10*w.rng.IntN(5)
				}
			}
			if len(s.Priority) == 0 {
				s.Priority[w.nodes[0].name] = 100
			}
		}
		cfg = append(cfg, s)
	}
	w.cfgs = append(w.cfgs, cfg)
	n := w.nodes[w.rng.IntN(len(w.nodes))]
	text := "config " + strconv.Itoa(len(w.cfgs)-1)
	w.tracef(n, "propose %s: %v", text, cfg)
	if n.up && n.pausedUntil <= w.now {
		n.propose(Command{Op: OpConfig, Text: text})
	}
}

// configIndex is the catalogue index of a committed configuration's text
// (0, every node's file, before any).
func configIndex(st *State) int {
	i, _ := strconv.Atoi(strings.TrimPrefix(st.Config.Text, "config "))
	return i
}

// followConfig is the driver's OnConfig: a newly committed configuration
// replaces the core's instances before the core sees the new state.
func (n *simNode) followConfig() {
	i := configIndex(n.fsm)
	if i == n.cfg {
		return
	}
	n.cfg = i
	n.w.configsApplied++
	n.w.tracef(n, "apply config %d", i)
	if err := n.core.SetInstances(n.t(), n.w.cfgs[i]); err != nil {
		panic(err)
	}
}

// addrsOf are the addresses of instance in node n's configuration (nil
// when it has no such instance).
func (n *simNode) addrsOf(instance string) []int {
	for _, s := range n.w.cfgs[n.cfg] {
		if s.Name == instance {
			var out []int
			for _, f := range strings.Fields(s.Def) {
				a, err := strconv.Atoi(f)
				if err != nil {
					panic(err)
				}
				out = append(out, a)
			}
			return out
		}
	}
	return nil
}

// overlap is an address in both a and b, or -1.
func overlap(a, b []int) int {
	for _, x := range a {
		if slices.Contains(b, x) {
			return x
		}
	}
	return -1
}

// finalConfig is the configuration the healed cluster runs: the one
// committed last, as the most advanced node has applied it.
func (w *simWorld) finalConfig() []InstanceSpec {
	best := w.nodes[0]
	for _, n := range w.nodes {
		if n.applied > best.applied {
			best = n
		}
	}
	return w.cfgs[configIndex(best.fsm)]
}

// configured reports whether the final configuration has instance i.
func (w *simWorld) configured(cfg []InstanceSpec, i int) bool {
	return slices.ContainsFunc(cfg, func(s InstanceSpec) bool { return s.Name == w.specs[i].Name })
}
