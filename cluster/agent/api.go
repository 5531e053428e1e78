package agent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"vigil/cluster"
)

// ClusterStatus is the JSON of GET /v1/status and `vigil status --json`.
// Field names are stable: tools and the status page depend on them.
type ClusterStatus struct {
	Cluster     string           `json:"cluster"`
	Node        string           `json:"node"` // the node that answered
	Leader      string           `json:"leader"`
	Term        uint64           `json:"term"`
	CommitIndex uint64           `json:"commit_index"`
	Nodes       []NodeStatus     `json:"nodes"`
	Instances   []InstanceStatus `json:"instances"`
	Services    []ServiceStatus  `json:"services"`
	Alerts      []AlertStatus    `json:"alerts"`
}

// ServiceStatus is one virtual server and the agreed verdicts of its
// checked real servers.
type ServiceStatus struct {
	Name  string       `json:"name"`
	Reals []RealStatus `json:"reals"`
}

// RealStatus is one checked real server: the agreed verdict and what each
// director reported.
type RealStatus struct {
	Address string          `json:"address"`
	Up      bool            `json:"up"`
	Reports map[string]bool `json:"reports"`
}

// NodeStatus is one director as the answering node sees it.
type NodeStatus struct {
	Name string `json:"name"`
	// RaftState is the answering node's own state (leader, follower,
	// candidate); for the others "leader" for the known leader, else
	// "follower" while reachable and "unknown" when not.
	RaftState string       `json:"raft_state"`
	State     string       `json:"state"` // up, degraded, down (links), self
	Drained   bool         `json:"drained"`
	Links     []LinkStatus `json:"links"`
}

// LinkStatus is one heartbeat link to a node.
type LinkStatus struct {
	Name    string `json:"name"` // link0, link1, ...
	Address string `json:"address"`
	State   string `json:"state"` // up, down; self for the answering node
}

// InstanceStatus is one VRRP instance.
type InstanceStatus struct {
	Name   string `json:"name"`
	VRID   uint8  `json:"vrid"`
	Holder string `json:"holder"`
	Epoch  uint64 `json:"epoch"`
	// Pinned is the node vigil transfer pinned the instance to, if any.
	Pinned string `json:"pinned,omitempty"`
	// LeaseRemainingMS is the holder's remaining lease, known only when
	// the holder answers; null otherwise.
	LeaseRemainingMS *int64 `json:"lease_remaining_ms"`
	// Priorities are the candidates' priorities for the instance as the
	// leader decides with them: configured, plus the node's tracker
	// weights for this instance (committed), clamped to 1-254; a fault
	// makes the node ineligible.
	Priorities []NodePriority `json:"priorities"`
}

// NodePriority is one node's priority for one instance.
type NodePriority struct {
	Node       string `json:"node"`
	Configured int    `json:"configured"`
	Weight     int    `json:"weight"`
	Effective  int    `json:"effective"`
	Fault      bool   `json:"fault,omitempty"`
}

// AlertStatus is one open alert.
type AlertStatus struct {
	Kind     string            `json:"kind"`
	Since    time.Time         `json:"since"`
	Evidence map[string]string `json:"evidence"`
}

