package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Clock is the driver's source of time; the real one is time.Now.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// DriverConfig configures a Driver. Every field is optional.
type DriverConfig struct {
	// OnAction receives every ActState and ActNotify, in order, from the
	// Run goroutine. It must not block for long: probe results queue
	// behind it.
	OnAction func(Action)
	Logger   *slog.Logger
	Clock    Clock               // default: the wall clock
	Rand     func(n int64) int64 // default: math/rand/v2 Int64N
	// StopGrace bounds how long Run waits, once ctx is done, for probes
	// to return; default 5s. Only a Checker that ignores its ctx can need
	// it: Run then returns ErrProbesStuck and leaves those probes behind.
	StopGrace time.Duration
}

// ErrProbesStuck is returned by Run when probes ignored their cancellation.
var ErrProbesStuck = errors.New("health: probes did not return after cancellation (a Checker ignores its ctx)")

// Driver runs the checkers of many real servers on the Scheduler's
// timetable. Ordering contract of Run:
//
//  1. Read the clock, Tick the Scheduler, and carry out its actions in
//     order: an ActProbe starts the checker in a goroutine of its own with a
//     deadline of the check's Timeout (connect_timeout, misc_timeout), so a
//     hung check delays nothing but itself; ActState and ActNotify go to
//     OnAction.
//  2. Sleep until the next probe is due, a probe result arrives, a server
//     is added or removed, or ctx is done.
//  3. A probe result is stepped into the Scheduler at the time it arrived.
//  4. When ctx is done, cancel every probe in flight, wait for all of them
//     to return (Checkers honour ctx), deliver omega's notify_down actions,
//     and return. No goroutine outlives Run (unless a Checker breaks its
//     contract: see StopGrace).
//
// A probe whose result is overdue (its Timeout plus OverdueGrace) is
// counted as failed by the Scheduler, so even a Checker that never returns
// cannot keep a server up or stall anything but itself.
//
// Add and Remove are safe to call from any goroutine, before or during Run.
type Driver struct {
	cfg DriverConfig
	log *slog.Logger

	mu       sync.Mutex
	sched    *Scheduler
	checkers map[ServerID][]Checker
	timeouts map[ServerID][]time.Duration
	start    time.Time

	wake    chan struct{}
	results chan Event
	running bool
}

// NewDriver returns a Driver with no servers.
func NewDriver(cfg DriverConfig) *Driver {
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Int64N
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 5 * time.Second
	}
	if cfg.OnAction == nil {
		cfg.OnAction = func(Action) {}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{
		cfg: cfg, log: log,
		sched:    NewScheduler(cfg.Rand),
		checkers: map[ServerID][]Checker{},
		timeouts: map[ServerID][]time.Duration{},
		start:    cfg.Clock.Now(),
		wake:     make(chan struct{}, 1),
		results:  make(chan Event, 4096),
	}
}

// Add starts checking a real server: checkers[i] runs with
// spec.Checks[i]'s timing. Its initial ActState is delivered by Run.
func (d *Driver) Add(spec ServerSpec, checkers []Checker) error {
	if len(checkers) != len(spec.Checks) {
		return fmt.Errorf("health: real server %s: %d checkers for %d timings", spec.ID, len(checkers), len(spec.Checks))
	}
	tos := make([]time.Duration, len(spec.Checks))
	for i, t := range spec.Checks {
		tos[i] = t.Timeout
		if tos[i] <= 0 {
			tos[i] = DefaultConnectTimeout
		}
	}
	d.mu.Lock()
	d.sched.Tick(d.elapsed())
	err := d.sched.Add(spec)
	if err == nil {
		d.checkers[spec.ID] = checkers
		d.timeouts[spec.ID] = tos
	}
	d.mu.Unlock()
	d.poke()
	return err
}

// Remove stops checking a real server; a probe in flight finishes and is
// ignored.
func (d *Driver) Remove(id ServerID) {
	d.mu.Lock()
	d.sched.Remove(id)
	delete(d.checkers, id)
	delete(d.timeouts, id)
	d.mu.Unlock()
	d.poke()
}

