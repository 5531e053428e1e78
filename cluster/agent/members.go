package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// Member is one server of the Raft configuration, as GET /v1/members and
// `vigil members list` show it.
type Member struct {
	Name      string   `json:"name"`
	Suffrage  string   `json:"suffrage"` // voter, nonvoter or staging
	Leader    bool     `json:"leader"`
	Addresses []string `json:"addresses"` // one per heartbeat link, from the configuration
	Reachable bool     `json:"reachable"` // up on at least one link (gossip), or self
}

// Members lists the Raft configuration this node has.
func (a *Agent) Members() ([]Member, error) {
	f := a.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	links := map[string]string{}
	for _, p := range a.gossip.peers(a.peers.names()) {
		links[p.Node] = p.State
	}
	leader := a.leader()
	var out []Member
	for _, s := range f.Configuration().Servers {
		name := string(s.ID)
		m := Member{Name: name, Leader: name == leader, Addresses: a.peerAddrs(name)}
		switch s.Suffrage {
		case raft.Voter:
			m.Suffrage = "voter"
		case raft.Nonvoter:
			m.Suffrage = "nonvoter"
		default:
			m.Suffrage = "staging"
		}
		m.Reachable = name == a.cfg.Node || (links[name] != "" && links[name] != LinkDown)
		out = append(out, m)
	}
	return out, nil
}

func (a *Agent) handleMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := a.Members()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, APIError{Error: "read the Raft configuration: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, ms)
}

// MembersRequest is the body of POST /v1/members: add a node of the
// cluster block to the Raft configuration as a voter, or remove one.
type MembersRequest struct {
	Op   string `json:"op"` // add or remove
	Node string `json:"node"`
}

// MembersResult answers it with the Raft configuration once the change is
// in this node's view of it.
type MembersResult struct {
	Members []Member `json:"members"`
}

// ChangeMembers adds or removes a Raft voter and waits until this node's
// Raft configuration shows it (or ctx ends). The leader makes the change;
// elsewhere the request is forwarded to it, again every Retry.
//
// A node is added only if it is in the cluster block (its addresses must
// be known to every director); a node started with --join and an empty
// data directory then receives the log. A node is removed only while it is
// drained and holds no VIP, so the removal never strands a VIP: the drain
// flag stays, and a removed node that still runs is never given one.
func (a *Agent) ChangeMembers(ctx context.Context, req MembersRequest) (MembersResult, error) {
	if req.Op != "add" && req.Op != "remove" {
		return MembersResult{}, errField{"op", fmt.Sprintf("op %q: use add or remove", req.Op)}
	}
	if _, ok := a.peers.addrs(req.Node); !ok {
		return MembersResult{}, errField{"node", fmt.Sprintf("node %q is not in the cluster block (nodes: %v); add it there on every director first", req.Node, a.peers.names())}
	}
	want := req.Op == "add"
	if !want {
		st := a.fsm.current()
		if !st.Nodes[req.Node].Drained {
			return MembersResult{}, errField{"node", fmt.Sprintf("node %s is not drained: run vigil drain %s first, so its VIPs move in a planned handover", req.Node, req.Node)}
		}
		for name, as := range st.Instances {
			if as.Live() && as.Holder == req.Node {
				return MembersResult{}, errField{"node", fmt.Sprintf("node %s still holds instance %s: wait until the drain moved it (vigil status)", req.Node, name)}
			}
		}
	}
	ms, err := retry(ctx, a.cfg.Timing.Retry, errNotCommitted, func() ([]Member, bool) {
		ms, err := a.Members()
		return ms, err == nil && slices.ContainsFunc(ms, func(m Member) bool { return m.Name == req.Node && m.Suffrage == "voter" }) == want
	}, func() {
		if a.raft.State() == raft.Leader {
			a.changeMembership(req)
		} else if l := a.leader(); l != "" {
			a.msgs.send(l, message{Kind: kindMembership, Membership: &req})
		}
	})
	return MembersResult{Members: ms}, err
}

// changeMembership starts a Raft configuration change on the leader; the
// caller retries until it shows.
func (a *Agent) changeMembership(req MembersRequest) {
	if a.raft.State() != raft.Leader {
		return
	}
	if _, ok := a.peers.addrs(req.Node); !ok {
		a.log.Warn("dropping a membership change for a node outside the cluster block", "node", req.Node)
		return
	}
	// The futures resolve on the Raft goroutine; nothing waits for them
	// here: the requester polls the configuration.
	switch req.Op {
	case "add":
		a.raft.AddVoter(raft.ServerID(req.Node), raft.ServerAddress(req.Node), 0, a.cfg.Timing.Lease)
	case "remove":
		a.raft.RemoveServer(raft.ServerID(req.Node), 0, a.cfg.Timing.Lease)
	default:
		return
	}
	a.log.Info("changing the Raft membership", "op", req.Op, "node", req.Node)
}

func (a *Agent) handleChangeMembers(w http.ResponseWriter, r *http.Request) {
	var req MembersRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, APIError{Error: "body must be JSON {\"op\": \"add\"|\"remove\", \"node\": NAME}: " + err.Error(), Field: "body"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	res, err := a.ChangeMembers(ctx, req)
	writeResult(w, res, err)
}

// leavingVoters refuses a cluster block that drops a node still in the
// Raft configuration: remove it with vigil members remove first.
func (a *Agent) leavingVoters(peers map[string][]string) error {
	ms, err := a.Members()
	if err != nil {
		return fmt.Errorf("read the Raft configuration: %w", err)
	}
	for _, m := range ms {
		if _, ok := peers[m.Name]; !ok {
			return fmt.Errorf("%w: node %s is missing from the cluster block but is a Raft %s: run vigil drain %s and vigil members remove %s first", ErrIdentity, m.Name, m.Suffrage, m.Name, m.Name)
		}
	}
	return nil
}
