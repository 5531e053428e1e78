package cluster

import (
	"fmt"
	"math"
	"time"
)

// Timing holds the lease parameters. All durations are measured on the
// measuring node's own monotonic clock, whose rate may differ from true time
// by at most Drift in either direction.
type Timing struct {
	// Lease is how long a grant lets the holder keep the VIP, counted on the
	// holder's clock from the moment it sent the request that was granted.
	Lease time.Duration
	// Renew is how often a holder asks for a renewal while it holds
	// (default Lease/3).
	Renew time.Duration
	// Retry is how soon an unanswered request (lease request, release
	// acknowledgement, assignment proposal, release request) is repeated.
	Retry time.Duration
	// KernelSlack bounds how long after the lease end the kernel may still
	// carry the address when the process cannot act (frozen or dead).
	// valid_lft is in whole seconds and the IPv4 lifetime worker
	// (devinet.c check_lifetime) runs at most once a second and rounds its
	// timer up by up to HZ/4, so an address can outlive its valid_lft by
	// about 1.25 s (measured here on an idle interface: 0.02-0.26 s). With
	// valid_lft = floor(Until-now) (the Hold contract) 1.3 s covers it; a
	// driver that rounds valid_lft up needs 1 s more.
	KernelSlack time.Duration
	// Drift is the bound on clock-rate error, e.g. 0.01 for ±1%.
	Drift float64
	// Margin is added to the leader's wait on top of the drift bound
	// (scheduling delay between reading the clock and acting).
	Margin time.Duration
}

// DefaultTiming returns the default lease timing: a 1.5 s lease renewed
// every 0.5 s, 1.3 s kernel slack, 1% drift and a 50 ms margin, so a
// holder that neither renews nor acknowledges is replaced 2.91 s after the
// leader's last grant to it (MoveWait).
func DefaultTiming() Timing {
	return Timing{
		Lease:       1500 * time.Millisecond,
		Renew:       500 * time.Millisecond,
		Retry:       100 * time.Millisecond,
		KernelSlack: 1300 * time.Millisecond,
		Drift:       0.01,
		Margin:      50 * time.Millisecond,
	}
}

// Validate reports the first field that makes the timing unsafe or
// meaningless.
func (t Timing) Validate() error {
	switch {
	case t.Lease <= 0:
		return fmt.Errorf("cluster: timing: lease %v must be positive", t.Lease)
	case t.Renew <= 0 || t.Renew >= t.Lease:
		return fmt.Errorf("cluster: timing: renew %v must be positive and shorter than the lease %v", t.Renew, t.Lease)
	case t.Retry <= 0:
		return fmt.Errorf("cluster: timing: retry %v must be positive", t.Retry)
	case t.KernelSlack < 0:
		return fmt.Errorf("cluster: timing: kernel slack %v must not be negative", t.KernelSlack)
	case t.Drift < 0 || t.Drift >= 0.5 || math.IsNaN(t.Drift):
		return fmt.Errorf("cluster: timing: drift %v must be in [0, 0.5)", t.Drift)
	case t.Margin < 0:
		return fmt.Errorf("cluster: timing: margin %v must not be negative", t.Margin)
	}
	return nil
}

// MoveWait is D, the time the leader waits on its own clock, from its last
// grant for an epoch (or from its election), before it may give the VIP to
// another node without the holder's acknowledgement:
//
//	D = (Lease + KernelSlack) · (1+Drift)/(1−Drift) + Margin
//
// rounded up to the nanosecond. See the package documentation for why.
func (t Timing) MoveWait() time.Duration {
	hold := float64(t.Lease + t.KernelSlack)
	d := math.Ceil(hold * (1 + t.Drift) / (1 - t.Drift))
	return time.Duration(d) + t.Margin
}
