package fencing

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestTrackerRunsEachFencingOnce(t *testing.T) {
	f := &scriptedFencer{fails: 1, err: errors.New("busy")}
	tr := NewTracker(f, nil)
	req := Request{Node: "d2", Instance: "VI_1", Epoch: 43, Reason: "unreachable"}
	var wg sync.WaitGroup
	ops := make([]*Operation, 20)
	for i := range ops {
		wg.Add(1)
		go func() { defer wg.Done(); ops[i] = tr.Ensure(context.Background(), req) }()
	}
	wg.Wait()
	for _, op := range ops {
		if op != ops[0] {
			t.Fatal("Ensure started a second operation for the same epoch")
		}
	}
	res, _ := ops[0].Wait(context.Background())
	if res.OK || len(f.seen) != 1 {
		t.Fatalf("first run: %+v after %d hook runs", res, len(f.seen))
	}
	// The failed operation stays until forgotten; then it runs again.
	if again, _ := tr.Ensure(context.Background(), req).Wait(context.Background()); again.OK || len(f.seen) != 1 {
		t.Fatalf("Ensure re-ran a failed fencing without Forget")
	}
	tr.Forget(req)
	if res, _ := tr.Ensure(context.Background(), req).Wait(context.Background()); !res.OK || len(f.seen) != 2 {
		t.Fatalf("after Forget: %+v, %d runs", res, len(f.seen))
	}
	// A new epoch is a new fencing; ForgetBefore drops the old ones.
	next := req
	next.Epoch = 44
	tr.Ensure(context.Background(), next).Wait(context.Background())
	tr.ForgetBefore("VI_1", 44)
	tr.Ensure(context.Background(), req).Wait(context.Background())
	tr.Ensure(context.Background(), next).Wait(context.Background())
	if len(f.seen) != 4 {
		t.Fatalf("%d hook runs, want 4 (43, 43 again, 44, 43 after ForgetBefore)", len(f.seen))
	}
}
