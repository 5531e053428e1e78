package lvs

import (
	"context"
	"time"
)

// Reconcile is the datapath driver loop. It applies the latest desired
// state it has received whenever a new one arrives, and again on every tick
// of sweep (which repairs anything changed behind vigil's back, since Apply
// converges), until ctx is done; it then returns ctx.Err(). States that
// arrive while an Apply runs are coalesced: only the newest is applied.
// Every Apply's outcome (nil on success) goes to report, if set, so the
// caller can log, count and alert; a failed Apply is retried at the next
// state or tick. Before the first state arrives it applies nothing: an
// agent that just started must not wipe the tables before it knows the
// replicated configuration.
//
// Reconcile owns dp while it runs: no one else may call it.
func Reconcile(ctx context.Context, dp Datapath, states <-chan State, sweep <-chan time.Time, report func(State, error)) error {
	var want State
	have := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case st, ok := <-states:
			if !ok {
				states = nil
				continue
			}
			want, have = drain(states, st), true
		case <-sweep:
			if !have {
				continue
			}
		}
		err := dp.Apply(ctx, want)
		if report != nil {
			report(want, err)
		}
	}
}

// drain returns the newest state already queued on states, or st.
func drain(states <-chan State, st State) State {
	for {
		select {
		case next, ok := <-states:
			if !ok {
				return st
			}
			st = next
		default:
			return st
		}
	}
}
