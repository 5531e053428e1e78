package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"vigil/lvs"
)

// Balancer programs the load balancer identically on every director,
// holder or not: the same virtual servers and verdicts give the same
// tables in the same canonical order, so a new holder forwards even the
// mid-flow packets of an established connection to the same real server.
type Balancer struct {
	dp    lvs.Datapath
	vss   []lvs.VirtualServer
	sweep time.Duration
	log   *slog.Logger

	quorum lvs.QuorumStates
	health chan lvs.Health // agreed verdicts, latest wins
	cur    lvs.Health
	newVSS chan []lvs.VirtualServer // a new configuration's, latest wins
}

// NewBalancer returns a Balancer applying vss through dp.
func NewBalancer(dp lvs.Datapath, vss []lvs.VirtualServer, log *slog.Logger) *Balancer {
	return &Balancer{dp: dp, vss: vss, sweep: 10 * time.Second, log: log, health: make(chan lvs.Health, 1), newVSS: make(chan []lvs.VirtualServer, 1)}
}

// SetVirtualServers hands a new configuration's virtual servers to Run,
// which applies them at once (the diff touches only what changed). It
// never blocks.
func (b *Balancer) SetVirtualServers(vss []lvs.VirtualServer) { latest(b.newVSS, vss) }

// latest puts v in a one-slot channel, replacing a value not yet taken.
func latest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// SetHealth hands the agreed verdicts to Run, which applies them at once.
// It never blocks: a newer set replaces one not yet applied.
func (b *Balancer) SetHealth(h lvs.Health) { latest(b.health, h) }

// Apply computes the desired state from the virtual servers and the
// agreed verdicts, and applies it.
func (b *Balancer) Apply(ctx context.Context) error {
	want, q, err := lvs.Desired(b.vss, b.cur, b.quorum)
	if err != nil {
		return fmt.Errorf("agent: desired load-balancer state: %w", err)
	}
	b.quorum = q
	if err := b.dp.Apply(ctx, want); err != nil {
		return fmt.Errorf("agent: apply load-balancer state: %w", err)
	}
	return nil
}

// Run applies at once and then on every sweep, so a rule removed by hand
// comes back, until ctx is done.
func (b *Balancer) Run(ctx context.Context) error {
	t := time.NewTicker(b.sweep)
	defer t.Stop()
	for {
		if err := b.Apply(ctx); err != nil && !errors.Is(err, context.Canceled) {
			b.log.Error("load balancer", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case b.cur = <-b.health:
		case b.vss = <-b.newVSS:
		}
	}
}
