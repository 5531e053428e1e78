package fencing

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// step is one input of a scenario: an event or a tick, and the actions it
// must produce (Action.String lines, in order).
type step struct {
	ev   Event
	tick time.Duration // used when ev is nil
	want []string
}

func runScenario(t *testing.T, m *Monitor, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.ev != nil {
			if err := m.Step(s.ev); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		} else {
			m.Tick(t0.Add(s.tick))
		}
		var got []string
		for _, a := range m.Ready() {
			got = append(got, a.String())
		}
		m.Advance()
		if strings.Join(got, "\n") != strings.Join(s.want, "\n") {
			t.Fatalf("step %d (%T %+v):\ngot\n  %s\nwant\n  %s", i, s.ev, s.ev, strings.Join(got, "\n  "), strings.Join(s.want, "\n  "))
		}
	}
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestMonitorRogueAdvert(t *testing.T) {
	m := NewMonitor(MonitorConfig{Node: "d1", Quiet: 3 * time.Second})
	rogue := func(d time.Duration) AdvertObservation {
		return AdvertObservation{At: at(d), VRID: 51, Src: addrR, Priority: 254}
	}
	const raised = "raise rogue_advert instance=VI_1 peer=10.0.0.99 severity=critical epoch=42 holder=d1 holder_addr=10.0.0.11 priority=254 src=10.0.0.99 vrid=51"
	runScenario(t, m, []step{
		{ev: InstanceConfigured{Name: "VI_1", VRID: 51, VIPs: []netip.Addr{vip1}}},
		{ev: HolderChanged{At: at(0), Instance: "VI_1", Holder: Holder{Node: "d1", Addr: addrD1, MAC: macD1, Epoch: 42}}},
		{ev: AdvertObservation{At: at(0), VRID: 51, Src: addrD1, Priority: 100}},
		{ev: rogue(time.Second), want: []string{raised}},
		{ev: rogue(2 * time.Second)}, // de-duplicated
		{ev: rogue(3 * time.Second)},
		{tick: 5 * time.Second}, // 2s quiet: still open
		{tick: 6 * time.Second, want: []string{"clear rogue_advert instance=VI_1 peer=10.0.0.99 severity=critical epoch=42 resolved holder=d1 holder_addr=10.0.0.11 priority=254 src=10.0.0.99 vrid=51"}},
		{ev: rogue(7 * time.Second), want: []string{raised}},
	})
	open := m.Open()
	if len(open) != 1 || open[0].Count != 1 || !open[0].Since.Equal(at(7*time.Second)) {
		t.Fatalf("open = %+v", open)
	}
}

func TestMonitorDeduplicatesAndCounts(t *testing.T) {
	m := NewMonitor(MonitorConfig{})
	_ = m.Step(InstanceConfigured{Name: "VI_1", VRID: 51, VIPs: []netip.Addr{vip1}})
	_ = m.Step(HolderChanged{At: t0, Instance: "VI_1", Holder: Holder{Node: "d1", Addr: addrD1, MAC: macD1, Epoch: 42}})
	for i := 0; i < 10; i++ {
		_ = m.Step(AdvertObservation{At: at(time.Duration(i) * time.Second), VRID: 51, Src: addrR, Priority: 254})
		_ = m.Step(ARPObservation{At: at(time.Duration(i) * time.Second), SenderIP: vip1, SenderMAC: macRogue})
	}
	if n := len(m.Ready()); n != 2 {
		t.Fatalf("%d actions for 20 observations of 2 subjects, want 2", n)
	}
	for _, a := range m.Open() {
		if a.Count != 10 || !a.Last.Equal(at(9*time.Second)) || !a.Since.Equal(t0) {
			t.Errorf("%s: count %d since %v last %v", a.Subject(), a.Count, a.Since, a.Last)
		}
	}
}

