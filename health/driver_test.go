package health

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testLogger routes the driver's logs to t.Log.

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// countingChecker counts the probes of the checker it wraps.

type countingChecker struct {
	Checker
	n      atomic.Int64 // probes started
	failed atomic.Int64 // probes that failed
}

func (c *countingChecker) Check(ctx context.Context) Result {
	c.n.Add(1)
	r := c.Checker.Check(ctx)
	if !r.Up {
		c.failed.Add(1)
	}
	return r
}

// hangingChecker blocks until its ctx is done: a server that accepted and

// never answered.

type hangingChecker struct{ started atomic.Int64 }

func (h *hangingChecker) Check(ctx context.Context) Result {
	h.started.Add(1)
	<-ctx.Done()
	return down("hung: %v", ctx.Err())
}

// runDriver starts d.Run and returns the channel of its state/notify

// actions; the driver is stopped, and checked to have left no goroutine, at

// the end of the test.

func runDriver(t *testing.T, d *Driver, acts chan Action) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("driver did not stop")
		}
		checkNoLeaks(t)
	})
}

// checkNoLeaks fails if any goroutine is still running health code (the

// driver loop, a probe, a script waiter) once everything was stopped.

func checkNoLeaks(t *testing.T) {
	t.Helper()
	var stacks string
	for range 100 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		leaked := false
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "vigil/health.") && !strings.Contains(g, "checkNoLeaks") &&
				!strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "servers_test.go") {
				leaked = true
			}
		}
		if !leaked {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("goroutines left behind:\n%s", stacks)
}

func newTestDriver(t *testing.T) (*Driver, chan Action) {
	acts := make(chan Action, 1000)
	d := NewDriver(DriverConfig{Logger: testLogger(t), OnAction: func(a Action) { acts <- a }})
	return d, acts
}

// next waits for the next ActState of id (bounded by a generous guard so a

// broken driver fails rather than hangs).

func nextState(t *testing.T, acts chan Action, id ServerID) Action {
	t.Helper()
	guard := time.After(20 * time.Second)
	for {
		select {
		case a := <-acts:
			if a.Kind == ActState && a.Server == id {
				return a
			}
		case <-guard:
			t.Fatalf("no state change of %s", id)
		}
	}
}

func fastTiming(spec *CheckSpec, retry int) Timing {
	spec.DelayLoop = 100 * time.Millisecond
	spec.DelayBeforeRetry = 50 * time.Millisecond
	spec.Retry = &retry
	zero := time.Duration(0)
	spec.Warmup = &zero
	spec.ConnectTimeout = 500 * time.Millisecond
	return spec.Resolved()
}

// TestDriverTCPDownAndBack: stop the server and it is marked down after

// exactly 1 + retry failed probes (delay_loop + retry × delay_before_retry);

// start it and it is back at the next probe.

func TestDriverTCPDownAndBack(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	spec := CheckSpec{Kind: KindTCP, Target: srv.addr}
	tm := fastTiming(&spec, 2)
	c, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingChecker{Checker: c}
	// Count the failed probes at the moment of the transition, in the
	// driver's goroutine: nothing can probe in between.
	var failedAtDown atomic.Int64
	acts := make(chan Action, 1000)
	d := NewDriver(DriverConfig{Logger: testLogger(t), OnAction: func(a Action) {
		if a.Kind == ActState && !a.Up {
			failedAtDown.Store(cc.failed.Load())
		}
		acts <- a
	}})
	if err := d.Add(ServerSpec{ID: "web1", Weight: 3, NotifyUp: "up", NotifyDown: "down", Checks: []Timing{tm}}, []Checker{cc}); err != nil {
		t.Fatal(err)
	}
	runDriver(t, d, acts)
	if a := nextState(t, acts, "web1"); !a.Initial || !a.Up || a.Weight != 3 {
		t.Fatalf("initial state %v, want up weight 3", a)
	}
	time.Sleep(300 * time.Millisecond) // a few passing probes: no state actions
	srv.Stop()
	start := time.Now()
	a := nextState(t, acts, "web1")
	failed := failedAtDown.Load()
	if a.Up || a.InService || a.Weight != 0 {
		t.Fatalf("after stop: %v, want down and out of service", a)
	}
	if failed != 3 {
		t.Errorf("down after %d failed probes, want 1 + retry (3)", failed)
	}
	t.Logf("marked down %v after the stop (delay_loop 100ms + 2 × 50ms)", time.Since(start))
	if n := <-acts; n.Kind != ActNotify || n.Command != "down" {
		t.Errorf("got %v, want notify_down", n)
	}
	srv.Start()
	if a := nextState(t, acts, "web1"); !a.Up || a.Weight != 3 {
		t.Fatalf("after restart: %v", a)
	}
}

