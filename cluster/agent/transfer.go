package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"vigil/cluster"
)

// TransferRequest is the body of POST /v1/transfer.
type TransferRequest struct {
	Instance string `json:"instance"`
	// To is the node to hand the instance to; empty: the best other
	// eligible node (highest effective priority, then smallest name).
	To string `json:"to,omitempty"`
	// Clear removes the instance's pin instead: the priority rules
	// (preemption included) decide again.
	Clear bool `json:"clear,omitempty"`
}

// TransferResult answers it once the target holds the instance (or, for
// Clear, once the pin is gone).
type TransferResult struct {
	Instance string `json:"instance"`
	Pinned   string `json:"pinned"` // "" after a clear
	Holder   string `json:"holder"`
	Epoch    uint64 `json:"epoch"`
	Index    uint64 `json:"index"` // the committed state's index
}

// Transfer pins instance to a node through the log and waits until that
// node holds it under a new epoch (or ctx ends). The leader hands it over
// as it does for a drain: the holder releases (priority-0 advert), then
// the target takes over, with no lease wait. The pin keeps it there
// against preemption while the target is eligible; any later move to
// another node (the target failing) clears the pin.
func (a *Agent) Transfer(ctx context.Context, req TransferRequest) (TransferResult, error) {
	spec, ok := a.spec(req.Instance)
	if !ok {
		return TransferResult{}, errField{"instance", fmt.Sprintf("no instance %q (instances: %v)", req.Instance, a.instanceNames())}
	}
	st := a.fsm.current()
	cur := st.Instances[spec.Name]
	to := req.To
	switch {
	case req.Clear && to != "":
		return TransferResult{}, errField{"to", "give either a target node or clear, not both"}
	case req.Clear:
	case to == "":
		best, err := a.bestOther(spec, st, cur.Holder)
		if err != nil {
			return TransferResult{}, errField{"to", err.Error()}
		}
		to = best
	default:
		if _, ok := spec.Priority[to]; !ok {
			return TransferResult{}, errField{"to", fmt.Sprintf("node %q is not a candidate for instance %s (candidates: %v)", to, spec.Name, slices.Sorted(maps.Keys(spec.Priority)))}
		}
		if why := a.ineligible(st, to, spec.Name); why != "" {
			return TransferResult{}, errField{"to", fmt.Sprintf("node %s cannot take instance %s: %s", to, spec.Name, why)}
		}
	}
	id := requestID()
	st, err := a.write(ctx, func(st *cluster.State) cluster.Command {
		return cluster.Command{Op: cluster.OpTransfer, Instance: spec.Name, Node: to, ID: id, Base: st.Instances[spec.Name].PinID}
	}, func(st *cluster.State) bool { return st.Instances[spec.Name].PinID == id })
	if err != nil {
		return TransferResult{}, err
	}
	if !req.Clear {
		// The pin is committed; now wait for the handover itself.
		if st, err = a.await(ctx, func(st *cluster.State) bool {
			as := st.Instances[spec.Name]
			return as.Live() && as.Holder == to || as.Pinned != to
		}); err != nil {
			return TransferResult{}, fmt.Errorf("instance %s is pinned to %s, but %s did not take it over in time (see vigil status): %w", spec.Name, to, to, err)
		}
	}
	as := st.Instances[spec.Name]
	if as.Pinned != to {
		return TransferResult{}, fmt.Errorf("instance %s moved to %s instead of %s, which clears the pin (%s failed meanwhile?)", spec.Name, as.Holder, to, to)
	}
	return TransferResult{Instance: spec.Name, Pinned: as.Pinned, Holder: as.Holder, Epoch: as.Epoch, Index: st.Index}, nil
}

// await waits until the committed state satisfies done or ctx ends.
func (a *Agent) await(ctx context.Context, done func(*cluster.State) bool) (*cluster.State, error) {
	return retry(ctx, 10*time.Millisecond, nil, func() (*cluster.State, bool) {
		st := a.fsm.current()
		return st, done(st)
	}, nil)
}

func (a *Agent) spec(name string) (cluster.InstanceSpec, bool) {
	for _, s := range a.instances() {
		if s.Name == name {
			return s, true
		}
	}
	return cluster.InstanceSpec{}, false
}

func (a *Agent) instanceNames() []string {
	var out []string
	for _, s := range a.instances() {
		out = append(out, s.Name)
	}
	return out
}

// ineligible says why node cannot hold instance now, as far as this node
// can tell (the leader decides): drained, a fault, or unreachable on every
// link. "" when it looks eligible.
func (a *Agent) ineligible(st *cluster.State, node, instance string) string {
	r := st.Nodes[node]
	switch {
	case r.Drained:
		return "it is drained (vigil undrain " + node + ")"
	case r.Instances[instance].Fault:
		return "a weight-0 tracker reports a fault on it"
	case node == a.cfg.Node:
		return ""
	}
	for _, p := range a.gossip.peers([]string{node}) {
		if p.State == LinkDown {
			return "it is unreachable on every heartbeat link"
		}
	}
	return ""
}

// bestOther picks the transfer target: the eligible candidate other than
// holder with the highest effective priority, ties to the smallest name.
func (a *Agent) bestOther(spec cluster.InstanceSpec, st *cluster.State, holder string) (string, error) {
	type cand struct {
		name string
		prio int
	}
	var cs []cand
	for name := range spec.Priority {
		if name == holder || a.ineligible(st, name, spec.Name) != "" {
			continue
		}
		r := st.Nodes[name].Instances[spec.Name]
		p, _ := cluster.EffectivePriority(spec, cluster.NodeStatus{Name: name, Weight: r.Weight})
		cs = append(cs, cand{name, p})
	}
	if len(cs) == 0 {
		return "", fmt.Errorf("no eligible node other than the holder %q can take instance %s (see vigil status)", holder, spec.Name)
	}
	slices.SortFunc(cs, func(x, y cand) int { return cmp.Or(cmp.Compare(y.prio, x.prio), cmp.Compare(x.name, y.name)) })
	return cs[0].name, nil
}

func (a *Agent) handleTransfer(w http.ResponseWriter, r *http.Request) {
	var req TransferRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, APIError{Error: "body must be JSON {\"instance\": NAME, \"to\": NODE, \"clear\": BOOL}: " + err.Error(), Field: "body"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	res, err := a.Transfer(ctx, req)
	writeResult(w, res, err)
}