// The new holder's adverts and GARPs may reach the observer before the
// replicated HolderChanged does: the alerts they raised clear at once.
func TestMonitorHandoverRace(t *testing.T) {
	m := NewMonitor(MonitorConfig{})
	runScenario(t, m, []step{
		{ev: InstanceConfigured{Name: "VI_1", VRID: 51, VIPs: []netip.Addr{vip1}}},
		{ev: HolderChanged{At: at(0), Instance: "VI_1", Holder: Holder{Node: "d1", Addr: addrD1, MAC: macD1, Epoch: 42}}},
		{ev: AdvertObservation{At: at(time.Second), VRID: 51, Src: addrD2, Priority: 100},
			want: []string{"raise rogue_advert instance=VI_1 peer=10.0.0.12 severity=critical epoch=42 holder=d1 holder_addr=10.0.0.11 priority=100 src=10.0.0.12 vrid=51"}},
		{ev: ARPObservation{At: at(time.Second), SenderIP: vip1, SenderMAC: macD2, Gratuitous: true},
			want: []string{"raise arp_conflict instance=VI_1 peer=02:00:00:00:00:02 severity=critical epoch=42 arp=gratuitous holder=d1 holder_mac=02:00:00:00:00:01 mac=02:00:00:00:00:02 vip=10.0.0.100"}},
		{ev: HolderChanged{At: at(time.Second), Instance: "VI_1", Holder: Holder{Node: "d2", Addr: addrD2, MAC: macD2, Epoch: 43}},
			want: []string{
				"clear arp_conflict instance=VI_1 peer=02:00:00:00:00:02 severity=critical epoch=42 resolved arp=gratuitous holder=d1 holder_mac=02:00:00:00:00:01 mac=02:00:00:00:00:02 vip=10.0.0.100",
				"clear rogue_advert instance=VI_1 peer=10.0.0.12 severity=critical epoch=42 resolved holder=d1 holder_addr=10.0.0.11 priority=100 src=10.0.0.12 vrid=51",
			}},
		// d1's priority-0 advert within the grace is no rogue.
		{ev: AdvertObservation{At: at(2 * time.Second), VRID: 51, Src: addrD1, Priority: 0}},
	})
}

func TestMonitorLinks(t *testing.T) {
	m := NewMonitor(MonitorConfig{Node: "d1"})
	runScenario(t, m, []step{
		{ev: LinkChanged{At: at(0), Peer: "d2", Link: "lan", Up: true}},
		{ev: LinkChanged{At: at(0), Peer: "d2", Link: "hb", Up: true}},
		{ev: LinkChanged{At: at(1), Peer: "d2", Link: "hb", Up: false},
			want: []string{"raise link_degraded peer=d2 link=hb severity=warning links=2 links_down=1"}},
		{ev: LinkChanged{At: at(2), Peer: "d2", Link: "hb", Up: false}}, // repeated: nothing new
		{ev: LinkChanged{At: at(3), Peer: "d2", Link: "lan", Up: false},
			want: []string{
				"raise peer_lost peer=d2 severity=critical links_down=[hb lan]",
				"clear link_degraded peer=d2 link=hb severity=warning resolved links=2 links_down=1",
			}},
		{ev: LinkChanged{At: at(4), Peer: "d2", Link: "lan", Up: true},
			want: []string{
				"clear peer_lost peer=d2 severity=critical resolved links_down=[hb lan]",
				"raise link_degraded peer=d2 link=hb severity=warning links=2 links_down=1",
			}},
		{ev: LinkChanged{At: at(5), Peer: "d2", Link: "hb", Up: true},
			want: []string{"clear link_degraded peer=d2 link=hb severity=warning resolved links=2 links_down=1"}},
	})
	if len(m.Open()) != 0 {
		t.Fatalf("open after restore: %v", m.Open())
	}
}

