package vip_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/vrrp/vip"
	"vigil/vrrp/vip/viptest"
)

type announcerEnv struct {
	a    *vip.Announcer
	clk  *viptest.Clock
	snd  *viptest.Sender
	done chan error
}

func startAnnouncer(t *testing.T, s vip.Sender, clk *viptest.Clock, tm vip.Timing) *announcerEnv {
	t.Helper()
	a, err := vip.NewAnnouncer(s, tm, vip.AnnouncerOptions{Clock: clk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	env := &announcerEnv{a: a, clk: clk, done: make(chan error, 1)}
	go func() { env.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-env.done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return env
}

// settle waits until Run has sent n packets in total and gone back to sleep.
func (e *announcerEnv) settle(t *testing.T, n, timers int) {
	t.Helper()
	if !e.snd.Wait(n, 5*time.Second) {
		t.Fatalf("waited for %d packets, got:\n%s", n, e.snd)
	}
	if timers > 0 && !e.clk.WaitTimers(timers, 5*time.Second) {
		t.Fatalf("Run did not go back to sleep")
	}
}

func TestAnnouncerBurstsAndRefresh(t *testing.T) {
	checkGoroutines(t)
	clk := viptest.NewClock()
	snd := viptest.NewSender(clk)
	env := startAnnouncer(t, snd, clk, vip.DefaultTiming())
	env.snd = snd
	a4, a6 := netip.MustParseAddr("10.0.0.200"), netip.MustParseAddr("fd00::200")

	env.a.Announce("eth0", a4)
	env.settle(t, 5, 1)
	env.clk.Advance(time.Second)
	env.a.Announce("eth0", a6)
	env.a.Announce("eth0", a4) // a second instance on the same VIP: counted, no burst
	env.settle(t, 10, 1)
	for _, d := range []time.Duration{4 * time.Second, time.Second, 4 * time.Second, time.Second, 4 * time.Second} {
		env.clk.Advance(d)
		env.clk.WaitTimers(1, time.Second)
	}
	env.settle(t, 10+5+5+1+1+1, 1)
	want := strings.Join([]string{
		"0s eth0 10.0.0.200", "0s eth0 10.0.0.200", "0s eth0 10.0.0.200", "0s eth0 10.0.0.200", "0s eth0 10.0.0.200",
		"1s eth0 fd00::200", "1s eth0 fd00::200", "1s eth0 fd00::200", "1s eth0 fd00::200", "1s eth0 fd00::200",
		"5s eth0 10.0.0.200", "5s eth0 10.0.0.200", "5s eth0 10.0.0.200", "5s eth0 10.0.0.200", "5s eth0 10.0.0.200",
		"6s eth0 fd00::200", "6s eth0 fd00::200", "6s eth0 fd00::200", "6s eth0 fd00::200", "6s eth0 fd00::200",
		"10s eth0 10.0.0.200", "11s eth0 fd00::200", "15s eth0 10.0.0.200",
	}, "\n")
	if got := snd.String(); got != want {
		t.Fatalf("packets\n%s\nwant\n%s", got, want)
	}

	// One of two references dropped: still announced. Both: silence.
	env.a.Stop("eth0", a4)
	env.clk.Advance(time.Second) // 16s: fd00::200's refresh
	env.settle(t, 24, 1)
	env.a.Stop("eth0", a4)
	env.a.Stop("eth0", a6)
	if got := env.a.Targets(); len(got) != 0 {
		t.Errorf("targets after Stop: %v", got)
	}
	env.clk.Advance(time.Minute)
	time.Sleep(20 * time.Millisecond)
	if n := len(snd.Packets()); n != 24 {
		t.Errorf("%d packets after Stop, want 24:\n%s", n, snd)
	}
	if sent, failed := env.a.Stats(); sent != 24 || failed != 0 {
		t.Errorf("stats sent %d failed %d", sent, failed)
	}
}

// blockingSender holds its first Send until released.
type blockingSender struct {
	entered, release chan struct{}
	rec              *viptest.Sender
	first            bool
}

func (b *blockingSender) Send(tg vip.Target) error {
	if !b.first {
		b.first = true
		close(b.entered)
		<-b.release
	}
	return b.rec.Send(tg)
}

// TestAnnouncerStopIsImmediate: Stop called in the middle of a burst
// returns only after the packet in flight, and no further packet of the
// burst goes out.
func TestAnnouncerStopIsImmediate(t *testing.T) {
	checkGoroutines(t)
	clk := viptest.NewClock()
	b := &blockingSender{entered: make(chan struct{}), release: make(chan struct{}), rec: viptest.NewSender(clk)}
	env := startAnnouncer(t, b, clk, vip.DefaultTiming())
	env.snd = b.rec
	addr := netip.MustParseAddr("10.0.0.200")
	env.a.Announce("eth0", addr)
	<-b.entered
	stopped := make(chan struct{})
	go func() { env.a.Stop("eth0", addr); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a packet was being sent")
	case <-time.After(20 * time.Millisecond):
	}
	close(b.release)
	<-stopped
	clk.Advance(time.Minute)
	time.Sleep(20 * time.Millisecond)
	if got := b.rec.String(); got != "0s eth0 10.0.0.200" {
		t.Errorf("packets after Stop mid-burst:\n%s", got)
	}
}

func TestAnnouncerSendErrorsAndClose(t *testing.T) {
	checkGoroutines(t)
	clk := viptest.NewClock()
	snd := viptest.NewSender(clk)
	snd.Fail("eth1", syscall.ENETDOWN)
	a, err := vip.NewAnnouncer(snd, vip.Timing{Repeat: 2, Refresh: time.Second, RefreshRepeat: 1}, vip.AnnouncerOptions{Clock: clk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	a.Announce("eth1", netip.MustParseAddr("10.0.1.1"))
	a.Announce("eth0", netip.MustParseAddr("10.0.0.1"))
	if !snd.Wait(2, 5*time.Second) || !clk.WaitTimers(1, 5*time.Second) {
		t.Fatal("no packets on the working interface")
	}
	snd.Fail("eth1", nil)
	clk.Advance(time.Second)
	if !snd.Wait(4, 5*time.Second) {
		t.Fatalf("the failing interface did not recover:\n%s", snd)
	}
	if sent, failed := a.Stats(); sent != 4 || failed != 2 {
		t.Errorf("stats sent %d failed %d, want 4 and 2", sent, failed)
	}
	a.Close()
	a.Close()
	if err := <-done; !errors.Is(err, vip.ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
}

func TestNewAnnouncerRejectsBadTiming(t *testing.T) {
	if _, err := vip.NewAnnouncer(viptest.NewSender(viptest.NewClock()), vip.Timing{}, vip.AnnouncerOptions{}); !errors.Is(err, vip.ErrInvalid) {
		t.Errorf("zero Timing: %v, want ErrInvalid", err)
	}
}

// TestAnnouncerLease: a leased target is announced until its lease end,
// and not after it (a holder frozen past its lease that runs again claims
// nothing), until a renewal extends the lease.
func TestAnnouncerLease(t *testing.T) {
	checkGoroutines(t)
	clk := viptest.NewClock()
	snd := viptest.NewSender(clk)
	env := startAnnouncer(t, snd, clk, vip.Timing{Repeat: 1, Refresh: time.Second, RefreshRepeat: 1})
	env.snd = snd
	addr := netip.MustParseAddr("10.0.0.200")
	env.a.Lease("eth0", addr, clk.Now().Add(1500*time.Millisecond))
	env.a.Announce("eth0", addr)
	env.settle(t, 1, 1)
	clk.Advance(time.Second) // refresh at 1 s: inside the lease
	env.settle(t, 2, 1)
	clk.Advance(time.Second) // refresh at 2 s: the lease ended at 1.5 s
	if !clk.WaitTimers(1, 5*time.Second) {
		t.Fatal("Run did not go back to sleep")
	}
	time.Sleep(20 * time.Millisecond)
	if got := strings.Count(snd.String(), "eth0"); got != 2 {
		t.Errorf("packets after the lease end:\n%s\nwant 2 (at 0 s and 1 s)", snd)
	}
	env.a.Lease("eth0", addr, clk.Now().Add(5*time.Second)) // renewed
	clk.Advance(time.Second)
	env.settle(t, 3, 1)
}
