package fencing_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"vigil/fencing"
)

// The driver feeds the Monitor and delivers its actions.
func ExampleMonitor() {
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	m := fencing.NewMonitor(fencing.MonitorConfig{Node: "d1", Quiet: 3 * time.Second})
	deliver := func() {
		for _, a := range m.Ready() {
			fmt.Println(a)
		}
		m.Advance()
	}
	m.Step(fencing.InstanceConfigured{Name: "VI_1", VRID: 51, VIPs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}})
	m.Step(fencing.HolderChanged{At: t0, Instance: "VI_1", Holder: fencing.Holder{Node: "d1", Addr: netip.MustParseAddr("10.0.0.11"), Epoch: 42}})
	m.Step(fencing.AdvertObservation{At: t0.Add(time.Second), VRID: 51, Src: netip.MustParseAddr("10.0.0.99"), Priority: 254})
	deliver()
	m.Tick(t0.Add(5 * time.Second))
	deliver()
	// Output:
	// raise rogue_advert instance=VI_1 peer=10.0.0.99 severity=critical epoch=42 holder=d1 holder_addr=10.0.0.11 priority=254 src=10.0.0.99 vrid=51
	// clear rogue_advert instance=VI_1 peer=10.0.0.99 severity=critical epoch=42 resolved holder=d1 holder_addr=10.0.0.11 priority=254 src=10.0.0.99 vrid=51
}

// The leader fences the old holder before a takeover; with `required` it
// commits the new assignment only on OK.
func ExampleStart() {
	hook := fencerFunc(func(ctx context.Context, req fencing.Request) error {
		return errors.New("bmc unreachable")
	})
	r := &fencing.Retrying{
		Fencer: hook,
		Policy: fencing.RetryPolicy{Attempts: 3},
		Sleep:  func(ctx context.Context, d time.Duration) error { return nil }, // a test clock
		OnFailure: func(a fencing.Alert) {
			fmt.Println("alert:", a.Kind, a.Evidence["attempt"], a.Evidence["error"])
		},
	}
	op := fencing.Start(context.Background(), r, fencing.Request{Node: "d2", Instance: "VI_1", Epoch: 43, Reason: "unreachable on all links"}, nil)
	res, _ := op.Wait(context.Background())
	fmt.Println("ok:", res.OK, "attempts:", res.Attempts)
	// Output:
	// alert: fence_failed 1 bmc unreachable
	// alert: fence_failed 2 bmc unreachable
	// alert: fence_failed 3 bmc unreachable
	// ok: false attempts: 3
}

type fencerFunc func(ctx context.Context, req fencing.Request) error

func (f fencerFunc) Fence(ctx context.Context, req fencing.Request) error { return f(ctx, req) }