// State returns a real server's current state and weight.
func (d *Driver) State(id ServerID) (up bool, weight int, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sched.State(id)
}

func (d *Driver) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Driver) elapsed() time.Duration { return d.cfg.Clock.Now().Sub(d.start) }

// Run drives the checks until ctx is done. It returns ctx's error, or an
// error at once if it is already running.
func (d *Driver) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return fmt.Errorf("health: driver already running")
	}
	d.running = true
	d.mu.Unlock()

	probeCtx, cancelProbes := context.WithCancel(ctx)
	var wg sync.WaitGroup
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var acts []Action
	for {
		d.mu.Lock()
		d.sched.Tick(d.elapsed())
		acts = append(acts[:0], d.sched.Ready()...)
		next, ok := d.sched.Next()
		now := d.sched.Now()
		d.mu.Unlock()
		d.execute(probeCtx, &wg, acts)

		wait := time.Hour
		if ok {
			wait = max(next-now, 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			cancelProbes()
			// Drain results while the probes finish, so none blocks on a
			// full channel; then stop.
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			grace := time.NewTimer(d.cfg.StopGrace)
			defer grace.Stop()
			stuck := false
		drain:
			for {
				select {
				case <-d.results:
				case <-done:
					break drain
				case <-grace.C:
					stuck = true
					d.log.Error("probes ignored their cancellation; leaving them behind")
					break drain
				}
			}
			d.mu.Lock()
			d.sched.Shutdown()
			acts = d.sched.Ready()
			d.running = false
			d.mu.Unlock()
			for _, a := range acts {
				if a.Kind != ActProbe {
					d.cfg.OnAction(a)
				}
			}
			if stuck {
				return ErrProbesStuck
			}
			return ctx.Err()
		case ev := <-d.results:
			d.mu.Lock()
			d.sched.Tick(d.elapsed())
			d.sched.Step(ev)
			for more := true; more; { // take whatever else has arrived
				select {
				case ev := <-d.results:
					d.sched.Step(ev)
				default:
					more = false
				}
			}
			d.mu.Unlock()
		case <-timer.C:
		case <-d.wake:
		}
	}
}

func (d *Driver) execute(ctx context.Context, wg *sync.WaitGroup, acts []Action) {
	for _, a := range acts {
		switch a.Kind {
		case ActProbe:
			d.mu.Lock()
			cs, tos := d.checkers[a.Server], d.timeouts[a.Server]
			d.mu.Unlock()
			if a.Check >= len(cs) {
				continue // removed meanwhile
			}
			wg.Add(1)
			go d.probe(ctx, wg, a, cs[a.Check], tos[a.Check])
		case ActState:
			d.log.Info("real server state", "server", a.Server, "up", a.Up, "weight", a.Weight,
				"in_service", a.InService, "initial", a.Initial, "reason", a.Reason)
			d.cfg.OnAction(a)
		default:
			d.cfg.OnAction(a)
		}
	}
}

func (d *Driver) probe(ctx context.Context, wg *sync.WaitGroup, a Action, c Checker, timeout time.Duration) {
	defer wg.Done()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	r := c.Check(pctx)
	cancel()
	select {
	case d.results <- Event{Server: a.Server, Check: a.Check, Probe: a.Probe, Result: r}:
	case <-ctx.Done():
	}
}

// NewServer builds the checkers of one real server from their specs and
// returns spec with Checks set to their resolved timings, ready for
// Driver.Add. The error of checker i says so and keeps its *SpecError.
func NewServer(spec ServerSpec, checks []CheckSpec) (ServerSpec, []Checker, error) {
	spec.Checks = make([]Timing, 0, len(checks))
	cs := make([]Checker, 0, len(checks))
	for i := range checks {
		c, err := New(checks[i])
		if err != nil {
			return ServerSpec{}, nil, fmt.Errorf("real server %s: checker %d: %w", spec.ID, i+1, err)
		}
		cs = append(cs, c)
		spec.Checks = append(spec.Checks, checks[i].Resolved())
	}
	return spec, cs, nil
}

// Snapshot returns every real server's current state, sorted by ID.
func (d *Driver) Snapshot() []ServerState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sched.Snapshot()
}
