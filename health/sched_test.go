package health

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// runScript drives a Scheduler through lines of "tick MS", "ok ID CHECK",
// "fail ID CHECK", "weight ID CHECK W", "shutdown", and renders every
// action it emits, each prefixed with the time in ms. A result answers the
// check's latest probe.
func runScript(t *testing.T, s *Scheduler, script string) string {
	t.Helper()
	var out strings.Builder
	probes := map[string]uint64{} // "server#check" → the probe out
	flush := func() {
		for _, a := range s.Ready() {
			fmt.Fprintf(&out, "%d %s\n", s.Now().Milliseconds(), a)
			if a.Kind == ActProbe {
				probes[fmt.Sprintf("%s#%d", a.Server, a.Check)] = a.Probe
			}
		}
	}
	flush()
	for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
		f := strings.Fields(line)
		var ms, idx, w int
		switch f[0] {
		case "tick":
			fmt.Sscan(f[1], &ms)
			s.Tick(time.Duration(ms) * time.Millisecond)
		case "ok", "fail":
			fmt.Sscan(f[2], &idx)
			s.Step(Event{Server: ServerID(f[1]), Check: idx, Probe: probes[f[1]+"#"+f[2]], Result: Result{Up: f[0] == "ok", Reason: f[0]}})
		case "weight":
			fmt.Sscan(f[2], &idx)
			fmt.Sscan(f[3], &w)
			s.Step(Event{Server: ServerID(f[1]), Check: idx, Probe: probes[f[1]+"#"+f[2]], Result: Result{Up: true, Weight: w, HasWeight: true}})
		case "shutdown":
			s.Shutdown()
		default:
			t.Fatalf("bad script line %q", line)
		}
		flush()
	}
	return out.String()
}

func fixedRand(v int64) func(int64) int64 {
	return func(n int64) int64 { return v % n }
}

func timing(loop, retryDelay time.Duration, retry int, alpha bool) Timing {
	return Timing{DelayLoop: loop, DelayBeforeRetry: retryDelay, Retry: retry, Alpha: alpha, Timeout: time.Second}
}

// TestSchedulerLateResultIgnored: the result of a probe already counted as
// overdue does not count for the next probe of the same check.
func TestSchedulerLateResultIgnored(t *testing.T) {
	s := NewScheduler(fixedRand(0))
	s.Add(ServerSpec{ID: "rs", Weight: 1, Checks: []Timing{timing(10*time.Second, time.Second, 0, false)}})
	s.Tick(0)
	first := s.Ready()[1]
	s.Tick(2 * time.Second) // overdue: failed, down (retry 0)
	if acts := s.Ready(); len(acts) != 1 || acts[0].Kind != ActState || acts[0].Up {
		t.Fatalf("overdue probe: %v, want the server down", acts)
	}
	s.Tick(12 * time.Second)
	second := s.Ready()[0]
	s.Step(Event{Server: "rs", Check: 0, Probe: first.Probe, Result: Result{Up: true}}) // late
	if up, _, _ := s.State("rs"); up || len(s.Ready()) != 0 {
		t.Fatal("a late result of an overdue probe was applied")
	}
	s.Step(Event{Server: "rs", Check: 0, Probe: second.Probe, Result: Result{Up: true}})
	if up, _, _ := s.State("rs"); !up {
		t.Fatal("the current probe's result was ignored")
	}
}

func TestSchedulerRemoveAndDuplicates(t *testing.T) {
	s := NewScheduler(fixedRand(0))
	spec := ServerSpec{ID: "a", Weight: 1, Checks: []Timing{timing(time.Second, time.Second, 0, false)}}
	if err := s.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(spec); err == nil {
		t.Fatal("adding a server twice succeeded")
	}
	s.Tick(0)
	s.Ready()
	s.Remove("a")
	s.Step(Event{Server: "a", Check: 0, Result: Result{}})
	s.Tick(time.Hour)
	if got := s.Ready(); len(got) != 0 {
		t.Fatalf("removed server still acts: %v", got)
	}
	if _, ok := s.Next(); ok {
		t.Fatal("removed server still queued")
	}
	if err := s.Add(ServerSpec{ID: "b", Checks: []Timing{{}}}); err == nil {
		t.Fatal("delay_loop 0 accepted")
	}

	// Removed and added again while a probe was in flight: the old probe's
	// result does not count for the new server.
	s.Add(spec)
	s.Tick(2 * time.Hour)
	old := s.Ready()[1] // [initial state, probe]
	s.Remove("a")
	s.Add(spec)
	s.Tick(3 * time.Hour)
	acts := s.Ready()
	s.Step(Event{Server: "a", Check: 0, Probe: old.Probe, Result: Result{}})
	if up, _, _ := s.State("a"); !up || len(s.Ready()) != 0 {
		t.Fatalf("a stale result changed the re-added server (acts %v)", acts)
	}
	s.Step(Event{Server: "a", Check: 0, Probe: acts[1].Probe, Result: Result{}})
	if up, _, _ := s.State("a"); up {
		t.Fatal("the current probe's result was ignored")
	}
}

