package health

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// script drives a Scheduler through lines of "tick MS", "ok ID CHECK",
// "fail ID CHECK", "weight ID CHECK W", "shutdown", and renders every
// action it emits, each prefixed with the time in ms.
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

func TestSchedulerScripts(t *testing.T) {
	const sec = time.Second
	tests := []struct {
		name   string
		spec   ServerSpec
		warmup time.Duration
		script string
		want   string
	}{{
		name: "retry then down, one pass brings it back (keepalived retry/delay_before_retry)",
		spec: ServerSpec{ID: "rs", Weight: 5, NotifyUp: "up.sh", NotifyDown: "down.sh",
			Checks: []Timing{timing(10*sec, 2*sec, 2, false)}},
		script: `
tick 0
ok rs 0
tick 9999
tick 10000
fail rs 0
tick 12000
fail rs 0
tick 14000
fail rs 0
tick 23999
tick 24000
fail rs 0
tick 34000
ok rs 0`,
		want: `0 state rs up=true weight=5 in=true initial
0 probe rs#0
10000 probe rs#0
12000 probe rs#0
14000 probe rs#0
14000 state rs up=false weight=0 in=false
14000 notify rs up=false "down.sh"
24000 probe rs#0
34000 probe rs#0
34000 state rs up=true weight=5 in=true
34000 notify rs up=true "up.sh"
`,
	}, {
		name: "a pass during the retries cancels them",
		spec: ServerSpec{ID: "rs", Weight: 1, Checks: []Timing{timing(10*sec, 1*sec, 3, false)}},
		script: `
tick 0
fail rs 0
tick 1000
ok rs 0
tick 11000
fail rs 0`,
		want: `0 state rs up=true weight=1 in=true initial
0 probe rs#0
1000 probe rs#0
11000 probe rs#0
`,
	}, {
		name: "alpha starts down, first pass brings it up",
		spec: ServerSpec{ID: "rs", Weight: 1, Checks: []Timing{timing(sec, sec, 1, true)}},
		script: `
tick 0
fail rs 0
tick 1000
ok rs 0`,
		want: `0 state rs up=false weight=0 in=false initial
0 probe rs#0
1000 probe rs#0
1000 state rs up=true weight=1 in=true
`,
	}, {
		name: "inhibit_on_failure keeps the server at weight 0",
		spec: ServerSpec{ID: "rs", Weight: 3, InhibitOnFailure: true, Checks: []Timing{timing(sec, sec, 0, false)}},
		script: `
tick 0
fail rs 0`,
		want: `0 state rs up=true weight=3 in=true initial
0 probe rs#0
0 state rs up=false weight=0 in=true
`,
	}, {
		name:   "warmup delays the first probe by rand(warmup)",
		spec:   ServerSpec{ID: "rs", Weight: 1, Checks: []Timing{timing(sec, sec, 0, false)}},
		warmup: 5 * sec,
		script: `
tick 1233
tick 1234`,
		want: `0 state rs up=true weight=1 in=true initial
1234 probe rs#0
`,
	}, {
		name: "two checkers: down when either fails, up when both pass",
		spec: ServerSpec{ID: "rs", Weight: 1, Checks: []Timing{timing(sec, sec, 0, false), timing(2*sec, sec, 0, false)}},
		script: `
tick 0
ok rs 0
fail rs 1
tick 1000
ok rs 0
tick 2000
ok rs 1`,
		want: `0 state rs up=true weight=1 in=true initial
0 probe rs#0
0 probe rs#1
0 state rs up=false weight=0 in=false
1000 probe rs#0
2000 probe rs#1
2000 probe rs#0
2000 state rs up=true weight=1 in=true
`,
	}, {
		name: "misc_dynamic changes the weight: a state change without notify",
		spec: ServerSpec{ID: "rs", Weight: 1, NotifyUp: "up.sh", Checks: []Timing{timing(sec, sec, 0, false)}},
		script: `
tick 0
weight rs 0 7
tick 1000
weight rs 0 7
tick 2000
ok rs 0`,
		want: `0 state rs up=true weight=1 in=true initial
0 probe rs#0
0 state rs up=true weight=7 in=true
1000 probe rs#0
2000 probe rs#0
2000 state rs up=true weight=1 in=true
`,
	}, {
		name: "omega runs notify_down of live servers at shutdown",
		spec: ServerSpec{ID: "rs", Weight: 1, Omega: true, NotifyDown: "down.sh", Checks: []Timing{timing(sec, sec, 0, false)}},
		script: `
tick 0
ok rs 0
shutdown`,
		want: `0 state rs up=true weight=1 in=true initial
0 probe rs#0
0 notify rs up=false "down.sh"
`,
	}, {
		name: "a probe without a result is failed once overdue (timeout 1s + OverdueGrace)",
		spec: ServerSpec{ID: "rs", Weight: 1, Checks: []Timing{timing(10*sec, 2*sec, 1, false)}},
		script: `
tick 0
tick 1999
tick 2000
tick 4000
tick 6000
tick 16000`,
		want: `0 state rs up=true weight=1 in=true initial
0 probe rs#0
4000 probe rs#0
6000 state rs up=false weight=0 in=false
16000 probe rs#0
`,
	}, {
		name: "unasked results are ignored",
		spec: ServerSpec{ID: "rs", Weight: 1, Checks: []Timing{timing(sec, sec, 0, false)}},
		script: `
fail rs 0
fail nope 0
fail rs 7`,
		want: `0 state rs up=true weight=1 in=true initial
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.spec.Checks {
				tt.spec.Checks[i].Warmup = tt.warmup
			}
			s := NewScheduler(fixedRand(1234 * int64(time.Millisecond)))
			if err := s.Add(tt.spec); err != nil {
				t.Fatal(err)
			}
			if got := runScript(t, s, tt.script); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
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