func TestMonitorQuorumFenceConfig(t *testing.T) {
	m := NewMonitor(MonitorConfig{Node: "d1"})
	boom := errors.New("ipmitool: exit status 1")
	runScenario(t, m, []step{
		{ev: QuorumChanged{At: at(0), Quorum: true, Reachable: 3, Members: 3}},
		{ev: QuorumChanged{At: at(1), Quorum: false, Reachable: 1, Members: 3},
			want: []string{"raise quorum_lost node=d1 severity=critical members=3 reachable=1"}},
		{ev: QuorumChanged{At: at(2), Quorum: true, Reachable: 2, Members: 3},
			want: []string{"clear quorum_lost node=d1 severity=critical resolved members=3 reachable=1"}},
		{ev: FenceOutcome{At: at(3), Node: "d2", Instance: "VI_1", Epoch: 43, Attempt: 1, Err: boom},
			want: []string{"raise fence_failed node=d2 instance=VI_1 severity=critical epoch=43 attempt=1 error=ipmitool: exit status 1"}},
		{ev: FenceOutcome{At: at(4), Node: "d2", Instance: "VI_1", Epoch: 43, Attempt: 2, Err: boom}},
		{ev: FenceOutcome{At: at(5), Node: "d2", Instance: "VI_1", Epoch: 43, Attempt: 3},
			want: []string{"clear fence_failed node=d2 instance=VI_1 severity=critical epoch=43 resolved attempt=2 error=ipmitool: exit status 1"}},
		{ev: ConfigApplied{At: at(6), Node: "d3", Applied: 7, Cluster: 9},
			want: []string{"raise config_stale node=d3 severity=warning applied=7 cluster=9"}},
		{ev: ConfigApplied{At: at(7), Node: "d3", Applied: 9, Cluster: 9},
			want: []string{"clear config_stale node=d3 severity=warning resolved applied=7 cluster=9"}},
		{ev: ConfigApplied{At: at(8), Applied: 10, Cluster: 9}},
	})
}

func TestMonitorFlapping(t *testing.T) {
	m := NewMonitor(MonitorConfig{FlapMoves: 2, FlapWindow: time.Minute})
	hold := func(d time.Duration, node string, epoch uint64) HolderChanged {
		return HolderChanged{At: at(d), Instance: "VI_1", Holder: Holder{Node: node, Epoch: epoch}}
	}
	runScenario(t, m, []step{
		{ev: InstanceConfigured{Name: "VI_1", VRID: 51}},
		{ev: hold(0, "d1", 1)},              // first assignment: no move
		{ev: hold(5*time.Second, "", 2)},    // released: no move yet
		{ev: hold(6*time.Second, "d2", 3)},  // move 1
		{ev: hold(7*time.Second, "d2", 3)},  // same holder: no move
		{ev: hold(20*time.Second, "d1", 4)}, // move 2
		{ev: hold(30*time.Second, "d2", 5), want: []string{"raise vip_flapping instance=VI_1 severity=warning epoch=5 holder=d2 max_moves=2 moves=3 window=1m0s"}},
		{ev: hold(40*time.Second, "d1", 6)}, // folded
		{tick: 61 * time.Second},            // moves at 20,30,40 remain: 3 > 2
		{tick: 81 * time.Second, want: []string{"clear vip_flapping instance=VI_1 severity=warning epoch=6 resolved holder=d1 max_moves=2 moves=4 window=1m0s"}},
	})
}

func TestMonitorBadEvents(t *testing.T) {
	m := NewMonitor(MonitorConfig{})
	for _, e := range []Event{nil, InstanceConfigured{}, HolderChanged{}, NodeIdentity{}, LinkChanged{Peer: "d2"}, FenceOutcome{}} {
		err := m.Step(e)
		if !errors.Is(err, ErrBadEvent) {
			t.Errorf("Step(%#v) = %v, want ErrBadEvent", e, err)
		}
	}
	var fe *Error
	if err := m.Step(LinkChanged{Link: "hb"}); !errors.As(err, &fe) || fe.Op != "monitor step" || !strings.Contains(err.Error(), `needs a peer and a link (got "", "hb")`) {
		t.Errorf("err = %v", err)
	}
}
