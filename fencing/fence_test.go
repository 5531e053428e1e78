package fencing

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// scriptedFencer fails the first fails calls with the given error, then
// succeeds; it records the requests it saw.
type scriptedFencer struct {
	mu    sync.Mutex
	fails int
	err   error
	seen  []Request
}

func (f *scriptedFencer) Fence(ctx context.Context, req Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, req)
	if len(f.seen) <= f.fails {
		return fmt.Errorf("attempt %d: %w", len(f.seen), f.err)
	}
	return nil
}

// recordingSleeper records the backoffs instead of sleeping.
type recordingSleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *recordingSleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func fixedNow() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * time.Second)
	}
}

func TestRetryPolicyBackoff(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 3}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, p.Backoff(n))
	}
	want := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, time.Second, time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("backoff %v, want %v", got, want)
	}
	if d := (RetryPolicy{}).Backoff(2); d != 2*time.Second {
		t.Fatalf("default second backoff %v, want 2s", d)
	}
}

func TestRetryingSucceedsAfterFailures(t *testing.T) {
	boom := errors.New("ipmi: no route")
	f := &scriptedFencer{fails: 2, err: boom}
	s := &recordingSleeper{}
	var outcomes []FenceOutcome
	var alerts []Alert
	r := &Retrying{Fencer: f, Policy: RetryPolicy{Attempts: 5}, Sleep: s.sleep, Now: fixedNow(),
		OnAttempt: func(o FenceOutcome) { outcomes = append(outcomes, o) },
		OnFailure: func(a Alert) { alerts = append(alerts, a) }}
	req := Request{Node: "d2", Instance: "VI_1", Epoch: 43, Reason: "lease expired"}
	op := Start(context.Background(), r, req, nil)
	res, err := op.Wait(context.Background())
	if err != nil || !res.OK || res.Attempts != 3 || res.Err != nil {
		t.Fatalf("result %+v err %v", res, err)
	}
	if !reflect.DeepEqual(s.waits, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("backoffs %v", s.waits)
	}
	if len(f.seen) != 3 || f.seen[2] != req {
		t.Fatalf("requests %v", f.seen)
	}
	if len(alerts) != 2 {
		t.Fatalf("%d alerts, want one per failure (2)", len(alerts))
	}
	if got := alerts[1].String(); got != "fence_failed node=d2 instance=VI_1 severity=critical epoch=43 attempt=2 error=attempt 2: ipmi: no route" {
		t.Fatalf("alert %q", got)
	}
	// The attempts fed to a Monitor raise fence_failed once and clear it.
	m := NewMonitor(MonitorConfig{})
	for _, o := range outcomes {
		if err := m.Step(o); err != nil {
			t.Fatal(err)
		}
	}
	var ops []string
	for _, a := range m.Ready() {
		ops = append(ops, a.Op.String())
	}
	if !reflect.DeepEqual(ops, []string{"raise", "clear"}) || len(m.Open()) != 0 {
		t.Fatalf("monitor actions %v, open %v", ops, m.Open())
	}
}

func TestRetryingGivesUp(t *testing.T) {
	boom := errors.New("switch refused")
	f := &scriptedFencer{fails: 100, err: boom}
	s := &recordingSleeper{}
	n := 0
	r := &Retrying{Fencer: f, Policy: RetryPolicy{Attempts: 4, Initial: time.Second, Max: 3 * time.Second}, Sleep: s.sleep,
		OnFailure: func(Alert) { n++ }}
	op := Start(context.Background(), r, Request{Node: "d2", Instance: "VI_1", Epoch: 7}, nil)
	<-op.Done()
	res, done := op.Result()
	if !done || res.OK || res.Attempts != 4 || n != 4 {
		t.Fatalf("result %+v done %v alerts %d", res, done, n)
	}
	var fe *FenceError
	if !errors.Is(res.Err, ErrFenceFailed) || !errors.Is(res.Err, boom) || !errors.As(res.Err, &fe) || fe.Attempts != 4 {
		t.Fatalf("err %v", res.Err)
	}
	if !reflect.DeepEqual(s.waits, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}) {
		t.Fatalf("backoffs %v", s.waits)
	}
}

func TestRetryingStopsOnCancel(t *testing.T) {
	f := &scriptedFencer{fails: 100, err: errors.New("down")}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Retrying{Fencer: f, Policy: RetryPolicy{Attempts: 10}, Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return SleepContext(ctx, time.Hour)
	}}
	err := r.Fence(ctx, Request{Node: "d2"})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrFenceFailed) || len(f.seen) != 1 {
		t.Fatalf("err %v after %d attempts", err, len(f.seen))
	}
}

func TestOperationPending(t *testing.T) {
	release := make(chan struct{})
	f := fencerFunc(func(ctx context.Context, req Request) error { <-release; return nil })
	op := Start(context.Background(), f, Request{Node: "d3", Epoch: 9}, fixedNow())
	if r, done := op.Result(); done || r.Req.Node != "d3" || r.Started.IsZero() {
		t.Fatalf("pending result %+v done %v", r, done)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := op.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a pending op: %v", err)
	}
	close(release)
	r, err := op.Wait(context.Background())
	if err != nil || !r.OK || r.Attempts != 1 || !r.Finished.After(r.Started) {
		t.Fatalf("result %+v err %v", r, err)
	}
}

type fencerFunc func(ctx context.Context, req Request) error

func (f fencerFunc) Fence(ctx context.Context, req Request) error { return f(ctx, req) }

func TestNewScriptFencerRejectsBadConfig(t *testing.T) {
	for _, cfg := range []ScriptConfig{{}, {Command: []string{""}}, {Command: []string{"x"}, Timeout: -1}} {
		if _, err := NewScriptFencer(cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("NewScriptFencer(%+v) = %v, want ErrBadConfig", cfg, err)
		}
	}
}
