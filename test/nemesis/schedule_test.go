package nemesis

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// kind is what a step of a schedule does.
type kind int

const (
	kill      kind = iota // kill -9 the node's daemon; restarted at healing
	isolate               // both of the node's links down at the switch
	cutLink               // one of the node's links down at the switch
	partition             // node | the other directors, on both links; the client still reaches everyone
	deaf                  // the node hears no other director (asymmetric)
	mute                  // no other director hears the node (asymmetric)
	splitAll              // every director alone: no majority anywhere
	pause                 // SIGSTOP for hold (longer than the lease), then SIGCONT
	loss                  // 30% of the node's packets dropped, both ways
	drain                 // vigil drain the VIP's holder; undrained at healing (vigil only)
	change                // vigil config apply of a new virtual server through the node (vigil only)
	transfer              // vigil transfer VI_1 [--to to] through the node; the pin is cleared at healing (vigil only)
	numKinds
)

// faultKinds are the kinds drawn at random; every schedule also carries
// one configuration change.
var faultKinds = []kind{kill, isolate, cutLink, partition, deaf, mute, splitAll, pause, loss, drain, transfer}

// step is one step of a schedule, drawn from its seed. Steps are not
// undone until the whole schedule ran: their faults overlap.
type step struct {
	kind  kind
	node  string
	link  int           // cutLink: 0 the LAN, 1 the heartbeat network
	to    string        // transfer: the target ("": the best other director)
	hold  time.Duration // pause: how long the node is stopped
	after time.Duration // wait before the next step
}

// schedule is a seed's steps.
type schedule struct {
	seed  uint64
	steps []step
}

// Schedule bounds: 2 to 4 faults and one configuration change, 0.3 to
// 1.5 s apart; a pause outlasts the 1 s lease.
const (
	minFaults, maxFaults = 2, 4
	minAfter, maxAfter   = 300 * time.Millisecond, 1500 * time.Millisecond
	minHold, maxHold     = 1200 * time.Millisecond, 2500 * time.Millisecond
)

// newSchedule draws a schedule from seed: the same seed, the same steps,
// whatever system they run against.
func newSchedule(seed uint64) schedule {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo))) }
	s := schedule{seed: seed}
	n := minFaults + r.IntN(maxFaults-minFaults+1)
	at := r.IntN(n + 1) // where the configuration change goes
	for i := range n + 1 {
		st := step{kind: change, node: names3[r.IntN(3)]}
		if i != at {
			st.kind = faultKinds[r.IntN(len(faultKinds))]
		}
		switch st.kind {
		case cutLink:
			st.link = r.IntN(2)
		case pause:
			st.hold = between(minHold, maxHold)
		case transfer:
			st.to = []string{"", "d1", "d2", "d3"}[r.IntN(4)]
		}
		st.after = between(minAfter, maxAfter)
		s.steps = append(s.steps, st)
	}
	return s
}

func (st step) String() string {
	n := st.node
	switch st.kind {
	case kill:
		return "kill -9 " + n
	case isolate:
		return "isolate " + n
	case cutLink:
		return fmt.Sprintf("cut %s's %s link", n, []string{"LAN", "heartbeat"}[st.link])
	case partition:
		return "partition " + n + " from the others"
	case deaf:
		return n + " hears no peer"
	case mute:
		return "no peer hears " + n
	case splitAll:
		return "split all three apart"
	case pause:
		return fmt.Sprintf("pause %s %.1fs", n, st.hold.Seconds())
	case loss:
		return "30% loss on " + n
	case drain:
		return "drain the holder"
	case change:
		return "config change via " + n
	case transfer:
		if st.to == "" {
			return "transfer via " + n
		}
		return "transfer to " + st.to + " via " + n
	}
	return fmt.Sprintf("kind %d", int(st.kind))
}

func (s schedule) String() string {
	var parts []string
	for _, st := range s.steps {
		parts = append(parts, fmt.Sprintf("%s, %.1fs", st, st.after.Seconds()))
	}
	return strings.Join(parts, "; ")
}

// TestScheduleFromSeed: a schedule is a pure function of its seed (the
// report's "-nemesis.seed=S -nemesis.n=1" replays it), stays within its
// bounds, carries exactly one configuration change, and over many seeds
// draws every kind of step.
func TestScheduleFromSeed(t *testing.T) {
	seen := map[kind]bool{}
	for seed := range uint64(500) {
		s := newSchedule(seed)
		if again := newSchedule(seed); again.String() != s.String() {
			t.Fatalf("seed %d drew %q, then %q", seed, s, again)
		}
		changes := 0
		for _, st := range s.steps {
			seen[st.kind] = true
			if st.kind == change {
				changes++
			}
			if st.after < minAfter || st.after >= maxAfter || (st.kind == pause && (st.hold < minHold || st.hold >= maxHold)) {
				t.Errorf("seed %d: step %q out of bounds", seed, st)
			}
		}
		if n := len(s.steps) - 1; changes != 1 || n < minFaults || n > maxFaults {
			t.Errorf("seed %d: %d faults and %d config changes: %s", seed, n, changes, s)
		}
	}
	for k := range numKinds {
		if !seen[k] {
			t.Errorf("500 seeds never drew %q", step{kind: k, node: "dX"})
		}
	}
	if newSchedule(1).String() == newSchedule(2).String() {
		t.Error("seeds 1 and 2 drew the same schedule")
	}
}
