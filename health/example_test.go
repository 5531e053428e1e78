package health_test

import (
	"fmt"
	"time"

	"vigil/health"
)

// The Scheduler alone: the caller owns time and runs the probes. Here the
// one check fails from t=10s on; with retry 1 and delay_before_retry 2s the
// server goes down at t=12s, and only then is something reported.
func ExampleScheduler() {
	s := health.NewScheduler(func(n int64) int64 { return 0 })
	_ = s.Add(health.ServerSpec{ID: "web1", Weight: 5, NotifyDown: "/etc/vigil/down.sh",
		Checks: []health.Timing{{DelayLoop: 10 * time.Second, Retry: 1, DelayBeforeRetry: 2 * time.Second, Timeout: time.Second}}})
	for _, now := range []time.Duration{0, 10 * time.Second, 12 * time.Second} {
		s.Tick(now)
		for _, a := range s.Ready() {
			fmt.Println(now, a)
			if a.Kind == health.ActProbe {
				s.Step(health.Event{Server: a.Server, Check: a.Check, Probe: a.Probe, Result: health.Result{Up: now == 0}})
			}
		}
		for _, a := range s.Ready() {
			fmt.Println(now, a)
		}
	}
	// Output:
	// 0s state web1 up=true weight=5 in=true initial
	// 0s probe web1#0
	// 10s probe web1#0
	// 12s probe web1#0
	// 12s state web1 up=false weight=0 in=false
	// 12s notify web1 up=false "/etc/vigil/down.sh"
}