// TestSchedulerOnlyTransitions runs many servers through a long random
// schedule and checks that state actions alternate (never two equal states
// in a row for a server), i.e. probes are never reported, only changes.
func TestSchedulerOnlyTransitions(t *testing.T) {
	s := NewScheduler(fixedRand(7))
	const n = 50
	for i := range n {
		if err := s.Add(ServerSpec{ID: ServerID(fmt.Sprint(i)), Weight: 1,
			Checks: []Timing{timing(time.Duration(1+i%5)*time.Second, time.Second, i%3, i%2 == 0)}}); err != nil {
			t.Fatal(err)
		}
	}
	last := map[ServerID]bool{}
	probes, states := 0, 0
	seed := uint32(1)
	for now := time.Duration(0); now < 10*time.Minute; now += 100 * time.Millisecond {
		s.Tick(now)
		for _, a := range s.Ready() {
			switch a.Kind {
			case ActProbe:
				probes++
				seed = seed*1664525 + 1013904223
				s.Step(Event{Server: a.Server, Check: a.Check, Probe: a.Probe, Result: Result{Up: seed>>28 < 12}})
			case ActState:
				states++
				if prev, seen := last[a.Server]; seen && prev == a.Up {
					t.Fatalf("%s: state %v reported twice in a row", a.Server, a.Up)
				}
				last[a.Server] = a.Up
			}
		}
		for _, a := range s.Ready() {
			if a.Kind == ActState {
				states++
				if prev, seen := last[a.Server]; seen && prev == a.Up {
					t.Fatalf("%s: state %v reported twice in a row", a.Server, a.Up)
				}
				last[a.Server] = a.Up
			}
		}
	}
	if probes < 10000 || states >= probes/2 {
		t.Fatalf("probes=%d states=%d: want many probes and fewer transitions", probes, states)
	}
}

func BenchmarkSchedulerTickStep(b *testing.B) {
	s := NewScheduler(func(n int64) int64 { return n / 2 })
	const n = 10000
	for i := range n {
		_ = s.Add(ServerSpec{ID: ServerID(fmt.Sprint(i)), Weight: 1, Checks: []Timing{timing(time.Second, time.Second, 1, false)}})
	}
	s.Ready()
	now := time.Duration(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now += time.Millisecond
		s.Tick(now)
		for _, a := range s.Ready() {
			if a.Kind == ActProbe {
				s.Step(Event{Server: a.Server, Check: a.Check, Probe: a.Probe, Result: Result{Up: true}})
			}
		}
	}
}

func TestSchedulerSnapshot(t *testing.T) {
	s := NewScheduler(fixedRand(0))
	s.Add(ServerSpec{ID: "b", Weight: 2, InhibitOnFailure: true, Checks: []Timing{timing(time.Second, time.Second, 0, false), timing(time.Second, time.Second, 0, false)}})
	s.Add(ServerSpec{ID: "a", Weight: 1, Checks: []Timing{timing(time.Second, time.Second, 0, true)}})
	s.Tick(0)
	for _, a := range s.Ready() {
		if a.Kind == ActProbe && a.Server == "b" && a.Check == 1 {
			s.Step(Event{Server: "b", Check: 1, Probe: a.Probe, Result: Result{}})
		}
	}
	got := fmt.Sprint(s.Snapshot())
	want := "[{a false 0 false [0]} {b false 0 true [1]}]"
	if got != want {
		t.Errorf("Snapshot = %s, want %s", got, want)
	}
}

// TestSchedulerAgainstModel drives one check through random results and
// compares every probe time and transition with a direct transcription of
// keepalived's rules: a passing checker fails after 1 + retry consecutive
// failures (retries delay_before_retry apart), a failed one passes at its
// first success, and every other probe follows delay_loop.
func TestSchedulerAgainstModel(t *testing.T) {
	seed := uint64(42)
	rnd := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	for round := range 500 {
		loop := time.Duration(1+rnd(5)) * time.Second
		dbr := time.Duration(1+rnd(3)) * 100 * time.Millisecond
		retry := rnd(4)
		alpha := rnd(2) == 0
		s := NewScheduler(fixedRand(0))
		s.Add(ServerSpec{ID: "rs", Weight: 1, Checks: []Timing{timing(loop, dbr, retry, alpha)}})
		s.Ready()

		// The model.
		up, fails := !alpha, 0
		due := time.Duration(0)
		for step := range 200 {
			s.Tick(due)
			acts := s.Ready()
			if len(acts) != 1 || acts[0].Kind != ActProbe {
				t.Fatalf("round %d step %d: at %v got %v, want one probe", round, step, due, acts)
			}
			if next, _ := s.Next(); next != due+time.Second+OverdueGrace {
				t.Fatalf("round %d: with a probe in flight, next is %v, want its overdue time", round, next)
			}
			pass := rnd(3) > 0
			s.Step(Event{Server: "rs", Check: 0, Probe: acts[0].Probe, Result: Result{Up: pass}})
			acts = s.Ready()

			wasUp := up
			switch {
			case pass:
				up, fails = true, 0
				due += loop
			case up && fails < retry:
				fails++
				due += dbr
			default:
				up, fails = false, 0
				due += loop
			}
			transitions := 0
			for _, a := range acts {
				if a.Kind == ActState {
					transitions++
					if a.Up != up {
						t.Fatalf("round %d step %d: transition to up=%t, model says %t", round, step, a.Up, up)
					}
				}
			}
			if want := map[bool]int{true: 1, false: 0}[up != wasUp]; transitions != want {
				t.Fatalf("round %d step %d: %d transitions, want %d (up %t→%t)", round, step, transitions, want, wasUp, up)
			}
			if next, _ := s.Next(); next != due {
				t.Fatalf("round %d step %d: next probe at %v, model says %v", round, step, next, due)
			}
		}
	}
}
