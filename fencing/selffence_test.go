package fencing

import (
	"testing"
	"time"
)

func TestSelfFence(t *testing.T) {
	ms := time.Millisecond
	s := NewSelfFence("VI_1", 42, t0)
	if r := s.Report(); r.Complete || r.Total != 0 || r.Within(time.Hour) {
		t.Fatalf("empty report %v", r)
	}
	s.Mark(StepVIPReleased, t0.Add(3*ms))
	s.Mark(StepVIPReleased, t0.Add(900*ms)) // first mark wins
	s.Mark(StepAdvertsStopped, t0.Add(5*ms))
	if r := s.Report(); r.Complete || r.Total != 5*ms || r.Done(StepNotifyFault) || !r.Done(StepAdvertsStopped) || len(r.Missing) != 1 {
		t.Fatalf("partial report %v", r)
	}
	s.Mark(StepNotifyFault, t0.Add(40*ms))
	s.Mark(SelfFenceStep(9), t0) // ignored
	r := s.Report()
	want := "self-fence VI_1 epoch 42: vip_released=3ms adverts_stopped=5ms notify_fault=40ms total=40ms complete=true"
	if r.String() != want {
		t.Fatalf("got  %s\nwant %s", r, want)
	}
	if !r.Within(40*ms) || r.Within(39*ms) {
		t.Fatalf("Within wrong for %v", r)
	}
}
