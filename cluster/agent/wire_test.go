package agent

import (
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"vigil/vrrp/vip"
	"vigil/vrrp/vip/viptest"
)

// TestWireTakeRefusedOrFailed: Vet refuses a take (the address stays off,
// nothing is announced, a repeated refusal is marked errStillRefused so
// the agent logs it once); a take whose address fails (its interface is
// missing) is not held, so the next Hold starts afresh and announces once
// the address goes on; the other instance is untouched throughout; a VIP
// on a VMAC is also swept from the VMAC's parent.
func TestWireTakeRefusedOrFailed(t *testing.T) {
	clk := viptest.NewClock()
	conn := viptest.NewConn(clk.Now, "eth0", "vrrp.52")
	mgr := vip.NewManager(conn, nil, vip.ManagerOptions{Clock: clk})
	ann, err := vip.NewAnnouncer(viptest.NewSender(clk), vip.Timing{Repeat: 1, Refresh: time.Second, RefreshRepeat: 1}, vip.AnnouncerOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	hold := func(iface, p string) vip.Hold { return vip.Hold{Iface: iface, Addr: netip.MustParsePrefix(p)} }
	veto := errors.New("instance A: somebody else has it")
	a := &WireInstance{Name: "A", Addrs: []vip.Hold{hold("vrrp.52", "10.0.0.1/24")}, Base: "eth0", Vet: func() error { return veto }}
	b := &WireInstance{Name: "B", Addrs: []vip.Hold{hold("eth1", "10.0.1.1/24")}}
	c := &WireInstance{Name: "C", Addrs: []vip.Hold{hold("eth0", "10.0.0.3/24")}}
	wires := []*WireInstance{a, b, c}
	if got := Owned(wires); len(got) != 4 || got[1] != (vip.Owned{Iface: "eth0", Addr: netip.MustParseAddr("10.0.0.1")}) {
		t.Errorf("Owned = %v, want A's VIP on its VMAC and on eth0", got)
	}
	w := NewWire(mgr, ann, nil, wires, nil, slog.New(slog.DiscardHandler))
	until := clk.Now().Add(2 * time.Second)
	targets := func() string {
		var s []string
		for _, tg := range ann.Targets() {
			s = append(s, tg.Iface+" "+tg.Addr.String())
		}
		return strings.Join(s, ",")
	}

	if err := w.Hold("C", 1, until); err != nil {
		t.Fatal(err)
	}
	err1 := w.Hold("A", 2, until)
	if !errors.Is(err1, veto) || errors.Is(err1, errStillRefused) {
		t.Errorf("first refused take: %v, want the veto, not marked as said before", err1)
	}
	if err := w.Hold("A", 2, until); !errors.Is(err, veto) || !errors.Is(err, errStillRefused) {
		t.Errorf("second refused take: %v, want the veto marked errStillRefused", err)
	}
	if err := w.Hold("B", 3, until); !errors.Is(err, vip.ErrNoInterface) {
		t.Errorf("take on a missing interface: %v, want ErrNoInterface", err)
	}
	if got, want := strings.TrimSpace(conn.String()), "eth0 10.0.0.3/24 valid 3s"; got != want {
		t.Errorf("addresses after the failed takes:\n%s\nwant only C's: %s", got, want)
	}
	if got := targets(); got != "eth0 10.0.0.3" {
		t.Errorf("announced %q, want only C's VIP", got)
	}

	a.Vet = nil
	conn.AddInterface("eth1")
	for _, n := range []string{"A", "B"} {
		if err := w.Hold(n, 4, until); err != nil {
			t.Fatalf("take of %s once possible: %v", n, err)
		}
	}
	if got, want := targets(), "eth0 10.0.0.3,eth1 10.0.1.1,vrrp.52 10.0.0.1"; got != want {
		t.Errorf("announced %q, want %q", got, want)
	}
}

// TestWireLiveChange: a configuration change that redefines a held
// instance leaves its addresses as taken until it is released, and only
// then retires the old definition; an unheld superseded definition, or a
// removed one, is retired at once; the next take uses the new one.
func TestWireLiveChange(t *testing.T) {
	clk := viptest.NewClock()
	conn := viptest.NewConn(clk.Now, "eth0")
	hold := func(p string) vip.Hold { return vip.Hold{Iface: "eth0", Addr: netip.MustParsePrefix(p)} }
	a1 := &WireInstance{Name: "A", Addrs: []vip.Hold{hold("10.0.0.1/24")}}
	b1 := &WireInstance{Name: "B", Addrs: []vip.Hold{hold("10.0.0.2/24")}}
	c1 := &WireInstance{Name: "C", Addrs: []vip.Hold{hold("10.0.0.3/24")}}
	mgr := vip.NewManager(conn, Owned([]*WireInstance{a1, b1, c1}), vip.ManagerOptions{Clock: clk})
	ann, err := vip.NewAnnouncer(viptest.NewSender(clk), vip.Timing{Repeat: 1, Refresh: time.Second, RefreshRepeat: 1}, vip.AnnouncerOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var retired []string
	w := NewWire(mgr, ann, nil, []*WireInstance{a1, b1, c1}, func(i *WireInstance) {
		retired = append(retired, i.Name+" "+i.Addrs[0].Addr.String())
	}, nil)
	until := clk.Now().Add(2 * time.Second)
	if err := w.Hold("A", 1, until); err != nil {
		t.Fatal(err)
	}
	addrs := func() string { return strings.Join(strings.Fields(conn.String()), " ") }

	// A moves to 10.0.0.9, B to 10.0.0.1 (A's old VIP), C is removed.
	a2 := &WireInstance{Name: "A", Addrs: []vip.Hold{hold("10.0.0.9/24")}}
	b2 := &WireInstance{Name: "B", Addrs: []vip.Hold{hold("10.0.0.1/24")}}
	w.SetInstances([]*WireInstance{a2, b2})
	if got := strings.Join(retired, ","); got != "B 10.0.0.2/24,C 10.0.0.3/24" && got != "C 10.0.0.3/24,B 10.0.0.2/24" {
		t.Errorf("retired at once %q, want the unheld B and C", got)
	}
	if got := len(w.Definitions()); got != 3 {
		t.Errorf("definitions in use: %d, want 3 (A held, A new, B new)", got)
	}
	if err := mgr.SetOwned(Owned(w.Definitions())); err != nil {
		t.Fatal(err)
	}
	if err := w.Hold("A", 1, until.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := addrs(); !strings.Contains(got, "10.0.0.1/24") || strings.Contains(got, "10.0.0.9") {
		t.Errorf("a renewal after the change: %q, want A's old VIP only", got)
	}
	retired = nil
	if err := w.Release("A", 1, "instance definition changed"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(retired, ","); got != "A 10.0.0.1/24" {
		t.Errorf("retired on release %q, want A's old definition", got)
	}
	if got := addrs(); got != "" {
		t.Errorf("addresses after the release: %q", got)
	}
	if err := w.Hold("A", 5, until); err != nil {
		t.Fatal(err)
	}
	if err := w.Hold("B", 6, until); err != nil {
		t.Fatal(err)
	}
	if got := addrs(); !strings.Contains(got, "10.0.0.9/24") || !strings.Contains(got, "10.0.0.1/24") {
		t.Errorf("takes under the new definitions: %q, want 10.0.0.9 (A) and 10.0.0.1 (B)", got)
	}
	if err := w.Hold("C", 7, until); err == nil {
		t.Errorf("a take of the removed C succeeded")
	}
}
