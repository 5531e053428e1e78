package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Config configures a Core.
type Config struct {
	// Node is this node's name, as used in InstanceSpec.Priority.
	Node string
	// Nodes lists every cluster member (candidates are also taken from
	// the specs' priorities).
	Nodes  []string
	Timing Timing
	// Instances are the VRRP instances this cluster decides ownership of.
	Instances []InstanceSpec
	// Incarnation must differ on every process start (pick it at random).
	Incarnation uint64
	// Barrier is the highest index the node's durable Raft state covers
	// when the process starts: the larger of the log store's LastIndex and
	// the newest snapshot's index (a follower that installed a snapshot may
	// keep a log that ends far below it). The node never holds an epoch at
	// or below it: it cannot know whether a previous incarnation gave that
	// epoch up, so it acknowledges release instead.
	Barrier uint64
	// Fence makes the leader run the fence-peer hook (FencePeer) against a
	// holder that did not acknowledge its release, and move the instance
	// only once the hook succeeded, in addition to the lease wait.
	Fence bool
	// Logger receives the core's transitions; nil discards.
	Logger *slog.Logger
}

// Core is the deterministic lease and ownership core of one node: the
// holder side (always) and the leader side (while this node leads). It
// starts no goroutines and never reads the clock: every input carries now.
// It is not safe for concurrent use; one driver loop owns it.
type Core struct {
	cfg    Config
	log    *slog.Logger
	view   *State
	holder *holder
	leader *leader
	out    []Action
}

// ErrConfig is wrapped by NewCore's errors.
var ErrConfig = errors.New("invalid cluster core configuration")

// NewCore validates cfg and returns a core that holds nothing.
func NewCore(cfg Config) (*Core, error) {
	if cfg.Node == "" {
		return nil, fmt.Errorf("cluster: new core: %w: empty node name", ErrConfig)
	}
	if err := cfg.Timing.Validate(); err != nil {
		return nil, fmt.Errorf("cluster: new core: %w: %w", ErrConfig, err)
	}
	specs, nodes, err := normalizeSpecs(cfg.Node, cfg.Nodes, cfg.Instances)
	if err != nil {
		return nil, fmt.Errorf("cluster: new core: %w", err)
	}
	c := &Core{cfg: cfg, log: cfg.Logger, view: NewState()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.holder = newHolder(cfg.Node, cfg.Timing, cfg.Incarnation, cfg.Barrier, specs, &c.out)
	c.leader = newLeader(cfg.Node, cfg.Timing, specs, nodes, c.view, &c.out)
	c.leader.fence = cfg.Fence
	return c, nil
}

// normalizeSpecs validates specs and returns them sorted by name, and
// every node (me, nodes, and those named in a priority), sorted.
func normalizeSpecs(me string, nodes []string, specs []InstanceSpec) ([]InstanceSpec, []string, error) {
	specs = slices.Clone(specs)
	slices.SortFunc(specs, func(a, b InstanceSpec) int { return cmpString(a.Name, b.Name) })
	nodes = append(slices.Clone(nodes), me)
	for i, s := range specs {
		if s.Name == "" {
			return nil, nil, fmt.Errorf("%w: instance %d has no name", ErrConfig, i)
		}
		if i > 0 && specs[i-1].Name == s.Name {
			return nil, nil, fmt.Errorf("%w: instance %q listed twice", ErrConfig, s.Name)
		}
		if s.PreemptDelay < 0 {
			return nil, nil, fmt.Errorf("%w: instance %q: negative preempt_delay", ErrConfig, s.Name)
		}
		for n := range s.Priority {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	return specs, slices.Compact(nodes), nil
}

// SetInstances replaces the instances while running (a live
// configuration change). Priorities, nopreempt and preempt_delay simply
// take effect: safety does not depend on them, so the leader decides
// again with the new ones. An instance whose Def changed, or that is gone,
// is released by its holder at once (the holder side gives its epoch up
// and acknowledges), and the leader grants no instance to anyone while an
// assignment made under an older definition may still be held: a VIP that
// moved from one instance to another is never held twice (see the package
// doc, "Changing the instances").
func (c *Core) SetInstances(now time.Time, specs []InstanceSpec) error {
	specs, nodes, err := normalizeSpecs(c.cfg.Node, c.cfg.Nodes, specs)
	if err != nil {
		return fmt.Errorf("cluster: set instances: %w", err)
	}
	c.cfg.Instances = specs
	n := len(c.out)
	c.holder.setInstances(now, specs)
	c.leader.specs, c.leader.nodes = specs, nodes
	c.leader.tick(now)
	c.logActions(n)
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Step feeds one event observed at now (this node's monotonic clock).
func (c *Core) Step(now time.Time, ev Event) {
	n := len(c.out)
	switch ev := ev.(type) {
	case Committed:
		if ev.State == nil {
			return
		}
		c.view = ev.State
		c.leader.view = ev.State
		c.holder.committedState(now, ev.State)
		c.leader.tick(now)
	case Leadership:
		c.leader.leadership(now, ev)
	case LeaderReady:
		c.leader.leaderReady(now, ev)
	case Verified:
		c.leader.verified(now, ev)
	case Reachable:
		if c.leader.reach[ev.Node] != ev.Up {
			c.leader.reach[ev.Node] = ev.Up
			c.leader.tick(now)
		}
	case LeaseRequest:
		c.leader.request(now, ev)
	case Fenced:
		c.leader.fenced(now, ev)
	case LeaseGrant:
		c.holder.grant(now, ev)
	case ReleaseRequest:
		c.holder.releaseRequest(now, ev)
	}
	c.logActions(n)
}

// Tick lets time pass: leases expire, renewals fall due, waits end.
func (c *Core) Tick(now time.Time) {
	n := len(c.out)
	c.holder.tick(now)
	c.leader.tick(now)
	c.logActions(n)
}

// Deadline is the earliest time Tick has something to do; the driver arms
// a timer for it (and may tick more often).
func (c *Core) Deadline() (time.Time, bool) {
	a, aok := c.holder.deadline()
	b, bok := c.leader.deadline()
	switch {
	case aok && bok:
		if b.Before(a) {
			return b, true
		}
		return a, true
	case aok:
		return a, true
	}
	return b, bok
}

// Ready returns the actions to execute, in order. They stay until Advance.
func (c *Core) Ready() []Action { return c.out }

// Advance discards the actions returned by Ready.
func (c *Core) Advance() { c.out = c.out[:0] }

// State returns the committed state the core last saw (read only).
func (c *Core) State() *State { return c.view }

// IsLeader reports whether the core acts as leader.
func (c *Core) IsLeader() bool { return c.leader.isLeader }

func (c *Core) logActions(from int) {
	if !c.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	for _, a := range c.out[from:] {
		switch a := a.(type) {
		case Hold:
			c.log.Debug("hold", "instance", a.Instance, "epoch", a.Epoch, "until", a.Until)
		case Release:
			c.log.Info("release", "instance", a.Instance, "epoch", a.Epoch, "reason", a.Reason)
		case FencePeer:
			c.log.Warn("fencing peer", "node", a.Node, "instance", a.Instance, "epoch", a.Epoch)
		case Propose:
			if a.Command.Op == OpAssign {
				c.log.Info("propose assignment", "instance", a.Command.Instance, "to", a.Command.Node, "replacing_epoch", a.Command.Epoch)
			}
		}
	}
}
