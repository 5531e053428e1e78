package cluster

import (
	"time"
)

// InstanceSpec is the configuration of one VRRP instance (VIP group) as the
// ownership decision needs it.
type InstanceSpec struct {
	Name string
	VRID uint8
	// Priority is the configured priority per node (1..254). A node without
	// an entry is not a candidate for this instance.
	Priority map[string]int
	// Nopreempt keeps a working holder even when a node with a higher
	// effective priority is eligible.
	Nopreempt bool
	// PreemptDelay is how long a better node must have been eligible
	// continuously before it preempts the holder.
	PreemptDelay time.Duration
	// Def fingerprints what holding the instance puts on the wire (its
	// addresses, interface, VRID, advert settings), the same on every
	// node for the same configuration. An assignment is bound to the Def
	// it was made under: a holder holds it only while its own
	// configuration has that Def, and a configuration change that gives
	// the instance another one releases it first (see the package doc,
	// "Changing the instances").
	Def string
}

// NodeStatus is one node as the deciding leader sees it for one instance.
type NodeStatus struct {
	Name string
	// Reachable: the leader hears from the node (Raft heartbeats; gossip
	// only hints that this should be rechecked).
	Reachable bool
	// Fault and Weight are the node's tracker report for the instance,
	// Drained the node's drain flag (the replicated NodeReport).
	Fault   bool
	Weight  int
	Drained bool
	// EligibleSince is when the node became eligible with a priority above
	// the holder's, on the leader's clock (zero if it is not): what
	// preempt_delay counts from.
	EligibleSince time.Time
}

// Eligible reports whether the node may hold the instance.
func (n NodeStatus) Eligible() bool { return n.Reachable && !n.Fault && !n.Drained }

// Decision is the outcome of Decide.
type Decision struct {
	// Holder is the node that should hold the instance, "" for none.
	Holder string
	// Reason says why, for logs and golden tests.
	Reason string
	// Recheck, when not zero, is when the decision may change without any
	// input changing (a preempt_delay maturing).
	Recheck time.Time
}

// EffectivePriority is the configured priority plus tracker weights,
// clamped to 1..254 as keepalived does.
func EffectivePriority(spec InstanceSpec, n NodeStatus) (int, bool) {
	p, ok := spec.Priority[n.Name]
	if !ok {
		return 0, false
	}
	p += n.Weight
	return min(max(p, 1), 254), true
}

// pinned returns the node cur is pinned to (vigil transfer) if it is a
// candidate: it has a priority for the instance and is eligible.
func pinned(spec InstanceSpec, cur Assignment, nodes []NodeStatus) *NodeStatus {
	if cur.Pinned == "" {
		return nil
	}
	if _, ok := spec.Priority[cur.Pinned]; !ok {
		return nil
	}
	for i := range nodes {
		if nodes[i].Name == cur.Pinned && nodes[i].Eligible() {
			return &nodes[i]
		}
	}
	return nil
}

// Decide is the ownership decision: which node should hold spec's VIP now,
// given its current assignment and the nodes. It is a pure function.
//
// Rules, in order: an instance pinned by an operator (Assignment.Pinned)
// goes to the pinned node while it is a candidate. Otherwise a node is a candidate if it has a priority for the
// instance and is eligible (reachable, no fault, not drained). A live
// holder that is still a candidate keeps the instance (stickiness) unless
// preemption applies: nopreempt is off and a candidate has a strictly
// higher effective priority and has been so (EligibleSince) for at least
// PreemptDelay. Otherwise the best candidate wins: highest effective
// priority, ties broken by the smallest name.
func Decide(spec InstanceSpec, cur Assignment, nodes []NodeStatus, now time.Time) Decision {
	var best *NodeStatus
	bestPrio := 0
	var holder *NodeStatus
	holderPrio := 0
	for i := range nodes {
		n := &nodes[i]
		p, ok := EffectivePriority(spec, *n)
		if !ok || !n.Eligible() {
			continue
		}
		if cur.Live() && n.Name == cur.Holder {
			holder, holderPrio = n, p
		}
		if best == nil || p > bestPrio || (p == bestPrio && n.Name < best.Name) {
			best, bestPrio = n, p
		}
	}
	if pin := pinned(spec, cur, nodes); pin != nil {
		if holder == pin {
			return Decision{Holder: pin.Name, Reason: "holder stays (pinned)"}
		}
		return Decision{Holder: pin.Name, Reason: "transferred to " + pin.Name}
	}
	switch {
	case holder != nil && (best == holder || bestPrio <= holderPrio):
		return Decision{Holder: holder.Name, Reason: "holder stays"}
	case holder != nil && spec.Nopreempt:
		return Decision{Holder: holder.Name, Reason: "holder stays (nopreempt)"}
	case holder != nil:
		// A better node exists; preemption, maybe after a delay. Look for
		// the best node whose delay has matured.
		var mature *NodeStatus
		maturePrio := 0
		var recheck time.Time
		for i := range nodes {
			n := &nodes[i]
			p, ok := EffectivePriority(spec, *n)
			if !ok || !n.Eligible() || p <= holderPrio {
				continue
			}
			at := n.EligibleSince.Add(spec.PreemptDelay)
			if spec.PreemptDelay > 0 && (n.EligibleSince.IsZero() || now.Before(at)) {
				if !n.EligibleSince.IsZero() && (recheck.IsZero() || at.Before(recheck)) {
					recheck = at
				}
				continue
			}
			if mature == nil || p > maturePrio || (p == maturePrio && n.Name < mature.Name) {
				mature, maturePrio = n, p
			}
		}
		if mature == nil {
			return Decision{Holder: holder.Name, Reason: "holder stays (preempt_delay)", Recheck: recheck}
		}
		return Decision{Holder: mature.Name, Reason: "preempted by higher priority"}
	case best != nil && cur.Live():
		return Decision{Holder: best.Name, Reason: "holder " + cur.Holder + " not eligible"}
	case best != nil:
		return Decision{Holder: best.Name, Reason: "best eligible"}
	}
	return Decision{Reason: "no eligible node"}
}
