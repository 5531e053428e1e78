package notify

import (
	"context"
	"sync"
	"testing"
	"time"
)

// recordSink records what it is sent.
type recordSink struct {
	name string
	mu   sync.Mutex
	got  []string
}

func (s *recordSink) Name() string { return s.name }
func (s *recordSink) Send(ctx context.Context, n Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, n.String())
	return nil
}
func (s *recordSink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// hangSink never delivers: Send blocks until its context ends, like a
// mail server that accepted the connection and then went silent.
type hangSink struct{ entered chan struct{} }

func (s *hangSink) Name() string { return "hang" }
func (s *hangSink) Send(ctx context.Context, n Notification) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func within(t *testing.T, what string, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v: it blocked", what, d)
	}
}

func TestDispatcherHangingSinkBlocksNothing(t *testing.T) {
	checkNoLeaks(t)
	hang := &hangSink{entered: make(chan struct{}, 1)}
	rec := &recordSink{name: "rec"}
	d := NewDispatcher(DispatcherConfig{QueueLen: 8}, hang, rec)
	tr := func(i int) Notification {
		return Notification{Transition: &Transition{Name: "VI_1", State: StateMaster, Priority: i}}
	}
	d.Publish(tr(0))
	<-hang.entered // the hanging sink holds its worker
	// 100 publications while one sink hangs: every call returns (a
	// blocking Publish would never get through its full queue).
	within(t, "Publish x100", 10*time.Second, func() {
		for i := 1; i <= 100; i++ {
			d.Publish(tr(i))
		}
	})
	// The healthy sink got everything its queue could hold, in order.
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.lines()) < 9 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := rec.lines()
	if len(got) < 9 || got[0] != "transition INSTANCE \"VI_1\" MASTER 0" || got[1] != "transition INSTANCE \"VI_1\" MASTER 1" {
		t.Fatalf("healthy sink got %d: %q", len(got), got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	within(t, "Close", 10*time.Second, func() {
		if err := d.Close(ctx); err == nil {
			t.Error("Close reported a drained queue although the hanging sink held 8")
		}
	})
	st := d.Stats()
	if st[0].Name != "hang" || st[0].Dropped < 92 || st[0].Sent != 0 {
		t.Fatalf("hang stats %+v", st[0])
	}
	if st[1].Sent+st[1].Dropped != 101 {
		t.Fatalf("rec stats %+v: sent+dropped != 101", st[1])
	}
	d.Publish(tr(200)) // after Close: dropped, no panic
	if d.Stats()[1].Dropped != st[1].Dropped+1 {
		t.Fatal("publish after Close not counted as dropped")
	}
}

func TestDispatcherDrainsOnClose(t *testing.T) {
	checkNoLeaks(t)
	rec := &recordSink{name: "rec"}
	d := NewDispatcher(DispatcherConfig{}, rec)
	for i := 0; i < 50; i++ {
		d.Publish(Notification{Transition: &Transition{Name: "VI_1", State: StateBackup, Priority: i}})
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.lines(); len(got) != 50 || got[49] != "transition INSTANCE \"VI_1\" BACKUP 49" {
		t.Fatalf("got %d lines, last %q", len(got), got[len(got)-1])
	}
}

// BenchmarkPublish is the cost a failover path pays to notify: one
// Publish to three sinks (the target is well under a microsecond: it only
// queues).
func BenchmarkPublish(b *testing.B) {
	d := NewDispatcher(DispatcherConfig{QueueLen: 1024}, &recordSink{name: "a"}, &recordSink{name: "b"}, &hangSink{entered: make(chan struct{}, 1)})
	n := Notification{Transition: &Transition{Name: "VI_1", State: StateMaster, Priority: 100}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Publish(n)
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	d.Close(ctx)
}
