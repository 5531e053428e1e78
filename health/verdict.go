package health

import (
	"fmt"
	"slices"
	"strings"
)

// Quorum is the health_quorum rule: how the directors' reports of one real
// server become its committed state.
type Quorum int

const (
	// QuorumMajority (the default): the state changes when a strict
	// majority of the live directors report the new state. A single
	// director with a bad path cannot take a healthy server out.
	QuorumMajority Quorum = iota
	// QuorumLeader: the Raft leader's report decides.
	QuorumLeader
	// QuorumAny: one live director reporting the server down takes it out;
	// it comes back when every live director that reported sees it up
	// (keepalived's behaviour on each director, made identical on all).
	QuorumAny
)

func (q Quorum) String() string {
	switch q {
	case QuorumMajority:
		return "majority"
	case QuorumLeader:
		return "leader"
	case QuorumAny:
		return "any"
	}
	return fmt.Sprintf("Quorum(%d)", int(q))
}

// ParseQuorum parses health_quorum's argument; "" is the default, majority.
func ParseQuorum(s string) (Quorum, error) {
	switch strings.ToLower(s) {
	case "", "majority":
		return QuorumMajority, nil
	case "leader":
		return QuorumLeader, nil
	case "any":
		return QuorumAny, nil
	}
	return 0, fmt.Errorf("health_quorum %q: want majority, leader or any", s)
}

// Verdict returns the committed state (up or not) of one real server.
// current is the state committed so far; reports holds each director's last
// reported state (true: up), keyed by director; live is the set of
// directors currently in the cluster; leader is the current leader. Reports
// of directors not in live are ignored, and a live director without a report
// abstains. When the rule reaches no decision the current state stands.
// Verdict is a pure function.
func Verdict(q Quorum, current bool, reports map[string]bool, live []string, leader string) bool {
	ups, downs := 0, 0
	for _, d := range live {
		if r, ok := reports[d]; ok {
			if r {
				ups++
			} else {
				downs++
			}
		}
	}
	switch q {
	case QuorumLeader:
		for _, d := range live {
			if d == leader {
				if r, ok := reports[d]; ok {
					return r
				}
			}
		}
		return current
	case QuorumAny:
		switch {
		case downs > 0:
			return false
		case ups > 0:
			return true
		}
		return current
	default:
		need := len(live)/2 + 1
		switch {
		case downs >= need:
			return false
		case ups >= need:
			return true
		}
		return current
	}
}

// AgreedWeight returns the committed weight of one real server, under the
// same rule as its verdict, so that every director programs the same
// weight (a MISC_CHECK with misc_dynamic sets it from the script's exit
// status, and two directors' scripts may disagree). current is the weight
// committed so far; weights holds, for each director whose last report
// has the server up, the weight its checkers give it; live and leader are
// as for Verdict. The rules:
//
//   - majority: a weight reported by a strict majority of the live
//     directors replaces the current one. One director cannot change it on
//     its own, and while no weight has a majority the current one stands
//     (so a script whose answer depends on the director's view, not on the
//     server, may never move it).
//   - leader: the leader's reported weight.
//   - any: the lowest reported weight, the cautious choice as one
//     director's down report takes a server out.
//
// AgreedWeight is a pure function.
func AgreedWeight(q Quorum, current int, weights map[string]int, live []string, leader string) int {
	switch q {
	case QuorumLeader:
		if w, ok := weights[leader]; ok && slices.Contains(live, leader) {
			return w
		}
	case QuorumAny:
		lowest, seen := 0, false
		for _, d := range live {
			if w, ok := weights[d]; ok && (!seen || w < lowest) {
				lowest, seen = w, true
			}
		}
		if seen {
			return lowest
		}
	default:
		count := map[int]int{}
		for _, d := range live {
			if w, ok := weights[d]; ok {
				count[w]++
				if count[w] >= len(live)/2+1 {
					return w
				}
			}
		}
	}
	return current
}
