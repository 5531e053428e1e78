package agent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"vigil/fencing"
	"vigil/vrrp/vip"
)

// fakeProber answers probes from a table of who has what, and records
// every probe.
type fakeProber struct {
	has    map[netip.Addr]net.HardwareAddr
	err    error
	probes []string // "iface addr,addr"
}

func (p *fakeProber) probe(_ context.Context, iface string, addrs []netip.Addr) ([]fencing.ARPObservation, error) {
	var s []string
	var out []fencing.ARPObservation
	for _, a := range addrs {
		s = append(s, a.String())
		if mac, ok := p.has[a]; ok {
			out = append(out, fencing.ARPObservation{Iface: iface, SenderIP: a, SenderMAC: mac})
		}
	}
	p.probes = append(p.probes, iface+" "+strings.Join(s, ","))
	return out, p.err
}

// TestConflictGuard walks the policy of conflictGuard: one startup probe
// per link; an instance nobody answered for is taken without a probe; a
// suspect one is probed again on its take and refused, naming instance,
// VIP and MAC, with an ARP observation for the alert monitor; the refusal
// is reused until the recheck period has passed; once the other host is
// gone it is taken; a failing probe never blocks a take.
func TestConflictGuard(t *testing.T) {
	v1, v2, v3 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.1.3")
	foreign := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	p := &fakeProber{has: map[netip.Addr]net.HardwareAddr{v2: foreign}}
	var seen []fencing.Event
	g := newConflictGuard(p.probe, func(ev fencing.Event) { seen = append(seen, ev) }, slog.New(slog.DiscardHandler))
	now := time.Unix(1000, 0)
	g.now = func() time.Time { return now }
	a := probeTarget{Instance: "A", Iface: "eth0", Addrs: []netip.Addr{v1}}
	b := probeTarget{Instance: "B", Iface: "eth0", Addrs: []netip.Addr{v2}}
	c := probeTarget{Instance: "C", Iface: "eth1", Addrs: []netip.Addr{v3}}

	g.start(context.Background(), []probeTarget{a, b, c})
	<-g.ready
	if want := []string{"eth0 10.0.0.1,10.0.0.2", "eth1 10.0.1.3"}; strings.Join(p.probes, ";") != strings.Join(want, ";") {
		t.Fatalf("startup probes %q, want one per link %q", p.probes, want)
	}
	p.probes = nil
	if err := g.vet(a); err != nil || len(p.probes) != 0 {
		t.Fatalf("vet A = %v after probes %q; want nil without a probe", err, p.probes)
	}
	err := g.vet(b)
	if !errors.Is(err, ErrAddressInUse) || !strings.Contains(err.Error(), "instance B") || !strings.Contains(err.Error(), "10.0.0.2 is at 02:00:00:00:00:99 on eth0") {
		t.Fatalf("vet B = %v; want ErrAddressInUse naming B, the VIP and the MAC", err)
	}
	if len(p.probes) != 1 || len(seen) != 1 {
		t.Fatalf("vet B probed %q and observed %v; want one probe and one observation", p.probes, seen)
	}
	if o, ok := seen[0].(fencing.ARPObservation); !ok || o.SenderIP != v2 || o.SenderMAC.String() != foreign.String() || o.Iface != "eth0" {
		t.Errorf("observation %+v, want B's VIP at the foreign MAC", seen[0])
	}

	now = now.Add(defaultRecheck / 2)
	if err2 := g.vet(b); err2 != err || len(p.probes) != 1 {
		t.Errorf("vet B within the recheck period = %v after %d probes; want the same refusal, no probe", err2, len(p.probes))
	}
	now = now.Add(defaultRecheck)
	delete(p.has, v2) // the other host let go
	if err := g.vet(b); err != nil || len(p.probes) != 2 {
		t.Errorf("vet B after the host left = %v after %d probes; want nil after a second probe", err, len(p.probes))
	}
	if err := g.vet(b); err != nil || len(p.probes) != 2 {
		t.Errorf("vet B once cleared = %v after %d probes; want nil without a probe", err, len(p.probes))
	}

	// A probe that fails lets the take go ahead.
	p.has[v3] = foreign
	g2 := newConflictGuard(p.probe, func(fencing.Event) {}, slog.New(slog.DiscardHandler))
	g2.start(context.Background(), []probeTarget{c})
	<-g2.ready
	p.err = errors.New("socket gone")
	if err := g2.vet(c); err != nil {
		t.Errorf("vet with a failing probe = %v, want nil", err)
	}
}

// TestProbeTargets: IPv4 VIPs only, per interface, a VMAC's probed on its
// parent; an instance that cannot run here is not probed.
func TestProbeTargets(t *testing.T) {
	hold := func(iface, p string) vip.Hold { return vip.Hold{Iface: iface, Addr: netip.MustParsePrefix(p)} }
	setups := []InstanceSetup{
		{Name: "A", Interface: "eth0", Addrs: []vip.Hold{hold("eth0", "10.0.0.1/24"), hold("eth1", "10.0.1.1/24"), hold("eth0", "fd00::1/64")}},
		{Name: "B", Interface: "eth0", Addrs: []vip.Hold{hold("vrrp.52", "10.0.0.2/24")}, VMAC: &VMACSetup{}},
		{Name: "C", Interface: "eth9", Addrs: []vip.Hold{hold("eth9", "10.0.9.1/24")}},
	}
	setups[1].VMAC.Name = "vrrp.52"
	wires := []*WireInstance{{Name: "A"}, {Name: "B"}, {Name: "C", Vet: func() error { return ErrNoInterface }}}
	var insts []*runInstance
	for i := range setups {
		insts = append(insts, &runInstance{setup: setups[i], wire: wires[i]})
	}
	var got []string
	for _, pt := range probeTargets(insts) {
		got = append(got, pt.Instance+" "+pt.Iface+" "+strings.Join(addrStrings(pt.Addrs), ","))
	}
	want := "A eth0 10.0.0.1;A eth1 10.0.1.1;B eth0 10.0.0.2"
	if strings.Join(got, ";") != want {
		t.Errorf("probe targets %q, want %q", strings.Join(got, ";"), want)
	}
}

func addrStrings(as []netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}