func TestDriverAlphaAndInhibit(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	spec := CheckSpec{Kind: KindTCP, Target: srv.addr, Alpha: true}
	tm := fastTiming(&spec, 0)
	c, _ := New(spec)
	d, acts := newTestDriver(t)
	d.Add(ServerSpec{ID: "rs", Weight: 2, InhibitOnFailure: true, Checks: []Timing{tm}}, []Checker{c})
	runDriver(t, d, acts)
	if a := nextState(t, acts, "rs"); !a.Initial || a.Up || !a.InService || a.Weight != 0 {
		t.Fatalf("alpha + inhibit: initial %v, want down, in service at weight 0", a)
	}
	if a := nextState(t, acts, "rs"); !a.Up || a.Weight != 2 {
		t.Fatalf("first pass: %v, want up weight 2", a)
	}
	srv.Stop()
	if a := nextState(t, acts, "rs"); a.Up || !a.InService || a.Weight != 0 {
		t.Fatalf("inhibit_on_failure: %v, want weight 0 in service", a)
	}
}

// TestDriverHungCheckBlocksNothing: one check hangs until its deadline on

// every probe; another server's checks keep their pace meanwhile, and the

// hung one is marked down by its deadline.

func TestDriverHungCheckBlocksNothing(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	fast := CheckSpec{Kind: KindTCP, Target: srv.addr}
	ftm := fastTiming(&fast, 0)
	fc, _ := New(fast)
	counted := &countingChecker{Checker: fc}
	hung := &hangingChecker{}
	htm := ftm
	htm.Timeout = 2 * time.Second

	d, acts := newTestDriver(t)
	d.Add(ServerSpec{ID: "hung", Weight: 1, Checks: []Timing{htm}}, []Checker{hung})
	d.Add(ServerSpec{ID: "fast", Weight: 1, Checks: []Timing{ftm}}, []Checker{counted})
	runDriver(t, d, acts)
	start := time.Now()
	a := nextState(t, acts, "hung") // initial
	if !a.Initial {
		t.Fatalf("%v", a)
	}
	a = nextState(t, acts, "hung")
	el := time.Since(start)
	if a.Up || !strings.Contains(a.Reason, "deadline") {
		t.Fatalf("hung check: %v, want down at its deadline", a)
	}
	// While the hung probe waited out its 2 s deadline, the other server
	// was probed every 100 ms.
	if n := counted.n.Load(); n < 8 {
		t.Errorf("fast server probed %d times in %v beside a hung check", n, el)
	}
	if up, _, _ := d.State("fast"); !up {
		t.Error("fast server is not up")
	}
}

// TestDriverStopsWithProbesInFlight: cancelling Run while probes hang

// returns promptly and leaves no goroutine (checked by runDriver).

func TestDriverStopsWithProbesInFlight(t *testing.T) {
	hung := &hangingChecker{}
	d, acts := newTestDriver(t)
	for _, id := range []ServerID{"a", "b", "c"} {
		d.Add(ServerSpec{ID: id, Weight: 1, Checks: []Timing{{DelayLoop: time.Second, Timeout: time.Hour}}}, []Checker{hung})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	for hung.started.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return with probes in flight")
	}
	checkNoLeaks(t)
	if err := d.Add(ServerSpec{ID: "a"}, nil); err == nil {
		t.Error("duplicate Add accepted")
	}
	_ = acts
}

// TestDriverMiscCheck: a MISC_CHECK script whose verdict follows a file,

// with misc_dynamic weights, through the real driver.

// stoppable is a real server a test can stop and start.
type stoppable interface {
	Stop()
	Start()
}

