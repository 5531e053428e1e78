package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"vigil/cluster"
)

// DrainRequest is the body of POST /v1/drain.
type DrainRequest struct {
	Node    string `json:"node"`
	Drained bool   `json:"drained"`
}

// DrainResult answers it once the flag is committed.
type DrainResult struct {
	Node    string `json:"node"`
	Drained bool   `json:"drained"`
	Index   uint64 `json:"index"` // the committed state's index
}

// errNotCommitted: the cluster did not commit a write in time (no quorum).
var errNotCommitted = errors.New("not committed: the cluster has no quorum reachable from this node, or is electing a leader; retry")

// Drain sets node's drain flag through the log and waits until it is
// committed (or ctx ends). A drained node is not eligible for any VIP: the
// leader moves its VIPs away in planned handovers (the holder releases,
// then the next takes over), and gives it none until undrained.
func (a *Agent) Drain(ctx context.Context, node string, drained bool) (DrainResult, error) {
	if _, ok := a.peers.addrs(node); !ok {
		return DrainResult{}, fmt.Errorf("node %q is not a cluster member (members: %v)", node, a.peers.names())
	}
	id := requestID()
	st, err := a.write(ctx, func(st *cluster.State) cluster.Command {
		return cluster.Command{Op: cluster.OpDrain, Node: node, Drained: drained, ID: id, Base: st.Nodes[node].DrainID}
	}, func(st *cluster.State) bool { return st.Nodes[node].DrainID == id })
	if err != nil {
		return DrainResult{}, err
	}
	return DrainResult{Node: node, Drained: drained, Index: st.Index}, nil
}

// requestID is a new random ID for an operator's write. The write is done
// when the committed state records its ID: a replica that has not caught
// up (a restarted director) may show the wanted value by chance, from
// before an earlier, opposite write. Each copy also names the last write
// the replica saw (Command.Base), so a copy delayed past a later write is
// refused rather than undoing it.
func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// write proposes the command mk makes from this node's committed state
// through the loop (forwarded to the leader when this node does not
// lead), again every Retry with the state as it is then, until the
// committed state satisfies done or ctx ends (errNotCommitted).
func (a *Agent) write(ctx context.Context, mk func(*cluster.State) cluster.Command, done func(*cluster.State) bool) (*cluster.State, error) {
	var st *cluster.State
	return retry(ctx, a.cfg.Timing.Retry, errNotCommitted, func() (*cluster.State, bool) {
		st = a.fsm.current()
		return st, done(st)
	}, func() {
		select {
		case a.writes <- mk(st):
		default:
		}
	})
}

// retry checks, and until the check holds calls try, every period until
// ctx ends; then it returns errEnd (nil: ctx's error). try may be nil
// (only wait).
func retry[T any](ctx context.Context, period time.Duration, errEnd error, check func() (T, bool), try func()) (T, error) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if v, ok := check(); ok {
			return v, nil
		}
		if try != nil {
			try()
		}
		select {
		case <-ctx.Done():
			var zero T
			if errEnd == nil {
				return zero, ctx.Err()
			}
			return zero, errEnd
		case <-t.C:
		}
	}
}

func (a *Agent) handleDrain(w http.ResponseWriter, r *http.Request) {
	var req DrainRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, APIError{Error: "body must be JSON {\"node\": NAME, \"drained\": true|false}: " + err.Error(), Field: "body"})
		return
	}
	if !slices.Contains(a.peers.names(), req.Node) {
		writeJSON(w, http.StatusBadRequest, APIError{Error: fmt.Sprintf("node %q is not a cluster member (members: %v)", req.Node, a.peers.names()), Field: "node"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	res, err := a.Drain(ctx, req.Node, req.Drained)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, APIError{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, res)
}
