package fencing

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"
)

// randomEvents draws a schedule of observations over two instances, three
// peers with two links each (announcing their identities), rogues, fence
// outcomes and config versions.
func randomEvents(r *rand.Rand, n int) []Event {
	nodes := []string{"d1", "d2", "d3"}
	addrs := map[string]netip.Addr{"d1": addrD1, "d2": addrD2, "d3": netip.MustParseAddr("10.0.0.13"), "rogue": addrR}
	macs := map[string][]byte{"d1": macD1, "d2": macD2, "d3": mac("02:00:00:00:00:03"), "rogue": macRogue}
	evs := []Event{
		InstanceConfigured{Name: "VI_1", VRID: 51, VIPs: []netip.Addr{vip1}},
		InstanceConfigured{Name: "VI_2", VRID: 52, VIPs: []netip.Addr{netip.MustParseAddr("10.0.0.101")}},
	}
	now := t0
	for i := 0; i < n; i++ {
		now = now.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
		inst := []string{"VI_1", "VI_2"}[r.IntN(2)]
		who := append(nodes, "rogue")[r.IntN(4)]
		switch r.IntN(8) {
		case 0:
			node := nodes[r.IntN(3)]
			evs = append(evs, HolderChanged{At: now, Instance: inst, Holder: Holder{Node: node, Addr: addrs[node], MAC: macs[node], Epoch: uint64(i + 1)}})
		case 1:
			evs = append(evs, AdvertObservation{At: now, VRID: 51 + uint8(r.IntN(2)), Src: addrs[who], Priority: uint8(r.IntN(256))})
		case 2:
			vip := []netip.Addr{vip1, netip.MustParseAddr("10.0.0.101")}[r.IntN(2)]
			evs = append(evs, ARPObservation{At: now, SenderIP: vip, SenderMAC: macs[who], Gratuitous: r.IntN(2) == 0})
		case 3:
			evs = append(evs, LinkChanged{At: now, Peer: nodes[1+r.IntN(2)], Link: []string{"lan", "hb"}[r.IntN(2)], Up: r.IntN(2) == 0})
		case 4:
			var err error
			if r.IntN(2) == 0 {
				err = errors.New("hook failed")
			}
			evs = append(evs, FenceOutcome{At: now, Node: nodes[r.IntN(3)], Instance: inst, Epoch: uint64(i), Attempt: 1, Err: err})
		case 5:
			evs = append(evs, QuorumChanged{At: now, Quorum: r.IntN(3) > 0, Reachable: r.IntN(4), Members: 3}, ConfigApplied{At: now, Node: nodes[r.IntN(3)], Applied: uint64(r.IntN(3)), Cluster: 2})
		case 6:
			evs = append(evs, tickEvent{now})
		case 7:
			node := nodes[r.IntN(3)]
			evs = append(evs, NodeIdentity{Node: node, Addrs: []netip.Addr{addrs[node]}, MACs: []net.HardwareAddr{macs[node]}})
		}
	}
	return evs
}

// tickEvent lets a schedule carry Ticks.
type tickEvent struct{ at time.Time }

func (tickEvent) monitorEvent() {}

func replay(t *testing.T, evs []Event) []string {
	m := NewMonitor(MonitorConfig{Node: "d1", FlapMoves: 2, FlapWindow: time.Minute, Quiet: 5 * time.Second})
	open := map[Subject]bool{}
	var out []string
	for i, e := range evs {
		if te, ok := e.(tickEvent); ok {
			m.Tick(te.at)
		} else if err := m.Step(e); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		for _, a := range m.Ready() {
			s := a.Alert.Subject()
			// Raise and Clear alternate per subject: one open alert per
			// subject, never a clear of what is not open.
			if (a.Op == Raise) == open[s] {
				t.Fatalf("event %d: %s while open=%v", i, a, open[s])
			}
			open[s] = a.Op == Raise
			out = append(out, a.String())
		}
		m.Advance()
		if len(m.Open()) != countTrue(open) {
			t.Fatalf("event %d: Open() has %d alerts, actions say %d", i, len(m.Open()), countTrue(open))
		}
	}
	return out
}

func countTrue(m map[Subject]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// The Monitor is deterministic: the same schedule gives the same actions,
// whatever Go's map iteration order does, and keeps its invariants.
func TestMonitorDeterministicSchedules(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		evs := randomEvents(rand.New(rand.NewPCG(seed, 7)), 300)
		a, b := replay(t, evs), replay(t, evs)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("seed %d: two replays differ", seed)
		}
	}
}

func BenchmarkMonitorStep(b *testing.B) {
	evs := randomEvents(rand.New(rand.NewPCG(1, 2)), 10000)
	m := NewMonitor(MonitorConfig{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := evs[i%len(evs)]
		if te, ok := e.(tickEvent); ok {
			m.Tick(te.at)
		} else {
			_ = m.Step(e)
		}
		m.Advance()
	}
}
