package agent

import (
	"net/http"

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
	for _, p := range a.gossip.peers(sortedNodes(a.cfg.Peers)) {
		links[p.Node] = p.State
	}
	leader := a.leader()
	var out []Member
	for _, s := range f.Configuration().Servers {
		name := string(s.ID)
		m := Member{Name: name, Leader: name == leader, Addresses: a.cfg.Peers[name]}
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
