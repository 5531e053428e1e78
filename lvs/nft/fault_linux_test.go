//go:build linux

package nft

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"vigil/lvs"
	"vigil/test/netns"
)

// TestKernelRefusesOneService: the kernel refuses one service's elements
// (the test makes one of its slot values a byte short, so the kernel's own
// length check fails and it aborts the whole batch). Apply must report that
// service, naming it, and apply every other one; the refused service keeps
// its previous programming; the next Apply without the fault converges.
func TestKernelRefusesOneService(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("lb")
	f, err := os.Open("/run/netns/" + h.Namespace())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dp, err := New(Options{Table: "vigil", Seed: 0x5eed, NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	mk := func(i int, w int) lvs.Service {
		return lvs.Service{Proto: lvs.TCP, Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Port: 80, Scheduler: "mh",
			Reals: []lvs.Real{
				{Addr: netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), Port: 8080, Weight: w, Method: lvs.NAT},
				{Addr: netip.AddrFrom4([4]byte{10, 0, 2, byte(i)}), Port: 8080, Weight: 1, Method: lvs.NAT},
			}}
	}
	var before, after lvs.State
	for i := 1; i <= 40; i++ {
		before.Services = append(before.Services, mk(i, 1))
		after.Services = append(after.Services, mk(i, 2))
	}
	after.Services = append(after.Services, mk(41, 1), mk(42, 1))
	if err := dp.Apply(t.Context(), before); err != nil {
		t.Fatal(err)
	}
	bad := map[lvs.ServiceKey]bool{after.Services[17].Key(): true, after.Services[41].Key(): true}
	dp.tables[0].faulty = func(k lvs.ServiceKey) bool { return bad[k] }
	err = dp.Apply(t.Context(), after)
	var oe *lvs.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("Apply with a refused service = %v, want *lvs.OpError", err)
	}
	for k := range bad {
		if !strings.Contains(err.Error(), k.String()) {
			t.Errorf("the error does not name %s: %v", k, err)
		}
	}
	if n := strings.Count(err.Error(), "lvs: "); n != 2 {
		t.Errorf("%d errors, want 2: %v", n, err)
	}
	t.Logf("Apply: %v", err)
	got, rerr := dp.Read(t.Context())
	if rerr != nil {
		t.Fatal(rerr)
	}
	// What the kernel holds: the new state, but service 18 as before and
	// service 42 absent.
	want := after.Clone()
	want.Services[17] = before.Services[17]
	want.Services = want.Services[:41]
	if !got.Equal(want) {
		t.Errorf("after the refused services:\n got:\n%s want:\n%s", got.Canonical(), want.Canonical())
	}
	dp.tables[0].faulty = nil
	if err := dp.Apply(t.Context(), after); err != nil {
		t.Fatal(err)
	}
	if got, err := dp.Read(t.Context()); err != nil || !got.Equal(after) {
		t.Errorf("after the fault is gone: %v\n%s", err, got.Canonical())
	}
}
