package fencing

import (
	"fmt"
	"time"
)

// SelfFenceStep is one of the things a holder must do once its lease has
// expired.
type SelfFenceStep int

// The self-fencing steps, in the order the agent performs them.
const (
	StepVIPReleased    SelfFenceStep = iota + 1 // VIPs removed from the interface
	StepAdvertsStopped                          // VRRP adverts stopped
	StepNotifyFault                             // notify_fault (and notify ... FAULT) ran
)

func (s SelfFenceStep) String() string {
	switch s {
	case StepVIPReleased:
		return "vip_released"
	case StepAdvertsStopped:
		return "adverts_stopped"
	case StepNotifyFault:
		return "notify_fault"
	}
	return fmt.Sprintf("step(%d)", int(s))
}

// SelfFence measures one self-fencing: the agent creates it when it sees
// its lease on Instance expire (on its monotonic clock), marks each step
// as it completes, and reports it (log line, Metrics.ObserveSelfFence).
// A plain value: not safe for concurrent use.
type SelfFence struct {
	Instance     string
	Epoch        uint64
	LeaseExpired time.Time
	steps        [StepNotifyFault + 1]time.Time
}

// NewSelfFence starts a measurement at the lease expiry.
func NewSelfFence(instance string, epoch uint64, leaseExpired time.Time) *SelfFence {
	return &SelfFence{Instance: instance, Epoch: epoch, LeaseExpired: leaseExpired}
}

// Mark records that step completed at at. The first mark of a step wins.
func (s *SelfFence) Mark(step SelfFenceStep, at time.Time) {
	if step < StepVIPReleased || step > StepNotifyFault || !s.steps[step].IsZero() {
		return
	}
	s.steps[step] = at
}

// SelfFenceReport is a finished (or partial) measurement; a zero duration
// with the step missing from Done means the step has not happened.
type SelfFenceReport struct {
	Instance       string
	Epoch          uint64
	VIPReleased    time.Duration // lease expiry to VIPs released
	AdvertsStopped time.Duration // lease expiry to adverts stopped
	NotifyFault    time.Duration // lease expiry to notify_fault run
	Total          time.Duration // lease expiry to the last step done
	Complete       bool          // all three steps done
	Missing        []SelfFenceStep
}

// Done reports whether step has happened.
func (r SelfFenceReport) Done(step SelfFenceStep) bool {
	if step < StepVIPReleased || step > StepNotifyFault {
		return false
	}
	for _, m := range r.Missing {
		if m == step {
			return false
		}
	}
	return true
}

// Report returns the durations measured so far.
func (s *SelfFence) Report() SelfFenceReport {
	r := SelfFenceReport{Instance: s.Instance, Epoch: s.Epoch, Complete: true}
	for step, dst := range [...]*time.Duration{StepVIPReleased: &r.VIPReleased, StepAdvertsStopped: &r.AdvertsStopped, StepNotifyFault: &r.NotifyFault} {
		if dst == nil {
			continue
		}
		at := s.steps[step]
		if at.IsZero() {
			r.Complete = false
			r.Missing = append(r.Missing, SelfFenceStep(step))
			continue
		}
		*dst = at.Sub(s.LeaseExpired)
		r.Total = max(r.Total, *dst)
	}
	return r
}

// Within reports whether every step is done and the last one no later
// than bound after the lease expired (the lease bound of issue 7).
func (r SelfFenceReport) Within(bound time.Duration) bool { return r.Complete && r.Total <= bound }

func (r SelfFenceReport) String() string {
	return fmt.Sprintf("self-fence %s epoch %d: vip_released=%v adverts_stopped=%v notify_fault=%v total=%v complete=%v",
		r.Instance, r.Epoch, r.VIPReleased, r.AdvertsStopped, r.NotifyFault, r.Total, r.Complete)
}
