package fencing

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// The cluster's directors as they announce themselves: d2 also answers
// with the VRRP virtual MAC of VRID 51 (use_vmac).
var (
	vmac51 = mac("00:00:5e:00:01:33")
	idD1   = NodeIdentity{Node: "d1", Addrs: []netip.Addr{addrD1}, MACs: []net.HardwareAddr{macD1}}
	idD2   = NodeIdentity{Node: "d2", Addrs: []netip.Addr{addrD2}, MACs: []net.HardwareAddr{macD2, vmac51}}
)

// withD1Holding prefixes steps with VI_1 configured, both directors
// known and d1 holding VI_1 (epoch 42).
func withD1Holding(steps ...step) []step {
	return append([]step{
		{ev: InstanceConfigured{Name: "VI_1", VRID: 51, VIPs: []netip.Addr{vip1}}},
		{ev: idD1},
		{ev: idD2},
		{ev: HolderChanged{At: at(0), Instance: "VI_1", Holder: Holder{Node: "d1", Addr: addrD1, Epoch: 42}}},
	}, steps...)
}

// A normal failover raises nothing: the new holder's advert and gratuitous
// ARP reach this observer before the replicated assignment does, and the
// old holder's last reply arrives after it.
func TestMonitorFailoverRaisesNothing(t *testing.T) {
	m := NewMonitor(MonitorConfig{})
	runScenario(t, m, withD1Holding(
		step{ev: ARPObservation{At: at(0), SenderIP: vip1, SenderMAC: macD1}},
		step{ev: AdvertObservation{At: at(time.Second), VRID: 51, Src: addrD2, Priority: 99}},
		step{ev: ARPObservation{At: at(time.Second), SenderIP: vip1, SenderMAC: vmac51, Gratuitous: true}},
		step{ev: ARPObservation{At: at(time.Second), SenderIP: vip1, SenderMAC: macD2}},
		step{ev: HolderChanged{At: at(1200 * time.Millisecond), Instance: "VI_1", Holder: Holder{Node: "d2", Addr: addrD2, Epoch: 43}}},
		step{ev: ARPObservation{At: at(1500 * time.Millisecond), SenderIP: vip1, SenderMAC: macD1}},
		step{tick: 5 * time.Second},
		step{tick: 20 * time.Second},
	))
	if len(m.Open()) != 0 || len(m.deferred) != 0 {
		t.Fatalf("open %v, deferred %d", m.Open(), len(m.deferred))
	}
}

// A director that keeps claiming a VIP it does not hold is reported once
// the handover grace is over, named; a stranger at once.
func TestMonitorDirectorClaimingAfterGrace(t *testing.T) {
	m := NewMonitor(MonitorConfig{})
	runScenario(t, m, withD1Holding(
		step{ev: ARPObservation{At: at(time.Second), SenderIP: vip1, SenderMAC: macD2, Gratuitous: true}},
		step{ev: ARPObservation{At: at(2 * time.Second), SenderIP: vip1, SenderMAC: macD2, Gratuitous: true}},
		step{tick: 3 * time.Second},
		step{tick: 4 * time.Second, want: []string{
			"raise arp_conflict instance=VI_1 peer=02:00:00:00:00:02 severity=critical epoch=42 arp=gratuitous director=d2 holder=d1 holder_mac=02:00:00:00:00:01 mac=02:00:00:00:00:02 vip=10.0.0.100"}},
		step{ev: ARPObservation{At: at(5 * time.Second), SenderIP: vip1, SenderMAC: macRogue}, want: []string{
			"raise arp_conflict instance=VI_1 peer=02:00:00:00:00:99 severity=critical epoch=42 arp=reply holder=d1 holder_mac=02:00:00:00:00:01 mac=02:00:00:00:00:99 vip=10.0.0.100"}},
	))
	open := m.Open()
	if len(open) != 2 || open[0].Count != 2 || !open[0].Last.Equal(at(2*time.Second)) {
		t.Fatalf("open %+v", open)
	}
}

// What a director announces counts as the holder's: the VRRP virtual MAC
// of d2's use_vmac instance, learned after d2 became the holder.
func TestMonitorIdentityAfterHolder(t *testing.T) {
	m := NewMonitor(MonitorConfig{})
	runScenario(t, m, []step{
		{ev: InstanceConfigured{Name: "VI_1", VRID: 51, VIPs: []netip.Addr{vip1}}},
		{ev: HolderChanged{At: at(0), Instance: "VI_1", Holder: Holder{Node: "d2", Addr: addrD2, Epoch: 7}}},
		// Holder MACs unknown: a claim cannot be judged.
		{ev: ARPObservation{At: at(0), SenderIP: vip1, SenderMAC: macRogue}},
		{ev: idD2},
		{ev: ARPObservation{At: at(time.Second), SenderIP: vip1, SenderMAC: vmac51, Gratuitous: true}},
		{ev: ARPObservation{At: at(time.Second), SenderIP: vip1, SenderMAC: macRogue}, want: []string{
			"raise arp_conflict instance=VI_1 peer=02:00:00:00:00:99 severity=critical epoch=7 arp=reply holder=d2 holder_mac=02:00:00:00:00:02,00:00:5e:00:01:33 mac=02:00:00:00:00:99 vip=10.0.0.100"}},
	})
}
