package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"vigil/cluster"
	"vigil/config"
	"vigil/fencing"
)

// ErrIdentity wraps a configuration whose cluster block disagrees with
// the running cluster's (another cluster name, other nodes or addresses):
// a node refuses to run it, and an apply that would change it is refused.
var ErrIdentity = errors.New("the cluster block differs from the cluster's")

// ErrNotLive wraps a configuration change the agent cannot apply while
// running yet (a changed vrrp_instance): apply it with a rolling restart.
var ErrNotLive = errors.New("cannot be applied to a running director")

// IdentityDiff says how two configurations' cluster blocks differ in what
// makes a cluster itself, or "" when they agree: the name, and the
// addresses (in link order) and link count of every node both have.
// Nodes may be added to or removed from the cluster block (a removed node
// must first leave the Raft configuration: see Director.validateConfig).
func IdentityDiff(running, next *config.Config) string {
	a, b := running.Cluster, next.Cluster
	switch {
	case a == nil || b == nil:
		return "one of them has no cluster block"
	case a.Name != b.Name:
		return fmt.Sprintf("cluster name %q, not %q", b.Name, a.Name)
	case a.Links() != b.Links():
		return fmt.Sprintf("%d heartbeat links, not %d", b.Links(), a.Links())
	}
	for _, n := range a.Nodes {
		m := b.NodeByName(n.Name)
		if m != nil && !slices.Equal(n.Addresses, m.Addresses) {
			return fmt.Sprintf("node %s has addresses %v, not %v (remove the node with vigil members remove, then add it back with its new addresses)", n.Name, m.Addresses, n.Addresses)
		}
	}
	return ""
}

// committedConfig follows the replicated configuration: the leader
// proposes this node's file when the cluster has none yet; a new version
// is handed to OnConfig; a refusal raises config_stale, and a cluster
// identity this node does not share stops the agent.
func (a *Agent) committedConfig(ctx context.Context, now time.Time, st *cluster.State) error {
	v := st.Config.Version
	if v == 0 {
		if a.cfg.ConfigText != "" && a.raft.State() == raft.Leader && now.Sub(a.proposedC) >= a.cfg.Timing.Retry {
			a.proposedC = now
			a.propose(ctx, cluster.Command{Op: cluster.OpConfig, Text: a.cfg.ConfigText, Initial: true})
		}
		return nil
	}
	if v == a.configSeen {
		return nil
	}
	a.configSeen = v
	if a.configApplied == 0 && st.Config.Text == a.cfg.ConfigText {
		a.configApplied = v
	} else if a.cfg.OnConfig != nil {
		if err := a.cfg.OnConfig(st.Config.Text); err != nil {
			if errors.Is(err, ErrIdentity) {
				return fmt.Errorf("agent: this node's configuration %w: %w", ErrIdentity, err)
			}
			a.log.Error("the cluster's configuration was not applied here; the previous one keeps running", "version", v, "err", err)
		} else {
			a.log.Info("applied the cluster's configuration", "version", v)
			a.configApplied = v
		}
	}
	a.mu.Lock()
	a.appliedShown = a.configApplied
	a.mu.Unlock()
	a.report.step(fencing.ConfigApplied{At: now, Node: a.cfg.Node, Applied: a.configApplied, Cluster: v})
	return nil
}

// ConfigRequest is the body of POST /v1/config.
type ConfigRequest struct {
	Text string `json:"text"`
}

// ConfigResult answers GET and POST /v1/config: the cluster's
// configuration version and text, and the version this node runs.
type ConfigResult struct {
	Version uint64 `json:"version"`
	Applied uint64 `json:"applied"`
	Text    string `json:"text,omitempty"`
}

// ApplyConfig validates text (ValidateConfig), writes it to the log as the
// cluster's configuration and waits until it is committed. Every director
// then applies it, or refuses it and raises config_stale.
func (a *Agent) ApplyConfig(ctx context.Context, text string) (ConfigResult, error) {
	if a.cfg.ValidateConfig != nil {
		if err := a.cfg.ValidateConfig(text); err != nil {
			return ConfigResult{}, err
		}
	}
	id := requestID()
	st, err := a.write(ctx, func(st *cluster.State) cluster.Command {
		return cluster.Command{Op: cluster.OpConfig, Text: text, ID: id, Base: st.Config.ID}
	}, func(st *cluster.State) bool { return st.Config.ID == id })
	if err != nil {
		return ConfigResult{}, err
	}
	return ConfigResult{Version: st.Config.Version}, nil
}

func (a *Agent) handleGetConfig(w http.ResponseWriter, r *http.Request) {
	st := a.fsm.current()
	a.mu.Lock()
	applied := a.appliedShown
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, ConfigResult{Version: st.Config.Version, Applied: applied, Text: st.Config.Text})
}

func (a *Agent) handlePostConfig(w http.ResponseWriter, r *http.Request) {
	var req ConfigRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Text == "" {
		msg := "body must be JSON {\"text\": the whole configuration}"
		if err != nil {
			msg += ": " + err.Error()
		}
		writeJSON(w, http.StatusBadRequest, APIError{Error: msg, Field: "text"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	res, err := a.ApplyConfig(ctx, req.Text)
	switch {
	case errors.Is(err, errNotCommitted):
		writeJSON(w, http.StatusServiceUnavailable, APIError{Error: err.Error()})
	case errors.Is(err, ErrIdentity):
		writeJSON(w, http.StatusBadRequest, APIError{Error: err.Error(), Field: "cluster"})
	case errors.Is(err, ErrNotLive):
		writeJSON(w, http.StatusBadRequest, APIError{Error: err.Error(), Field: "vrrp_instance"})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, APIError{Error: err.Error(), Field: "text"})
	default:
		writeJSON(w, http.StatusOK, res)
	}
}
