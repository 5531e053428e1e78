package lvs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"vigil/lvs"
	"vigil/lvs/lvstest"
)

func TestReconcile(t *testing.T) {
	k := lvstest.NewKernel()
	dp := lvstest.New(k)
	states := make(chan lvs.State, 4)
	sweep := make(chan time.Time)
	type result struct {
		st  lvs.State
		err error
	}
	results := make(chan result, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- lvs.Reconcile(ctx, dp, states, sweep, func(st lvs.State, err error) { results <- result{st, err} })
	}()
	next := func() result {
		t.Helper()
		select {
		case r := <-results:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("no Apply reported")
		}
		return result{}
	}
	// A sweep before any state applies nothing (no wiping at startup).
	sweep <- time.Time{}
	a := lvs.State{Services: []lvs.Service{web(rl("10.0.1.1", 80, 1))}}
	states <- a
	if r := next(); r.err != nil || k.String() != a.Canonical().String() {
		t.Fatalf("first state: %v\n%s", r.err, k)
	}
	// Something deletes the service behind vigil's back; the sweep restores it.
	if err := k.Do(lvs.Op{Kind: lvs.DelService, Service: a.Services[0]}); err != nil {
		t.Fatal(err)
	}
	sweep <- time.Time{}
	if r := next(); r.err != nil || k.String() != a.Canonical().String() {
		t.Fatalf("sweep did not repair: %v\n%s", r.err, k)
	}
	// A failing Apply is reported and retried on the next tick.
	boom := errors.New("boom")
	k.FailOn = func(lvs.Op) error { return boom }
	b := lvs.State{Services: []lvs.Service{web(rl("10.0.1.2", 80, 1))}}
	states <- b
	if r := next(); !errors.Is(r.err, boom) {
		t.Fatalf("failure not reported: %v", r.err)
	}
	k.FailOn = nil
	sweep <- time.Time{}
	if r := next(); r.err != nil || k.String() != b.Canonical().String() {
		t.Fatalf("retry: %v\n%s", r.err, k)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Reconcile returned %v, want context.Canceled", err)
	}
}
