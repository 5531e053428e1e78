package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"vigil/cluster"
	"vigil/config"
	"vigil/fencing"
)

// FenceHook is the cluster's fence_peer hook: the command the leader runs
// (with node, instance, epoch and reason as arguments and VIGIL_*
// environment) before it takes a VIP from a holder that did not
// acknowledge its release. With Required the takeover waits for the hook
// to succeed.
type FenceHook struct {
	Command  []string
	Timeout  time.Duration
	Required bool
}

func fenceHook(f *config.FenceHook) *FenceHook {
	if f == nil || f.Script == "" {
		return nil
	}
	return &FenceHook{Command: strings.Fields(f.Script), Timeout: time.Duration(f.Timeout), Required: f.Required}
}

// newFencer builds the retrying script fencer whose every attempt goes to
// the alert monitor (fence_failed raised on failure, cleared on success).
func newFencer(h *FenceHook, observe func(fencing.Event), log interface {
	Warn(string, ...any)
}) (fencing.Fencer, error) {
	sf, err := fencing.NewScriptFencer(fencing.ScriptConfig{Command: h.Command, Timeout: h.Timeout})
	if err != nil {
		return nil, fmt.Errorf("agent: fence_peer: %w", err)
	}
	return &fencing.Retrying{
		Fencer:    sf,
		OnAttempt: func(o fencing.FenceOutcome) { observe(o) },
	}, nil
}

// fence runs the hook for a FencePeer action, once at a time per node,
// instance and epoch, and answers the core with Fenced.
func (a *Agent) fence(ctx context.Context, x cluster.FencePeer) {
	key := fmt.Sprintf("%s/%s/%d", x.Node, x.Instance, x.Epoch)
	if a.fences[key] {
		return
	}
	a.fences[key] = true
	a.log.Warn("fencing the previous holder before the takeover", "node", x.Node, "instance", x.Instance, "epoch", x.Epoch)
	a.async(ctx, func() cluster.Event {
		err := a.cfg.Fencer.Fence(ctx, fencing.Request{Node: x.Node, Instance: x.Instance, Epoch: x.Epoch,
			Reason: "holder unreachable and not released; taking the VIP over"})
		if err != nil {
			a.log.Error("fence_peer failed: no takeover", "node", x.Node, "instance", x.Instance, "epoch", x.Epoch, "err", err)
		}
		return fencedEvent{cluster.Fenced{Node: x.Node, Instance: x.Instance, Epoch: x.Epoch, OK: err == nil}, key}
	})
}

// fencedEvent carries a Fenced answer and the in-flight key it clears.
type fencedEvent struct {
	cluster.Fenced
	key string
}