// ClusterStatus assembles the status as this node sees it.
func (a *Agent) ClusterStatus() ClusterStatus {
	st := a.Status()
	now := time.Now()
	cs := ClusterStatus{
		Cluster: a.cfg.Cluster, Node: a.cfg.Node, Leader: st.Leader, Term: st.Term,
		CommitIndex: st.State.Index,
		Nodes:       []NodeStatus{}, Instances: []InstanceStatus{}, Services: []ServiceStatus{}, Alerts: []AlertStatus{},
	}
	links := map[string]PeerLinks{}
	for _, p := range a.gossip.peers(a.peers.names()) {
		links[p.Node] = p
	}
	for _, n := range a.peers.names() {
		ns := NodeStatus{Name: n, Drained: st.State.Nodes[n].Drained}
		for i, addr := range a.peerAddrs(n) {
			ls := LinkStatus{Name: fmt.Sprintf("link%d", i), Address: addr, State: "self"}
			if n != a.cfg.Node {
				ls.State = LinkDown
				if p := links[n]; i < len(p.Links) && p.Links[i] {
					ls.State = LinkUp
				}
			}
			ns.Links = append(ns.Links, ls)
		}
		switch {
		case n == a.cfg.Node:
			ns.RaftState, ns.State = strings.ToLower(st.RaftState), "self"
		default:
			ns.State = links[n].State
			ns.RaftState = "unknown"
			if n == st.Leader {
				ns.RaftState = "leader"
			} else if ns.State != LinkDown {
				ns.RaftState = "follower"
			}
		}
		cs.Nodes = append(cs.Nodes, ns)
	}
	verdicts := a.Verdicts()
	for _, h := range a.healthServers() {
		if len(cs.Services) == 0 || cs.Services[len(cs.Services)-1].Name != h.Real.VS {
			cs.Services = append(cs.Services, ServiceStatus{Name: h.Real.VS, Reals: []RealStatus{}})
		}
		svc := &cs.Services[len(cs.Services)-1]
		rep := maps.Clone(st.State.Health[h.ID()])
		if rep == nil {
			rep = map[string]bool{}
		}
		svc.Reals = append(svc.Reals, RealStatus{Address: h.Real.Real.String(), Up: verdicts[h.ID()], Reports: rep})
	}
	for _, al := range a.report.alerts() {
		ev := maps.Clone(al.Evidence)
		if ev == nil {
			ev = map[string]string{}
		}
		for k, v := range map[string]string{"node": al.Node, "instance": al.Instance, "peer": al.Peer, "link": al.Link, "message": al.Message} {
			if v != "" {
				ev[k] = v
			}
		}
		cs.Alerts = append(cs.Alerts, AlertStatus{Kind: string(al.Kind), Since: al.Since, Evidence: ev})
	}
	for _, spec := range a.instances() {
		as := st.State.Instances[spec.Name]
		is := InstanceStatus{Name: spec.Name, VRID: spec.VRID, Epoch: as.Epoch, Pinned: as.Pinned}
		if as.Live() {
			is.Holder = as.Holder
		}
		if until, ok := st.LeaseUntil[spec.Name]; ok {
			ms := max(until.Sub(now).Milliseconds(), 0)
			is.LeaseRemainingMS = &ms
		}
		for _, n := range slices.Sorted(maps.Keys(spec.Priority)) {
			r := st.State.Nodes[n].Instances[spec.Name]
			eff, _ := cluster.EffectivePriority(spec, cluster.NodeStatus{Name: n, Weight: r.Weight, Fault: r.Fault})
			is.Priorities = append(is.Priorities, NodePriority{Node: n, Configured: spec.Priority[n], Weight: r.Weight, Effective: eff, Fault: r.Fault})
		}
		cs.Instances = append(cs.Instances, is)
	}
	return cs
}

// APIHandler serves the agent's HTTP API:
//
//	GET /           the status page (HTML, refreshing itself)
//	GET /healthz    200 "ok" while the node knows a Raft leader, else 503
//	GET /v1/status  ClusterStatus as JSON
//	GET /metrics    Prometheus metrics
//	GET /v1/members the Raft configuration ([]Member)
//	POST /v1/members {"op": "add"|"remove", "node": NAME}: change it
//	GET /v1/config  the cluster's configuration (ConfigResult)
//	POST /v1/config {"text": FILE}: validate, then replace it cluster-wide
//	POST /v1/drain  {"node": NAME, "drained": BOOL}: set a node's drain flag
//	POST /v1/transfer {"instance": NAME, "to": NODE, "clear": BOOL}: hand an
//	                instance over to NODE (default: the best other eligible
//	                node) and pin it there; clear removes the pin
//
// Reads from loopback need nothing; any other client must present the
// configured token as "Authorization: Bearer TOKEN" (with no token
// configured, only loopback clients are served).
func (a *Agent) APIHandler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if a.Status().Leader == "" {
			http.Error(w, "no raft leader known: this node is cut off from the quorum", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.ClusterStatus())
	})
	mux.Handle("GET /metrics", a.report.handler())
	mux.HandleFunc("POST /v1/drain", a.handleDrain)
	mux.HandleFunc("POST /v1/transfer", a.handleTransfer)
	mux.HandleFunc("GET /v1/members", a.handleMembers)
	mux.HandleFunc("POST /v1/members", a.handleChangeMembers)
	mux.HandleFunc("GET /v1/config", a.handleGetConfig)
	mux.HandleFunc("POST /v1/config", a.handlePostConfig)
	mux.HandleFunc("GET /{$}", serveStatusPage)
	return authorize(token, mux)
}

// APIError is the JSON body of every 4xx/5xx answer of the API.
type APIError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// errField is an error about one field of an API request (a 400).
type errField struct{ field, msg string }

func (e errField) Error() string { return e.field + ": " + e.msg }

// writeResult answers a write: res on success, 400 naming the field for an
// errField, 503 for anything else (no quorum, not done in time).
func writeResult(w http.ResponseWriter, res any, err error) {
	var fe errField
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, APIError{Error: fe.msg, Field: fe.field})
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, APIError{Error: err.Error()})
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func authorize(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isLoopback(r.RemoteAddr) && r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if token == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			writeJSON(w, http.StatusUnauthorized, APIError{
				Error: "a bearer token is required for anything but reads from loopback: set api_token in the cluster block and send Authorization: Bearer TOKEN",
				Field: "Authorization",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
