package health

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ServerID names one real server of one virtual server; the caller chooses
// it (e.g. "10.0.0.1:80/10.0.1.11:80").
type ServerID string

// ServerSpec is a real server as the Scheduler sees it: its checkers'
// timings and what to do on a transition.
type ServerSpec struct {
	ID               ServerID
	Weight           int  // the configured weight (weight; keepalived's default 1)
	InhibitOnFailure bool // inhibit_on_failure: keep a failed server with weight 0 instead of removing it
	Omega            bool // omega: run notify_down for live servers at shutdown
	NotifyUp         string
	NotifyDown       string
	Checks           []Timing // one per checker, in the order of the config; none: always up
}

// ActionKind says what an Action asks the driver to do.
type ActionKind int

const (
	// ActProbe: run checker Check of Server once and Step its result.
	ActProbe ActionKind = iota + 1
	// ActState: Server's state changed (or, with Initial, its first state).
	ActState
	// ActNotify: run Command (notify_up or notify_down).
	ActNotify
)

func (k ActionKind) String() string {
	switch k {
	case ActProbe:
		return "probe"
	case ActState:
		return "state"
	case ActNotify:
		return "notify"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is one output of the Scheduler.
type Action struct {
	Kind   ActionKind
	Server ServerID
	Check  int    // ActProbe: index into ServerSpec.Checks
	Probe  uint64 // ActProbe: the probe's number; return it in the Event
	Up     bool   // ActState, ActNotify: the server's new state
	// Weight is the weight to program: the configured (or misc_dynamic)
	// weight when up, 0 when down.
	Weight int
	// InService says whether the server belongs in the load balancer: up,
	// or down with inhibit_on_failure (then at weight 0).
	InService bool
	Initial   bool   // ActState: the state at Add, not a transition
	Command   string // ActNotify
	Reason    string // ActState: the probe result that caused it
}

func (a Action) String() string {
	switch a.Kind {
	case ActProbe:
		return fmt.Sprintf("probe %s#%d", a.Server, a.Check)
	case ActState:
		s := fmt.Sprintf("state %s up=%t weight=%d in=%t", a.Server, a.Up, a.Weight, a.InService)
		if a.Initial {
			s += " initial"
		}
		return s
	case ActNotify:
		return fmt.Sprintf("notify %s up=%t %q", a.Server, a.Up, a.Command)
	}
	return "?"
}

// Event is a probe result fed back to the Scheduler.
type Event struct {
	Server ServerID
	Check  int
	Probe  uint64 // the ActProbe's Probe: a late result of an older probe (overdue, or of a server since removed and added again) is ignored
	Result Result
}

// Scheduler is the deterministic core of health checking: keepalived's
// timing and state rules for many real servers, with no goroutine, socket
// or clock inside. Time is a monotonic offset the caller passes to Tick.
//
// Rules (keepalived's check scheduling):
//   - A checker's first probe runs at a random offset in [0, warmup) after
//     Add (immediately when warmup is 0); later probes run delay_loop after
//     the previous one completed.
//   - A checker starts failed with alpha, passed without. A server is up
//     when all its checkers pass.
//   - A failed probe of a passing checker is retried up to retry times,
//     delay_before_retry apart, before the checker fails; a failed probe of a
//     failed checker just waits delay_loop. One passing probe passes it.
//   - misc_dynamic results set the server's weight (configured weight plus
//     each dynamic checker's (weight - configured weight)).
//   - Only changes are emitted (ActState, ActNotify), never every probe.
//   - A probe whose result has not come OverdueGrace after its Timeout
//     counts as failed ("no result"), and its late result is ignored: a
//     checker or driver that breaks its deadline cannot keep a dead server
//     up, nor stop its checks.
//
// Not safe for concurrent use.
type Scheduler struct {
	now     time.Duration
	rand    func(n int64) int64
	servers map[ServerID]*server
	q       checkQueue
	out     []Action
	probes  uint64 // the last probe number given
}

// OverdueGrace is how long after its Timeout the Scheduler waits for a
// probe's result before counting the probe as failed.
const OverdueGrace = time.Second

type server struct {
	spec    ServerSpec
	checks  []*check
	up      bool
	weight  int
	removed bool
}

type check struct {
	srv      *server
	idx      int
	t        Timing
	passing  bool
	retries  int
	due      time.Duration
	inflight bool   // a probe is out; due is then its overdue time
	probe    uint64 // the number of the probe out
	hidx     int    // index in the queue, -1 when not queued
	dyn      int
	hasDyn   bool
}

// NewScheduler returns an empty Scheduler. rand(n) must return a value in
// [0, n); it draws the warmup delays (math/rand/v2's Int64N, or a fixed
// function in tests).
func NewScheduler(rand func(n int64) int64) *Scheduler {
	return &Scheduler{rand: rand, servers: map[ServerID]*server{}}
}

// Now is the time of the last Tick.
func (s *Scheduler) Now() time.Duration { return s.now }

// Add starts checking a real server and emits its initial ActState.
func (s *Scheduler) Add(spec ServerSpec) error {
	if _, dup := s.servers[spec.ID]; dup {
		return fmt.Errorf("health: real server %s added twice", spec.ID)
	}
	sv := &server{spec: spec}
	for i, t := range spec.Checks {
		if t.DelayLoop <= 0 {
			return fmt.Errorf("health: real server %s check %d: delay_loop must be positive", spec.ID, i)
		}
		if t.Timeout <= 0 {
			t.Timeout = DefaultConnectTimeout
		}
		c := &check{srv: sv, idx: i, t: t, passing: !t.Alpha, hidx: -1}
		c.due = s.now
		if t.Warmup > 0 {
			c.due += time.Duration(s.rand(int64(t.Warmup)))
		}
		sv.checks = append(sv.checks, c)
		heap.Push(&s.q, c)
	}
	s.servers[spec.ID] = sv
	sv.up, sv.weight = sv.eval()
	s.out = append(s.out, sv.stateAction(true, "initial"))
	return nil
}

// Remove stops checking a real server. Results of its probes in flight are
// ignored. No action is emitted.
func (s *Scheduler) Remove(id ServerID) {
	sv, ok := s.servers[id]
	if !ok {
		return
	}
	sv.removed = true
	for _, c := range sv.checks {
		if c.hidx >= 0 {
			heap.Remove(&s.q, c.hidx)
		}
	}
	delete(s.servers, id)
}

// Tick advances time to now, counts overdue probes as failed, and emits an
// ActProbe for every check due. Time never goes backwards: an earlier now
// is ignored.
func (s *Scheduler) Tick(now time.Duration) {
	if now > s.now {
		s.now = now
	}
	for len(s.q) > 0 && s.q[0].due <= s.now {
		c := s.q[0]
		if c.inflight { // overdue: its result never came
			s.apply(c, Result{Reason: fmt.Sprintf("no result within %v", c.t.Timeout+OverdueGrace)})
			continue
		}
		s.probes++
		c.inflight, c.probe = true, s.probes
		c.due = s.now + c.t.Timeout + OverdueGrace
		heap.Fix(&s.q, 0)
		s.out = append(s.out, Action{Kind: ActProbe, Server: c.srv.spec.ID, Check: c.idx, Probe: c.probe})
	}
}

// Step applies the result of a probe the Scheduler asked for, at the time
// of the last Tick. A result nobody asked for (or asked for no longer) is
// ignored.
func (s *Scheduler) Step(ev Event) {
	sv, ok := s.servers[ev.Server]
	if !ok || ev.Check < 0 || ev.Check >= len(sv.checks) {
		return
	}
	c := sv.checks[ev.Check]
	if !c.inflight || c.probe != ev.Probe {
		return
	}
	s.apply(c, ev.Result)
}

// apply ends c's probe in flight with result r.
func (s *Scheduler) apply(c *check, r Result) {
	sv := c.srv
	c.inflight = false
	next := c.t.DelayLoop
	switch {
	case r.Up:
		c.passing, c.retries = true, 0
		c.hasDyn, c.dyn = r.HasWeight, r.Weight
	case c.passing && c.retries < c.t.Retry:
		c.retries++
		next = c.t.DelayBeforeRetry
	default:
		c.passing, c.retries = false, 0
	}
	c.due = s.now + next
	heap.Fix(&s.q, c.hidx)

	wasUp, wasWeight := sv.up, sv.weight
	sv.up, sv.weight = sv.eval()
	if sv.up != wasUp || sv.weight != wasWeight {
		s.out = append(s.out, sv.stateAction(false, r.Reason))
	}
	if sv.up != wasUp {
		cmd := sv.spec.NotifyDown
		if sv.up {
			cmd = sv.spec.NotifyUp
		}
		if cmd != "" {
			s.out = append(s.out, Action{Kind: ActNotify, Server: sv.spec.ID, Up: sv.up, Command: cmd})
		}
	}
}

// Ready returns the actions emitted since the last call and forgets them.
func (s *Scheduler) Ready() []Action {
	out := s.out
	s.out = nil
	return out
}

// Next returns when the Scheduler next has something to do (a probe due, or
// a probe in flight overdue); ok is false when no check is configured.
func (s *Scheduler) Next() (due time.Duration, ok bool) {
	if len(s.q) == 0 {
		return 0, false
	}
	return s.q[0].due, true
}

// Shutdown emits, for omega servers that are up, their notify_down (the
// daemon is stopping and will no longer vouch for them).
func (s *Scheduler) Shutdown() {
	ids := make([]ServerID, 0, len(s.servers))
	for id := range s.servers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		sv := s.servers[id]
		if sv.spec.Omega && sv.up && sv.spec.NotifyDown != "" {
			s.out = append(s.out, Action{Kind: ActNotify, Server: sv.spec.ID, Up: false, Command: sv.spec.NotifyDown})
		}
	}
}

// State returns a real server's current state and weight.
func (s *Scheduler) State(id ServerID) (up bool, weight int, ok bool) {
	sv, ok := s.servers[id]
	if !ok {
		return false, 0, false
	}
	return sv.up, sv.weight, true
}

func (sv *server) eval() (bool, int) {
	up := true
	w := sv.spec.Weight
	for _, c := range sv.checks {
		if !c.passing {
			up = false
		}
		if c.hasDyn {
			w += c.dyn - sv.spec.Weight
		}
	}
	if w < 0 {
		w = 0
	}
	if !up {
		w = 0
	}
	return up, w
}

func (sv *server) stateAction(initial bool, reason string) Action {
	return Action{Kind: ActState, Server: sv.spec.ID, Up: sv.up, Weight: sv.weight,
		InService: sv.up || sv.spec.InhibitOnFailure, Initial: initial, Reason: reason}
}

// checkQueue is a min-heap of checks by due time (ties: insertion order is
// not kept, but due times of distinct checks rarely tie and the order of
// probes due at one instant does not matter).
type checkQueue []*check

func (q checkQueue) Len() int           { return len(q) }
func (q checkQueue) Less(i, j int) bool { return q[i].due < q[j].due }
func (q checkQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].hidx, q[j].hidx = i, j
}
func (q *checkQueue) Push(x any) {
	c := x.(*check)
	c.hidx = len(*q)
	*q = append(*q, c)
}
func (q *checkQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	old[len(old)-1] = nil
	c.hidx = -1
	*q = old[:len(old)-1]
	return c
}

// ServerState is one real server's state, for status displays.
type ServerState struct {
	ID        ServerID
	Up        bool
	Weight    int
	InService bool
	Failing   []int // indexes of the checkers currently failed
}

// Snapshot returns every real server's state, sorted by ID.
func (s *Scheduler) Snapshot() []ServerState {
	out := make([]ServerState, 0, len(s.servers))
	for id, sv := range s.servers {
		st := ServerState{ID: id, Up: sv.up, Weight: sv.weight, InService: sv.up || sv.spec.InhibitOnFailure}
		for _, c := range sv.checks {
			if !c.passing {
				st.Failing = append(st.Failing, c.idx)
			}
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b ServerState) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}