// TestDriverEveryKindDownAndBack runs each network checker through the
// real driver against its real server: stopped, the server is marked down;
// started again, it is back.
func TestDriverEveryKindDownAndBack(t *testing.T) {
	dir := t.TempDir()
	cert, _, _ := selfSigned(t, dir, []string{"vigil.test"}, net.ParseIP("127.0.0.1"))
	web := startTCP(t, "127.0.0.1:0", httpHandler)
	tlsWeb := startTCP(t, "127.0.0.1:0", tlsWrap(cert, make(chan string), httpHandler))
	smtp := startTCP(t, "127.0.0.1:0", smtpHandler("220 vigil.test ESMTP", nil))
	tcp := startTCP(t, "127.0.0.1:0", nil)
	dnsSrv := startUDP(t, "127.0.0.1:0", dnsReply)
	echo := startUDP(t, "127.0.0.1:0", func(b []byte) []byte { return b })
	cases := []struct {
		srv  stoppable
		spec CheckSpec
	}{
		{tcp, CheckSpec{Kind: KindTCP, Target: tcp.addr}},
		{web, CheckSpec{Kind: KindHTTP, Target: web.addr, URLs: []URLSpec{{Path: "/ok", Digest: md5hex("hello world\n")}}}},
		{tlsWeb, CheckSpec{Kind: KindSSL, Target: tlsWeb.addr, URLs: []URLSpec{{Path: "/ok", Regex: "world"}}}},
		{smtp, CheckSpec{Kind: KindSMTP, Target: smtp.addr}},
		{dnsSrv, CheckSpec{Kind: KindDNS, Target: dnsSrv.addr, DNSType: "A", DNSName: "vigil.test"}},
		{echo, CheckSpec{Kind: KindUDP, Target: echo.addr, UDPPayload: []byte("hi"), RequireReply: true}},
	}
	d, acts := newTestDriver(t)
	for _, c := range cases {
		tm := fastTiming(&c.spec, 1)
		chk, err := New(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Add(ServerSpec{ID: ServerID(c.spec.Kind.String()), Weight: 1, Checks: []Timing{tm}}, []Checker{chk}); err != nil {
			t.Fatal(err)
		}
	}
	runDriver(t, d, acts)
	// Collect states per server in the background of the test.
	states := map[ServerID][]bool{}
	waitFor := func(id ServerID, n int, up bool) {
		t.Helper()
		guard := time.After(20 * time.Second)
		for len(states[id]) < n {
			select {
			case a := <-acts:
				if a.Kind == ActState {
					states[a.Server] = append(states[a.Server], a.Up)
				}
			case <-guard:
				t.Fatalf("%s: states %v, want %d", id, states[id], n)
			}
		}
		if got := states[id][n-1]; got != up {
			t.Fatalf("%s: state %d is up=%t, want %t (all: %v)", id, n, got, up, states[id])
		}
	}
	for _, c := range cases {
		waitFor(ServerID(c.spec.Kind.String()), 1, true)
	}
	time.Sleep(300 * time.Millisecond) // several passing probes each
	for _, c := range cases {
		c.srv.Stop()
	}
	for _, c := range cases {
		waitFor(ServerID(c.spec.Kind.String()), 2, false)
	}
	for _, c := range cases {
		c.srv.Start()
	}
	for _, c := range cases {
		waitFor(ServerID(c.spec.Kind.String()), 3, true)
	}
}

// rogueChecker breaks the Checker contract: it ignores ctx and blocks until
// released.
type rogueChecker struct{ release chan struct{} }

func (r rogueChecker) Check(context.Context) Result {
	<-r.release
	return Result{Up: true}
}

// TestDriverRogueChecker: a checker that never returns is counted failed
// once overdue (the server goes down, the others are unaffected), and Run
// still returns, within StopGrace, saying so.
func TestDriverRogueChecker(t *testing.T) {
	rogue := rogueChecker{release: make(chan struct{})}
	defer close(rogue.release)
	acts := make(chan Action, 100)
	d := NewDriver(DriverConfig{Logger: testLogger(t), StopGrace: 200 * time.Millisecond, OnAction: func(a Action) { acts <- a }})
	d.Add(ServerSpec{ID: "rogue", Weight: 1, Checks: []Timing{{DelayLoop: time.Second, Timeout: 100 * time.Millisecond}}}, []Checker{rogue})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	nextState(t, acts, "rogue") // initial
	a := nextState(t, acts, "rogue")
	if a.Up || !strings.Contains(a.Reason, "no result within") {
		t.Fatalf("rogue checker: %v (%s), want down as overdue", a, a.Reason)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrProbesStuck) {
			t.Errorf("Run: %v, want ErrProbesStuck", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run hung on a checker that ignores its ctx")
	}
}
